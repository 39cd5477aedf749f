"""Every running job's all-reduce solved together on one shared fabric, each with its own routing.

A job's ring all-reduce alone on the fabric takes `dcsim.jobs.JobFabric.allreduce_alone_s`
(`dcsim.network.collective_time` under the job's routing, cached per rank set). With other
jobs running, the ring flows that leave their leaf share spine links with theirs (all jobs
assumed to communicate at once: an upper bound on contention, as in `dcsim.jobs`). Each job's
crossing flows are routed under its own policy (`dcsim.network.route`: ECMP, spray, split:K,
colour), all jobs' subflows are stacked into one links x subflows matrix and solved together
by max-min fairness (`dcsim.network.flows.dense_max_min`, tested equal to the sparse solver).
A job's slowdown is

    contention = (slowest crossing-flow rate routed and solved alone) / (same, shared) >= 1,

and its all-reduce time is alone time x contention. The solve is cached by the running set
(job ids, hosts and routings), so it reruns only when a job starts, ends or is re-routed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dcsim.errors import InputError
from dcsim.jobs import JobFabric
from dcsim.network.collectives import collective_time, data_parallel_groups
from dcsim.network.flows import dense_incidence, dense_max_min
from dcsim.network.routing import memo_pairs_between, parse_routing, route_columns
from dcsim.network.topology import Fabric


@dataclass(frozen=True)
class Tenant:
    """What the fabric needs of a running job."""

    id: int
    hosts: np.ndarray  # sorted host indices (one rank per host)
    routing: str
    grad_bytes: float
    tensor_parallel: int = 1  # ranks in host order, TP groups of consecutive ranks
    algorithm: str = "ring"  # of the alone time; contention is solved on ring flows

    @cached_property
    def hosts_key(self) -> bytes:
        """The hosts as bytes: the caches' key for a placement (computed once per tenant)."""
        return self.hosts.tobytes()

    def dp_groups(self, hosts: np.ndarray | None = None) -> np.ndarray:
        """Data-parallel groups (rows) of hosts: one per TP rank, all-reducing at once, as
        `dcsim.network.dp_allreduce` forms them for `dcsim run` (one row when TP = 1)."""
        h = self.hosts if hosts is None else hosts
        tp = self.tensor_parallel
        return h[data_parallel_groups(len(h), tp, tp)]


