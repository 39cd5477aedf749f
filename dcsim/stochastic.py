"""First-order autoregressive (AR(1)) filtering in plain NumPy.

y[k] = phi * y[k-1] + gain * e[k], with phi * y[-1] = init: the exact discretisation of an
Ornstein-Uhlenbeck process (phi = exp(-dt/tau)) and of a first-order low-pass (EWMA). It is
what `scipy.signal.lfilter([gain], [1, -phi], e, zi=[init])` computes, without importing
scipy.signal (~2 s of start-up for one call; issue 17).

Closed form inside a block of B rows started from carry c:
    y[i] = phi^i * (c + gain * sum_{j<=i} phi^-j e[j]),
so each block is one cumulative sum. B keeps phi^-B below e^500 (no overflow), so the loop
runs over n/B blocks, not n samples.
"""

from __future__ import annotations

import math

import numpy as np

_MAX_LOG_GROWTH = 500.0


def ar1(
    e: np.ndarray, phi: float, gain: float = 1.0, init: float | np.ndarray = 0.0, axis: int = 0
) -> np.ndarray:
    """AR(1) filter of `e` along `axis` (0 <= phi < 1); `init` is phi * y[-1] (lfilter's zi)."""
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"AR(1) coefficient must be in [0, 1), got {phi}")
    x = np.moveaxis(np.asarray(e, dtype=float), axis, 0)
    n = x.shape[0]
    y = np.empty_like(x)
    if n == 0:
        return np.moveaxis(y, 0, axis)
    carry = np.broadcast_to(np.asarray(init, dtype=float), x.shape[1:]).astype(float)
    if phi == 0.0:
        y[:] = gain * x
        y[0] += carry
        return np.moveaxis(y, 0, axis)
    block = max(1, min(n, int(_MAX_LOG_GROWTH / -math.log(phi))))
    j = np.arange(block, dtype=float)
    shape = (block,) + (1,) * (x.ndim - 1)
    grow = (phi**-j).reshape(shape)
    decay = (phi**j).reshape(shape)
    for a in range(0, n, block):  # in y's rows, in place (a fresh array per step cost 2x)
        b = min(block, n - a)
        acc = y[a : a + b]
        np.multiply(grow[:b], x[a : a + b], out=acc)
        np.cumsum(acc, axis=0, out=acc)
        acc *= gain
        acc += carry
        acc *= decay[:b]
        carry = phi * y[a + b - 1]
    return np.moveaxis(y, 0, axis)
