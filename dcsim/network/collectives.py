"""Collectives as steps of equal-size flows, timed on a fabric by max-min fair sharing.

Sizes follow nccl-tests (PERFORMANCE.md): ``size`` is the per-rank buffer for all-reduce
and broadcast, the total gathered/scattered buffer for all-gather and reduce-scatter,
and the per-rank send buffer for all-to-all. Bus bandwidth = algbw x factor with factor
2(p-1)/p (all-reduce), (p-1)/p (all-gather, reduce-scatter, all-to-all), 1 (broadcast).

A collective is a list of *phases*: a pattern of concurrent flows repeated ``repeat``
times (a ring all-reduce is one pattern repeated 2(p-1) times). Each distinct pattern is
routed and solved once; its time is the last flow's finish plus the step latency
(endpoint + longest path's hop latencies), times the repeat count.

Algorithms (Thakur, Rabenseifner & Gropp, IJHPCA 2005; NCCL):
  ring                bandwidth-optimal ring (Patarasuk & Yuan 2009)
  halving-doubling    recursive halving reduce-scatter + recursive doubling all-gather
                      (Rabenseifner); non-powers of two fold the extra ranks first
  double-binary-tree  NCCL 2.4 double binary tree, pipelined (each tree carries half)
  direct              every rank sends its share to every other rank at once
  pairwise            all-to-all in p-1 shifted permutation steps
  hierarchical        scale-up reduce-scatter, scale-out all-reduce (one ring per local
                      index), scale-up all-gather (needs ``scale_up:`` in the topology)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dcsim.errors import InputError
from dcsim.network.flows import run_flows
from dcsim.network.routing import parse_routing, route

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast")
ALGORITHMS = (
    "ring",
    "halving-doubling",
    "double-binary-tree",
    "direct",
    "pairwise",
    "hierarchical",
)
_ALIASES = {
    "allreduce": "all-reduce",
    "ar": "all-reduce",
    "allgather": "all-gather",
    "ag": "all-gather",
    "reducescatter": "reduce-scatter",
    "rs": "reduce-scatter",
    "alltoall": "all-to-all",
    "a2a": "all-to-all",
    "bcast": "broadcast",
    "hd": "halving-doubling",
    "rabenseifner": "halving-doubling",
    "recursive-doubling": "halving-doubling",
    "tree": "double-binary-tree",
    "dbt": "double-binary-tree",
    "hier": "hierarchical",
}
SUPPORTED = {
    "all-reduce": ("ring", "halving-doubling", "double-binary-tree", "direct", "hierarchical"),
    "all-gather": ("ring", "halving-doubling", "direct"),
    "reduce-scatter": ("ring", "halving-doubling", "direct"),
    "all-to-all": ("direct", "pairwise"),
    "broadcast": ("ring", "double-binary-tree", "halving-doubling"),
}
MAX_FLOWS_PER_STEP = 2_000_000


_UNITS = {
    "": 1,
    "b": 1,
    "k": 1e3,
    "kb": 1e3,
    "m": 1e6,
    "mb": 1e6,
    "g": 1e9,
    "gb": 1e9,
    "t": 1e12,
    "tb": 1e12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(text: str | float | int) -> float:
    """'1GiB' -> 1073741824.0; '4MB' -> 4e6; plain numbers are bytes."""
    if isinstance(text, (int, float)):
        val = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
        unit = m.group(2).lower() if m else None
        if not m or unit not in _UNITS:
            raise InputError(
                f"cannot read size {text!r}; expected e.g. 1GiB, 512MiB, 4MB or a byte count",
                field="size",
            )
        val = float(m.group(1)) * _UNITS[unit]
    if not np.isfinite(val) or val <= 0:
        raise InputError(f"size must be > 0 bytes (got {text!r})", field="size")
    return val


def bus_factor(collective: str, p: int) -> float:
    """nccl-tests busbw / algbw factor."""
    if collective == "all-reduce":
        return 2.0 * (p - 1) / p
    if collective == "broadcast":
        return 1.0
    return (p - 1) / p


def alpha_beta_ring_allreduce(p: int, n_bytes: float, alpha_s: float, bw_Bps: float) -> float:
    """Closed-form ring all-reduce time: 2(p-1) alpha + 2(p-1)/p * n / B."""
    if p < 2:
        return 0.0
    return 2 * (p - 1) * alpha_s + 2 * (p - 1) / p * n_bytes / bw_Bps


@dataclass
class Phase:
    """Concurrent flows src[i] -> dst[i] (rank or local indices) of size[i] bytes, repeated."""

    src: np.ndarray
    dst: np.ndarray
    size: np.ndarray
    repeat: int = 1
    lat_mult: float = 1.0  # latency terms per repetition (pipeline depth for trees)
    label: str = ""
    scale_up: bool = False  # True: local indices on the scale-up fabric

    def key(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        for a in (self.src, self.dst, self.size):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(bytes([self.scale_up]))
        return h.hexdigest()


def _ph(src, dst, size, repeat=1, lat_mult=1.0, label="", scale_up=False) -> Phase:
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    size = np.broadcast_to(np.asarray(size, dtype=float), src.shape).copy()
    return Phase(src, dst, size, int(repeat), float(lat_mult), label, scale_up)


def _replicate(ph: Phase, n_groups: int, p: int) -> Phase:
    """The same phase run at once by n_groups disjoint groups of p ranks (ranks g*p .. g*p+p-1).

    Concurrent groups share the fabric: e.g. the 8 data-parallel rings of a
    TP=8 job (one per GPU rail) contend for the same leaf uplinks.
    """
    if n_groups == 1:
        return ph
    off = (np.arange(n_groups, dtype=np.int64) * p)[:, None]
    return Phase(
        (ph.src[None, :] + off).ravel(),
        (ph.dst[None, :] + off).ravel(),
        np.tile(ph.size, n_groups),
        ph.repeat,
        ph.lat_mult,
        f"{ph.label} x{n_groups} groups",
        ph.scale_up,
    )


def _ring(p: int, chunk: float, repeat: int, label: str) -> Phase:
    r = np.arange(p)
    return _ph(r, (r + 1) % p, chunk, repeat, 1.0, label)


def _all_pairs(p: int, chunk: float, label: str) -> Phase:
    if p * (p - 1) > MAX_FLOWS_PER_STEP:
        raise InputError(
            f"direct algorithm on {p} ranks needs {p * (p - 1):,} concurrent flows; "
            "use ring or pairwise",
            field="algorithm",
        )
    s, d = np.divmod(np.arange(p * p), p)
    m = s != d
    return _ph(s[m], d[m], chunk, 1, 1.0, label)


def _is_pow2(p: int) -> bool:
    return p > 0 and p & (p - 1) == 0


def _hd_allreduce(p: int, n: float) -> list[Phase]:
    """Rabenseifner all-reduce; extra ranks (p - 2^m) fold into partners first."""
    m = 1 << (p.bit_length() - 1)
    rest = p - m
    phases: list[Phase] = []
    # virtual rank -> real rank: the first 2*rest ranks pair up, evens stay
    real = np.concatenate([np.arange(0, 2 * rest, 2), np.arange(2 * rest, p)]).astype(np.int64)
    if rest:
        odd = np.arange(1, 2 * rest, 2)
        phases.append(_ph(odd, odd - 1, n, 1, 1.0, "fold-in"))
    v = np.arange(m)
    steps = m.bit_length() - 1
    for k in range(steps):  # reduce-scatter, distance m/2, m/4, ..., 1
        dist = m >> (k + 1)
        phases.append(_ph(real[v], real[v ^ dist], n / (2 << k), 1, 1.0, f"rs-halving d={dist}"))
    for k in range(steps):  # all-gather, distance 1, 2, ..., m/2
        dist = 1 << k
        phases.append(
            _ph(real[v], real[v ^ dist], n * (1 << k) / m, 1, 1.0, f"ag-doubling d={dist}")
        )
    if rest:
        odd = np.arange(1, 2 * rest, 2)
        phases.append(_ph(odd - 1, odd, n, 1, 1.0, "fold-out"))
    return phases


def _need_pow2(p: int, what: str) -> None:
    if not _is_pow2(p):
        raise InputError(
            f"halving-doubling {what} needs a power-of-two rank count (got {p}); use ring",
            field="ranks",
        )


def _hd_gather(p: int, n: float, reverse: bool) -> list[Phase]:
    v = np.arange(p)
    steps = p.bit_length() - 1
    out = [
        _ph(v, v ^ (1 << k), n * (1 << k) / p, 1, 1.0, f"doubling d={1 << k}") for k in range(steps)
    ]
    return out[::-1] if reverse else out


def _binary_tree(p: int) -> np.ndarray:
    """Parent of each rank in NCCL's binary tree (src/graph/trees.cc, ncclGetBtree): the
    parent of r is (r ^ b) | (b << 1), b = lowest set bit of r; rank 0 is the root. Odd
    ranks are leaves, so the mirrored tree (r -> p-1-r, p even) or the shifted one
    (r -> r+1, p odd) has its interior where this one has leaves: the double binary tree
    (Sanders, Speck & Traeff 2009) in which every rank sends at most ~2n in total."""
    r = np.arange(p, dtype=np.int64)
    b = r & -r
    up = (r ^ b) | (b << 1)
    up = np.where(up >= p, r ^ b, up)
    up[0] = -1
    return up


def _tree_depth(parent: np.ndarray) -> int:
    """Edges from the deepest rank to the root."""
    d = np.zeros(len(parent), dtype=np.int64)
    cur = parent.copy()
    while np.any(cur >= 0):
        m = cur >= 0
        d[m] += 1
        cur[m] = parent[cur[m]]
    return int(d.max()) if len(d) else 0


def _dbt_edges(p: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(child, parent) edges of both trees of NCCL's double binary tree, and the depth."""
    t1 = _binary_tree(p)
    t2 = np.full(p, -1, dtype=np.int64)
    r = np.arange(p)
    if p % 2 == 0:  # mirror
        m = p - 1 - r
        t2[m] = np.where(t1 >= 0, p - 1 - t1, -1)
    else:  # shift by one
        m = (r + 1) % p
        t2[m] = np.where(t1 >= 0, (t1 + 1) % p, -1)
    child = np.concatenate([np.flatnonzero(t1 >= 0), np.flatnonzero(t2 >= 0)])
    par = np.concatenate([t1[t1 >= 0], t2[t2 >= 0]])
    return child, par, max(_tree_depth(t1), _tree_depth(t2))


