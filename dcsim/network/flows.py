"""Max-min fair rates by progressive filling (water-filling), and flow completion by events.

Fluid model (Bertsekas & Gallager, *Data Networks*, 6.5.2): every flow's rate grows at
the same pace until a link it crosses saturates; flows on saturated links freeze; repeat.
A flow may cross a link with weight w < 1 (a sprayed flow puts w = 1/P of its rate on
each of its P paths), so link l is bound by sum_f A[l, f] * r_f <= c_l.
Rates are recomputed when flows finish (Ns-3/SimGrid-style fluid flow simulation), but
only when a finished flow crossed a link that bottlenecks a remaining one.

The filling is event-driven rather than one sparse pass per level. With F_l the load of
frozen flows on link l and w_l the weight of its active flows, link l saturates when the
common level of the active flows reaches t_l = (c_l - F_l) / w_l, and (as in the classic
pass, which freezes links left with residual <= 1e-9 c_l) it counts as saturated from
e_l = t_l - 1e-9 c_l / w_l on. Freezing a flow only raises the t_l and e_l of the other
links it crosses, so the links taken in increasing t_l are exact levels until one of them
is crossed by a flow an earlier level froze: the solver takes whole runs of such levels
per NumPy batch. Its cost is ~(non-zeros touched) x (batches), not (levels) x (non-zeros):
16k flows under ecmp:4 (8,184 levels) solve in 75 ms instead of 9.5 s
(benchmarks/bench_flows.py), with the same rates to 1e-12 (tests/test_flows_solver.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dcsim.errors import InputError
from dcsim.jit import Kernel, kernel

if TYPE_CHECKING:  # scipy.sparse (~0.1 s to import) only where a matrix is built
    import scipy.sparse as sp

_TOL = 1e-9  # a link with residual <= _TOL * capacity is saturated
_FIRST_BATCH = 64  # candidate links per batch to start with; adapts to how far runs go
_POOL = 4096  # links per pool, the set candidate batches are drawn from
_HUGE = float(np.finfo(float).max)  # tau bound that keeps out links with e = inf


def max_min_rates(A: sp.spmatrix, cap: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
    """Max-min fair rates (bytes/s) of flows (columns of A, links x flows) on capacities cap.

    Inactive flows get rate 0 and use no capacity; a flow crossing no link gets rate inf.
    """
    fast = _small_kernel(A, _FILL_RATES)
    if fast is None:
        return _Filler(A).solve(cap, active).rate
    csr, csc = _incidence(A)
    n_f = csr.shape[1]
    act = np.ones(n_f, dtype=bool) if active is None else np.asarray(active, dtype=bool)
    if act.shape != (n_f,):
        raise InputError(f"need one active flag per flow ({n_f})", field="active")
    return fast(*_csc_arrays(csc), _capacities(cap, csr.shape[0]), act)


def _small_kernel(A: sp.spmatrix, k: Kernel) -> Callable[..., Any] | None:
    """The kernel (`Kernel.runner`) when numba is there and the fabric is small enough."""
    return k.runner(A.nnz) if A.shape[0] <= _SMALL_LINKS else None


def _ranges(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Concatenation of arange(start[i], stop[i]): the entries of CSR/CSC slices."""
    n = stop - start
    tot = int(n.sum())
    if tot == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.cumsum(n) - n
    return np.arange(tot, dtype=np.int64) + np.repeat(start - first, n)


def _incidence(A: sp.spmatrix) -> tuple[sp.csr_matrix, sp.csc_matrix]:
    """A checked (finite weights >= 0) in canonical CSR and CSC form, explicit zeros dropped."""
    import scipy.sparse as sp

    csr = sp.csr_matrix(A, dtype=float)
    if csr.nnz and (not np.all(np.isfinite(csr.data)) or csr.data.min() < 0):
        raise InputError("incidence weights must be finite and >= 0", field="A")
    if not csr.has_canonical_format or (csr.nnz and csr.data.min() == 0):
        csr = csr.copy()  # never edit the caller's matrix
        csr.eliminate_zeros()
        csr.sum_duplicates()
    csc = csr.tocsc()
    csc.sort_indices()
    return csr, csc


def _capacities(cap: np.ndarray, n_l: int) -> np.ndarray:
    cap = np.asarray(cap, dtype=float)
    if cap.shape != (n_l,):
        raise InputError(f"need one capacity per link ({n_l}), got shape {cap.shape}", field="cap")
    if n_l and (not np.all(np.isfinite(cap)) or cap.min() < 0):
        raise InputError("link capacities must be finite and >= 0", field="cap")
    return cap


