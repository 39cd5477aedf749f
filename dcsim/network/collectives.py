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
                      index, over that rank's own NIC), scale-up all-gather, for any number
                      of ranks per domain and any number of concurrent groups (the DP groups
                      of a TP job); needs a scale-up domain (the accelerator's, or
                      ``scale_up:`` in the topology)
  auto                all-reduce: the faster of ring and hierarchical (NCCL's tuner picks
                      per size likewise); other collectives: ring (direct for all-to-all)

Fabrics with a scale-up domain (NVLink, UB) carry every flow between two ranks of one
domain on the scale-up fabric, as NCCL/HCCL use P2P over NVLink/UB inside a server; the
rest crosses the scale-out fabric. A step's time is the later of the two. A ring whose
ranks come in whole-domain blocks runs as NCCL's multi-channel rings: one channel per
rank of the block, each leaving the domain through its own NIC (same rail on both
sides, NCCL_CROSS_NIC=0, with PXN forwarding over NVLink), so all NICs of a server are
used: per step, each intra-domain ring edge carries the chunk, each rail's NIC 1/k of it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dcsim.errors import InputError
from dcsim.jit import jit_enabled
from dcsim.network.flows import _SMALL_LINKS, run_columns, run_flows
from dcsim.network.routing import parse_routing, route, routed_columns

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast")
ALGORITHMS = (
    "auto",
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
    "all-reduce": (
        "auto",
        "ring",
        "halving-doubling",
        "double-binary-tree",
        "direct",
        "hierarchical",
    ),
    "all-gather": ("auto", "ring", "halving-doubling", "direct"),
    "reduce-scatter": ("auto", "ring", "halving-doubling", "direct"),
    "all-to-all": ("auto", "direct", "pairwise"),
    "broadcast": ("auto", "ring", "double-binary-tree", "halving-doubling"),
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


def alpha_beta_hierarchical_allreduce(
    g: int, m: int, n_bytes: float, alpha_up: float, bw_up: float, alpha_out: float, bw_out: float
) -> float:
    """Closed-form hierarchical all-reduce of g ranks per domain x m domains: ring
    reduce-scatter and all-gather in the domain (g-1 steps of n/g each) around m-rank rings
    across domains on n/g per rank (2(m-1) steps of n/(g m))."""
    t = 0.0
    if g > 1:
        t += 2 * (g - 1) * (alpha_up + n_bytes / g / bw_up)
    if m > 1:
        t += 2 * (m - 1) * (alpha_out + n_bytes / (g * m) / bw_out)
    return t


def alpha_beta_multichannel_ring_allreduce(
    k: int, m: int, n_bytes: float, alpha_up: float, bw_up: float, alpha_out: float, bw_out: float
) -> float:
    """Closed-form NCCL ring all-reduce over m domains of k ranks with k channels: each of
    the 2(p-1) steps moves the chunk n/p over every in-domain edge and n/(p k) over every
    rank's NIC; a step lasts as long as the slower side (p = k m)."""
    p = k * m
    if p < 2:
        return 0.0
    up = alpha_up + n_bytes / p / bw_up if k > 1 else 0.0
    out = alpha_out + n_bytes / p / k / bw_out if m > 1 else 0.0
    return 2 * (p - 1) * max(up, out)


@dataclass
class Phase:
    """Concurrent flows src[i] -> dst[i] (rank or local indices) of size[i] bytes, repeated."""

    src: np.ndarray
    dst: np.ndarray
    size: np.ndarray
    repeat: int = 1
    lat_mult: float = 1.0  # latency terms per repetition (pipeline depth for trees)
    label: str = ""

    def key(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        for a in (self.src, self.dst, self.size):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def _ph(src, dst, size, repeat=1, lat_mult=1.0, label="") -> Phase:
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    size = np.broadcast_to(np.asarray(size, dtype=float), src.shape).copy()
    return Phase(src, dst, size, int(repeat), float(lat_mult), label)


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


def _domain_blocks(hosts: np.ndarray, d: int) -> int:
    """k if the ranks come as whole blocks of k ranks of one domain each (every domain once),
    else 0 (then a ring keeps its given order as a single channel)."""
    dom = hosts // d
    starts = np.r_[True, dom[1:] != dom[:-1]]
    runs = np.diff(np.r_[np.flatnonzero(starts), len(dom)])
    if len(np.unique(dom)) != len(runs) or np.any(runs != runs[0]):
        return 0
    return int(runs[0])


def _channel_ring(
    groups: np.ndarray, d: int | None, chunk: float, repeat: int, label: str
) -> Phase:
    """One step of ring(s) over each group's ranks (positions into groups.ravel()).

    With a scale-up domain and ranks in whole-domain blocks of k: NCCL's k channels. Each
    domain's ranks form a cycle on the scale-up fabric (the chain of every channel plus
    the PXN hop, chunk per edge in total), and rail c of block b sends chunk/k to rail c
    of block b+1 over its own NIC. Otherwise one ring in the given order."""
    G, p = groups.shape
    k = 0
    if d is not None and d > 1:
        ks = {_domain_blocks(g, d) for g in groups}
        k = ks.pop() if len(ks) == 1 else 0
    if k <= 1:  # one rank per domain (or no domain): the plain ring, all over the NICs
        r = np.arange(p)
        return _replicate(_ph(r, (r + 1) % p, chunk, repeat, 1.0, label), G, p)
    m = p // k
    pos = np.arange(p).reshape(m, k)
    src = [pos.ravel()]
    dst = [np.roll(pos, -1, axis=1).ravel()]
    size = [np.full(p, chunk)]
    if m > 1:
        src.append(pos.ravel())
        dst.append(np.roll(pos, -1, axis=0).ravel())
        size.append(np.full(p, chunk / k))
    ph = _ph(
        np.concatenate(src),
        np.concatenate(dst),
        np.concatenate(size),
        repeat,
        1.0,
        f"{label}, {k} channels",
    )
    return _replicate(ph, G, p)


def _hierarchical(fabric, groups: np.ndarray, n: float) -> list[Phase]:
    """Scale-up reduce-scatter, per-rail scale-out all-reduce, scale-up all-gather, for every
    group at once (positions into groups.ravel())."""
    if fabric.scale_up is None:
        raise InputError(
            "hierarchical needs a scale-up domain: build the fabric for an accelerator "
            "(--hardware, or the scenario's cluster.hardware) or add `scale_up:` to the topology",
            field="algorithm",
        )
    d = fabric.domain_size
    G, p = groups.shape
    grids = []
    for gi, hosts in enumerate(groups):
        dom = hosts // d
        doms, counts = np.unique(dom, return_counts=True)
        if np.any(counts != counts[0]):
            raise InputError(
                "hierarchical needs the same number of ranks in every scale-up domain",
                field="ranks",
            )
        order = np.lexsort((hosts, dom))
        grids.append(gi * p + order.reshape(len(doms), int(counts[0])))
    shapes = {g.shape for g in grids}
    if len(shapes) != 1:
        raise InputError(
            "hierarchical needs every group spread the same way over the scale-up domains",
            field="ranks",
        )
    grid = np.stack(grids)  # (G, m, g): group, domain, local rank
    _, m, g = grid.shape
    out: list[Phase] = []
    if g > 1:
        s = grid.ravel()
        t = np.roll(grid, -1, axis=2).ravel()
        out.append(_ph(s, t, n / g, g - 1, 1.0, "scale-up reduce-scatter (ring)"))
    if m > 1:  # one ring per local rank across domains, n/g each, over that rank's NIC
        s = grid.ravel()
        t = np.roll(grid, -1, axis=1).ravel()
        out.append(_ph(s, t, n / g / m, 2 * (m - 1), 1.0, "scale-out all-reduce (rings)"))
    if g > 1:
        s = grid.ravel()
        t = np.roll(grid, -1, axis=2).ravel()
        out.append(_ph(s, t, n / g, g - 1, 1.0, "scale-up all-gather (ring)"))
    return out


@dataclass
class _Solved:
    """One distinct step pattern solved on the scale-out and scale-up fabrics."""

    step_s: float  # makespan (both fabrics), without latency
    lat_s: float  # step latency of the slower side
    out_bytes: np.ndarray
    up_bytes: np.ndarray | None
    events: int
    congestion: float
    where: str  # scale-out | scale-up | both
    tie: str  # why routing policies cannot differ on this step ('' if they can)


def _solve_step(
    fabric,
    src: np.ndarray,
    dst: np.ndarray,
    size: np.ndarray,
    routing: str,
    seed: int,
    lat_mult: float,
) -> _Solved:
    """Route and run one step: intra-domain flows on the scale-up fabric (all domains in
    one solve, link ids offset per domain), the rest on the scale-out fabric."""
    su = fabric.scale_up
    intra = np.zeros(len(src), dtype=bool)
    if su is not None:
        d = fabric.domain_size
        intra = (src // d) == (dst // d)
    mk_o = mk_u = lat_o = lat_u = 0.0
    out_b = np.zeros(fabric.n_links)
    up_b = np.zeros(su.n_links) if su is not None else None
    events = 0
    cong = 1.0
    tie = ""
    o = ~intra
    if o.any():
        so, do_, zo = src[o], dst[o], size[o]
        if fabric.n_links <= _SMALL_LINKS and jit_enabled():  # the same run without scipy
            c, sub_lat = routed_columns(fabric, so, do_, zo, routing=routing, seed=seed)
            run = run_columns(c.indptr, c.indices, c.data, fabric.link_cap * 1.0, c.size)
        else:
            r = route(fabric, so, do_, zo, routing=routing, seed=seed)
            run = run_flows(r.A, fabric.link_cap, r.size)
            sub_lat = r.latency_s
        mk_o = run.makespan_s
        lat_o = (float(sub_lat.max()) if len(sub_lat) else 0.0) + fabric.endpoint_latency_s
        out_b = run.link_bytes
        events += run.n_events
        work = run.link_bytes / fabric.link_cap
        hl = fabric.host_link_mask
        hw = work[hl].max() if hl.any() else 0.0
        cong = float(work.max() / hw) if hw > 0 else 1.0
        tie = routing_tie_reason(fabric, so, do_)
    if intra.any():
        assert su is not None and up_b is not None
        d = fabric.domain_size
        si, di, zi = src[intra], dst[intra], size[intra]
        dom = si // d
        r = route(su, si % d, di % d, zi, routing=routing, seed=seed)
        A = r.A.tocoo()
        L = su.n_links
        n_dom = fabric.n_hosts // d
        import scipy.sparse as sp

        Abig = sp.csr_matrix(
            (A.data, (A.row + dom[r.parent[A.col]] * L, A.col)), shape=(n_dom * L, A.shape[1])
        )
        run = run_flows(Abig, np.tile(su.link_cap, n_dom), r.size)
        mk_u = run.makespan_s
        lat_u = (float(r.latency_s.max()) if len(r.latency_s) else 0.0) + su.endpoint_latency_s
        up_b = run.link_bytes.reshape(n_dom, L).sum(axis=0)
        events += run.n_events
    where = "both" if (o.any() and intra.any()) else ("scale-up" if intra.any() else "scale-out")
    if where == "scale-up":
        tie = "every flow stays inside a scale-up domain"
    t_o = mk_o + lat_mult * lat_o if o.any() else 0.0
    t_u = mk_u + lat_mult * lat_u if intra.any() else 0.0
    if t_o >= t_u:
        mk, lat = mk_o, lat_o
    else:
        mk, lat = mk_u, lat_u
    return _Solved(mk, lat, out_b, up_b, events, cong, where, tie)


def routing_tie_reason(fabric, src: np.ndarray, dst: np.ndarray) -> str:
    """Why no routing policy can change this step's time ('' if one might).

    On single-homed fabrics a flow's only choice is among equal-cost paths between its
    two ToR switches. If every flow stays under one ToR, or every ToR sends and receives
    at most one flow that leaves it, no two flows can share an uplink or downlink whatever
    the paths (a host-order ring on a leaf-spine: one flow leaves each leaf)."""
    if not np.all(fabric.host_single[src]) or not np.all(fabric.host_single[dst]):
        return ""
    ts, td = fabric.host_key[src], fabric.host_key[dst]
    cross = ts != td
    if not cross.any():
        return "every flow stays under one ToR switch: there is no path choice"
    out_n = np.bincount(ts[cross]).max()
    in_n = np.bincount(td[cross]).max()
    if out_n <= 1 and in_n <= 1:
        return (
            "each ToR sends and receives at most one flow that leaves it, so no two flows "
            "can share an uplink or downlink whatever the routing (host-order ring); "
            "use --shuffle for a pattern where routings differ"
        )
    return ""


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
    candidates: dict[str, float] = field(default_factory=dict)  # auto: time of each algorithm
    routing_note: str = ""  # why routing policies tie on this pattern ('' if they may differ)

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
            "candidates": self.candidates,
            "routing_note": self.routing_note,
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
    algbw/busbw are per group). ``algorithm="auto"`` returns the fastest candidate
    (its name in ``algorithm``, every candidate's time in ``candidates``).
    """
    coll = _norm(collective, COLLECTIVES, "collective")
    algo = _norm(algorithm, ALGORITHMS, "algorithm")
    if algo == "auto":
        return _auto(fabric, coll, size_bytes, routing, seed, ranks)
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
    d = fabric.domain_size if fabric.scale_up is not None else None
    if algo == "hierarchical":
        if coll != "all-reduce":
            raise InputError("hierarchical is implemented for all-reduce only", field="algorithm")
        plan = _hierarchical(fabric, groups, n)
    elif algo == "ring" and coll in ("all-reduce", "all-gather", "reduce-scatter"):
        rep = 2 * (p - 1) if coll == "all-reduce" else p - 1
        plan = [_channel_ring(groups, d, n / p, rep, "ring")]
    else:
        plan = [_replicate(ph, n_groups, p) for ph in build_phases(coll, algo, p, n)]

    total = 0.0
    lat_total = 0.0
    steps = 0
    congestion = 1.0
    rows: list[dict[str, Any]] = []
    ties: set[str] = set()
    cache: dict[str, _Solved] = {}
    for ph in plan:
        k = ph.key() + f"/{ph.lat_mult}"
        if k not in cache:
            cache[k] = _solve_step(
                fabric, ranks[ph.src], ranks[ph.dst], ph.size, routing, seed, ph.lat_mult
            )
        sv = cache[k]
        step = sv.step_s + ph.lat_mult * sv.lat_s
        t = ph.repeat * step
        total += t
        lat_total += ph.repeat * ph.lat_mult * sv.lat_s
        steps += ph.repeat
        link_load += ph.repeat * sv.out_bytes
        if up_load is not None and sv.up_bytes is not None:
            up_load += ph.repeat * sv.up_bytes
        if sv.where != "scale-up":
            congestion = max(congestion, sv.congestion)
        ties.add(sv.tie)
        rows.append(
            {
                "label": ph.label,
                "fabric": sv.where,
                "flows": int(len(ph.src)),
                "repeat": ph.repeat,
                "step_s": step,
                "time_s": t,
                "flow_events": sv.events,
            }
        )
    algbw = n / total if total > 0 else float("inf")
    util = link_load / (fabric.link_cap * total) if total > 0 else np.zeros(L)
    note = "; ".join(sorted(ties)) if "" not in ties else ""
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
        routing_note=note,
    )


def auto_candidates(fabric, collective: str) -> tuple[str, ...]:
    """Algorithms ``auto`` compares for a collective on this fabric."""
    coll = _norm(collective, COLLECTIVES, "collective")
    if coll == "all-reduce":
        return ("ring", "hierarchical") if fabric.scale_up is not None else ("ring",)
    return ("direct",) if coll == "all-to-all" else ("ring",)


def _auto(
    fabric, coll: str, size_bytes: float, routing: str, seed: int, ranks: Any
) -> CollectiveResult:
    best: CollectiveResult | None = None
    times: dict[str, float] = {}
    cands = auto_candidates(fabric, coll)
    if "hierarchical" in cands and fabric.scale_up is not None and ranks is not None:
        g = np.asarray(ranks, dtype=np.int64)
        g = g.reshape(1, -1) if g.ndim < 2 else g
        if np.all([len(np.unique(r // fabric.domain_size)) == len(r) for r in g]):
            cands = ("ring",)  # one rank per domain: hierarchical is the ring itself
    for a in cands:
        try:
            r = collective_time(fabric, coll, a, size_bytes, routing, seed, ranks)
        except InputError:
            if a == "ring":
                raise
            continue  # e.g. hierarchical on ranks spread unevenly over domains
        times[a] = r.time_s
        if best is None or r.time_s < best.time_s:
            best = r
    assert best is not None
    best.candidates = times
    return best


def data_parallel_groups(n_devices: int, per_server: int, tensor_parallel: int) -> np.ndarray:
    """DP groups of a TP x DP job on hosts 0..n_devices-1 (one host per accelerator).

    TP stays inside a server; the accelerators with the same TP rank form one group
    (TP = 8 on 8-GPU servers: one group per GPU rail, one rank per server; TP = 1: one
    group of every accelerator, 8 per server)."""
    dev = np.arange(n_devices)
    return np.stack(
        [dev[(dev % per_server) % tensor_parallel == j] for j in range(tensor_parallel)]
    )


def dp_allreduce(
    fabric,
    n_devices: int,
    per_server: int,
    tensor_parallel: int,
    size_bytes: float,
    algorithm: str = "auto",
    routing: str = "ecmp",
    seed: int = 0,
) -> CollectiveResult | None:
    """The training job's gradient all-reduce: every DP group at once on the shared fabric
    (None when a group has a single rank). Ranks in one scale-up domain talk over it."""
    groups = data_parallel_groups(n_devices, per_server, tensor_parallel)
    if groups.shape[1] < 2:
        return None
    return collective_time(
        fabric, "all-reduce", algorithm, size_bytes, routing=routing, seed=seed, ranks=groups
    )