def build_phases(collective: str, algorithm: str, p: int, n: float) -> list[Phase]:
    """Flow patterns of a collective over ranks 0..p-1 (hierarchical is built separately)."""
    c, a = collective, algorithm
    if c == "all-reduce":
        if a == "ring":
            return [_ring(p, n / p, 2 * (p - 1), "ring")]
        if a == "halving-doubling":
            return _hd_allreduce(p, n)
        if a == "double-binary-tree":
            child, par, depth = _dbt_edges(p)
            src = np.concatenate([child, par])
            dst = np.concatenate([par, child])
            return [_ph(src, dst, n / 2, 1, 2 * depth, "dbt reduce+broadcast (pipelined)")]
        if a == "direct":
            return [
                _all_pairs(p, n / p, "direct reduce-scatter"),
                _all_pairs(p, n / p, "direct all-gather"),
            ]
    if c in ("all-gather", "reduce-scatter"):
        if a == "ring":
            return [_ring(p, n / p, p - 1, "ring")]
        if a == "halving-doubling":
            _need_pow2(p, c)
            return _hd_gather(p, n, reverse=c == "reduce-scatter")
        if a == "direct":
            return [_all_pairs(p, n / p, "direct")]
    if c == "all-to-all":
        if a == "direct":
            return [_all_pairs(p, n / p, "direct")]
        if a == "pairwise":
            r = np.arange(p)
            return [_ph(r, (r + k) % p, n / p, 1, 1.0, f"shift {k}") for k in range(1, p)]
    if c == "broadcast":
        if a == "ring":
            r = np.arange(p - 1)
            return [_ph(r, r + 1, n, 1, p - 1, "pipelined chain")]
        if a == "double-binary-tree":
            child, par, depth = _dbt_edges(p)
            return [_ph(par, child, n / 2, 1, depth, "dbt broadcast (pipelined)")]
        if a == "halving-doubling":
            _need_pow2(p, c)
            phases = []
            for k in range(p.bit_length() - 1):  # binomial scatter
                dist = p >> (k + 1)
                holders = np.arange(0, p, 2 * dist)
                phases.append(
                    _ph(holders, holders + dist, n / (2 << k), 1, 1.0, f"scatter d={dist}")
                )
            return phases + _hd_gather(p, n, reverse=False)
    raise InputError(
        f"algorithm {a!r} not available for {c}; expected one of: {', '.join(SUPPORTED[c])}",
        field="algorithm",
    )


