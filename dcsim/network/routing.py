"""Routing policies: map flows onto equal-cost paths and build the sparse incidence matrix.

Policies (``routing=`` strings):
  ecmp[:K]   one path per flow by a seeded hash of (src, dst, connection) -- per-flow ECMP
             as in switch hashing of the 5-tuple (RFC 2992); collisions are the point.
             With K, each flow is K connections hashed independently (NCCL's
             NCCL_IB_QPS_PER_CONNECTION): more entropy, still no path choice.
  spray      ideal packet spraying: each flow split fluidly and evenly over all its
             equal-cost paths (the multipath ideal the Ultra Ethernet spec aims at).
  split:K    each flow cut into K equal subflows at the sender; each subflow pinned to
             the path whose most-loaded link is least loaded so far (greedy, global view).
  colour[:K] K subflows per flow, paths by a balanced bipartite edge colouring of the
             (source ToR, destination ToR) multigraph with the P paths as colours
             (Konig's theorem with de Werra's vertex splitting): every ToR uplink and
             downlink carries at most ceil(d/P) subflows -- the optimal single-path
             assignment of Addanki, Goyal, Marinos, "Challenging the need for packet
             spraying in large-scale distributed training", arXiv 2407.00550.
             On a 2-tier leaf-spine the path index is the spine; on other fabrics the
             colouring still balances path indices but optimality is not claimed.

Multi-homed hosts (an NPU with one link to each UB plane of CloudMatrix384; multi-rail
hosts) stripe every flow evenly over the ports that start one of its equal-cost paths, as
the hardware load-balances across planes/rails; each policy then chooses among the paths
inside each port's share (ToR keys for ``colour`` are the first and last switch of that
share, so colouring balances the L2 switches of every plane).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dcsim.errors import InputError
from dcsim.jit import Kernel, kernel

if TYPE_CHECKING:  # scipy.sparse (~0.1 s to import) only where a matrix is built
    import scipy.sparse as sp

_MEMO_NODES = 4096  # fabrics whose path lookups are memoised per node pair (_pair_slots)
_POLICY = re.compile(r"^(ecmp(?::(\d+))?|spray|split:(\d+)|colou?r(?::(\d+))?)$")


@functools.lru_cache(maxsize=256)
def parse_routing(policy: str) -> tuple[str, int]:
    """'split:4' -> ('split', 4); 'colour' -> ('colour', 1); InputError on anything else."""
    m = _POLICY.match(str(policy).strip().lower())
    if not m:
        raise InputError(
            f"unknown routing {policy!r}; expected ecmp[:K], spray, split:K or colour[:K] (K >= 1)",
            field="routing",
        )
    name = m.group(1)
    if name.startswith("ecmp"):
        k = int(m.group(2) or 1)
        name = "ecmp"
    elif name.startswith("split"):
        k = int(m.group(3))
        name = "split"
    elif name.startswith("colo"):
        k = int(m.group(4) or 1)
        name = "colour"
    else:
        k = 1
    if not 1 <= k <= 256:
        raise InputError(f"split factor must be in 1..256 (got {k})", field="routing")
    return name, k


@dataclass
class Routed:
    """Flows mapped to links: subflow j belongs to flow parent[j], carries size[j] bytes,
    and puts A[l, j] of its rate on link l (A is links x subflows)."""

    A: sp.csr_matrix
    parent: np.ndarray
    size: np.ndarray
    latency_s: np.ndarray  # per subflow: sum of link latencies on its (longest) path


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a fast, well-mixed deterministic hash of uint64 keys."""
    x = np.asarray(x).astype(np.uint64)  # arrays: uint64 products wrap without a warning
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@functools.lru_cache(maxsize=64)
def _salt(seed: int) -> np.ndarray:
    """Per-seed salt of the ECMP hash keys (one uint64), mixed once per seed; shared between
    calls, so read only."""
    return _mix64(np.full(1, seed, dtype=np.uint64) + np.uint64(0x9E3779B9))


def _occurrence(pair: np.ndarray) -> np.ndarray:
    """k-th repeat of the same (src, dst) within a step -> k (separate connections)."""
    order = np.argsort(pair, kind="stable")
    sp_ = pair[order]
    first = np.r_[True, sp_[1:] != sp_[:-1]]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(len(sp_)), 0))
    occ = np.empty(len(pair), dtype=np.int64)
    occ[order] = np.arange(len(sp_)) - grp_start
    return occ