@dataclass
class _Filled:
    """One solve: rates, and at which level (step) each flow froze and each link saturated."""

    rate: np.ndarray  # per flow
    flow_step: np.ndarray  # per flow: level index it froze at (-1: inactive or no link)
    link_step: np.ndarray  # per link: level index it saturated at (-1: never)


class _Filler:
    """Progressive filling with the sparse structure prepared once (reused across events)."""

    def __init__(self, A: sp.spmatrix):
        import scipy.sparse as sp

        self.csr, self.csc = csr, _ = _incidence(A)
        self.shape = csr.shape
        self.pattern = sp.csr_matrix((np.ones(csr.nnz), csr.indices, csr.indptr), shape=csr.shape)
        self.touches = np.diff(self.csc.indptr) > 0  # flow crosses at least one link
        self.col_starts = self.csc.indptr[:-1][self.touches]  # segments for reduceat
        self.has_row = np.diff(csr.indptr) > 0
        self.row_starts = csr.indptr[:-1][self.has_row]

    def solve(self, cap: np.ndarray, active: np.ndarray | None = None) -> _Filled:
        n_l, n_f = self.shape
        cap = _capacities(cap, n_l)
        act = np.ones(n_f, dtype=bool) if active is None else np.asarray(active, dtype=bool).copy()
        rate = np.zeros(n_f)
        rate[act & ~self.touches] = np.inf
        act &= self.touches
        flow_step = np.full(n_f, -1, dtype=np.int64)
        link_step = np.full(n_l, -1, dtype=np.int64)
        actf = act.astype(float)
        w = self.csr @ actf  # active weight per link
        cnt = np.rint(self.pattern @ actf).astype(np.int64)  # active flows per link
        F = np.zeros(n_l)  # load of frozen flows
        live = np.flatnonzero(cnt > 0)  # superset of the links with active flows
        t = np.full(n_l, np.inf)  # level at which the link saturates
        e = np.full(n_l, np.inf)  # level from which it counts as saturated
        t[live] = cap[live] / w[live]
        e[live] = t[live] - _TOL * cap[live] / w[live]
        st = _State(rate, act, flow_step, link_step, w, cnt, F, t, e, cap)
        st.scratch = np.full(n_f, np.iinfo(np.int64).max)  # per-flow first level, reset per pass
        st.slot = np.zeros(n_f, dtype=np.int64)
        n_act = int(act.sum())
        small = _FIRST_BATCH
        while n_act:
            still = cnt[live] > 0
            if 2 * np.count_nonzero(still) < len(live):
                live = live[still]
            # pool: the links that count as saturated up to tau1. Every level <= tau1 and
            # every link that joins one are in it, now and after any freezing (t and e only
            # grow), so levels up to tau1 are taken from the pool, in smaller candidate
            # sets (up to tau2) that runs of levels use up
            tau1, pool = self._select(st, live, _POOL, _HUGE)
            while n_act:
                pool = pool[e[pool] <= tau1]
                if not len(pool) or float(t[pool].min()) > tau1:
                    break
                tau2, C = self._select(st, pool, small, tau1)
                passes = 0
                while len(C):
                    K, n_lev, frozen = self._levels(st, C, tau2)
                    n_act -= frozen
                    passes += 1
                    if K == n_lev:
                        break
                    C = C[e[C] <= tau2]
                # grow the candidate set while one pass uses it up, shrink it when levels
                # stop early on links an earlier level touched
                small = small * 2 if passes == 1 else max(_FIRST_BATCH, small // 2)
        return _Filled(rate, flow_step, link_step)

    @staticmethod
    def _select(st: _State, S: np.ndarray, k: int, cap: float) -> tuple[float, np.ndarray]:
        """tau = the k-th smallest e among links S, at least the smallest t (so a level is
        in) and at most cap (finite: links without active flows have e = inf); and the
        links of S with e <= tau."""
        eS = st.e[S]
        tau = float(np.partition(eS, k - 1)[k - 1]) if k < len(S) else _HUGE
        tau = min(max(tau, float(st.t[S].min())), cap)
        return tau, S[eS <= tau]

    def _levels(self, st: _State, C: np.ndarray, tau: float) -> tuple[int, int, int]:
        """Freeze the run of levels <= tau that candidate links C give exactly.

        Returns (levels done, levels <= tau among C, flows frozen)."""
        n_l, n_f = self.shape
        cp, ci, cd = self.csc.indptr, self.csc.indices, self.csc.data
        rp, ri = self.csr.indptr, self.csr.indices
        nnz = self.csr.nnz
        big = np.iinfo(np.int64).max
        t, e, act = st.t, st.e, st.act
        C = C[np.argsort(t[C], kind="stable")]
        tC, eC = t[C], e[C]
        # leaders: links whose t opens a new level; a link joins the first level >= its e
        lead = np.empty(len(C), dtype=bool)
        lead[0] = True
        lead[1:] = eC[1:] > tC[:-1]
        pos = np.arange(len(C))
        while True:  # a non-leader is a leader if it is above its last leader's level
            last = np.maximum.accumulate(np.where(lead, pos, 0))
            cand = ~lead & (eC > tC[last])
            if not cand.any():
                break
            ci_ = np.flatnonzero(cand)
            _, first = np.unique(last[ci_], return_index=True)
            lead[ci_[first]] = True
        levels = tC[lead]
        n_lev = int(np.searchsorted(levels, tau, side="right"))
        if n_lev == 0:
            return 0, 0, 0
        step = np.searchsorted(levels, eC, side="left")  # level each candidate joins
        # the first level that freezes each active flow, and the first level that freezes
        # a flow on each candidate; a candidate touched before its own level has stale
        # t and e, so the levels stop just before its level
        rlen = rp[C + 1] - rp[C]
        whole = int(rlen.sum()) > nnz // 4
        if whole:  # most of the matrix: whole-matrix reductions
            stepL = np.full(n_l, big)
            stepL[C] = step
            fs_all = np.full(n_f, big)
            fs_all[self.touches] = np.minimum.reduceat(stepL[ci], self.col_starts)
            fs_all[~act] = big
            tl = np.full(n_l, big)
            tl[self.has_row] = np.minimum.reduceat(fs_all[ri], self.row_starts)
            touched = tl[C]
        else:  # a few rows: gather them
            ent = _ranges(rp[C], rp[C + 1])
            epos = np.repeat(pos, rlen)
            ef = ri[ent]
            keep = act[ef]
            ef, epos = ef[keep], epos[keep]
            fs_all = st.scratch
            np.minimum.at(fs_all, ef, step[epos])
            fse = fs_all[ef]
            touched = np.full(len(C), big)
            np.minimum.at(touched, epos, fse)
        stale = touched < step
        K = min(n_lev, int(step[stale].min())) if stale.any() else n_lev
        lv = np.maximum(levels[:K], st.level)  # rounding never lowers a level
        if whole:
            frz = np.flatnonzero(fs_all < K)
            fstep = fs_all[frz]
        else:  # the distinct flows among entries ef: last write of each flow wins
            sel = ef[fse < K]
            slot = st.slot
            slot[sel] = np.arange(len(sel))
            frz = np.sort(sel[slot[sel] == np.arange(len(sel))])
            fstep = fs_all[frz]
            fs_all[ef] = big
        st.rate[frz] = lv[fstep]
        st.flow_step[frz] = st.steps + fstep
        sat = step < K
        st.link_step[C[sat]] = st.steps + step[sat]
        act[frz] = False
        st.steps += K
        st.level = float(lv[-1])
        # frozen flows leave their links: F up, w and count down, t and e refreshed
        F, w, cnt, cap = st.F, st.w, st.cnt, st.cap
        clen = cp[frz + 1] - cp[frz]
        if int(clen.sum()) > nnz // 4:
            x = np.zeros(n_f)
            x[frz] = st.rate[frz]
            F += self.csr @ x
            x[frz] = 1.0
            w -= self.csr @ x
            hits = np.rint(self.pattern @ x).astype(np.int64)
            cnt -= hits
            aff = np.flatnonzero(hits)
        else:  # duplicates in aff only rewrite the same values
            ent = _ranges(cp[frz], cp[frz + 1])
            aff, ed = ci[ent], cd[ent]
            np.add.at(F, aff, ed * np.repeat(st.rate[frz], clen))
            np.subtract.at(w, aff, ed)
            np.subtract.at(cnt, aff, 1)
        on = cnt[aff] > 0
        a1, a0 = aff[on], aff[~on]
        low = a1[w[a1] <= 0]
        if len(low):  # cancellation ate tiny weights: sum the active ones again
            rd = self.csr.data
            for li in np.unique(low):
                sl = slice(rp[li], rp[li + 1])
                w[li] = float(rd[sl][act[ri[sl]]].sum())
        t[a1] = (cap[a1] - F[a1]) / w[a1]
        e[a1] = t[a1] - _TOL * cap[a1] / w[a1]
        t[a0] = np.inf
        e[a0] = np.inf
        return K, n_lev, len(frz)


@dataclass
class _State:
    """Arrays one solve updates in place, level by level."""

    rate: np.ndarray
    act: np.ndarray
    flow_step: np.ndarray
    link_step: np.ndarray
    w: np.ndarray
    cnt: np.ndarray
    F: np.ndarray
    t: np.ndarray
    e: np.ndarray
    cap: np.ndarray
    scratch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    slot: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    steps: int = 0  # levels done
    level: float = 0.0  # last level


def dense_incidence(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, n_cols: int, n_links: int
) -> tuple[np.ndarray, np.ndarray]:
    """The (links used) x n_cols matrix of (link, column, weight) entries for `dense_max_min`,
    duplicates summed in order (as `np.add.at`), and the links used (ascending, as
    `np.unique(rows)`): a link mask and one `np.bincount` instead of a sort and `np.add.at`."""
    seen = np.zeros(n_links, dtype=bool)
    seen[rows] = True
    links = np.flatnonzero(seen)
    ri = (np.cumsum(seen) - 1)[rows]
    flat = np.bincount(ri * n_cols + cols, weights=data, minlength=len(links) * n_cols)
    return flat.reshape(len(links), n_cols), links


def dense_max_min(A: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """`max_min_rates` for a small dense links x flows matrix (same numbers).

    The placement env solves a few dozen flows per decision; at that size the sparse
    solver's per-call overhead dominates, so this fast path runs the classic progressive
    filling on a NumPy array: the active flows' rates grow by the smallest residual / load
    of the links they use, flows on saturated links (residual <= 1e-9 of capacity) freeze.
    Flows crossing no link get rate inf. Tested against the sparse solver.
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


def dense_fill(A: np.ndarray, cap: np.ndarray, rate: np.ndarray) -> None:
    """`dense_max_min(A, cap)` into `rate` over scalars: the form compiled code calls
    (`DENSE_FILL`, `dcsim.jobs`' contention kernel), the same operations in the same order.
    Bitwise equal where a link's load (sum of the active flows' weights) is exact in any
    summation order, as with ECMP's 1.0 and spray's 1/2^k weights (`A @ act` may go
    through BLAS); within 1e-12 otherwise (tests/test_placement_speed.py)."""
    n_l, n_f = A.shape
    act = np.zeros(n_f, np.bool_)
    n_act = 0
    for f in range(n_f):
        rate[f] = 0.0
        for li in range(n_l):
            if A[li, f] > 0:
                act[f] = True
                n_act += 1
                break
        if not act[f]:
            rate[f] = np.inf  # crosses no link
    resid = cap.copy()
    w = np.empty(n_l)
    while n_act > 0:
        delta = np.inf
        for li in range(n_l):  # w = A @ act; delta = min(resid / w) over links in use
            s = 0.0
            for f in range(n_f):
                if act[f]:
                    s += A[li, f]
            w[li] = s
            if s > 0 and resid[li] / s < delta:
                delta = resid[li] / s
        for f in range(n_f):
            if act[f]:
                rate[f] += delta
        for li in range(n_l):
            if w[li] > 0:
                resid[li] -= delta * w[li]
        for li in range(n_l):  # flows on saturated links freeze
            if w[li] > 0 and resid[li] <= _TOL * cap[li]:
                for f in range(n_f):
                    if act[f] and A[li, f] > 0:
                        act[f] = False
                        n_act -= 1


# ---------------------------------------------------------------- compiled small-problem path
# The envs time a few hundred flows on a few hundred links per step, with a re-solve per
# completion event; there the NumPy solver's per-call overhead, not arithmetic, is the cost.
# These kernels run the same progressive filling and event loop over scalars (compiled by
# numba when installed, `dcsim.jit`); tests/test_flows_solver.py holds them to the
# reference rates and finish times to 1e-12, compiled and interpreted.
_SMALL_LINKS = 4096  # the kernel scans the live links once per level: O(levels x links)


def _fill(rp, ri, rd, cp, ci, cd, cap, alive, rate, flow_step, link_step, w, cnt, F_t, act, buf):
    """Classic progressive filling of the `alive` flows (Bertsekas & Gallager 6.5.2).

    Every level: the live link with the smallest (c - F) / w sets the common rate; links
    within 1e-9 c of saturation there saturate; their active flows freeze. Writes rate,
    flow_step, link_step (level index, -1: never) in place; returns the number of levels.
    rp/ri/rd: CSR (link -> flows), cp/ci/cd: CSC (flow -> links); w, cnt, F_t (2 x links:
    frozen load, level), act and buf (3 x max(links, flows) int64) are scratch."""
    n_l = cap.shape[0]
    n_f = alive.shape[0]
    live = buf[0]
    sat = buf[1]
    frz = buf[2]
    t_of = F_t[1]  # level at which each live link saturates, this level
    F = F_t[0]
    for li in range(n_l):
        w[li] = 0.0
        cnt[li] = 0
        F[li] = 0.0
        link_step[li] = -1
    n_act = 0
    for f in range(n_f):
        rate[f] = 0.0
        flow_step[f] = -1
        act[f] = False
        if alive[f]:
            if cp[f + 1] > cp[f]:
                act[f] = True
                n_act += 1
                for k in range(cp[f], cp[f + 1]):
                    w[ci[k]] += cd[k]
                    cnt[ci[k]] += 1
            else:
                rate[f] = np.inf  # crosses no link
    n_live = 0
    for li in range(n_l):
        if cnt[li] > 0:
            live[n_live] = li
            n_live += 1
    level = 0.0
    step = 0
    while n_act > 0:
        lv = np.inf
        m = 0
        for i in range(n_live):  # drop links left without active flows
            li = live[i]
            if cnt[li] > 0:
                live[m] = li
                m += 1
                tl = (cap[li] - F[li]) / w[li]
                t_of[li] = tl
                if tl < lv:
                    lv = tl
        n_live = m
        if lv < level:  # rounding never lowers a level
            lv = level
        n_sat = 0
        for i in range(n_live):
            li = live[i]
            if t_of[li] - _TOL * cap[li] / w[li] <= lv:
                sat[n_sat] = li
                n_sat += 1
                link_step[li] = step
        n_frz = 0
        for i in range(n_sat):
            li = sat[i]
            for k in range(rp[li], rp[li + 1]):
                f = ri[k]
                if act[f]:
                    act[f] = False
                    rate[f] = lv
                    flow_step[f] = step
                    frz[n_frz] = f
                    n_frz += 1
        for i in range(n_frz):  # frozen flows leave their links
            f = frz[i]
            for k in range(cp[f], cp[f + 1]):
                li = ci[k]
                F[li] += cd[k] * lv
                w[li] -= cd[k]
                cnt[li] -= 1
        for i in range(n_frz):  # cancellation ate tiny weights: sum the active ones again
            f = frz[i]
            for k in range(cp[f], cp[f + 1]):
                li = ci[k]
                if cnt[li] > 0 and w[li] <= 0:
                    s = 0.0
                    for q in range(rp[li], rp[li + 1]):
                        if act[ri[q]]:
                            s += rd[q]
                    w[li] = s
        n_act -= n_frz
        level = lv
        step += 1
    return step


def _transpose(cp, ci, cd, n_l):
    """CSR (rp, ri, rd) of a CSC incidence; each row's flows in increasing order."""
    n_f = cp.shape[0] - 1
    rp = np.zeros(n_l + 1, np.int64)
    for k in range(ci.shape[0]):
        rp[ci[k] + 1] += 1
    for li in range(n_l):
        rp[li + 1] += rp[li]
    nxt = rp[:-1].copy()
    ri = np.empty(ci.shape[0], np.int64)
    rd = np.empty(ci.shape[0])
    for f in range(n_f):
        for k in range(cp[f], cp[f + 1]):
            q = nxt[ci[k]]
            ri[q] = f
            rd[q] = cd[k]
            nxt[ci[k]] = q + 1
    return rp, ri, rd


def _fill_rates(cp, ci, cd, cap, alive):
    """Max-min rates of the `alive` flows (the kernel behind `max_min_rates`' small path)."""
    n_l = cap.shape[0]
    n_f = alive.shape[0]
    rp, ri, rd = _transpose(cp, ci, cd, n_l)
    rate = np.zeros(n_f)
    fs = np.empty(n_f, np.int64)
    ls = np.empty(n_l, np.int64)
    buf = np.empty((3, max(n_l, n_f)), np.int64)
    _fill(
        rp, ri, rd, cp, ci, cd, cap, alive, rate, fs, ls, np.zeros(n_l),
        np.zeros(n_l, np.int64), np.zeros((2, n_l)), np.zeros(n_f, np.bool_), buf,
    )  # fmt: skip
    return rate


def _run(cp, ci, cd, cap, size, watch, has_watch, n_bytes):
    """`run_flows`' event loop over scalars: (finish, remaining, link bytes, events,
    solves, ok) for the flows of a CSC incidence (cp, ci, cd).

    Same rules as the NumPy loop: completions within a relative 1e-9 join one event; the
    rates hold until an event takes a flow off a link of a level some running flow froze
    at; with a watch mask, stop when the last watched flow ends. ok = False: a flow
    cannot progress (zero capacity)."""
    n_l = cap.shape[0]
    n_f = size.shape[0]
    rp, ri, rd = _transpose(cp, ci, cd, n_l)
    remaining = size.copy()
    alive = remaining > 0
    finish = np.zeros(n_f)
    rate = np.zeros(n_f)
    flow_step = np.empty(n_f, np.int64)
    link_step = np.empty(n_l, np.int64)
    w = np.zeros(n_l)
    cnt = np.zeros(n_l, np.int64)
    F_t = np.zeros((2, n_l))
    act = np.zeros(n_f, np.bool_)
    buf = np.empty((3, max(n_l, n_f)), np.int64)
    idx = np.empty(n_f, np.int64)
    tt = np.empty(n_f)
    ev = np.empty(n_f, np.int64)
    ends = np.empty(n_f + 1, np.int64)
    times = np.empty(n_f + 1)
    dirty = np.empty(n_l + n_f + 2, np.int64)
    n_alive = 0
    for f in range(n_f):
        if alive[f]:
            n_alive += 1
    t = 0.0
    events = 0
    solves = 0
    while n_alive > 0:
        if has_watch:
            any_w = False
            for f in range(n_f):
                if alive[f] and watch[f]:
                    any_w = True
                    break
            if not any_w:
                break
        n_lev = _fill(
            rp, ri, rd, cp, ci, cd, cap, alive, rate, flow_step, link_step, w, cnt, F_t, act, buf
        )
        solves += 1
        n = 0
        for f in range(n_f):
            if alive[f]:
                idx[n] = f
                r = rate[f]
                tt[n] = remaining[f] / r if r > 0 else np.inf
                n += 1
        order = np.argsort(tt[:n], kind="mergesort")
        fl = idx[:n][order]
        u = tt[:n][order]
        if not np.isfinite(u[0]):
            return finish, remaining, np.zeros(n_l), events, solves, False
        n_fin = 0
        while n_fin < n and np.isfinite(u[n_fin]):
            n_fin += 1
        # completion events at these rates: flows within 1e-9 of the next one join it
        i = 0
        prev = 0.0
        n_ev = 0
        while i < n_fin:
            thr = prev + (u[i] - prev) * (1 + 1e-9)
            j = i
            while j < n_fin and u[j] <= thr:
                j += 1
            if j == i:
                j = i + 1
            ends[n_ev] = j
            times[n_ev] = u[i]
            n_ev += 1
            prev = u[i]
            i = j
        e_ = 0
        for p in range(n):
            if p < n_fin:
                while ends[e_] <= p:
                    e_ += 1
                ev[p] = e_
            else:
                ev[p] = n_ev
        # the first event that takes a flow off a link of each level (index step + 1; 0:
        # no link); the rates hold up to the first event after which a running flow's
        # level is touched
        for g in range(n_lev + 1):
            dirty[g] = n_ev
        for p in range(n_fin):
            f = fl[p]
            for k in range(cp[f], cp[f + 1]):
                g = link_step[ci[k]] + 1
                if ev[p] < dirty[g]:
                    dirty[g] = ev[p]
        dirty[0] = n_ev
        kk = n_ev - 1
        for p in range(n):
            gd = dirty[flow_step[fl[p]] + 1]
            if gd < ev[p] and gd < kk:
                kk = gd
        stop = False
        if has_watch:
            ew = -1
            for p in range(n):
                if watch[fl[p]] and ev[p] > ew:
                    ew = ev[p]
            if ew >= 0 and ew <= kk:
                kk = ew
                stop = True
        n_out = ends[kk]
        for p in range(n_out):
            f = fl[p]
            finish[f] = t + times[ev[p]]
            remaining[f] = 0.0
            alive[f] = False
        n_alive -= n_out
        events += kk + 1
        dt = times[kk]
        for f in range(n_f):
            if alive[f]:
                remaining[f] -= rate[f] * dt
        t += dt
        if stop:
            break
    link_bytes = np.zeros(n_l)  # bytes the flows < n_bytes sent, summed per link in flow
    for li in range(n_l):  # order (as csr @ x)
        acc = 0.0
        for q in range(rp[li], rp[li + 1]):
            f = ri[q]
            if f >= n_bytes:
                break
            acc += rd[q] * (size[f] - max(remaining[f], 0.0) if has_watch else size[f])
        link_bytes[li] = acc
    return finish, remaining, link_bytes, events, solves, True


_FILL = kernel(_fill)
DENSE_FILL = kernel(dense_fill)
_TRANSPOSE = kernel(_transpose)
_FILL_RATES = kernel(_fill_rates, {"_fill": _FILL, "_transpose": _TRANSPOSE})
_RUN = kernel(_run, {"_fill": _FILL, "_transpose": _TRANSPOSE})


@dataclass
class FlowRun:
    """Result of running a set of flows to completion."""

    finish_s: np.ndarray  # per flow
    link_bytes: np.ndarray  # per link
    n_events: int  # completion instants
    n_rate_solves: int = 0  # max-min solves it took (<= n_events)
    remaining: np.ndarray | None = None  # bytes left per flow when stopped early (`until`)

    @property
    def makespan_s(self) -> float:
        return float(self.finish_s.max()) if len(self.finish_s) else 0.0


def run_flows(
    A: sp.spmatrix, cap: np.ndarray, size: np.ndarray, until: np.ndarray | None = None
) -> FlowRun:
    """Run flows of given sizes (bytes) to completion under max-min fair sharing.

    With `until` (a flow mask), stop at the instant the last of those flows finishes and
    report the bytes the others still have in `remaining` (their `finish_s` stays 0): a
    collective timed against long-lived background flows that outlive it.

    Flows finishing within a relative 1e-9 of the next completion complete in the same
    event. Rates are re-solved only when a finished flow crossed a link of a level some
    remaining flow froze at: otherwise every remaining flow keeps a saturated link on which
    its rate is the largest, so its max-min rate is unchanged (Bertsekas & Gallager 6.5.2,
    bottleneck characterisation). A phase of equal-size flows thus takes one solve: the
    fastest flows finish first and cross no link of a lower level.
    """
    size = np.asarray(size, dtype=float)
    watch = None if until is None else np.asarray(until, dtype=bool)
    fast = _small_kernel(A, _RUN)
    if fast is not None:
        csr, csc = _incidence(A)
        cap = _capacities(cap, csr.shape[0])
        if size.shape != (csr.shape[1],) or (watch is not None and watch.shape != size.shape):
            raise InputError(
                f"need one size (and until flag) per flow ({csr.shape[1]})", field="size"
            )
        return run_columns(*_csc_arrays(csc), cap, size, watch)
    filler = _Filler(A)
    cp, ci = filler.csc.indptr, filler.csc.indices
    n = len(size)
    remaining = size.copy()
    alive = remaining > 0
    finish = np.zeros(n)
    t = 0.0
    events = solves = 0
    while alive.any():
        if watch is not None and not (alive & watch).any():
            break
        sol = filler.solve(cap, alive)
        solves += 1
        idx = np.flatnonzero(alive)
        ra = sol.rate[idx]
        tt = np.where(ra > 0, remaining[idx] / np.where(ra > 0, ra, 1.0), np.inf)
        order = np.argsort(tt, kind="stable")
        u = tt[order]
        if not np.isfinite(u[0]):
            raise RuntimeError("flows cannot progress: a link on their path has zero capacity")
        # completion events at these rates: flows within 1e-9 of the next one join it
        fl = idx[order]
        n_fin = int(np.count_nonzero(np.isfinite(u)))
        ul = u[:n_fin].tolist()
        ends: list[int] = []
        times: list[float] = []
        i, prev = 0, 0.0
        while i < n_fin:
            j = bisect.bisect_right(ul, prev + (ul[i] - prev) * (1 + 1e-9), i, n_fin)
            ends.append(j)
            times.append(ul[i])
            prev = ul[i]
            i = j
        n_ev = len(ends)
        ev = np.full(len(fl), n_ev)  # event each flow finishes in (n_ev: not at these rates)
        ev[:n_fin] = np.repeat(np.arange(n_ev), np.diff(ends, prepend=0))
        # level groups (step + 1; 0 = crosses no link) and the first event that takes a
        # flow off one of a group's links; the rates hold until the first event after
        # which a flow still running has its group touched
        grp_f = sol.flow_step + 1
        grp_l = sol.link_step + 1
        dirty = np.full(max(int(grp_l.max(initial=0)), int(grp_f.max(initial=0))) + 1, n_ev)
        clen = cp[fl[:n_fin] + 1] - cp[fl[:n_fin]]
        np.minimum.at(
            dirty,
            grp_l[ci[_ranges(cp[fl[:n_fin]], cp[fl[:n_fin] + 1])]],
            np.repeat(ev[:n_fin], clen),
        )
        dirty[0] = n_ev  # flows on no link are never slowed down
        gd = dirty[grp_f[fl]]
        hit = gd < ev
        k = int(gd[hit].min()) if hit.any() else n_ev - 1  # last event at these rates
        stop = False
        if watch is not None:
            ew = ev[watch[fl]]  # events the watched flows finish in
            if ew.size and int(ew.max()) <= k:  # the last watched flow ends at these rates
                k, stop = int(ew.max()), True
        out = fl[: ends[k]]
        finish[out] = t + np.asarray(times)[ev[: ends[k]]]
        events += k + 1
        prev = times[k]
        remaining[out] = 0.0
        alive[out] = False
        remaining[alive] -= sol.rate[alive] * prev
        t += prev
        if stop:
            break
    return _flow_run(filler.csr, size, finish, remaining, events, solves, watch)


def _csc_arrays(csc: sp.csc_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return csc.indptr.astype(np.int64), csc.indices.astype(np.int64), csc.data


def run_columns(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    cap: np.ndarray,
    size: np.ndarray,
    until: np.ndarray | None = None,
    bytes_of: int | None = None,
) -> FlowRun:
    """`run_flows` on a canonical CSC incidence (`dcsim.network.routing.Columns`: sorted
    links per flow, weights > 0) through the compiled kernel; needs numba (`_RUN`).
    `link_bytes` counts the flows before index bytes_of (default all)."""
    fast = _RUN.runner(len(indices))
    if fast is None:
        raise RuntimeError("run_columns needs numba; use run_flows")
    watch = np.zeros(len(size), dtype=bool) if until is None else until
    finish, remaining, link_bytes, events, solves, ok = fast(
        indptr, indices, data, cap, size, watch, until is not None,
        len(size) if bytes_of is None else bytes_of,
    )  # fmt: skip
    if not ok:
        raise RuntimeError("flows cannot progress: a link on their path has zero capacity")
    return FlowRun(
        finish_s=finish,
        link_bytes=link_bytes,
        n_events=int(events),
        n_rate_solves=int(solves),
        remaining=None if until is None else np.maximum(remaining, 0.0),
    )


def run_beside(
    cols: Any, size: np.ndarray, other: Any, other_size: np.ndarray, cap: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, int]:
    """`run_columns` of flows (`cols`: canonical CSC arrays indptr, indices, data) next to
    other flows (`other`, bytes `other_size`) until the last of the first ends, in one
    compiled call (`_beside`): (that time, link bytes of the first, bytes each other flow
    has left, events). The same numbers as `run_columns` on the joined columns with
    `until` the first flows and `bytes_of` their count."""
    fast = _BESIDE.runner(len(cols.indices) + len(other.indices))
    if fast is None:
        raise RuntimeError("run_beside needs numba; use run_flows")
    t, link_bytes, left, events, ok = fast(
        cols.indptr, cols.indices, cols.data, size,
        other.indptr, other.indices, other.data, other_size, cap,
    )  # fmt: skip
    if not ok:
        raise RuntimeError("flows cannot progress: a link on their path has zero capacity")
    return t, link_bytes, left, int(events)


def _beside(cp, ci, cd, size, ocp, oci, ocd, osize, cap):
    """`run_beside` over scalars: the joined CSC, `_run` watching the first flows, their
    last finish and the others' bytes left, clipped at 0 as `np.maximum(x, 0.0)` does."""
    n, n_o = size.shape[0], osize.shape[0]
    jp = np.empty(n + n_o + 1, np.int64)
    jp[: n + 1] = cp
    jp[n + 1 :] = ocp[1:] + cp[n]
    ji = np.concatenate((ci, oci))
    jd = np.concatenate((cd, ocd))
    js = np.concatenate((size, osize))
    watch = np.zeros(n + n_o, np.bool_)
    watch[:n] = True
    finish, remaining, link_bytes, events, _, ok = _run(jp, ji, jd, cap, js, watch, True, n)
    t = 0.0
    if n:
        t = finish[0]
        for f in range(1, n):
            if finish[f] > t:
                t = finish[f]
    left = np.empty(n_o)
    for f in range(n_o):
        x = remaining[n + f]
        left[f] = x if not x < 0.0 else 0.0  # NaN and -0.0 kept, as np.maximum
    return t, link_bytes, left, events, ok


_BESIDE = kernel(_beside, {"_run": _RUN})


def _flow_run(
    csr: sp.csr_matrix,
    size: np.ndarray,
    finish: np.ndarray,
    remaining: np.ndarray,
    events: int,
    solves: int,
    watch: np.ndarray | None,
) -> FlowRun:
    sent = size if watch is None else size - np.maximum(remaining, 0.0)
    return FlowRun(
        finish_s=finish,
        link_bytes=np.asarray(csr @ sent).ravel(),
        n_events=int(events),
        n_rate_solves=int(solves),
        remaining=None if watch is None else np.maximum(remaining, 0.0),
    )