def _hierarchical(fabric, ranks: np.ndarray, n: float) -> list[tuple[Phase, np.ndarray]]:
    if fabric.scale_up is None:
        raise InputError(
            "hierarchical needs a scale-up domain: add `scale_up:` to the topology",
            field="algorithm",
        )
    d = fabric.domain_size
    dom, local = np.divmod(ranks, d)
    doms, counts = np.unique(dom, return_counts=True)
    if np.any(counts != counts[0]):
        raise InputError(
            "hierarchical needs the same number of ranks in every scale-up domain", field="ranks"
        )
    g, m = int(counts[0]), len(doms)
    order = np.lexsort((local, dom))
    grid = ranks[order].reshape(m, g)  # row: one domain's ranks
    out: list[tuple[Phase, np.ndarray]] = []
    if g > 1:
        loc = np.sort(local[dom == doms[0]])
        r = np.arange(g)
        out.append(
            (_ph(r, (r + 1) % g, n / g, g - 1, 1.0, "scale-up reduce-scatter (ring)", True), loc)
        )
    if m > 1:
        # g rings across domains, ring j over the j-th rank of every domain, n/g each
        col = grid.T  # (g, m)
        s = col.ravel()
        t = np.roll(col, -1, axis=1).ravel()
        host_index = np.arange(fabric.n_hosts)
        out.append(
            (_ph(s, t, n / g / m, 2 * (m - 1), 1.0, "scale-out all-reduce (rings)"), host_index)
        )
    if g > 1:
        r = np.arange(g)
        out.append(
            (_ph(r, (r + 1) % g, n / g, g - 1, 1.0, "scale-up all-gather (ring)", True), loc)
        )
    return out


