"""Equal-cost shortest paths on the switch core of a fabric (issue 17, point 2).

A single-homed host (one NIC, one cable) is a pendant node: it is never an intermediate hop
of a shortest path, so every path between two such hosts is the source's NIC link, a
shortest path between their two ToR switches, and the destination's NIC link. Distances and
paths are therefore computed on the *core* graph: switches plus multi-homed hosts (a
CloudMatrix NPU with one link per UB plane, a full-mesh GPU), renumbered 0..m-1, so a BFS
costs O(core links) and a distance vector m int32s, independent of the number of hosts
(a 100k-GPU leaf-spine: m = 1,595 nodes, not 101,595).

Paths to a target are the walks down its BFS distance gradient (every link that steps one
hop closer), started from the sources only, with next hops in node-index order; the last
hop is a direct look-up of the links into the target, since a spine has thousands of
out-links but one into the target leaf. At most ``max_paths`` paths per pair are kept: the
first ones in that order (a prefix past the limit can only produce later paths, so it is
dropped as soon as it appears).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

_BFS_CHUNK = 2_000_000  # distance entries per scipy call (16 MB of float64)


def _expand(starts: np.ndarray, cnt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranges [starts[i], starts[i] + cnt[i]) concatenated, with the index i of each element."""
    rep = np.repeat(np.arange(len(cnt)), cnt)
    pos = np.repeat(starts - (np.cumsum(cnt) - cnt), cnt) + np.arange(len(rep))
    return rep, pos


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
        self._src, self._dst = cs, cd
        self._rev: sp.csr_matrix | None = None
        self._dist: dict[int, np.ndarray] = {}  # target -> hop distances to it (int32, -1: none)

    def find(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (start, count) of the links u -> v in the sorted order."""
        k = u * self.m + v
        lo = np.searchsorted(self.key, k, side="left")
        return lo, np.searchsorted(self.key, k, side="right") - lo

    def distances(self, targets: np.ndarray) -> np.ndarray:
        """Hop distances of every node to each target: int32 array (len(targets), m), -1 if
        unreachable. One BFS per target on the reversed graph; rows are cached."""
        todo = [t for t in dict.fromkeys(targets.tolist()) if t not in self._dist]
        if todo:
            if self._rev is None:
                self._rev = sp.csr_matrix(
                    (np.ones(len(self._src), dtype=np.int8), (self._dst, self._src)),
                    shape=(self.m, self.m),
                )
            step = max(1, _BFS_CHUNK // max(self.m, 1))
            for i in range(0, len(todo), step):
                chunk = todo[i : i + step]
                d = shortest_path(self._rev, directed=True, unweighted=True, indices=chunk)
                d = np.where(np.isfinite(d), d, -1).astype(np.int32).reshape(len(chunk), self.m)
                for t, row in zip(chunk, d, strict=True):
                    self._dist[t] = row
        if len(targets) == 0:
            return np.zeros((0, self.m), dtype=np.int32)
        return np.stack([self._dist[t] for t in targets.tolist()])

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
        ascending; per i at most max_paths, in next-hop node order."""
        owner = np.arange(len(src))
        node = np.asarray(src, dtype=np.int64)
        cur = np.zeros((len(src), 0), dtype=np.int64)
        flat = dist.reshape(-1)
        for step in range(hops):
            left = hops - step - 1  # distance of the next node to the target
            if left == 0:  # the links into the target itself
                starts, cnt = self.find(node, tgt[owner])
                rep, pos = _expand(starts, cnt)
            else:
                starts = self.ptr[node]
                rep, pos = _expand(starts, self.ptr[node + 1] - starts)
                ok = flat[row[owner[rep]] * self.m + self.dst[pos]] == left
                rep, pos = rep[ok], pos[ok]
            owner = owner[rep]
            if len(owner) > max_paths:
                rank = np.arange(len(owner)) - np.searchsorted(owner, owner)
                keep = rank < max_paths
                owner, rep, pos = owner[keep], rep[keep], pos[keep]
            cur = np.concatenate([cur[rep], self.links[pos][:, None]], axis=1)
            node = self.dst[pos]
        return owner, cur
