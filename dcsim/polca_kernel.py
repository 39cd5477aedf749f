"""The POLCA row's per-tick physics and per-step reductions compiled into loops (numba).

Why: a PowerCap-v0 step (5 ticks of 60 servers) was ~40 NumPy calls on small arrays, and
a reset ~30 ms of which a per-server `np.searchsorted` loop took ~4 ms; per-call cost, not
arithmetic, set their speed (issue 17.3). These kernels run the same operations in the same
order as `dcsim.polca.RowSimulation`'s readable NumPy path, element by element:

* `tick_block`: a block of ticks of `RowSimulation._block` (clocks from pending commands and
  the brake, `_interp_rows`, `_wall_w` with `server_wall_power_w` through
  `PSUEfficiencyCurve.input_w` (np.interp's formula), the row sum as NumPy's pairwise sum,
  `_bilinear_cells` of the latency table); the brake's walk and its RNG draw stay in Python.
* `renewal_counts`: `_build_load`'s per-server `np.diff(np.searchsorted(cumsum(gaps), Lam))`
  as one merge walk per server (the cumulative sum in `np.cumsum`'s order).
* `interp_rows_into`: `_interp_rows` on the load table (`_build_load`).
* `changed_servers` / `set_pending`: `RowSimulation.command` around its RNG draw.
* `weigh`, `median_of`, `period_power`: `_weigh`, `_median` and `period_power` (NumPy's
  pairwise sums).

Same numbers, bitwise: tests/test_polca_kernel.py runs rows and PowerCap-v0 episodes through
both paths. `x ** 3` is `math.pow(x, 3.0)` (NumPy calls libm's pow; numba's `** 3` multiplies).
np.minimum/np.maximum are written min/max, whose results differ only when a NaN is the second
argument: there, as at a NaN clock (a NaN action), the value is NaN in both paths anyway;
maxima that decide (a block's peak power) propagate NaN as np.max does (`_nan_max`).

Importing this module imports numba (`ImportError` without it or with DCSIM_NO_JIT=1,
`dcsim.jit`); `dcsim.polca` imports it once numba is loaded (`polca.kernels`). Compiled
code is cached on disk.
"""

from __future__ import annotations

import math

import numpy as np

from dcsim.cooling.fast import _jit, _pairwise


@_jit
def _nan_max(a: float, b: float) -> float:
    """np.maximum of two floats: NaN wins (a running np.max)."""
    return a if a > b or a != a else b


@_jit
def _segment(grid: np.ndarray, x: float) -> tuple[int, float]:
    """`polca._interp_rows` of one value: lower index and weight on the ascending grid."""
    xc = min(max(x, grid[0]), grid[-1])
    k = 0  # np.searchsorted(grid[1:-1], xc, side="right")
    while k < grid.size - 2 and grid[k + 1] <= xc:
        k += 1
    g0 = grid[k]
    return k, (xc - g0) / (grid[k + 1] - g0)


@_jit
def _psu_input_w(dc: float, rated: float, xp: np.ndarray, fp: np.ndarray, slope: float) -> float:
    """`PSUEfficiencyCurve.input_w` of one server (np.interp's formula, then the last
    segment extrapolated past 100 % load)."""
    lf = max(dc / rated, 0.0)
    last = xp.size - 1
    if lf > xp[last]:
        loss = fp[last] + slope * (lf - xp[last])
    elif lf < xp[0]:
        loss = fp[0]
    else:
        j = 0
        while j < last and xp[j + 1] <= lf:
            j += 1
        if j == last or xp[j] == lf:
            loss = fp[j]
        else:
            loss = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]) * (lf - xp[j]) + fp[j]
    return dc + loss * rated