@dataclass
class CollectiveResult:
    """Time and bandwidths of one collective, with per-link loads on the scale-out fabric."""

    collective: str
    algorithm: str
    routing: str
    n_ranks: int
    size_bytes: float
    time_s: float
    algbw_Bps: float
    busbw_Bps: float
    max_link_util: float
    congestion: float
    link_load: np.ndarray
    latency_s: float
    n_steps: int
    n_solves: int
    phases: list[dict[str, Any]] = field(default_factory=list)
    scale_up_link_load: np.ndarray | None = None
    link_util: np.ndarray | None = None

    def as_dict(self) -> dict[str, Any]:
        """Scalars and per-phase breakdown (no per-link arrays) for JSON."""
        return {
            "collective": self.collective,
            "algorithm": self.algorithm,
            "routing": self.routing,
            "n_ranks": self.n_ranks,
            "size_bytes": self.size_bytes,
            "time_s": self.time_s,
            "algbw_GBps": self.algbw_Bps / 1e9,
            "busbw_GBps": self.busbw_Bps / 1e9,
            "max_link_util": self.max_link_util,
            "congestion": self.congestion,
            "latency_s": self.latency_s,
            "n_steps": self.n_steps,
            "n_solves": self.n_solves,
            "phases": self.phases,
        }


