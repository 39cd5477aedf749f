"""Equal-cost shortest paths on the switch core of a fabric (issue 17, point 2).

A single-homed host (one NIC, one cable) is a pendant node: it is never an intermediate hop
of a shortest path, so every path between two such hosts is the source's NIC link, a
shortest path between their two ToR switches, and the destination's NIC link. Distances and
paths are therefore computed on the *core* graph: switches plus multi-homed hosts (a
CloudMatrix NPU with one link per UB plane, a full-mesh GPU), renumbered 0..m-1, so a BFS
costs O(core links) and a distance row m int32s, independent of the number of hosts
(a 100k-GPU leaf-spine: m = 1,595 nodes, not 101,595).

Distances: BFS toward each target over in-links, level by level, stopped as soon as every
source is one hop (or two, where that test scans fewer links than the next level) past the
last complete level; only the nodes found are cached. Paths to a target are the walks down
its distance gradient (every link that steps one hop closer), started from the sources
only, with next hops in node-index order: next links are found once per distinct (node,
target), through whichever scans fewer links (the nodes' out-links or the next level's
in-links), and the last hop is a direct look-up of the links into the target. At most
``max_paths`` paths per pair are kept: the first ones in that order (a prefix past the
limit can only produce later paths, so it is dropped as soon as it appears). The result is
link for link the old whole-graph enumerator's (tests/reference_paths.py).
"""

from __future__ import annotations

import numpy as np


