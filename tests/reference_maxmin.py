"""The water-filling solver dcsim used before issue 17, kept only as the test reference.

It runs one sparse pass per distinct bottleneck level (Bertsekas & Gallager, *Data
Networks*, 6.5.2): all active flows' rates grow by the smallest residual / load of the
links they cross, flows on links left with residual <= 1e-9 of capacity freeze, repeat.
Its cost is (#levels) x (#non-zeros), which is why dcsim replaced it; its numbers are the
ones the new solver must reproduce to 1e-12 (tests/test_flows_solver.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_TOL = 1e-9


def reference_max_min_rates(
    A: sp.spmatrix, cap: np.ndarray, active: np.ndarray | None = None
) -> np.ndarray:
    """Max-min fair rates of flows (columns of A, links x flows) on capacities cap."""
    A = sp.csr_matrix(A)
    n_f = A.shape[1]
    touches = np.diff(A.T.tocsr().indptr) > 0
    act = np.ones(n_f, dtype=bool) if active is None else np.asarray(active, dtype=bool).copy()
    rate = np.zeros(n_f)
    rate[act & ~touches] = np.inf
    act &= touches
    cap = np.asarray(cap, dtype=float)
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


def reference_run_flows(
    A: sp.spmatrix, cap: np.ndarray, size: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Finish times, link bytes and event count: re-solve at every completion event."""
    A = sp.csr_matrix(A)
    size = np.asarray(size, dtype=float)
    n = len(size)
    remaining = size.copy()
    alive = remaining > 0
    finish = np.zeros(n)
    t = 0.0
    events = 0
    while alive.any():
        r = reference_max_min_rates(A, cap, alive)
        ra = r[alive]
        tt = np.where(ra > 0, remaining[alive] / np.where(ra > 0, ra, 1.0), np.inf)
        dt = float(tt.min())
        if not np.isfinite(dt):
            raise RuntimeError("flows cannot progress: a link on their path has zero capacity")
        done_local = tt <= dt * (1 + 1e-9)
        idx = np.flatnonzero(alive)
        with np.errstate(invalid="ignore"):  # inf rate x 0 s for flows on no link
            remaining[idx] -= ra * dt
        t += dt
        finish[idx[done_local]] = t
        remaining[idx[done_local]] = 0.0
        alive[idx[done_local]] = False
        events += 1
    return finish, np.asarray(A @ size).ravel(), events