@_jit
def tick_block(
    t: int,
    stop: int,
    active: bool,
    quiet: bool,
    trip_w: float,
    prm: np.ndarray,
    fa: np.ndarray,
    pend_t: np.ndarray,
    pend_val: np.ndarray,
    f_cmd: np.ndarray,
    ri_nf: np.ndarray,
    rw: np.ndarray,
    noise: np.ndarray,
    host_w: np.ndarray,
    pw_sd: np.ndarray,
    p50_a: np.ndarray,
    psu_x: np.ndarray,
    psu_loss: np.ndarray,
    row_w: np.ndarray,
    f_eff: np.ndarray,
    scores: np.ndarray,
    brake_on: np.ndarray,
) -> int:
    """`RowSimulation._block`: ticks t..stop-1 evaluated at the clocks of commands due by
    each tick (capped at the brake clock when `active`), written to row_w, f_eff, scores
    and brake_on. Returns stop - t and lands the commands due by the last tick when the
    block is `quiet` and no tick's row power exceeds trip_w; else 0 (the brake's walk).
    prm: the constants `RowSimulation._build_load` packs (brake clock, GPUs' idle floor,
    server rated W, fans' max W and min speed, PSU rating W, PSU loss slope past 100 %)."""
    brake_f, gpu_floor, rated_w, fan_max_w = prm[0], prm[1], prm[2], prm[3]
    fan_min_speed, psu_rated_w, psu_slope = prm[4], prm[5], prm[6]
    n_srv = f_cmd.size
    nf = fa.size
    wall = np.empty((1, n_srv))
    peak = -np.inf  # the block's row power, np.max's (NaN wins)
    for tt in range(t, stop):
        now = float(tt)
        for s in range(n_srv):
            f = pend_val[s] if pend_t[s] <= now else f_cmd[s]
            if active:
                f = min(f, brake_f)
            f32 = np.float32(f)
            f_eff[tt, s] = f32
            wi = rw[tt, s]
            # wall power at the clock f (float64): the table's mean and std, interpolated
            j, wj = _segment(fa, f)
            k = ri_nf[tt, s] + j
            lo_m = pw_sd[0, k] + wj * pw_sd[2, k]
            lo_s = pw_sd[1, k] + wj * pw_sd[3, k]
            hi_m = pw_sd[0, k + nf] + wj * pw_sd[2, k + nf]
            hi_s = pw_sd[1, k + nf] + wj * pw_sd[3, k + nf]
            mean = lo_m + wi * (hi_m - lo_m)
            std = lo_s + wi * (hi_s - lo_s)
            gpu = max(mean + std * noise[tt, s], gpu_floor)
            host = host_w[tt, s]
            heat_frac = min(max((gpu + host) / rated_w, 0.0), 1.0)
            fans = fan_max_w * math.pow(max(fan_min_speed, heat_frac), 3.0)
            wall[0, s] = _psu_input_w(gpu + host + fans, psu_rated_w, psu_x, psu_loss, psu_slope)
            # median-latency slowdown at the clock as f_eff records it (float32)
            j, wj = _segment(fa, float(f32))
            k = ri_nf[tt, s] + j
            vj = 1 - wj
            lo = vj * p50_a[0, k] + wj * p50_a[1, k]
            hi = vj * p50_a[0, k + nf] + wj * p50_a[1, k + nf]
            scores[tt, s] = (1 - wi) * lo + wi * hi
        p = _pairwise(wall, 0, n_srv)
        row_w[tt] = p
        brake_on[tt] = active
        peak = _nan_max(peak, p)
    if not quiet or peak > trip_w:
        return 0
    last = float(stop - 1)
    for s in range(n_srv):
        if pend_t[s] <= last:
            f_cmd[s] = pend_val[s]
            pend_t[s] = np.inf
    return stop - t


@_jit
def renewal_counts(gaps: np.ndarray, edges: np.ndarray, counts: np.ndarray) -> None:
    """counts[:, i] = np.diff(np.searchsorted(np.cumsum(gaps[i]), edges)): the arrivals of
    server i's renewal process (gaps in operational time) in each interval of the ascending
    edges, by one merge walk over the arrival times summed as np.cumsum sums them."""
    n_arr = gaps.shape[1]
    for i in range(gaps.shape[0]):
        k = 0  # arrivals before the current edge
        s = gaps[i, 0]  # the k-th arrival time (cumulative sum)
        prev = 0
        for e in range(edges.size):
            while k < n_arr and s < edges[e]:
                k += 1
                if k < n_arr:
                    s = s + gaps[i, k]
            if e > 0:
                counts[e - 1, i] = k - prev
            prev = k