def _expand(starts: np.ndarray, cnt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranges [starts[i], starts[i] + cnt[i]) concatenated, with the index i of each element."""
    rep = np.repeat(np.arange(len(cnt)), cnt)
    pos = np.repeat(starts - (np.cumsum(cnt) - cnt), cnt) + np.arange(len(rep))
    return rep, pos


def _distinct(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(key, return_inverse=True) for keys in [0, size): by a table when there
    are many keys (no sort), by np.unique when the table would dwarf them."""
    if len(key) * 8 < size:
        uniq, inv = np.unique(key, return_inverse=True)
        return uniq, inv.reshape(-1)
    seen = np.zeros(size, dtype=bool)
    seen[key] = True
    uniq = np.flatnonzero(seen)
    slot = np.empty(size, dtype=np.int32 if len(uniq) < 2**31 else np.int64)
    slot[uniq] = np.arange(len(uniq))
    return uniq, slot[key].astype(np.int64)


def _frontier(dist: np.ndarray, depth: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """(row, node) of the nodes at distance depth[row] for the given rows (no row copies)."""
    level = np.full(len(depth), -2, dtype=dist.dtype)  # -2: no node (unknown is -1)
    level[rows] = depth[rows]
    return np.nonzero(dist == level[:, None])


class HopGraph:
    """The directed links between a subset of a fabric's nodes, sorted by (src, dst) node.

    ``nodes`` (ascending) are renumbered 0..m-1 (``index`` maps a fabric node to its number,
    -1 if left out); links with an end outside are dropped."""

    def __init__(
        self, link_src: np.ndarray, link_dst: np.ndarray, nodes: np.ndarray, n_nodes: int
    ) -> None:
        m = len(nodes)
        self.m = m
        self.nodes = nodes
        self.index = np.full(n_nodes, -1, dtype=np.int64)
        self.index[nodes] = np.arange(m)
        cs, cd = self.index[link_src], self.index[link_dst]
        lid = np.flatnonzero((cs >= 0) & (cd >= 0))
        cs, cd = cs[lid], cd[lid]
        key = cs * m + cd
        order = np.argsort(key, kind="stable")  # parallel links keep link-id order
        self.links = lid[order]  # fabric link ids, by (src, dst)
        self.key = key[order]
        self.dst = cd[order]
        self.ptr = np.searchsorted(self.key, np.arange(m + 1) * m)  # out-links of node i
        # in-links by (dst, src), for BFS toward a target
        rev = np.argsort(cd * m + cs, kind="stable")
        self.in_src = cs[rev]
        self.in_ptr = np.searchsorted(cd[rev], np.arange(m + 1))
        out_at = np.empty(len(order), dtype=np.int64)
        out_at[order] = np.arange(len(order))
        self.in_pos = out_at[rev]  # each in-link's position in the (src, dst) order
        # links scanned by a two-hop test from a node: the out-degrees of its out-neighbours
        out_deg = np.diff(self.ptr)
        self._out2 = np.bincount(self.key // max(m, 1), weights=out_deg[self.dst], minlength=m)
        # per target: the nodes found so far and their hop distances (sparse: a search
        # stopped at a leaf's spines holds ~S nodes, not m), and how many BFS levels are
        # complete (-1: all, the search ran out of nodes)
        self._found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._depth: dict[int, int] = {}

    def find(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (start, count) of the links u -> v in the sorted order."""
        k = u * self.m + v
        lo = np.searchsorted(self.key, k, side="left")
        return lo, np.searchsorted(self.key, k, side="right") - lo

    def _rows(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cached (or fresh) distance rows and completed depths of distinct targets."""
        dist = np.full((len(targets), self.m), -1, dtype=np.int32)
        depth = np.zeros(len(targets), dtype=np.int64)
        for r, t in enumerate(targets.tolist()):
            if t in self._found:
                nodes, d = self._found[t]
                dist[r, nodes] = d
                depth[r] = self._depth[t]
            else:
                dist[r, t] = 0
        return dist, depth

    def _keep(self, targets: np.ndarray, dist: np.ndarray, depth: np.ndarray) -> None:
        """Cache the rows found for these targets."""
        r, node = np.nonzero(dist >= 0)
        bounds = np.searchsorted(r, np.arange(len(targets) + 1))
        node = node.astype(np.int32)
        d = dist[r, node]
        for i, (t, k) in enumerate(zip(targets.tolist(), depth.tolist(), strict=True)):
            self._found[t] = (node[bounds[i] : bounds[i + 1]], d[bounds[i] : bounds[i + 1]])
            self._depth[t] = k

    def _level(self, dist: np.ndarray, depth: np.ndarray, rows: np.ndarray) -> None:
        """One more BFS level (toward the target, over in-links) for the given rows; a row
        whose level comes out empty is complete (depth -1)."""
        r, u = _frontier(dist, depth, rows)
        starts = self.in_ptr[u]
        rep, pos = _expand(starts, self.in_ptr[u + 1] - starts)
        r, w = r[rep], self.in_src[pos]
        new = dist[r, w] < 0
        dist[r[new], w[new]] = depth[r[new]] + 1
        grown = np.zeros(len(depth), dtype=bool)  # nodes a two-hop test found count too
        grown[r[dist[r, w] == depth[r] + 1]] = True
        depth[rows] = np.where(grown[rows], depth[rows] + 1, -1)

    def hops(
        self, src: np.ndarray, tgt: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Hop counts of pairs src -> tgt (-1: no path) and the distance rows they need.

        Returns (d, targets, row, dist): target tgt[i] = targets[row[i]], dist[row[i]] its
        distances, exact up to d[i] - 1 (all a walk down the gradient reads). BFS from each
        target level by level, stopped as soon as every source of it is one hop (or two,
        _two_hops) past the last complete level: for a leaf target of a leaf-spine that is
        the level of its spines, so the spines' thousands of in-links are never scanned."""
        targets, row = np.unique(tgt, return_inverse=True)
        dist, depth = self._rows(targets)
        d = dist[row, src].astype(np.int64)
        pend = np.flatnonzero(d < 0)
        while len(pend):
            live = depth[row[pend]] >= 0
            pend, dead = pend[live], pend[~live]
            if len(dead):  # the search from the target ran out of nodes
                d[dead] = -1
            if not len(pend):
                break
            # a source one hop from the last complete level is one hop farther
            rp = row[pend]
            starts = self.ptr[src[pend]]
            rep, pos = _expand(starts, self.ptr[src[pend] + 1] - starts)
            r = rp[rep]
            hit = dist.reshape(-1)[r * self.m + self.dst[pos]] == depth[r]
            found = np.bincount(rep[hit], minlength=len(pend)) > 0
            d[pend[found]] = depth[rp[found]] + 1
            pend = pend[~found]
            if len(pend):
                pend = self._two_hops(src, row, d, pend, dist, depth)
            if len(pend):
                self._level(dist, depth, np.unique(row[pend]))
        self._keep(targets, dist, depth)
        return d, targets, row, dist

    def _two_hops(
        self,
        src: np.ndarray,
        row: np.ndarray,
        d: np.ndarray,
        pend: np.ndarray,
        dist: np.ndarray,
        depth: np.ndarray,
    ) -> np.ndarray:
        """Pending pairs two hops past the last complete level, where testing that costs
        fewer links than the next BFS level (a fat-tree edge two hops from the cores next to
        another pod's edge: 37 x 74 links, where the level below the cores is 101k). Their
        out-neighbours found one hop past it get their (exact) distance, so a walk reads all
        it needs. Returns the pairs still pending."""
        rows, at = np.unique(row[pend], return_inverse=True)
        fr, fu = _frontier(dist, depth, rows)
        in_deg = self.in_ptr[fu + 1] - self.in_ptr[fu]
        level_cost = np.bincount(fr, weights=in_deg, minlength=len(depth))[rows]
        test_cost = np.bincount(at, weights=self._out2[src[pend]], minlength=len(rows))
        try_ = (test_cost < level_cost)[at]
        if not try_.any():
            return pend
        tried = pend[try_]
        flat = dist.reshape(-1)
        starts = self.ptr[src[tried]]
        p1, pos = _expand(starts, self.ptr[src[tried] + 1] - starts)
        r, v = row[tried][p1], self.dst[pos]
        unknown = flat[r * self.m + v] < 0  # not within the complete levels
        p1, r, v = p1[unknown], r[unknown], v[unknown]
        starts = self.ptr[v]
        p2, pos = _expand(starts, self.ptr[v + 1] - starts)
        hit = flat[r[p2] * self.m + self.dst[pos]] == depth[r[p2]]
        near = np.bincount(p2[hit], minlength=len(v)) > 0  # v: one hop past the level
        flat[r[near] * self.m + v[near]] = depth[r[near]] + 1
        found = np.bincount(p1[near], minlength=len(tried)) > 0
        d[tried[found]] = depth[row[tried[found]]] + 2
        return np.concatenate([pend[~try_], tried[~found]])

    def distances(self, targets: np.ndarray) -> np.ndarray:
        """Hop distances of every node to each target: int32 array (len(targets), m), -1 if
        unreachable (complete BFS; rows cached)."""
        uniq, row = np.unique(targets, return_inverse=True)
        dist, depth = self._rows(uniq)
        while np.any(depth >= 0):
            self._level(dist, depth, np.flatnonzero(depth >= 0))
        self._keep(uniq, dist, depth)
        return dist[row]

    def walk(
        self,
        src: np.ndarray,
        tgt: np.ndarray,
        row: np.ndarray,
        dist: np.ndarray,
        hops: int,
        max_paths: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """All shortest paths src[i] -> tgt[i] (each ``hops`` long; dist[row[i]] holds the
        distances to tgt[i]) as (owner, links): links (P, hops) fabric link ids, owner[p] = i,
        ascending; per i at most max_paths, in next-hop node order.

        Each step finds the next links once per distinct (node, target) among the partial
        paths and hands them to every path there: 112 paths of a CloudMatrix NPU pair share
        16 L2 switches, and an L2 switch reaches the target's L1 the same way for all."""
        m = self.m
        row_tgt = np.zeros(len(dist), dtype=np.int64)
        row_tgt[row] = tgt
        owner = np.arange(len(src))
        node = np.asarray(src, dtype=np.int64)
        cur = np.zeros((len(src), 0), dtype=np.int64)
        for step in range(hops):
            left = hops - step - 1  # distance of the next node to the target
            key, inv = _distinct(row[owner] * m + node, dist.size)
            r, u = key // m, key % m
            if left == 0:  # the links into the target itself
                lo, cnt = self.find(u, row_tgt[r])
                which, pos = _expand(lo, cnt)
            else:
                which, pos = self._closer(key, r, u, dist, left)
            n_next = np.bincount(which, minlength=len(key))
            rep, k = _expand((np.cumsum(n_next) - n_next)[inv], n_next[inv])
            pos = pos[k]
            owner = owner[rep]
            per = np.bincount(owner, minlength=len(src))
            if len(owner) and per.max() > max_paths:
                rank = np.arange(len(owner)) - (np.cumsum(per) - per)[owner]
                keep = rank < max_paths
                owner, rep, pos = owner[keep], rep[keep], pos[keep]
            cur = np.concatenate([cur[rep], self.links[pos][:, None]], axis=1)
            node = self.dst[pos]
        return owner, cur

    def _closer(
        self, key: np.ndarray, r: np.ndarray, u: np.ndarray, dist: np.ndarray, left: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Links from node u[i] (toward the target of row r[i]; key = r * m + u, ascending)
        to nodes ``left`` hops from it, as (i, sorted position), in next-node order per i.

        Per row, whichever scans fewer links: the out-links of its nodes, or the in-links of
        the nodes at distance ``left`` (a fat-tree core has 74 out-links but one into the
        target's pod; the pod's 37 aggregation switches have 74 in-links each, shared by
        all 1,369 cores a path can be at)."""
        m = self.m
        flat = dist.reshape(-1)
        out_n = self.ptr[u + 1] - self.ptr[u]
        out_cost = np.bincount(r, weights=out_n, minlength=len(dist))
        fr, fw = np.nonzero(dist == left)
        in_n = self.in_ptr[fw + 1] - self.in_ptr[fw]
        in_cost = np.bincount(fr, weights=in_n, minlength=len(dist))
        by_in = in_cost < out_cost  # per row
        i = np.flatnonzero(~by_in[r])
        which, pos = _expand(self.ptr[u[i]], out_n[i])
        which = i[which]
        ok = flat[r[which] * m + self.dst[pos]] == left
        which, pos = which[ok], pos[ok]
        if not by_in.any():
            return which, pos
        keep = by_in[fr]
        fr, fw, in_n = fr[keep], fw[keep], in_n[keep]
        e, q = _expand(self.in_ptr[fw], in_n)
        code = fr[e] * m + self.in_src[q]  # (row, from-node) of each link into the level
        j = np.minimum(np.searchsorted(key, code), len(key) - 1)
        hit = key[j] == code
        j, w, p = j[hit], fw[e[hit]], self.in_pos[q[hit]]
        order = np.lexsort((w, j))  # per node, next nodes in index order (stable: link id)
        which = np.concatenate([which, j[order]])
        pos = np.concatenate([pos, p[order]])
        order = np.argsort(which, kind="stable")
        return which[order], pos[order]
