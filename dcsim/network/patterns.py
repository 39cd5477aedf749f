"""Traffic patterns (one step of concurrent flows) and their completion time on a fabric.

Used by tests, benchmarks and the FlowSplit env: random inter-ToR permutations (the
adversarial pattern for per-flow ECMP, Addanki et al. arXiv 2407.00550), rings over a
random rank order, and uniform all-to-all.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dcsim.jit import jit_enabled, kernel
from dcsim.network.flows import _SMALL_LINKS, run_beside, run_columns, run_flows
from dcsim.network.routing import route, route_columns

if TYPE_CHECKING:
    from dcsim.network.background import BackgroundTraffic


def random_derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random permutation with no fixed point (rejection; P(accept) -> 1/e)."""
    if n < 2:
        raise ValueError("a derangement needs n >= 2")
    ar = range(n)
    while True:
        p = rng.permutation(n)
        if not any(map(operator.eq, p.tolist(), ar)):  # a few ToRs: cheaper than NumPy's ==
            return p


def tor_of_hosts(fabric) -> np.ndarray:
    """Group id of each host's top-of-rack switch (the host itself if multi-homed);
    computed once per fabric (read-only)."""
    tor = fabric.__dict__.get("_tor_of_hosts")
    if tor is None:
        tor = np.unique(fabric.host_key, return_inverse=True)[1]
        tor.setflags(write=False)
        fabric.__dict__["_tor_of_hosts"] = tor
    return tor


def tor_members(fabric) -> list[np.ndarray]:
    """Hosts under each ToR group, in host order; computed once per fabric."""
    members = fabric.__dict__.get("_tor_members")
    if members is None:
        tor = tor_of_hosts(fabric)
        members = [np.flatnonzero(tor == t) for t in range(int(tor.max()) + 1)]
        fabric.__dict__["_tor_members"] = members
    return members


def tor_demand(tor: np.ndarray, n_tors: int, src, dst) -> tuple[int, int, int, int]:
    """Flows between ToR groups (`tor`: each host's group, 0..n_tors - 1): (flows that leave
    their ToR, the ToR pair a * n_tors + b most of them run between (the first of equals),
    its flows, the most of them leaving one ToR); all 0 when none leaves its ToR. One
    compiled call when numba is on (`_tor_demand`, same counts)."""
    fast = _TOR_DEMAND.runner(len(src))
    if fast is not None:
        return fast(tor, n_tors, src, dst)
    ts, td = tor[src], tor[dst]
    inter = ts != td
    n_inter = int(np.count_nonzero(inter))
    if not n_inter:
        return 0, 0, 0, 0
    ts, td = ts[inter], td[inter]
    pair = np.bincount(ts * n_tors + td, minlength=n_tors * n_tors)
    a = int(pair.argmax())
    return n_inter, a, int(pair[a]), int(np.bincount(ts, minlength=n_tors).max())


def _tor_demand(tor, n_tors, src, dst):
    """`tor_demand` over scalars."""
    pair = np.zeros(n_tors * n_tors, np.int64)
    out = np.zeros(n_tors, np.int64)
    n_inter = 0
    for f in range(src.shape[0]):
        a, b = tor[src[f]], tor[dst[f]]
        if a != b:
            n_inter += 1
            pair[a * n_tors + b] += 1
            out[a] += 1
    if n_inter == 0:
        return 0, 0, 0, 0
    best = 0
    for q in range(1, n_tors * n_tors):
        if pair[q] > pair[best]:  # argmax: the first of equals
            best = q
    return n_inter, best, int(pair[best]), int(out.max())


_TOR_DEMAND = kernel(_tor_demand)


