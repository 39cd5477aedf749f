"""The equal-cost path enumerator dcsim used before issue 17, kept only as the test reference.

One BFS per target node over all n nodes of the fabric (single-homed hosts stripped), the
distance vector (n float64s) cached per target, then a walk of the shortest-path DAG built
from every switch link for each target. Its cost is (#targets) x (#nodes + #links), which
is why dcsim replaced it (a 100k-accelerator leaf-spine: ~10 s, 1.5 GB); its paths are the
ones the new enumerator must reproduce link for link, in the same order
(tests/test_paths_core.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from dcsim.errors import InputError
from dcsim.network.topology import MAX_PATHS


class ReferencePaths:
    """Today's (pre-issue-17) path enumeration on a compiled Fabric's link arrays."""

    def __init__(self, fab) -> None:
        self.fab = fab
        n, L = fab.n_nodes, fab.n_links
        self.n_nodes = n
        self.link_src, self.link_dst = fab.link_src, fab.link_dst
        self._rev = sp.csr_matrix((np.ones(L), (fab.link_dst, fab.link_src)), shape=(n, n))
        order = np.argsort(fab.link_src, kind="stable")
        self._out_links = order
        out_ptr = np.searchsorted(fab.link_src[order], np.arange(n + 1))
        link_index = {
            (int(u), int(v)): i
            for i, (u, v) in enumerate(zip(fab.link_src, fab.link_dst, strict=True))
        }
        deg = np.bincount(fab.link_src, minlength=n)
        hn = fab.host_nodes
        self.host_nodes = hn
        self.host_single = deg[hn] == 1
        self.host_up = np.full(len(hn), -1, dtype=np.int64)
        self.host_down = np.full(len(hn), -1, dtype=np.int64)
        self.host_key = hn.copy()
        pendant = np.zeros(n, dtype=bool)
        pendant[hn[self.host_single]] = True
        core = ~(pendant[fab.link_src] | pendant[fab.link_dst])
        self._rev_core = sp.csr_matrix(
            (np.ones(int(core.sum())), (fab.link_dst[core], fab.link_src[core])), shape=(n, n)
        )
        self._out_links_core = self._out_links[core[self._out_links]]
        for i, node in enumerate(hn):
            if self.host_single[i]:
                up = int(order[out_ptr[node]])
                sw = int(fab.link_dst[up])
                self.host_up[i] = up
                self.host_down[i] = link_index[(sw, int(node))]
                self.host_key[i] = sw
        self._dist: dict[tuple[int, bool], np.ndarray] = {}
        self._paths: dict[tuple[int, int], np.ndarray] = {}

    def _dist_to(self, target: int, full: bool = False) -> np.ndarray:
        key = (target, full)
        d = self._dist.get(key)
        if d is None:
            g = self._rev if full else self._rev_core
            d = shortest_path(g, directed=True, unweighted=True, indices=target)
            self._dist[key] = d
        return d

    def ensure_paths(self, s: np.ndarray, t: np.ndarray) -> None:
        todo = [
            (int(a), int(b))
            for a, b in zip(s, t, strict=True)
            if (int(a), int(b)) not in self._paths
        ]
        if not todo:
            return
        todo = sorted(set(todo), key=lambda x: (x[1], x[0]))
        arr = np.array(todo, dtype=np.int64)
        for tgt in np.unique(arr[:, 1]):
            srcs = arr[arr[:, 1] == tgt, 0]
            dist = self._dist_to(int(tgt))
            d = dist[srcs]
            full = not np.all(np.isfinite(d))
            if full:
                dist = self._dist_to(int(tgt), full=True)
                d = dist[srcs]
            if not np.all(np.isfinite(d)):
                bad = int(srcs[~np.isfinite(d)][0])
                raise InputError(
                    f"no path from {self.fab.node_names[bad]} to {self.fab.node_names[tgt]} "
                    "(too many failed links?)",
                    field="failures",
                )
            for hops in np.unique(d).astype(int):
                group = srcs[d == hops]
                for src, paths in zip(group, self._walk(group, dist, hops, full), strict=True):
                    self._paths[(int(src), int(tgt))] = paths

    def _walk(
        self, sources: np.ndarray, dist: np.ndarray, hops: int, full: bool = False
    ) -> list[np.ndarray]:
        out = self._out_links if full else self._out_links_core
        dag = out[dist[self.link_dst[out]] == dist[self.link_src[out]] - 1]
        dag = dag[np.lexsort((self.link_dst[dag], self.link_src[dag]))]
        ptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.link_src[dag], minlength=self.n_nodes), out=ptr[1:])
        cur_nodes = sources.astype(np.int64)
        owner = np.arange(len(sources))
        cur = np.zeros((len(sources), 0), dtype=np.int64)
        for _ in range(hops):
            starts = ptr[cur_nodes]
            cnt = ptr[cur_nodes + 1] - starts
            rep = np.repeat(np.arange(len(cur_nodes)), cnt)
            offs = np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            links = dag[np.repeat(starts, cnt) + offs]
            cur = np.concatenate([cur[rep], links[:, None]], axis=1)
            cur_nodes = self.link_dst[links]
            owner = owner[rep]
        bounds = np.searchsorted(owner, np.arange(len(sources) + 1))
        return [cur[bounds[i] : bounds[i + 1]][:MAX_PATHS] for i in range(len(sources))]

    def node_paths(self, s: int, t: int) -> np.ndarray:
        got = self._paths.get((s, t))
        if got is None:
            self.ensure_paths(np.array([s]), np.array([t]))
            got = self._paths[(s, t)]
        return got

    def paths(self, src_host: int, dst_host: int) -> np.ndarray:
        a, b = int(src_host), int(dst_host)
        if self.host_single[a] and self.host_single[b]:
            mid = self.node_paths(int(self.host_key[a]), int(self.host_key[b]))
            P = mid.shape[0]
            return np.concatenate(
                [np.full((P, 1), self.host_up[a]), mid, np.full((P, 1), self.host_down[b])], axis=1
            )
        return self.node_paths(int(self.host_nodes[a]), int(self.host_nodes[b]))
