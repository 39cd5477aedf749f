"""Max-min fair rates by progressive filling (water-filling), and flow completion by events.

Fluid model (Bertsekas & Gallager, *Data Networks*, 6.5.2): every flow's rate grows at
the same pace until a link it crosses saturates; flows on saturated links freeze; repeat.
A flow may cross a link with weight w < 1 (a sprayed flow puts w = 1/P of its rate on
each of its P paths), so link l is bound by sum_f A[l, f] * r_f <= c_l.
Rates are recomputed whenever flows finish (Ns-3/SimGrid-style fluid flow simulation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

_TOL = 1e-9


def max_min_rates(A: sp.spmatrix, cap: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
    """Max-min fair rates (bytes/s) of flows (columns of A, links x flows) on capacities cap.

    Inactive flows get rate 0 and use no capacity. Every iteration saturates at least one
    link, so the loop runs at most (#links) times; typically a handful.
    """
    return _Filler(A).rates(cap, active)


class _Filler:
    """Progressive filling with the sparse structure prepared once (reused across events)."""

    def __init__(self, A: sp.spmatrix):
        self.A = sp.csr_matrix(A)
        self.AT = self.A.T.tocsr()
        self.touches = np.diff(self.AT.indptr) > 0  # flow crosses at least one link

    def rates(self, cap: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        A = self.A
        n_f = A.shape[1]
        act = np.ones(n_f, dtype=bool) if active is None else np.asarray(active, dtype=bool).copy()
        # a flow that crosses no link is unconstrained: rate inf, frozen at once
        rate = np.zeros(n_f)
        rate[act & ~self.touches] = np.inf
        act &= self.touches
        cap = np.asarray(cap, dtype=float)
        # only links some active flow crosses matter; shrink the problem to them
        rows = np.flatnonzero(A @ act.astype(float) > 0)
        As, cap_s = A[rows], cap[rows]
        ATs = As.T.tocsr()
        resid = cap_s.copy()
        actf = act.astype(float)
        while act.any():
            w = As @ actf
            used = w > 0
            delta = float(np.min(resid[used] / w[used]))
            rate += delta * actf
            resid -= delta * w
            sat = used & (resid <= _TOL * cap_s)
            frozen = (ATs @ sat.astype(float)) > 0
            act &= ~frozen
            actf[frozen] = 0.0
        return rate


def dense_max_min(A: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """`max_min_rates` for a small dense links x flows matrix (same algorithm, same numbers).

    The placement env solves a few dozen flows per decision; at that size scipy.sparse's
    per-call overhead dominates (~2.5x slower per episode), so this fast path runs the same
    progressive filling on a NumPy array: the active flows' rates grow by the smallest
    residual / load of the links they use, flows on saturated links (residual <= 1e-9 of
    capacity) freeze. Flows crossing no link get rate inf. Tested against the sparse solver.
    """
    A = np.asarray(A, dtype=float)
    cap = np.asarray(cap, dtype=float)
    touches = A > 0
    act = touches.any(axis=0)
    rate = np.zeros(A.shape[1])
    rate[~act] = np.inf
    resid = cap.copy()
    while act.any():
        w = A @ act
        used = w > 0
        delta = float(np.min(resid[used] / w[used]))
        rate[act] += delta
        resid[used] -= delta * w[used]
        sat = used & (resid <= _TOL * cap)
        act &= ~touches[sat].any(axis=0)
    return rate


@dataclass
class FlowRun:
    """Result of running a set of flows to completion."""

    finish_s: np.ndarray  # per flow
    link_bytes: np.ndarray  # per link
    n_events: int

    @property
    def makespan_s(self) -> float:
        return float(self.finish_s.max()) if len(self.finish_s) else 0.0


def run_flows(A: sp.spmatrix, cap: np.ndarray, size: np.ndarray) -> FlowRun:
    """Run flows of given sizes (bytes) to completion under max-min fair sharing.

    Rates are recomputed at every completion; flows finishing within a relative 1e-9 of
    each other complete in the same event (equal-size flows of a collective step
    usually finish together, so a step needs few events).
    """
    filler = _Filler(A)
    A = filler.A
    size = np.asarray(size, dtype=float)
    n = len(size)
    remaining = size.copy()
    alive = remaining > 0
    finish = np.zeros(n)
    t = 0.0
    events = 0
    while alive.any():
        r = filler.rates(cap, alive)
        ra = r[alive]
        tt = np.where(ra > 0, remaining[alive] / np.where(ra > 0, ra, 1.0), np.inf)
        dt = float(tt.min())
        if not np.isfinite(dt):
            raise RuntimeError("flows cannot progress: a link on their path has zero capacity")
        done_local = tt <= dt * (1 + 1e-9)
        idx = np.flatnonzero(alive)
        remaining[idx] -= ra * dt
        t += dt
        finish[idx[done_local]] = t
        remaining[idx[done_local]] = 0.0
        alive[idx[done_local]] = False
        events += 1
    return FlowRun(finish_s=finish, link_bytes=np.asarray(A @ size).ravel(), n_events=events)