class SharedFabric:
    """Leaf-spine fabric shared by many jobs; `comm_times` solves them together.

    `seed` salts the ECMP hash (`dcsim.network.route`), as a scenario's seed does for
    `dcsim run`. A fabric whose hosts are not single-homed (several NICs per accelerator,
    scale-up domains as fabrics) carries one job: its all-reduce alone (`alone_s`), no
    placement and no contention between jobs."""

    def __init__(self, fabric: Fabric, seed: int = 0):
        self.fabric = fabric
        self.seed = int(seed)
        self._jf: dict[str, JobFabric] = {}
        self.placeable = bool(fabric.host_single.all())
        self._base = self.job_fabric("ecmp") if self.placeable else None
        self.n_leaves = self._base.n_leaves if self._base is not None else 0
        self.host_leaf = self._base.host_leaf if self._base is not None else np.zeros(0, np.int64)
        # alone_s key -> (the algorithm it ran, auto's candidates and their times), for the
        # all-reduces `collective_time` timed (a ring through `JobFabric` is not listed)
        self.algorithms: dict[tuple, tuple[str, dict[str, float]]] = {}
        self._cache: dict[tuple, dict[int, float]] = {}
        self._factors: dict[tuple, dict[int, float]] = {}  # crossing set -> contention
        self._uplink_cache: dict[tuple, np.ndarray] = {}
        self._uplink_last: tuple[list[Tenant], np.ndarray] | None = None
        self._routes: dict[tuple, tuple | None] = {}
        self._pairs_memoised = False
        self._alone: dict[tuple, float] = {}
        self._leaf_out: dict[tuple, np.ndarray] = {}
        cfg = fabric.config
        self.symmetric = (
            self._base is not None
            and getattr(cfg, "kind", "") == "leaf_spine"
            and not getattr(cfg, "failures", None)
            and bool(np.all(np.diff(self._base.host_leaf) >= 0))
            and len(set(self._base.per_leaf.tolist())) == 1
        )
        self.solves = 0  # joint contention solves run (cache misses), for tests and benchmarks

    @property
    def base(self) -> JobFabric:
        """The fabric as a scheduler sees it (leaves, placement rules); single-homed only."""
        if self._base is None:
            raise InputError(
                "placing jobs and sharing the fabric between them need single-homed hosts "
                "(one NIC per accelerator)",
                field="topology",
            )
        return self._base

    def job_fabric(self, routing: str) -> JobFabric:
        parse_routing(routing)  # InputError on an unknown policy
        jf = self._jf.get(routing)
        if jf is None:
            jf = self._jf[routing] = JobFabric(self.fabric, routing)
        return jf

    def _routed(self, t: Tenant) -> tuple | None:
        """A tenant's crossing ring flows routed alone under its policy, and their slowest
        max-min rate alone; cached per (routing, hosts) since routing one job's flows does not
        depend on the other jobs. None if the job crosses no spine."""
        key = (t.routing, t.hosts_key, t.tensor_parallel)
        if key in self._routes:
            return self._routes[key]
        src, dst = self.crossings(t)
        got = None
        if len(src):
            if not self._pairs_memoised:  # every leaf pair's paths at once, on first use
                memo_pairs_between(self.fabric, self.fabric.host_key)
                self._pairs_memoised = True
            # `route`'s incidence as CSC arrays (compiled, memoised per fabric for ecmp/spray)
            c = route_columns(
                self.fabric, src, dst, np.ones(len(src)), routing=t.routing, seed=self.seed
            )
            n = len(c.parent)
            rows = c.indices
            cols = np.repeat(np.arange(n, dtype=np.int64), np.diff(c.indptr))
            A1, links = dense_incidence(rows, cols, c.data, n, self.fabric.n_links)
            rate = np.bincount(c.parent, weights=dense_max_min(A1, self.fabric.link_cap[links]))
            got = (rows, cols, c.data, c.parent, n, float(rate.min()))
        if len(self._routes) > 65536:
            self._routes.clear()
        self._routes[key] = got
        return got

    @staticmethod
    def _key(tenants: list[Tenant]) -> tuple:
        return tuple(sorted((t.id, t.routing, t.hosts_key) for t in tenants))

    def comm_times(self, tenants: list[Tenant]) -> dict[int, float]:
        """Job id -> all-reduce time per iteration with every tenant communicating at once."""
        key = self._key(tenants)
        got = self._cache.get(key)
        if got is not None:
            return got
        # Only jobs whose ring crosses a spine share links: the joint solve is keyed by them,
        # so a job starting or ending inside one leaf re-solves nothing.
        crossing = [t for t in tenants if self._routed(t) is not None]
        ckey = self._key(crossing)
        factor = self._factors.get(ckey)
        if factor is None:
            self.solves += 1
            factor = self.contention(crossing)
            if len(self._factors) > 4096:
                self._factors.clear()
            self._factors[ckey] = factor
        out = {t.id: self.alone_s(t) * factor.get(t.id, 1.0) for t in tenants}
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = out
        return out

    def canonical_hosts(self, hosts: np.ndarray) -> np.ndarray:
        """The same placement moved to leaves 0..m-1 (in order) and the first hosts of each.

        On a leaf-spine whose leaves, spines and links are alike, that move is a symmetry of
        the fabric that keeps the ring order, so a routing that does not hash host ids
        (spraying) times the all-reduce the same (tested)."""
        leaves, counts = np.unique(self.host_leaf[hosts], return_counts=True)
        starts = np.searchsorted(self.host_leaf, np.arange(len(leaves)))
        return np.concatenate([s + np.arange(c) for s, c in zip(starts, counts, strict=True)])

    def crossings(self, t: Tenant) -> tuple[np.ndarray, np.ndarray]:
        """The tenant's ring flows (rank i -> i+1 of each DP group) that leave their leaf."""
        groups = t.dp_groups()
        if len(groups) == 1:
            return self.base.ring_crossings(groups[0])
        pairs = [self.base.ring_crossings(g) for g in groups]
        return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])

    @staticmethod
    def alone_key(t: Tenant) -> tuple:
        """What `alone_s` (and `algorithms`) key a tenant's all-reduce alone by."""
        return (t.routing, t.hosts_key, t.grad_bytes, t.tensor_parallel, t.algorithm)

    def alone_s(self, t: Tenant) -> float:
        """The tenant's all-reduce alone on the fabric, every DP group at once
        (`Tenant.dp_groups`): a ring through `dcsim.jobs.JobFabric` (cached per rank set, linear
        in bytes), another algorithm through `dcsim.network.collective_time` as `dp_allreduce`."""
        if len(t.hosts) < 2 * t.tensor_parallel:
            return 0.0
        key = self.alone_key(t)
        got = self._alone.get(key)
        if got is None:
            hosts = t.hosts
            if t.routing == "spray" and self.symmetric:
                hosts = self.canonical_hosts(hosts)
            groups = t.dp_groups(hosts)
            if t.algorithm == "ring" and self._base is not None and self.seed == 0:
                ranks = groups[0] if len(groups) == 1 else groups
                got = self.job_fabric(t.routing).allreduce_alone_s(ranks, t.grad_bytes)
            else:  # as dcsim.network.dp_allreduce
                res = collective_time(
                    self.fabric,
                    "all-reduce",
                    t.algorithm,
                    t.grad_bytes,
                    t.routing,
                    seed=self.seed,
                    ranks=groups,
                )
                got = res.time_s
                self.algorithms[key] = (res.algorithm, dict(res.candidates or {}))
            if len(self._alone) > 65536:
                self._alone.clear()
                self.algorithms.clear()
            self._alone[key] = got
        return got

    def contention(self, tenants: list[Tenant]) -> dict[int, float]:
        """Job id -> slowest crossing-flow rate alone / shared (1 if it crosses no spine)."""
        out = {t.id: 1.0 for t in tenants}
        if len(tenants) < 2:
            return out
        rows, cols, data, owner, alone_rate = [], [], [], [], {}
        off = 0
        for t in tenants:
            got = self._routed(t)
            if got is None:
                continue
            r, c, v, parent, n, alone_rate[t.id] = got
            rows.append(r)
            cols.append(c + off)
            data.append(v)
            owner.append((t.id, off, n, parent))
            off += n
        if len(owner) < 2:
            return out
        A, links = dense_incidence(
            np.concatenate(rows),
            np.concatenate(cols),
            np.concatenate(data),
            off,
            self.fabric.n_links,
        )
        sub_rate = dense_max_min(A, self.fabric.link_cap[links])
        for tid, o, n, parent in owner:
            shared = float(np.bincount(parent, weights=sub_rate[o : o + n]).min())
            out[tid] = max(1.0, alone_rate[tid] / shared) if shared > 0 else float("inf")
        return out

    def _leaving(self, t: Tenant) -> np.ndarray:
        """Per leaf: the tenant's crossing ring flows leaving it (cached per hosts and TP: the
        running set changes most steps, a job's placement never)."""
        key = (t.hosts_key, t.tensor_parallel)
        got = self._leaf_out.get(key)
        if got is None:
            src, _ = self.crossings(t)
            got = np.bincount(self.host_leaf[src], minlength=self.n_leaves)
            if len(self._leaf_out) > 65536:
                self._leaf_out.clear()
            self._leaf_out[key] = got
        return got

    def uplink_load(self, tenants: list[Tenant]) -> np.ndarray:
        """Per leaf: crossing ring flows leaving it / its uplinks (a congestion indicator).
        Cached by running set, and by the list itself for the caller that asks again with
        the same (unchanged) list, as the engine's `tenants()` does between changes."""
        last = self._uplink_last
        if last is not None and last[0] is tenants:
            return last[1]
        key = self._key(tenants)
        got = self._uplink_cache.get(key)
        if got is None:
            n = np.zeros(self.n_leaves)
            for t in tenants:
                n += self._leaving(t)
            got = n / np.maximum(self.base.uplinks, 1)
            if len(self._uplink_cache) > 4096:
                self._uplink_cache.clear()
            self._uplink_cache[key] = got
        self._uplink_last = (tenants, got)
        return got


__all__ = ["SharedFabric", "Tenant"]