def inter_tor_permutation(fabric, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random permutation where every host sends to a host under another ToR.

    Each host slot j of ToR a sends to ToR sigma_j(a) (sigma_j a random derangement of
    ToRs), landing on a random free host there; every host sends and receives once.
    Needs equal hosts per ToR."""
    members = tor_members(fabric)
    T = len(members)
    h = len(members[0])
    if T < 2 or any(len(m) != h for m in members):
        raise ValueError("inter-ToR permutation needs >= 2 ToRs with equal host counts")
    M = fabric.__dict__.get("_tor_matrix")
    if M is None:
        M = fabric.__dict__["_tor_matrix"] = np.stack(members)  # (T, h)
    fast = _TOR_PERMUTATION.runner(T * h)
    if fast is not None:
        return fast(M, rng)
    slots = np.stack([rng.permutation(h) for _ in range(T)])  # receiving order per ToR
    sigma = np.stack([random_derangement(T, rng) for _ in range(h)])  # row j: sigma_j
    dst = M[sigma, slots[sigma, np.arange(h)[:, None]]]  # (h, T): slot j of every ToR
    return M.T.flatten(), dst.ravel()


def _tor_permutation(M, rng):
    """`inter_tor_permutation` over scalars for hosts M (ToRs x slots): the same draws from
    rng (numba's Generator.permutation is NumPy's shuffle on the same bit generator), in
    one compiled call instead of ~30 NumPy ones (tests/test_network_kernels.py)."""
    T, h = M.shape
    slots = np.empty((T, h), np.int64)
    for a in range(T):
        slots[a] = rng.permutation(h)
    src = np.empty(T * h, np.int64)
    dst = np.empty(T * h, np.int64)
    for j in range(h):
        sigma = rng.permutation(T)
        while _has_fixed_point(sigma):  # random_derangement's rejection
            sigma = rng.permutation(T)
        for a in range(T):
            src[j * T + a] = M[a, j]
            dst[j * T + a] = M[sigma[a], slots[sigma[a], j]]
    return src, dst


def _has_fixed_point(p):
    """Whether permutation p maps some index to itself (the derangement test)."""
    for i in range(p.shape[0]):
        if p[i] == i:
            return True
    return False


_TOR_PERMUTATION = kernel(_tor_permutation, {"_has_fixed_point": kernel(_has_fixed_point)})


def shuffled_ring(
    fabric, rng: np.random.Generator, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One ring step over a random order of n hosts (default all)."""
    order = rng.permutation(fabric.n_hosts)[: n or fabric.n_hosts]
    return order, np.roll(order, -1)


@dataclass
class TrafficResult:
    time_s: float  # last flow's finish (no latency term)
    max_link_util: float
    congestion: float  # most loaded link / most loaded host link (seconds of work)
    max_work_s: float  # max over links of bytes / capacity
    link_load: np.ndarray  # bytes of the timed flows per link
    n_events: int
    background_left: np.ndarray | None = None  # bytes each background flow has left after

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("link_load", "background_left")}


def traffic_time(
    fabric,
    src,
    dst,
    size,
    routing: str = "ecmp",
    seed: int = 0,
    background: BackgroundTraffic | None = None,
) -> TrafficResult:
    """Run one step of concurrent flows to completion under a routing policy.

    With `background`, its flows share the fabric (max-min) until the step's last flow ends;
    the bytes they have left are returned (the caller commits them with `background.update`).
    """
    size = np.asarray(size, dtype=float)
    if size.shape != np.shape(src):  # one size for all (np.full: cheaper than broadcast_to)
        size = (
            np.full(np.shape(src), size) if not size.ndim else np.broadcast_to(size, np.shape(src))
        )
    if fabric.n_links <= _SMALL_LINKS and jit_enabled():
        return _traffic_time_columns(fabric, src, dst, size, routing, seed, background)
    r = route(fabric, src, dst, size, routing=routing, seed=seed)
    left = None
    if background is not None and background.n_active:
        n = r.A.shape[1]
        import scipy.sparse as sp

        A = sp.hstack([r.A, background.A], format="csr")
        sizes = np.concatenate([r.size, background.remaining])
        watch = np.arange(sizes.size) < n
        run = run_flows(A, fabric.link_cap, sizes, until=watch)
        assert run.remaining is not None
        left = run.remaining[n:]
        t = float(run.finish_s[:n].max()) if n else 0.0
    else:
        run = run_flows(r.A, fabric.link_cap, r.size)
        t = run.makespan_s
        if background is not None:
            left = background.remaining.copy()
    return _result(fabric, np.asarray(r.A @ r.size).ravel(), t, run.n_events, left)


def _traffic_time_columns(fabric, src, dst, size, routing, seed, background) -> TrafficResult:
    """`traffic_time` on CSC arrays and the compiled event loop (small fabrics, numba):
    the same incidence, rates and link sums without building scipy matrices."""
    r = route_columns(fabric, src, dst, size, routing=routing, seed=seed)
    if background is not None and background.n_active:
        bg = background
        t, link_bytes, bg_left, n_events = run_beside(r, r.size, bg, bg.remaining, fabric.link_cap)
        return _result(fabric, link_bytes, t, n_events, bg_left)
    run = run_columns(r.indptr, r.indices, r.data, fabric.link_cap, r.size)
    left = None if background is None else background.remaining.copy()
    return _result(fabric, run.link_bytes, run.makespan_s, run.n_events, left)


def _result(fabric, link_bytes: np.ndarray, t: float, n_events: int, left) -> TrafficResult:
    work = link_bytes / fabric.link_cap
    hl = fabric.host_link_mask
    hw = float(work[hl].max()) if hl.any() else 0.0
    most = float(work.max())  # max(work / t) is most / t: division by t > 0 keeps the order
    return TrafficResult(
        time_s=t,
        max_link_util=most / t if t > 0 else 0.0,
        congestion=most / hw if hw > 0 else 1.0,
        max_work_s=most,
        link_load=link_bytes,
        n_events=n_events,
        background_left=left,
    )