def _norm(name: str, options: tuple[str, ...], what: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    key = _ALIASES.get(key.replace("-", ""), _ALIASES.get(key, key))
    if key not in options:
        raise InputError(
            f"unknown {what} {name!r}; expected one of: {', '.join(options)}", field=what
        )
    return key


def collective_time(
    fabric,
    collective: str = "all-reduce",
    algorithm: str = "ring",
    size_bytes: float = 1 << 30,
    routing: str = "ecmp",
    seed: int = 0,
    ranks: Any = None,
) -> CollectiveResult:
    """Time one collective over ``ranks`` (host indices; default all hosts) of ``fabric``.

    ``ranks`` may also be a 2-D array of equal-size groups: one collective per row,
    all running at once on the shared fabric (time is when the last finishes;
    algbw/busbw are per group).
    """
    coll = _norm(collective, COLLECTIVES, "collective")
    algo = _norm(algorithm, ALGORITHMS, "algorithm")
    parse_routing(routing)
    if not np.isfinite(size_bytes) or size_bytes <= 0:
        raise InputError(f"size must be > 0 bytes (got {size_bytes})", field="size")
    if ranks is None:
        ranks = np.arange(fabric.n_hosts)
    groups = np.asarray(ranks, dtype=np.int64)
    if groups.ndim > 2:
        raise InputError(
            "ranks must be a list of hosts or a list of equal-size groups", field="ranks"
        )
    groups = groups.reshape(1, -1) if groups.ndim < 2 else groups
    n_groups = groups.shape[0]
    ranks = groups.ravel()
    p = groups.shape[1]
    if p and (ranks.min() < 0 or ranks.max() >= fabric.n_hosts):
        raise InputError(f"ranks must be host indices in 0..{fabric.n_hosts - 1}", field="ranks")
    if len(np.unique(ranks)) != len(ranks):
        raise InputError("ranks must be distinct hosts", field="ranks")
    n = float(size_bytes)
    L = fabric.n_links
    link_load = np.zeros(L)
    up_load = np.zeros(fabric.scale_up.n_links) if fabric.scale_up is not None else None
    if p < 2:
        return CollectiveResult(
            coll,
            algo,
            routing,
            p,
            n,
            0.0,
            float("inf"),
            float("inf"),
            0.0,
            1.0,
            link_load,
            0.0,
            0,
            0,
            [],
            up_load,
            np.zeros(L),
        )
    if algo == "hierarchical":
        if coll != "all-reduce":
            raise InputError("hierarchical is implemented for all-reduce only", field="algorithm")
        if n_groups > 1:
            raise InputError(
                "hierarchical takes one group of ranks (it builds its own rings)", field="ranks"
            )
        plan = _hierarchical(fabric, ranks, n)
    else:
        plan = [(_replicate(ph, n_groups, p), ranks) for ph in build_phases(coll, algo, p, n)]

    total = 0.0
    lat_total = 0.0
    steps = 0
    congestion = 1.0
    rows: list[dict[str, Any]] = []
    cache: dict[str, tuple[float, float, np.ndarray, int, float]] = {}
    for ph, hostmap in plan:
        fab = fabric.scale_up if ph.scale_up else fabric
        k = ph.key()
        if k not in cache:
            src, dst = hostmap[ph.src], hostmap[ph.dst]
            r = route(fab, src, dst, ph.size, routing=routing, seed=seed)
            run = run_flows(r.A, fab.link_cap, r.size)
            lat = (float(r.latency_s.max()) if len(r.latency_s) else 0.0) + fab.endpoint_latency_s
            # congestion: most loaded link vs most loaded host link, in seconds of work
            work = run.link_bytes / fab.link_cap
            host_links = np.isin(fab.link_src, fab.host_nodes) | np.isin(
                fab.link_dst, fab.host_nodes
            )
            hw = work[host_links].max() if host_links.any() else 0.0
            cong = float(work.max() / hw) if hw > 0 else 1.0
            cache[k] = (run.makespan_s, lat, run.link_bytes, run.n_events, cong)
        mk, lat, lb, ev, cong = cache[k]
        t = ph.repeat * (mk + ph.lat_mult * lat)
        total += t
        lat_total += ph.repeat * ph.lat_mult * lat
        steps += ph.repeat
        if ph.scale_up:
            up_load += ph.repeat * lb
        else:
            link_load += ph.repeat * lb
            congestion = max(congestion, cong)
        rows.append(
            {
                "label": ph.label,
                "fabric": "scale-up" if ph.scale_up else "scale-out",
                "flows": int(len(ph.src)),
                "repeat": ph.repeat,
                "step_s": mk + ph.lat_mult * lat,
                "time_s": t,
                "flow_events": ev,
            }
        )
    algbw = n / total if total > 0 else float("inf")
    util = link_load / (fabric.link_cap * total) if total > 0 else np.zeros(L)
    return CollectiveResult(
        collective=coll,
        algorithm=algo,
        routing=routing,
        n_ranks=p,
        size_bytes=n,
        time_s=total,
        algbw_Bps=algbw,
        busbw_Bps=algbw * bus_factor(coll, p),
        max_link_util=float(util.max()) if L else 0.0,
        congestion=congestion,
        link_load=link_load,
        latency_s=lat_total,
        n_steps=steps,
        n_solves=len(cache),
        phases=rows,
        scale_up_link_load=up_load,
        link_util=util,
    )