def _path_buckets(fabric, src: np.ndarray, dst: np.ndarray, lazy: bool = False):
    """Group flows by path-array shape; yield (flow idx, paths (f, P, H), ToR keys s, d).

    lazy: flows between single-homed hosts yield _StubPaths instead of the (f, P, H) array
    (ECMP keeps one path per flow; 100k flows x 1,369 fat-tree paths would not fit)."""
    single = fabric.host_single[src] & fabric.host_single[dst]
    ks = np.where(single, fabric.host_key[src], fabric.host_nodes[src])
    kd = np.where(single, fabric.host_key[dst], fabric.host_nodes[dst])
    n = fabric.n_nodes
    pair = ks.astype(np.int64) * n + kd
    uniq, inv = np.unique(pair, return_inverse=True)
    memo, i = _pair_slots(fabric, uniq)
    sid, pos, stacks = memo["sid"][i], memo["pos"][i], memo["stacks"]
    ids, first = np.unique(sid, return_index=True)
    fshape, fpos = sid[inv], pos[inv]
    net = src != dst  # a flow to itself crosses no link
    for b in ids[np.argsort(first)]:  # path shapes in order of their first pair
        stack = stacks[b]  # (G, P, H): the cached paths of every pair of this shape
        for stub in (True, False):
            idx = np.flatnonzero((fshape == b) & (single == stub) & net)
            if not len(idx):
                continue
            if stub and lazy:
                sel = fpos[idx]
                paths = _StubPaths(stack, sel, fabric.host_up[src[idx]], fabric.host_down[dst[idx]])
                yield idx, paths, ks[idx], kd[idx], np.ones(len(idx))
                continue
            M = stack[fpos[idx]]
            if stub:
                f, P, _ = M.shape
                up = np.broadcast_to(fabric.host_up[src[idx]][:, None, None], (f, P, 1))
                dn = np.broadcast_to(fabric.host_down[dst[idx]][:, None, None], (f, P, 1))
                M = np.concatenate([up, M, dn], axis=2)
                yield idx, M, ks[idx], kd[idx], np.ones(len(idx))
                continue
            Q = _ports(M)
            if Q > 1:  # stripe over the source's ports: (f, P, H) -> (f*Q, P/Q, H)
                f, P, H = M.shape
                M = M.reshape(f * Q, P // Q, H)
                idx = np.repeat(idx, Q)
                first = M[:, 0, 0]
                last = M[:, 0, -1]
                yield (
                    idx,
                    M,
                    fabric.link_dst[first],
                    fabric.link_src[last],
                    np.full(len(idx), 1.0 / Q),
                )
            else:
                yield idx, M, ks[idx], kd[idx], np.ones(len(idx))


def memo_pairs_between(fabric, nodes: np.ndarray) -> None:
    """Enumerate and keep the paths of every ordered pair of these nodes (the switches hosts
    hang off) in one batch. On a fabric of a few dozen leaves that takes ~25 ms for all pairs,
    less than growing the memo a few pairs per `route` call costs over an env's first
    episodes (~0.7 ms a call). No-op on fabrics too large to keep the memo."""
    if fabric.n_nodes > _MEMO_NODES:
        return
    u = np.unique(np.asarray(nodes, dtype=np.int64))
    s, t = np.repeat(u, len(u)), np.tile(u, len(u))
    codes = s[s != t] * fabric.n_nodes + t[s != t]
    if len(codes):
        _pair_slots(fabric, np.unique(codes))


def _pair_slots(fabric, codes: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """Node pairs (codes s * n_nodes + t, sorted unique) -> (memo, i): memo[key][i] is,
    per pair, its paths' shape id ("sid"), row in `memo["stacks"][shape id]` ("pos"; P, H
    arrays of one shape stacked), and P, H and offset of its paths, row-major, in the flat
    `memo["store"]` ("P", "H", "off"). Kept on the fabric and grown
    as pairs appear, so a routing step looks its paths up without a loop over pairs (on
    fabrics of up to _MEMO_NODES nodes; larger ones rebuild it per call, as their pairs
    rarely repeat and the stacks would double the path cache)."""
    memo = fabric.__dict__.get("_pair_memo")
    if memo is None:
        memo = {
            "codes": np.zeros(0, np.int64),
            "sid": np.zeros(0, np.int64),
            "pos": np.zeros(0, np.int64),
            "shapes": {},
            "members": [],
            "stacks": [],
            "P": np.zeros(0, np.int64),
            "H": np.zeros(0, np.int64),
            "off": np.zeros(0, np.int64),
            "store": np.zeros(0, np.int64),
            "widest": 0,  # most path entries of one pair, P * (H + 2) (job sizes)
        }
        if fabric.n_nodes <= _MEMO_NODES:
            fabric.__dict__["_pair_memo"] = memo
    known = memo["codes"]
    i = np.minimum(np.searchsorted(known, codes), max(len(known) - 1, 0))
    new = codes if not len(known) else codes[known[i] != codes]
    if len(new):
        n = fabric.n_nodes
        fabric.ensure_paths(new // n, new % n)
        shapes, members = memo["shapes"], memo["members"]
        sid = np.empty(len(new), np.int64)
        pos = np.empty(len(new), np.int64)
        PH = np.empty((len(new), 2), np.int64)
        flat = [memo["store"]]
        touched = set()
        for k, c in enumerate(new.tolist()):
            m = fabric._paths[(c // n, c % n)]
            b = shapes.setdefault(m.shape, len(shapes))
            if b == len(members):
                members.append([])
            sid[k], pos[k] = b, len(members[b])
            PH[k] = m.shape
            members[b].append(m)
            flat.append(m.ravel())
            touched.add(b)
        off = len(memo["store"]) + np.cumsum(PH[:, 0] * PH[:, 1]) - PH[:, 0] * PH[:, 1]
        memo["store"] = np.concatenate(flat).astype(np.int64)
        stacks = memo["stacks"]
        stacks.extend([None] * (len(members) - len(stacks)))
        for b in touched:
            stacks[b] = np.stack(members[b])
        allc = np.concatenate([known, new])
        order = np.argsort(allc, kind="stable")
        memo["codes"] = allc[order]
        memo["sid"] = np.concatenate([memo["sid"], sid])[order]
        memo["pos"] = np.concatenate([memo["pos"], pos])[order]
        memo["P"] = np.concatenate([memo["P"], PH[:, 0]])[order]
        memo["H"] = np.concatenate([memo["H"], PH[:, 1]])[order]
        memo["off"] = np.concatenate([memo["off"], off])[order]
        memo["widest"] = max(memo["widest"], int((PH[:, 0] * (PH[:, 1] + 2)).max()))
        known = memo["codes"]
        i = np.searchsorted(known, codes)
    return memo, i


def prefetch_paths(fabric, max_keys: int = 64) -> None:
    """Enumerate, in one batch, the paths between every two ToRs (switches with
    single-homed hosts) of a fabric with at most max_keys of them, for the routing steps
    to come (an env's fresh fabric each episode); routes are unchanged, only sooner."""
    keys = np.unique(fabric.host_key[fabric.host_single])
    if not 0 < len(keys) <= max_keys or fabric.n_nodes > _MEMO_NODES:
        return
    _pair_slots(fabric, np.unique(keys[:, None] * fabric.n_nodes + keys[None, :]))


class _StubPaths:
    """Paths of flows between single-homed hosts, not expanded per flow: flow i's path p
    is host_up[i], stack[sel[i], p], host_down[i]."""

    def __init__(self, stack: np.ndarray, sel: np.ndarray, up: np.ndarray, down: np.ndarray):
        self.stack, self.sel, self.up, self.down = stack, sel, up, down
        self.shape = (len(sel), stack.shape[1], stack.shape[2] + 2)

    def pick(self, choice: np.ndarray) -> np.ndarray:
        """Path choice[i] of every flow i: (f, H) link ids."""
        mid = self.stack[self.sel, choice]
        return np.concatenate([self.up[:, None], mid, self.down[:, None]], axis=1)

    def full(self) -> np.ndarray:
        """All paths of every flow: (f, P, H)."""
        f, P, _ = self.shape
        mid = self.stack[self.sel]
        up = np.broadcast_to(self.up[:, None, None], (f, P, 1))
        dn = np.broadcast_to(self.down[:, None, None], (f, P, 1))
        return np.concatenate([up, mid, dn], axis=2)


def _ports(M: np.ndarray) -> int:
    """Number of source ports Q if every flow's paths come as Q equal blocks, each starting
    with one port (paths are kept in next-hop order), else 1."""
    f, P, _ = M.shape
    first = M[:, :, 0]
    q = len(np.unique(first[0]))
    if q < 2 or P % q:
        return 1
    blocks = first.reshape(f, q, P // q)
    if not np.all(blocks == blocks[:, :, :1]):
        return 1
    if np.any(blocks[:, 1:, 0] == blocks[:, :-1, 0]):
        return 1
    return q


def bipartite_edge_colouring(u: np.ndarray, v: np.ndarray, n_colours: int) -> np.ndarray:
    """Balanced edge colouring of a bipartite multigraph (edges u[e]-v[e]) with n_colours.

    De Werra's construction: split every vertex of degree d into ceil(d/C) copies of
    degree <= C, then C-edge-colour (Konig: a bipartite multigraph of max degree C has a
    proper C-edge-colouring) by alternating-path recolouring. Each original vertex then
    has at most ceil(d/C) edges of any one colour.
    """
    C = int(n_colours)
    E = len(u)
    if E == 0:
        return np.zeros(0, dtype=np.int64)

    colour = np.full(E, -1, dtype=np.int64)
    fn = _COLOUR.runner(E) or _COLOUR.py
    fn(np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64), C, colour)
    return colour


def _split_vertices(x, C):
    """Vertex ids after splitting: the k-th edge (in edge order) at vertex x[e] goes to
    copy k // C of x[e]; copies are numbered densely (any numbering colours the same)."""
    order = np.argsort(x, kind="mergesort")
    out = np.empty(x.shape[0], np.int64)
    nxt = -1
    for q in range(x.shape[0]):
        e = order[q]
        if q == 0 or x[e] != x[order[q - 1]]:
            start = q
        k = q - start
        if k % C == 0:
            nxt += 1
        out[e] = nxt
    return out, nxt + 1


def _colour_edges(u, v, C, colour):
    """Konig colouring of the split vertices of edges u-v with C colours, in edge order,
    into colour."""
    uu, n_u = _split_vertices(u, C)
    vv, n_v = _split_vertices(v, C)
    at_u = np.full((n_u, C), -1, dtype=np.int64)
    at_v = np.full((n_v, C), -1, dtype=np.int64)
    path = np.empty(len(uu), dtype=np.int64)
    for e in range(len(uu)):
        a_, b_ = uu[e], vv[e]
        a = 0
        while a < C and at_u[a_, a] >= 0:  # first colour free at u
            a += 1
        a = a % C
        if at_v[b_, a] >= 0:
            b = 0
            while b < C and at_v[b_, b] >= 0:  # free at v
                b += 1
            b = b % C
            # flip the a/b alternating path that starts at v with its a-edge
            n_p, x, side, col = 0, b_, 1, a
            while True:
                e2 = at_v[x, col] if side else at_u[x, col]
                if e2 < 0:
                    break
                path[n_p] = e2
                n_p += 1
                x = uu[e2] if side else vv[e2]
                side ^= 1
                col = b if col == a else a
            for i in range(n_p):
                e2 = path[i]
                at_u[uu[e2], colour[e2]] = -1
                at_v[vv[e2], colour[e2]] = -1
            for i in range(n_p):
                e2 = path[i]
                colour[e2] = b if colour[e2] == a else a
                at_u[uu[e2], colour[e2]] = e2
                at_v[vv[e2], colour[e2]] = e2
        colour[e] = a
        at_u[a_, a] = e
        at_v[b_, a] = e


_SPLIT_VERTICES = kernel(_split_vertices)
_COLOUR = kernel(_colour_edges, {"_split_vertices": _SPLIT_VERTICES})


def _split_greedy(paths, off, P, H, piece, inv_cap, K):
    """Greedy least-loaded subflow placement (the compiled form of `route`'s split loop).

    Unit u (a flow or one port's share, in flow order) has P[u] paths of H[u] links at
    paths[off[u]:]; each of its K subflows puts piece[u] / capacity seconds of work on its
    path's links. Round k places the k-th subflow of every unit on the path whose most
    loaded link would be least loaded (first such path on ties). Returns (units, K)."""
    n_u = off.shape[0]
    load = np.zeros(inv_cap.shape[0])
    choice = np.zeros((n_u, K), np.int64)
    for k in range(K):
        for u in range(n_u):
            o, nh, pc = off[u], H[u], piece[u]
            best, best_v = 0, np.inf
            for p in range(P[u]):
                m = -np.inf
                for h in range(nh):
                    li = paths[o + p * nh + h]
                    v = load[li] + pc * inv_cap[li]
                    if v > m:
                        m = v
                if m < best_v:
                    best, best_v = p, m
            choice[u, k] = best
            for h in range(nh):
                li = paths[o + best * nh + h]
                load[li] += pc * inv_cap[li]
    return choice


_SPLIT = kernel(_split_greedy)


def route(
    fabric,
    src: np.ndarray,
    dst: np.ndarray,
    size: np.ndarray,
    routing: str = "ecmp",
    seed: int = 0,
) -> Routed:
    """Map flows (host src -> host dst, size bytes) to links under a routing policy."""
    rows, cols, data, parent, sub_size, lat = _assemble(fabric, src, dst, size, routing, seed)
    import scipy.sparse as sp

    A = sp.csr_matrix((data, (rows, cols)), shape=(fabric.n_links, len(parent)))
    A.sum_duplicates()
    return Routed(A=A, parent=parent, size=sub_size, latency_s=lat)


@dataclass
class Columns:
    """`route`'s incidence as canonical CSC arrays (subflow j on links indices[indptr[j]:
    indptr[j + 1]], sorted, weights data), for the per-step callers that avoid scipy."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    parent: np.ndarray
    size: np.ndarray


def route_columns(
    fabric, src: np.ndarray, dst: np.ndarray, size: np.ndarray, routing: str = "ecmp", seed: int = 0
) -> Columns:
    """`route` as CSC arrays: the same incidence (tested), built by a compiled kernel when
    numba is installed, else through scipy."""
    s_, d_ = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    fast = _COLUMNS.runner(len(s_))
    if fast is not None and fabric.n_nodes <= _MEMO_NODES and len(s_):
        policy, K = parse_routing(routing)
        w = np.asarray(size, dtype=float)
        col: Columns | None
        if policy in ("ecmp", "spray"):
            if K > 1:  # K independently hashed ECMP connections per flow
                s_, d_, w = np.repeat(s_, K), np.repeat(d_, K), np.repeat(w / K, K)
            col = _hashed_columns(fabric, s_, d_, w, policy == "spray", seed)
            if col is not None and K > 1:
                col.parent //= K
        else:
            col = _stub_columns(fabric, s_, d_, w, policy, K)
        if col is not None:  # None: a host index out of range, or a multi-homed host
            return col
    return routed_columns(fabric, src, dst, size, routing, seed)[0]


def routed_columns(
    fabric, src: np.ndarray, dst: np.ndarray, size: np.ndarray, routing: str = "ecmp", seed: int = 0
) -> tuple[Columns, np.ndarray]:
    """`route` as CSC arrays, subflows in `route`'s order, and each subflow's path latency
    (`Routed.latency_s`): canonicalised by the kernel when numba is on, else by scipy."""
    rows, cols, data, parent, sub_size, lat = _assemble(fabric, src, dst, size, routing, seed)
    n_sub = len(parent)
    fast = _COLUMNS.runner(len(rows))
    if fast is not None:
        ptr = np.zeros(n_sub + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=n_sub), out=ptr[1:])
        ip, ii, dd = fast(ptr, rows.astype(np.int64), data)
        return Columns(ip, ii, dd, parent, sub_size), lat
    import scipy.sparse as sp

    A = sp.csc_matrix((data, (rows, cols)), shape=(fabric.n_links, n_sub))
    A.sum_duplicates()
    ip, ii = A.indptr.astype(np.int64), A.indices.astype(np.int64)
    return Columns(ip, ii, A.data, parent, sub_size), lat


def _on_memo(fabric, src, dst, k: Kernel, entries: bool, *args: Any) -> tuple[Any, ...] | None:
    """k(src, dst, n_nodes, host_key, host_single, codes, sid, P, H, off, store, *args) on
    the fabric's path memo: a kernel that places the flows with `_bucket_order` and returns
    its status last. Missing pairs (0) are enumerated and k runs again; None when the flows
    are not for the memo (-1: a host index out of range or a multi-homed host). The job's
    size (`Kernel.runner`) is its flows, or with `entries` a bound on its path entries
    (all paths of every flow)."""
    for _ in range(2):
        memo = fabric.__dict__.get("_pair_memo")
        if memo is not None:
            fast = k.runner(len(src) * (memo["widest"] if entries else 1)) or k.py
            out = fast(
                src, dst, fabric.n_nodes, fabric.host_key, fabric.host_single,
                memo["codes"], memo["sid"], memo["P"], memo["H"], memo["off"], memo["store"],
                *args,
            )  # fmt: skip
            if out[-1] < 0:
                return None
            if out[-1]:
                return out[:-1]
        nh = fabric.n_hosts  # (the kernel's own check, before host_key is indexed here)
        if min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= nh:
            return None  # a host index out of range: not for the memo
        code = fabric.host_key[src].astype(np.int64) * fabric.n_nodes + fabric.host_key[dst]
        _pair_slots(fabric, np.unique(code))
    raise AssertionError("path memo did not take the new pairs")


def _bucket_order(src, dst, n_nodes, host_key, single, codes, sid_m):
    """Each flow's pair in the memo (binary search of its code), the flows that leave
    their host in `_assemble`'s order (path-shape buckets in order of the smallest pair
    code using them, then flow index) and their bucket; status 1, or 0: a pair is missing,
    -1: the flows are not for the memo (a host out of range or multi-homed)."""
    n = src.shape[0]
    nh = host_key.shape[0]
    e0 = np.zeros(0, np.int64)
    for f in range(n):
        s_, d_ = src[f], dst[f]
        if s_ < 0 or s_ >= nh or d_ < 0 or d_ >= nh or not (single[s_] and single[d_]):
            return e0, e0, e0, -1
    j = np.empty(n, np.int64)
    for f in range(n):
        c = host_key[src[f]] * n_nodes + host_key[dst[f]]
        lo, hi = 0, codes.shape[0]
        while lo < hi:
            mid = (lo + hi) // 2
            if codes[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        if lo >= codes.shape[0] or codes[lo] != c:
            return e0, e0, e0, 0
        j[f] = lo
    n_sh = sid_m.max() + 1
    minc = np.full(n_sh, np.iinfo(np.int64).max)
    for f in range(n):
        if codes[j[f]] < minc[sid_m[j[f]]]:
            minc[sid_m[j[f]]] = codes[j[f]]
    rank = np.empty(n_sh, np.int64)
    rank[np.argsort(minc, kind="mergesort")] = np.arange(n_sh)
    net = np.empty(n, np.int64)
    n_net = 0
    for f in range(n):
        if src[f] != dst[f]:  # a flow to itself crosses no link
            net[n_net] = f
            n_net += 1
    key = np.empty(n_net, np.int64)
    for q in range(n_net):
        key[q] = rank[sid_m[j[net[q]]]]
    srt = np.argsort(key, kind="mergesort")
    return j, net[:n_net][srt], key[srt], 1


_BUCKET_ORDER = kernel(_bucket_order)


def _hashed_columns(fabric, src, dst, size, spray: bool, seed: int) -> Columns | None:
    """`route_columns` of ecmp (one hashed path) or spray (every path at 1/P) for flows
    between single-homed hosts, in one compiled pass (`_hashed_kernel`); None for others."""
    out = _on_memo(
        fabric, src, dst, _HASHED, spray, fabric.n_hosts, fabric.host_up, fabric.host_down,
        size, spray, _salt(seed),
    )  # fmt: skip
    return None if out is None else Columns(*out)


def _hashed_kernel(src, dst, n_nodes, key, single, codes, sid_m, P_m, H_m, off_m, store, nh, up, down, size, spray, salt):  # fmt: skip
    """`_assemble` + `_canonical_columns` for ecmp / spray over scalars, flows in
    `_bucket_order`: (indptr, indices, data, flows, their bytes, its status)."""
    j, order, _, status = _bucket_order(src, dst, n_nodes, key, single, codes, sid_m)
    if status != 1:
        e = np.zeros(0, np.int64)
        return np.zeros(1, np.int64), e, np.zeros(0), e, np.zeros(0), status
    n = src.shape[0]
    n_net = order.shape[0]
    choice = np.zeros(n_net, np.int64)
    if not spray:
        pair = src * nh + dst
        srt = np.argsort(pair, kind="mergesort")
        occ = np.empty(n, np.int64)  # k-th repeat of the same (src, dst) -> k
        start = 0
        for q in range(n):
            if q > 0 and pair[srt[q]] != pair[srt[q - 1]]:
                start = q
            occ[srt[q]] = q - start
        for i in range(n_net):
            f = order[i]
            x = (np.uint64(src[f]) << np.uint64(32)) ^ (np.uint64(dst[f]) << np.uint64(8))
            x = x ^ (np.uint64(occ[f]) ^ salt[0])
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            x = x ^ (x >> np.uint64(31))
            choice[i] = np.int64(x % np.uint64(P_m[j[f]]))
    tot = 0
    widest = 0
    for i in range(n_net):
        s_ = j[order[i]]
        m = (P_m[s_] if spray else 1) * (H_m[s_] + 2)
        tot += m
        widest = max(widest, m)
    ip = np.zeros(n_net + 1, np.int64)
    ii = np.empty(tot, np.int64)
    dd = np.empty(tot)
    rows = np.empty(widest, np.int64)
    m = 0
    for i in range(n_net):
        f = order[i]
        s_ = j[f]
        H = H_m[s_]
        n_p = P_m[s_] if spray else 1
        w = 1.0 / P_m[s_] if spray else 1.0
        r = 0
        for q in range(n_p):
            p = q if spray else choice[i]
            rows[r] = up[src[f]]
            for h in range(H):
                rows[r + 1 + h] = store[off_m[s_] + p * H + h]
            rows[r + 1 + H] = down[dst[f]]
            r += H + 2
        for q in range(1, r):  # insertion sort; then repeats (sprayed host links) summed
            x = rows[q]
            t = q
            while t > 0 and rows[t - 1] > x:
                rows[t] = rows[t - 1]
                t -= 1
            rows[t] = x
        last = -1
        for q in range(r):
            if rows[q] == last:
                dd[m - 1] += w
            else:
                ii[m] = rows[q]
                dd[m] = w
                last = rows[q]
                m += 1
        ip[i + 1] = m
    return ip, ii[:m], dd[:m], order, size[order] * 1.0, 1


_HASHED = kernel(_hashed_kernel, {"_bucket_order": _BUCKET_ORDER})


def _path_entries(choice, every, P, H, off, store, up, down):
    """Links of flow i on path choice[i, q] (one subflow each) or, with every, on all its
    P[i] paths (one subflow): host link up[i], the H[i] switch links of the path (row-major
    at store[off[i]:]), host link down[i]. Returns (entries per subflow, links)."""
    F, Q = choice.shape
    n_sub = F if every else F * Q
    n = np.empty(n_sub, np.int64)
    tot = 0
    for i in range(F):
        if every:
            n[i] = P[i] * (H[i] + 2)
            tot += n[i]
        else:
            for q in range(Q):
                n[i * Q + q] = H[i] + 2
                tot += H[i] + 2
    rows = np.empty(tot, np.int64)
    m = 0
    for i in range(F):
        for q in range(P[i] if every else Q):
            p = q if every else choice[i, q]
            rows[m] = up[i]
            for h in range(H[i]):
                rows[m + 1 + h] = store[off[i] + p * H[i] + h]
            rows[m + 1 + H[i]] = down[i]
            m += H[i] + 2
    return n, rows


_PATH_ENTRIES = kernel(_path_entries)


def _canonical_columns(ptr, rows, data):
    """Sort each column's rows and sum repeated rows in that order (as scipy's
    sum_duplicates does): (indptr, indices, data)."""
    n = ptr.shape[0] - 1
    out_p = np.zeros(n + 1, np.int64)
    out_i = np.empty(rows.shape[0], np.int64)
    out_d = np.empty(rows.shape[0])
    key = np.empty(rows.shape[0], np.int64)  # a column's entries, stably sorted by row
    m = 0
    for j in range(n):
        a, b = ptr[j], ptr[j + 1]
        for q in range(b - a):  # insertion sort: columns are one path or a few
            k = a + q
            x = rows[k]
            r = q
            while r > 0 and rows[key[r - 1]] > x:
                key[r] = key[r - 1]
                r -= 1
            key[r] = k
        last = -1
        for q in range(b - a):
            k = key[q]
            if rows[k] == last:
                out_d[m - 1] += data[k]
            else:
                out_i[m] = rows[k]
                out_d[m] = data[k]
                last = rows[k]
                m += 1
        out_p[j + 1] = m
    return out_p, out_i[:m], out_d[:m]


_COLUMNS = kernel(_canonical_columns)


def _stub_columns(fabric, src, dst, size, policy: str, K: int) -> Columns | None:
    """`route_columns` of split and colour for flows between single-homed hosts on a
    memoised fabric, all path shapes at once, in one compiled pass (`_stub_kernel`); None
    for other flows."""
    out = _on_memo(
        fabric, src, dst, _STUB, True, fabric.host_up, fabric.host_down, size,
        fabric.link_cap, policy == "split", K,
    )  # fmt: skip
    return None if out is None else Columns(*out)


def _stub_kernel(src, dst, n_nodes, key, single, codes, sid_m, P_m, H_m, off_m, store, up, down, size, cap, split, K):  # fmt: skip
    """`_assemble` of split:K (split) or colour:K and `_canonical_columns` over scalars, for
    flows in `_assemble`'s order (`_bucket_order`: path-shape buckets, then flow): per
    subflow (flow, then k) the links of its path, host links around it: (indptr, indices,
    data, parent, size, `_bucket_order`'s status). Same choices as `_assemble`
    (tests/test_network_kernels.py checks the incidence)."""
    j, order, bucket, status = _bucket_order(src, dst, n_nodes, key, single, codes, sid_m)
    if status != 1:
        e = np.zeros(0, np.int64)
        return np.zeros(1, np.int64), e, np.zeros(0), e, np.zeros(0), status
    n_net = order.shape[0]
    if split:  # greedy least-loaded, one unit per flow in flow order
        net = np.sort(order)
        jn = j[net]
        n, rows = _path_entries(
            np.zeros((n_net, 1), np.int64), True, P_m[jn], H_m[jn], off_m[jn], store,
            up[src[net]], down[dst[net]],
        )  # fmt: skip
        ch = _split_greedy(
            rows, np.cumsum(n) - n, P_m[jn], H_m[jn] + 2, size[net] * 1.0 / K, 1.0 / cap, K
        )
        pos = np.empty(src.shape[0], np.int64)
        pos[net] = np.arange(n_net)
        choice = ch[pos[order]]
    else:  # colour, per path-shape bucket (a run of equal bucket in order)
        choice = np.zeros((n_net, K), np.int64)
        a = 0
        while a < n_net:
            b = a + 1
            while b < n_net and bucket[b] == bucket[a]:
                b += 1
            P = P_m[j[order[a]]]
            if P > 1:
                fl = order[a:b]
                colour = np.full((b - a) * K, -1, np.int64)
                _colour_edges(np.repeat(key[src[fl]], K), np.repeat(key[dst[fl]], K), P, colour)
                choice[a:b] = colour.reshape(b - a, K)
            a = b
    jo = j[order]
    n, rows = _path_entries(
        choice, False, P_m[jo], H_m[jo], off_m[jo], store, up[src[order]], down[dst[order]]
    )
    ptr = np.zeros(n.shape[0] + 1, np.int64)
    ptr[1:] = np.cumsum(n)
    ip, ii, dd = _canonical_columns(ptr, rows, np.ones(rows.shape[0]))
    return ip, ii, dd, np.repeat(order, K), np.repeat(size[order] * 1.0 / K, K), 1


_STUB = kernel(
    _stub_kernel,
    {
        "_path_entries": _PATH_ENTRIES,
        "_split_greedy": _SPLIT,
        "_colour_edges": _COLOUR,
        "_canonical_columns": _COLUMNS,
        "_bucket_order": _BUCKET_ORDER,
    },
)


def _assemble(fabric, src, dst, size, routing: str, seed: int):
    """Coordinates (rows = links, cols = subflows, non-decreasing; data = weights, repeats
    summed by the caller) and per-subflow parent flow, bytes and path latency."""
    policy, K = parse_routing(routing)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    size = np.asarray(size, dtype=float)
    F = len(src)
    nh = fabric.n_hosts
    if F and (src.min() < 0 or dst.min() < 0 or src.max() >= nh or dst.max() >= nh):
        raise InputError(f"host index out of range 0..{nh - 1}", field="ranks")
    if policy == "ecmp" and K > 1:  # K independently hashed connections per flow
        r = _assemble(
            fabric, np.repeat(src, K), np.repeat(dst, K), np.repeat(size / K, K), "ecmp", seed
        )
        return r[0], r[1], r[2], r[3] // K, r[4], r[5]
    lat = fabric.link_lat
    rows, cols, data = [], [], []
    sub_parent, sub_size, sub_lat = [], [], []
    n_sub = 0
    if policy in ("ecmp", "spray"):
        occ = _occurrence(src * nh + dst)
        for idx, M, _, _, frac in _path_buckets(fabric, src, dst, lazy=True):
            f, P, H = M.shape
            if isinstance(M, _StubPaths) and policy == "spray" and P > 1:
                M = M.full()
            if policy == "ecmp" or P == 1:
                key = (src[idx].astype(np.uint64) << np.uint64(32)) ^ (
                    dst[idx].astype(np.uint64) << np.uint64(8)
                )
                key ^= occ[idx].astype(np.uint64) ^ _salt(seed)
                if np.any(frac < 1):  # striped: each port's share is its own connection
                    key ^= _mix64(M[:, 0, 0].astype(np.uint64) + np.uint64(1))
                choice = (_mix64(key) % np.uint64(P)).astype(np.int64)
                if isinstance(M, _StubPaths):
                    chosen = M.pick(choice)  # (f, H)
                else:
                    chosen = M[np.arange(f), choice]
                rows.append(chosen.ravel())
                cols.append(np.repeat(n_sub + np.arange(f), H))
                data.append(np.ones(f * H))
                sub_lat.append(lat[chosen].sum(axis=1))
            else:
                rows.append(M.reshape(f, P * H).ravel())
                cols.append(np.repeat(n_sub + np.arange(f), P * H))
                data.append(np.full(f * P * H, 1.0 / P))
                sub_lat.append(lat[M].sum(axis=2).max(axis=1))
            sub_parent.append(idx)
            sub_size.append(size[idx] * frac)
            n_sub += f
    else:
        buckets = list(_path_buckets(fabric, src, dst))
        choice_of: dict[int, np.ndarray] = {}
        if policy == "split":
            # greedy least-loaded in flow order; load in seconds (bytes / capacity)
            # units: a flow, or one port's share of a striped flow, in flow order
            units = (
                np.concatenate(
                    [
                        np.stack([np.full(len(idx), b), np.arange(len(idx)), idx], axis=1)
                        for b, (idx, _, _, _, _) in enumerate(buckets)
                    ]
                )
                if buckets
                else np.zeros((0, 3), dtype=np.int64)
            )
            units = units[np.argsort(units[:, 2], kind="stable")]
            fast = _SPLIT.runner(len(units))
            if fast is not None and len(units):
                flat = [M.reshape(-1) for _, M, _, _, _ in buckets]
                base = np.cumsum([0] + [len(m) for m in flat])[:-1]
                PH = np.array([M.shape[1:] for _, M, _, _, _ in buckets], dtype=np.int64)
                ub, uj = units[:, 0], units[:, 1]
                fr = np.concatenate([fr_ for _, _, _, _, fr_ in buckets])
                fr_base = np.cumsum([0] + [len(b[0]) for b in buckets])[:-1]
                choice = fast(
                    np.concatenate(flat).astype(np.int64),
                    base[ub] + uj * PH[ub, 0] * PH[ub, 1],
                    PH[ub, 0],
                    PH[ub, 1],
                    size[units[:, 2]] * fr[fr_base[ub] + uj] / K,
                    1.0 / fabric.link_cap,
                    K,
                )
                for b, (idx, _, _, _, _) in enumerate(buckets):
                    choice_of[b] = np.zeros((len(idx), K), dtype=np.int64)
                    sel = ub == b
                    choice_of[b][uj[sel]] = choice[sel]
            else:
                load = np.zeros(fabric.n_links)
                inv_cap = 1.0 / fabric.link_cap
                for b, (idx, _, _, _, _) in enumerate(buckets):
                    choice_of[b] = np.zeros((len(idx), K), dtype=np.int64)
                # rounds: the k-th subflow of every flow before any (k+1)-th, so early flows
                # cannot take all the good paths
                for k in range(K):
                    for b, j, f in units:
                        M = buckets[b][1][j]  # (P, H)
                        piece = size[f] * buckets[b][4][j] / K * inv_cap[M]  # (P, H)
                        c = int(np.argmin((load[M] + piece).max(axis=1)))
                        choice_of[b][j, k] = c
                        load[M[c]] += piece[c]
        else:  # colour
            for b, (idx, M, ks, kd, _) in enumerate(buckets):
                P = M.shape[1]
                if P == 1:
                    choice_of[b] = np.zeros((len(idx), K), dtype=np.int64)
                    continue
                u = np.repeat(ks, K)
                v = np.repeat(kd, K)
                choice_of[b] = bipartite_edge_colouring(u, v, P).reshape(len(idx), K)
        for b, (idx, M, _, _, frac) in enumerate(buckets):
            f, P, H = M.shape
            ch = choice_of[b]  # (f, K)
            chosen = M[np.arange(f)[:, None], ch]  # (f, K, H)
            nk = f * K
            rows.append(chosen.reshape(nk, H).ravel())
            cols.append(np.repeat(n_sub + np.arange(nk), H))
            data.append(np.ones(nk * H))
            sub_lat.append(lat[chosen].sum(axis=2).ravel())
            sub_parent.append(np.repeat(idx, K))
            sub_size.append(np.repeat(size[idx] * frac / K, K))
            n_sub += nk
    if n_sub == 0:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0), e, np.zeros(0), np.zeros(0)
    return (
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(data),
        np.concatenate(sub_parent),
        np.concatenate(sub_size),
        np.concatenate(sub_lat),
    )