@_jit
def interp_rows_into(grid: np.ndarray, x: np.ndarray, k_out: np.ndarray, w_out: np.ndarray) -> None:
    """`polca._interp_rows(grid, x)` of a 2-D x into k_out (index) and w_out (weight)."""
    for a in range(x.shape[0]):
        for b in range(x.shape[1]):
            k, w = _segment(grid, x[a, b])
            k_out[a, b] = k
            w_out[a, b] = w


@_jit
def changed_servers(
    high: np.ndarray,
    hp_f: float,
    lp_f: float,
    pend_t: np.ndarray,
    pend_val: np.ndarray,
    f_cmd: np.ndarray,
    idx: np.ndarray,
) -> int:
    """`RowSimulation.command`'s `changed`: the servers whose target clock differs from the
    clock they will run (pending, else applied), into idx; returns how many."""
    m = 0
    for s in range(high.size):
        target = hp_f if high[s] else lp_f
        if target != (pend_val[s] if np.isfinite(pend_t[s]) else f_cmd[s]):
            idx[m] = s
            m += 1
    return m


@_jit
def set_pending(
    idx: np.ndarray,
    high: np.ndarray,
    hp_f: float,
    lp_f: float,
    now: float,
    delay: np.ndarray,
    pend_val: np.ndarray,
    pend_t: np.ndarray,
) -> None:
    """The changed servers idx[:delay.size] get their target, landing at now + delay."""
    for i in range(delay.size):
        s = idx[i]
        pend_val[s] = hp_f if high[s] else lp_f
        pend_t[s] = now + delay[i]


@_jit
def weigh(s: np.ndarray, w: np.ndarray, t0: int, t1: int, mask: np.ndarray) -> float:
    """`RowSimulation._weigh`: arrival-weighted mean of the masked servers' scores over
    ticks t0..t1 (tick by tick, servers in order, NumPy's pairwise sums); 1.0 when the mask
    is empty (`slowdowns`)."""
    m = 0
    for i in range(mask.size):
        if mask[i]:
            m += 1
    if m == 0:
        return 1.0
    buf = np.empty((3, (t1 - t0) * m))
    c = 0
    for t in range(t0, t1):
        for i in range(mask.size):
            if mask[i]:
                buf[0, c] = s[t, i]
                buf[1, c] = w[t, i]
                buf[2, c] = s[t, i] * w[t, i]
                c += 1
    tot = _pairwise(buf, 1, c)
    if tot > 0:
        return _pairwise(buf, 2, c) / tot
    return _pairwise(buf, 0, c) / c


@_jit
def median_of(x: np.ndarray, idx: np.ndarray) -> float:
    """`polca._median(x[idx])`."""
    s = np.sort(x[idx])
    return (s[(idx.size - 1) // 2] + s[idx.size // 2]) / 2.0


@_jit
def period_power(
    row_w: np.ndarray, brake_on: np.ndarray, t0: int, t1: int, budget_w: float
) -> tuple[float, float, float, float, float, int]:
    """`RowSimulation.period_power` of ticks t0 < t1, as its fields."""
    n = t1 - t0
    buf = np.empty((4, n))
    braked = 0
    for i in range(n):
        p = row_w[t0 + i]
        frac = p / budget_w
        buf[0, i] = frac
        buf[1, i] = max(frac - 1.0, 0.0)
        buf[2, i] = max(p - budget_w, 0.0)
        buf[3, i] = p
        if brake_on[t0 + i]:
            braked += 1
    peak = buf[0, 0]
    for i in range(1, n):
        peak = _nan_max(peak, buf[0, i])
    return (
        peak,
        _pairwise(buf, 0, n) / n,
        _pairwise(buf, 1, n) / n,
        _pairwise(buf, 2, n),
        _pairwise(buf, 3, n),
        braked,
    )
