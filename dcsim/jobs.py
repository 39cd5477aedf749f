"""Data-parallel training jobs sharing a GPU cluster: arrivals, sizes, FIFO scheduling,
placement rules and network contention between jobs.

Workload (`JobMixConfig`, `generate_jobs`): jobs arrive as a Poisson process whose rate makes
the offered GPU-time a `load` share of the cluster's capacity. Each job asks for a power-of-two
number of GPUs drawn from `job_sizes`, trains a dense model of N parameters (log-uniform
0.1-13 B, on a 0.1 B grid) for a heavy-tailed (log-normal) number of iterations, each
processing `tokens_per_gpu` tokens per GPU. Sources and confidence:
- size mix: most jobs small, a tail of multi-node jobs, powers of two; shaped after the
  Microsoft Philly trace (Jeon et al., USENIX ATC 2019, Fig. 2) and Alibaba PAI (Weng et al.,
  NSDI 2022). The probabilities are a rounded reading of those traces, confidence medium.
- durations: heavy-tailed, roughly log-normal, as reported for Philly and for SenseTime's
  Helios (Hu et al., SC 2021). The median (2,000 iterations) and sigma (1.0) are estimates,
  confidence low.
- model size range and Poisson arrivals: modelling choices (the traces show burstier
  arrivals than Poisson), confidence low.

Per-iteration time is `dcsim.workload.training_step_time` (6 N D FLOPs at `mfu`, then the
exposed part of the gradient ring all-reduce beyond `overlap` of compute); energy uses
`dcsim.power` (the training phase activity while computing, the communication phase
activity while stalled on exposed communication: `PHASE_ACTIVITY`, POLCA).

Cluster (`JobFabric`): each host of a single-homed fabric is one GPU with its NIC, grouped by
the leaf switch it hangs off. A job's all-reduce alone on the fabric is
`dcsim.network.collective_time`; with other jobs running, its leaf-crossing ring flows share
spine links with theirs (all assumed to communicate at once: an upper bound on contention),
and their max-min fair rates (`dcsim.network.flows.dense_max_min`, the tested fast path of
`max_min_rates`) stretch it by `contention = rate alone / rate shared` >= 1. Placement, the
ring's first level alone and contention also run as scalar kernels (end of this module,
compiled by numba when installed): a Placement-v0 step is dozens of tiny NumPy calls
otherwise (issue 17.3); the NumPy code stays the readable path, the same numbers bitwise.

Scheduling (`FifoCluster`): a FIFO queue without backfilling; the head job starts once
enough GPUs are free, where a placement rule (`place`) puts it; its runtime is fixed at
placement.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from dcsim.errors import InputError
from dcsim.jit import kernel
from dcsim.network import collective_time, route
from dcsim.network.flows import DENSE_FILL, dense_fill, dense_incidence, dense_max_min
from dcsim.network.routing import parse_routing
from dcsim.network.topology import Fabric
from dcsim.power import PHASE_ACTIVITY, DevicePowerModel
from dcsim.schema import StrictModel
from dcsim.workload import StepTime, TrainingConfig, training_step_time

RULES = ("pack", "spread", "first-fit")
PACK, SPREAD, FIRST_FIT = range(len(RULES))  # the rules' indices, as the compiled place takes
# GPUs -> probability (Philly, Jeon et al. ATC 2019 Fig. 2; Alibaba PAI, Weng et al. NSDI 2022).
DEFAULT_SIZES = {1: 0.25, 2: 0.10, 4: 0.15, 8: 0.25, 16: 0.15, 32: 0.10}


class JobMixConfig(StrictModel):
    """The arriving jobs: size mix, offered load, model sizes, durations, step-time inputs."""

    job_sizes: dict[int, float] = Field(
        default_factory=lambda: dict(DEFAULT_SIZES), description="GPUs -> probability"
    )
    load: float = Field(0.9, gt=0, le=2, description="offered GPU-time / cluster capacity")
    params_min: float = Field(1e8, gt=0, description="smallest model drawn, parameters")
    params_max: float = Field(1.3e10, gt=0, description="largest model drawn, parameters")
    params_grid: float = Field(
        1e8, gt=0, description="model sizes rounded to this grid, then one grid step added"
    )
    iterations_median: float = Field(2000.0, gt=0, description="median iterations of a job")
    iterations_sigma: float = Field(1.0, ge=0, description="log-normal sigma of iterations")
    tokens_per_gpu: float = Field(4096.0, gt=0, description="tokens per GPU per iteration")
    mfu: float = Field(0.4, gt=0, le=1, description="model FLOPs utilization")
    overlap: float = Field(
        0.5, ge=0, le=1, description="share of compute time that hides the all-reduce"
    )

    @model_validator(mode="after")
    def _params_ordered(self) -> JobMixConfig:
        if self.params_min > self.params_max:
            raise ValueError("params_min must not exceed params_max")
        return self

    @field_validator("job_sizes")
    @classmethod
    def _sizes(cls, v: dict[int, float]) -> dict[int, float]:
        if not v or any(k < 1 for k in v) or any(not p >= 0 for p in v.values()):
            raise ValueError("job_sizes must map GPU counts >= 1 to probabilities >= 0")
        if sum(v.values()) <= 0:
            raise ValueError("job_sizes probabilities must not all be 0")
        return v


@dataclass(frozen=True)
class Job:
    """One data-parallel training job (every GPU is a data-parallel rank, no TP)."""

    id: int
    gpus: int
    params: float
    iterations: int
    arrival_s: float
    workload: TrainingConfig  # per-iteration step-time inputs for `training_step_time`
    peak_flops: float  # per GPU

    @property
    def grad_bytes(self) -> float:
        """Gradient bytes each rank all-reduces per iteration (BF16)."""
        return self.params * self.workload.gradient_bytes_per_param

    def step_time(self, comm_s: float = 0.0) -> StepTime:
        """One iteration at full clock whose all-reduce takes comm_s."""
        return training_step_time(self.workload, self.gpus, self.peak_flops, 1.0, comm_s)

    def runtime_s(self, comm_s: float) -> tuple[float, StepTime]:
        """(whole-job runtime, per-iteration step time) for a given all-reduce time."""
        st = self.step_time(comm_s)
        return self.iterations * st.total_s, st

    def energy_j(self, step: StepTime, device: DevicePowerModel) -> float:
        """GPU energy of the whole job: compute at training activity, exposed comm stalled."""
        return self.energies_j((step,), device)[0]

    def energies_j(self, steps: tuple[StepTime, ...], device: DevicePowerModel) -> list[float]:
        """`energy_j` for several per-iteration step times (one power evaluation)."""
        w = self.workload
        a_busy = PHASE_ACTIVITY["training"] if w.compute_activity is None else w.compute_activity
        a_comm = PHASE_ACTIVITY["communication"] if w.comm_activity is None else w.comm_activity
        p_busy, p_comm = device.power_w_scalar(a_busy, 1.0), device.power_w_scalar(a_comm, 1.0)
        n = self.gpus * self.iterations
        return [n * (st.compute_s * p_busy + st.exposed_comm_s * p_comm) for st in steps]


def job_workload(cfg: JobMixConfig, gpus: int, params: float) -> TrainingConfig:
    """The step-time inputs of a job of `params` parameters on `gpus` data-parallel GPUs."""
    return TrainingConfig(
        model_params=params,
        global_batch_tokens=cfg.tokens_per_gpu * gpus,
        mfu=cfg.mfu,
        tensor_parallel=1,
        overlap=cfg.overlap,
        compute_activity=PHASE_ACTIVITY["training"],
        comm_activity=PHASE_ACTIVITY["communication"],
    )


def generate_jobs(
    cfg: JobMixConfig, n_jobs: int, n_gpus: int, peak_flops: float, rng: np.random.Generator
) -> list[Job]:
    """`n_jobs` jobs for a cluster of `n_gpus` GPUs of `peak_flops` each, sorted by arrival.

    Draw order (sizes, models, iterations, inter-arrival gaps) is fixed, so a seeded
    generator gives the same jobs every time.
    """
    sizes = np.array(sorted(int(k) for k in cfg.job_sizes), dtype=np.int64)
    if n_jobs < 1:
        raise InputError(f"n_jobs must be >= 1, got {n_jobs}", field="n_jobs")
    if sizes.max() > n_gpus:
        raise InputError(f"job_sizes must map 1..{n_gpus} GPUs to probabilities", field="job_sizes")
    probs = np.array([float(cfg.job_sizes[int(k)]) for k in sizes])
    gpus = rng.choice(sizes, size=n_jobs, p=probs / probs.sum())
    drawn = np.exp(rng.uniform(np.log(cfg.params_min), np.log(cfg.params_max), size=n_jobs))
    # on a grid: a few distinct gradient sizes keep the per-rank-set caches small
    params = np.round(drawn / cfg.params_grid) * cfg.params_grid + cfg.params_grid
    iters = np.ceil(rng.lognormal(np.log(cfg.iterations_median), cfg.iterations_sigma, n_jobs))
    work = [job_workload(cfg, int(g), float(p)) for g, p in zip(gpus, params, strict=True)]
    compute = np.array(
        [
            training_step_time(w, int(g), peak_flops, 1.0, 0.0).compute_s
            for w, g in zip(work, gpus, strict=True)
        ]
    )
    base = iters * compute
    rate = cfg.load * n_gpus / float(np.sum(gpus * base) / n_jobs)  # jobs per second
    arrival = np.cumsum(rng.exponential(1.0 / rate, size=n_jobs))
    return [
        Job(
            id=i,
            gpus=int(gpus[i]),
            params=float(params[i]),
            iterations=int(iters[i]),
            arrival_s=float(arrival[i]),
            workload=work[i],
            peak_flops=float(peak_flops),
        )
        for i in range(n_jobs)
    ]


def _ranges(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Concatenation of arange(start[i], stop[i])."""
    n = stop - start
    first = np.cumsum(n) - n
    return np.arange(int(n.sum()), dtype=np.int64) + np.repeat(start - first, n)


def mean_duration_s(jobs: list[Job]) -> float:
    """Mean runtime of the jobs alone (no communication): the queue-wait scale."""
    return float(np.mean([j.iterations * j.step_time().compute_s for j in jobs]))


@dataclass(frozen=True)
class PairRoutes:
    """Every host pair's routed subflows, flat: pair s * n_hosts + d has subflows
    sptr[pair]:sptr[pair + 1] (their path latencies in `latency_s`) and link entries
    eptr[pair]:eptr[pair + 1] (link, subflow index within the pair, weight)."""

    sptr: np.ndarray
    eptr: np.ndarray
    link: np.ndarray
    sub: np.ndarray
    weight: np.ndarray
    latency_s: np.ndarray


# ranks -> (latency s, s per byte) and (src, dst) -> routed subflows, per (fabric, routing):
# shared by every JobFabric on the same fabric in this process
_ISO_CACHE: dict[tuple[str, str], dict] = {}
_PATH_CACHE: dict[tuple[str, str], dict] = {}
# fabrics up to this many hosts route every host pair in one call when first needed
# (64 hosts: 4,032 pairs in ~30 ms, 128: ~0.1-0.3 s); larger ones route pairs as they appear
ALL_PAIRS_MAX_HOSTS = 128
_TABLE_CACHE: dict[tuple[str, str], PairRoutes] = {}


class JobFabric:
    """A single-homed fabric as a job scheduler sees it: GPUs grouped by leaf switch."""

    def __init__(self, fabric: Fabric, routing: str = "ecmp"):
        if not fabric.host_single.all():
            raise InputError(
                "placement needs single-homed hosts (one NIC per GPU)", field="topology"
            )
        self.fabric = fabric
        self.routing = routing
        leaf_nodes, self.host_leaf = np.unique(fabric.host_key, return_inverse=True)
        self.n_hosts = fabric.n_hosts
        self.n_leaves = len(leaf_nodes)
        self.per_leaf = np.bincount(self.host_leaf, minlength=self.n_leaves)
        self.hosts_per_leaf = int(self.per_leaf.max())
        # links leaving each leaf switch, less its host links: its uplinks
        out_links = np.bincount(fabric.link_src, minlength=fabric.n_nodes)
        self.uplinks = out_links[leaf_nodes].astype(np.int64) - self.per_leaf
        self._key = key = (fabric.config.model_dump_json(), routing)
        self._table: PairRoutes | None = _TABLE_CACHE.get(key)
        self._iso: dict[tuple, tuple[float, float]] = _ISO_CACHE.setdefault(key, {})
        self._paths: dict[tuple[int, int], Any] = _PATH_CACHE.setdefault(key, {})
        self._packed: dict[int, tuple[float, float]] = {}  # gpus -> _iso_of(arange(gpus))
        policy, self._split = parse_routing(routing)
        # ecmp and spray route each flow on its own (hash of its pair, or all paths): a
        # flow's subflows are the same alone or among others; split and colour are not
        self._per_pair = policy in ("ecmp", "spray")
        self._ring_fast = self._per_pair and fabric.scale_up is None
        self._one_subflow = self._per_pair and self._split == 1  # ecmp:1, spray

    # ------------------------------------------------------------ all-reduce
    def allreduce_alone_s(self, ranks: np.ndarray, grad_bytes: float) -> float:
        """Ring all-reduce of `grad_bytes` over `ranks` alone on the fabric (a 2-D `ranks`:
        one ring per row, all at once, as `dcsim.network.dp_allreduce`'s DP groups).

        `collective_time` runs once per rank set at 1 GiB; the fluid makespan of equal-size
        flows scales linearly with bytes, so T(n) = latency + (T(1 GiB) - latency) n / 1 GiB.
        """
        got = self._iso_of(ranks)
        return got[0] + got[1] * grad_bytes

    def _iso_of(self, ranks: np.ndarray) -> tuple[float, float]:
        """(latency s, s per byte) of the ring all-reduce over `ranks` alone, cached."""
        key = (ranks.shape, ranks.tobytes()) if ranks.ndim > 1 else tuple(ranks.tolist())
        got = self._iso.get(key)
        if got is None:
            got = self._ring_alone(ranks) if self._ring_fast else None
            if got is None:
                res = collective_time(
                    self.fabric, "all-reduce", "ring", float(1 << 30), self.routing, ranks=ranks
                )
                got = (res.latency_s, (res.time_s - res.latency_s) / float(1 << 30))
            self._iso[key] = got
        return got

    def _ring_alone(self, ranks: np.ndarray) -> tuple[float, float] | None:
        """`collective_time`'s ring all-reduce of 1 GiB over `ranks` from the cached pair
        routes, as (latency s, s per byte); None where its shortcut does not hold.

        The ring is 2(p-1) repeats of one step of p equal-size flows (rank i -> i+1). Under
        max-min sharing the slowest (sub)flows sit at the first water-filling level,
        min over links of capacity / routed load, and flows of equal size finish in rate
        order without freeing a link a slower flow froze on, so `run_flows` solves once
        and the step's makespan is size / that level (Bertsekas & Gallager 6.5.2). Its
        latency is the longest routed path's plus the endpoints'. Equal to
        `collective_time` to 1e-12 (tests/test_placement_speed.py); used for routings
        that route each flow on its own (ecmp, spray) on fabrics without a scale-up domain.
        """
        p = len(ranks)
        if not self._has_table():
            return None
        t = self._table
        assert t is not None
        fast = RING_LEVEL.runner(p) if ranks.ndim == 1 else None
        if fast is not None:
            level, lat_max = map(float, fast(
                t.sptr, t.eptr, t.link, t.sub, t.weight, t.latency_s, self.n_hosts,
                self.fabric.link_cap, ranks,
            ))  # fmt: skip
        else:
            nxt = np.concatenate([ranks[1:], ranks[:1]])
            links, _, weights, _, lat = self._gather(ranks, nxt)
            assert lat is not None
            load = np.bincount(links, weights, self.fabric.n_links)
            used = load > 0
            level = float(np.min(self.fabric.link_cap[used] / load[used]))
            lat_max = float(lat.max())
        if not level > 0:
            return None  # a dead link: collective_time says why
        size = float(1 << 30) / p / self._split  # per subflow (ecmp:K: K connections)
        lat_s = lat_max + self.fabric.endpoint_latency_s
        repeat = 2 * (p - 1)
        total = repeat * (size / level + 1.0 * lat_s)
        lat_total = repeat * 1.0 * lat_s
        return lat_total, (total - lat_total) / float(1 << 30)

    def packed_allreduce_s(self, gpus: int, grad_bytes: float) -> float:
        """The all-reduce on the first `gpus` hosts of an empty fabric (the packed ideal)."""
        if gpus <= 1:
            return 0.0
        got = self._packed.get(gpus)
        if got is None:
            got = self._packed[gpus] = self._iso_of(np.arange(gpus))
        return got[0] + got[1] * grad_bytes

    def ring_crossings(self, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ring flows rank i -> i+1 that leave their leaf (ranks sorted by host)."""
        if len(ranks) < 2:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        nxt = np.concatenate([ranks[1:], ranks[:1]])
        m = self.host_leaf[ranks] != self.host_leaf[nxt]
        return ranks[m], nxt[m]

    def _path(self, s: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
        """Links, subflow index and weight of flow s -> d under the routing, its number of
        subflows and their path latencies (s); cached per pair."""
        key = (s, d)
        got = self._paths.get(key)
        if got is None:
            if self._has_table():
                link, sub, weight, _, lat = self._gather(np.array([s]), np.array([d]))
                assert lat is not None
                return link, sub, weight, len(lat), lat
            r = route(self.fabric, np.array([s]), np.array([d]), np.ones(1), routing=self.routing)
            A = r.A.tocoo()
            got = (
                A.row.astype(np.int64),
                A.col.astype(np.int64),
                A.data.astype(float),
                A.shape[1],
                r.latency_s,
            )
            self._paths[key] = got
        return got

    def _has_table(self) -> bool:
        """Whether the pair table serves this fabric and routing (built on first use)."""
        if self._table is None and self._per_pair and self.n_hosts <= ALL_PAIRS_MAX_HOSTS:
            self._route_all_pairs()
        return self._table is not None

    def _route_all_pairs(self) -> None:
        """The pair table (`PairRoutes`) of every host pair, from one `route` call: under
        ecmp and spray each flow is routed on its own, so a pair's subflows (links, weights,
        order, latencies) are those of routing it alone (tests/test_placement_speed.py)."""
        n = self.n_hosts
        s, d = np.divmod(np.arange(n * n, dtype=np.int64), n)  # pair s * n + d (s == d: none)
        r = route(self.fabric, s, d, np.ones(n * n), routing=self.routing)
        A = r.A.tocsc()
        A.sort_indices()
        cols = np.argsort(r.parent, kind="stable")  # subflows by pair, in routed order
        sptr = np.searchsorted(r.parent[cols], np.arange(n * n + 1))
        lens = A.indptr[cols + 1] - A.indptr[cols]
        at = _ranges(A.indptr[cols], A.indptr[cols + 1])
        local = np.arange(len(cols)) - sptr[r.parent[cols]]  # subflow index within its pair
        self._table = PairRoutes(
            sptr=sptr,
            eptr=np.concatenate([[0], np.cumsum(lens)])[sptr],
            link=A.indices[at].astype(np.int64),
            sub=np.repeat(local, lens),
            weight=A.data[at].astype(float),
            latency_s=r.latency_s[cols],
        )
        _TABLE_CACHE[self._key] = self._table

    def _gather(
        self, src: np.ndarray, dst: np.ndarray, latency: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """The flows' routed entries from the pair table, in flow order: link, subflow
        (numbered across the flows), weight, each subflow's flow, and (`latency`) the
        subflows' path latencies."""
        t = self._table
        assert t is not None
        pid = src * self.n_hosts + dst
        e0, e1, s0, s1 = t.eptr[pid], t.eptr[pid + 1], t.sptr[pid], t.sptr[pid + 1]
        at = _ranges(e0, e1)
        n_sub = s1 - s0
        off = np.cumsum(n_sub) - n_sub
        return (
            t.link[at],
            t.sub[at] + np.repeat(off, e1 - e0),
            t.weight[at],
            np.repeat(np.arange(len(pid)), n_sub),
            t.latency_s[_ranges(s0, s1)] if latency else None,
        )

    def contention(
        self, run_src: np.ndarray, run_dst: np.ndarray, src: np.ndarray, dst: np.ndarray
    ) -> float:
        """Slowest crossing-flow rate of a job alone / shared with the running jobs' flows.

        Max-min fair rates on the links these flows touch: the job's crossing ring flows
        (src -> dst) plus every running job's crossing flows (run_src -> run_dst). A flow's
        rate is the sum of its routed subflows' rates.
        """
        if len(src) == 0 or len(run_src) == 0:
            return 1.0
        t = self._table if self._has_table() else None
        fast = CONTENTION.runner(len(run_src) + len(src)) if t is not None else None
        if fast is not None:
            assert t is not None
            return float(fast(
                t.sptr, t.eptr, t.link, t.sub, t.weight, self.n_hosts, self.fabric.link_cap,
                run_src, run_dst, src, dst, self._one_subflow,
            ))  # fmt: skip
        n_run = len(run_src)
        all_src, all_dst = np.concatenate([run_src, src]), np.concatenate([run_dst, dst])
        if self._has_table():
            row, col, data, par, _ = self._gather(all_src, all_dst, latency=False)
        else:
            rows, cols, datas, parent = [], [], [], []
            off = 0
            for f, (s, d) in enumerate(zip(all_src.tolist(), all_dst.tolist(), strict=True)):
                r, c, v, n, _ = self._path(s, d)
                rows.append(r)
                cols.append(c + off)
                datas.append(v)
                parent.append(np.full(n, f))
                off += n
            row, col = np.concatenate(rows), np.concatenate(cols)
            data, par = np.concatenate(datas), np.concatenate(parent)
        A, links = dense_incidence(row, col, data, len(par), self.fabric.n_links)
        cap = self.fabric.link_cap[links]
        own = np.bincount(par, weights=dense_max_min(A, cap), minlength=len(all_src))[n_run:]
        # alone: each leaf sends and receives one ring flow of the job, so no self-sharing
        # on leaf-spine links; the rate is the job's own water-filling (same code path).
        mask = par >= n_run
        own_A = A[:, mask]
        if self._one_subflow:
            # one subflow per flow: the slowest sits at the first level of that filling,
            # its first step (w = load of the active flows, rates grow by min cap / w)
            w = own_A @ np.ones(own_A.shape[1], dtype=bool)
            used = w > 0
            alone = float(np.min(cap[used] / w[used]))
        else:
            alone = np.bincount(
                par[mask] - n_run, weights=dense_max_min(own_A, cap), minlength=len(src)
            ).min()
        shared = float(own.min())
        return max(1.0, float(alone) / shared) if shared > 0 else float("inf")

    # ------------------------------------------------------------ placement
    def free_per_leaf(self, free: np.ndarray) -> np.ndarray:
        return np.bincount(self.host_leaf[free], minlength=self.n_leaves)

    def place(self, rule: str, gpus: int, free: np.ndarray) -> np.ndarray:
        """Host indices (sorted) for a job under a rule (`RULES`); needs `gpus` free hosts.

        pack: best fit, the fullest leaf that holds the whole job, else the fewest leaves
        (fullest first); spread: round-robin over the emptiest leaves; first-fit: the
        lowest-numbered free hosts.
        """
        if rule not in RULES:
            raise InputError(f"unknown placement rule '{rule}'; expected one of {RULES}")
        n_free = int(np.count_nonzero(free))
        if n_free < gpus:
            raise InputError(f"{gpus} GPUs asked, {n_free} free", field="gpus")
        fast = PLACE.runner(len(free))
        if fast is not None:
            return fast(RULES.index(rule), gpus, free, self.host_leaf, self.n_leaves)
        idle = np.flatnonzero(free)
        if rule == "first-fit":
            return idle[:gpus]
        leaf = self.host_leaf[idle]
        fpl = np.bincount(leaf, minlength=self.n_leaves)  # free_per_leaf(free)
        take = np.zeros(self.n_leaves, dtype=np.int64)
        if rule == "pack":
            fits = np.flatnonzero(fpl >= gpus)
            if len(fits):
                take[fits[np.argmin(fpl[fits])]] = gpus  # best fit (ties: lowest leaf)
            else:
                order = np.argsort(-fpl, kind="stable")  # fewest leaves
                cum = np.cumsum(fpl[order])
                k = int(np.searchsorted(cum, gpus)) + 1
                take[order[:k]] = fpl[order[:k]]
                take[order[k - 1]] -= cum[k - 1] - gpus
        else:  # spread: round-robin, emptiest leaves first
            order = np.argsort(-fpl, kind="stable")
            cap = fpl[order]
            left = gpus
            while left > 0:
                avail = np.flatnonzero(cap - take[order] > 0)
                n = min(left, len(avail))
                take[order[avail[:n]]] += 1
                left -= n
        # the lowest-numbered free hosts of each leaf, take[leaf] of them
        order = np.argsort(leaf, kind="stable")  # by leaf, then host
        rank = np.arange(len(idle)) - np.searchsorted(leaf[order], leaf[order])
        return np.sort(idle[order][rank < take[leaf[order]]])

    def fragmentation(self, free: np.ndarray) -> float:
        """1 - largest free block on one leaf / min(free GPUs, hosts per leaf); 0 if none free."""
        nf = int(np.count_nonzero(free))
        if nf == 0:
            return 0.0
        return 1.0 - int(self.free_per_leaf(free).max()) / min(nf, self.hosts_per_leaf)


class FifoCluster:
    """Event state of jobs on a JobFabric: FIFO queue (no backfilling), running jobs, free GPUs.

    `running` is a heap of (end time s, job id, hosts, crossing src, crossing dst).
    """

    def __init__(self, fabric: JobFabric, jobs: list[Job]):
        self.fabric = fabric
        self.jobs = jobs
        self.free = np.ones(fabric.n_hosts, dtype=bool)
        self.running: list[tuple[float, int, np.ndarray, np.ndarray, np.ndarray]] = []
        self.run_src = np.zeros(0, np.int64)
        self.run_dst = np.zeros(0, np.int64)
        self.queue: list[int] = []
        self.next_arrival = 0
        self.now = 0.0

    @property
    def head(self) -> Job | None:
        return self.jobs[self.queue[0]] if self.queue else None

    def advance(self) -> None:
        """Process arrivals and completions until the head job fits (or no jobs are left)."""
        n = len(self.jobs)
        while True:
            if self.queue and self.jobs[self.queue[0]].gpus <= np.count_nonzero(self.free):
                return
            t_arr = self.jobs[self.next_arrival].arrival_s if self.next_arrival < n else math.inf
            t_end = self.running[0][0] if self.running else math.inf
            if math.isinf(t_arr) and math.isinf(t_end):
                return
            if t_end <= t_arr:
                self.now, _, hosts, s, _ = heapq.heappop(self.running)
                self.free[hosts] = True
                if len(s):
                    # a host runs one job at a time: the flows whose sender is now free
                    # are the finished job's (np.isin(run_src, s), without the sort)
                    keep = ~self.free[self.run_src]
                    self.run_src, self.run_dst = self.run_src[keep], self.run_dst[keep]
            else:
                self.now = float(t_arr)
                self.queue.append(self.next_arrival)
                self.next_arrival += 1

    def start_head(
        self,
        hosts: np.ndarray,
        runtime_s: float,
        crossings: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[Job, np.ndarray, np.ndarray]:
        """Start the head job on `hosts` for `runtime_s`; returns it and its crossing flows
        (`crossings`, if the caller already has `fabric.ring_crossings(hosts)`)."""
        job = self.jobs[self.queue.pop(0)]
        src, dst = crossings if crossings is not None else self.fabric.ring_crossings(hosts)
        self.free[hosts] = False
        heapq.heappush(self.running, (self.now + runtime_s, job.id, hosts, src, dst))
        self.run_src = np.concatenate([self.run_src, src])
        self.run_dst = np.concatenate([self.run_dst, dst])
        return job, src, dst


# ------------------------------------------------------------ compiled paths
# `JobFabric`'s per-step array code over scalars, compiled by numba when installed
# (`dcsim.jit`): the same operations in the same order as the NumPy code each method keeps as
# its readable path (tests/test_placement_speed.py holds the two to the same numbers).


def place_hosts(
    rule: int, gpus: int, free: np.ndarray, host_leaf: np.ndarray, n_leaves: int
) -> np.ndarray:
    """`JobFabric.place` for rule index `rule` (`RULES`), with `gpus` <= free hosts."""
    n = free.shape[0]
    out = np.empty(gpus, np.int64)
    if rule == FIRST_FIT:  # the lowest-numbered free hosts
        k = 0
        for h in range(n):
            if k == gpus:
                break
            if free[h]:
                out[k] = h
                k += 1
        return out
    fpl = np.zeros(n_leaves, np.int64)  # free per leaf
    for h in range(n):
        if free[h]:
            fpl[host_leaf[h]] += 1
    order = np.empty(n_leaves, np.int64)  # argsort(-fpl, kind="stable"), by insertion
    for i in range(n_leaves):
        j = i
        while j > 0 and fpl[order[j - 1]] < fpl[i]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = i
    take = np.zeros(n_leaves, np.int64)
    left = gpus
    if rule == PACK:
        best = -1
        for li in range(n_leaves):  # best fit (ties: lowest leaf)
            if fpl[li] >= gpus and (best < 0 or fpl[li] < fpl[best]):
                best = li
        if best >= 0:
            take[best] = gpus
        else:  # fewest leaves: the fullest first
            for i in range(n_leaves):
                li = order[i]
                take[li] = min(fpl[li], left)
                left -= take[li]
                if left == 0:
                    break
    else:  # spread: round-robin, emptiest leaves first
        while left > 0:
            for i in range(n_leaves):
                li = order[i]
                if left > 0 and fpl[li] - take[li] > 0:
                    take[li] += 1
                    left -= 1
    # the lowest-numbered free hosts of each leaf, take[leaf] of them
    k = 0
    for h in range(n):
        li = host_leaf[h]
        if free[h] and take[li] > 0:
            out[k] = h
            k += 1
            take[li] -= 1
    return out


def route_entries(
    sptr: np.ndarray,
    eptr: np.ndarray,
    t_link: np.ndarray,
    t_sub: np.ndarray,
    t_weight: np.ndarray,
    n_hosts: int,
    src: np.ndarray,
    dst: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`JobFabric._gather` (without latencies) from the `PairRoutes` arrays: link, subflow
    (numbered across the flows) and weight per entry, and each subflow's flow."""
    n_e = 0
    n_c = 0
    for f in range(src.shape[0]):
        pid = src[f] * n_hosts + dst[f]
        n_e += eptr[pid + 1] - eptr[pid]
        n_c += sptr[pid + 1] - sptr[pid]
    link = np.empty(n_e, np.int64)
    col = np.empty(n_e, np.int64)
    weight = np.empty(n_e)
    par = np.empty(n_c, np.int64)
    k = 0
    off = 0
    for f in range(src.shape[0]):
        pid = src[f] * n_hosts + dst[f]
        for e in range(eptr[pid], eptr[pid + 1]):
            link[k] = t_link[e]
            col[k] = t_sub[e] + off
            weight[k] = t_weight[e]
            k += 1
        for q in range(sptr[pid + 1] - sptr[pid]):
            par[off + q] = f
        off += sptr[pid + 1] - sptr[pid]
    return link, col, weight, par


def ring_level(
    sptr: np.ndarray,
    eptr: np.ndarray,
    t_link: np.ndarray,
    t_sub: np.ndarray,
    t_weight: np.ndarray,
    t_lat: np.ndarray,
    n_hosts: int,
    link_cap: np.ndarray,
    ranks: np.ndarray,
) -> tuple[float, float]:
    """`JobFabric._ring_alone`'s (first water-filling level, longest subflow latency) of
    the ring rank i -> i+1 over `ranks`."""
    p = ranks.shape[0]
    nxt = np.empty(p, np.int64)
    for i in range(p):
        nxt[i] = ranks[(i + 1) % p]
    link, _, weight, _ = route_entries(sptr, eptr, t_link, t_sub, t_weight, n_hosts, ranks, nxt)
    load = np.zeros(link_cap.shape[0])  # np.bincount(links, weights)
    for k in range(link.shape[0]):
        load[link[k]] += weight[k]
    level = np.inf
    for li in range(load.shape[0]):
        if load[li] > 0 and link_cap[li] / load[li] < level:
            level = link_cap[li] / load[li]
    lat = -np.inf
    for i in range(p):
        pid = ranks[i] * n_hosts + nxt[i]
        for q in range(sptr[pid], sptr[pid + 1]):
            lat = max(lat, t_lat[q])
    return level, lat


def pair_contention(
    sptr: np.ndarray,
    eptr: np.ndarray,
    t_link: np.ndarray,
    t_sub: np.ndarray,
    t_weight: np.ndarray,
    n_hosts: int,
    link_cap: np.ndarray,
    run_src: np.ndarray,
    run_dst: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    one_subflow: bool,
) -> float:
    """`JobFabric.contention` from the `PairRoutes` arrays (both flow sets non-empty):
    `dense_incidence`, `dense_max_min` (`dense_fill`) and the per-flow sums as scalars."""
    n_run = run_src.shape[0]
    link, col, weight, par = route_entries(
        sptr, eptr, t_link, t_sub, t_weight, n_hosts,
        np.concatenate((run_src, src)), np.concatenate((run_dst, dst)),
    )  # fmt: skip
    n_c = par.shape[0]
    row_of = np.full(link_cap.shape[0], -1, np.int64)  # the links used, ascending
    for k in range(link.shape[0]):
        row_of[link[k]] = 0
    n_used = 0
    for li in range(row_of.shape[0]):
        if row_of[li] == 0:
            row_of[li] = n_used
            n_used += 1
    cap = np.empty(n_used)
    for li in range(row_of.shape[0]):
        if row_of[li] >= 0:
            cap[row_of[li]] = link_cap[li]
    A = np.zeros((n_used, n_c))
    for k in range(link.shape[0]):  # duplicates summed in order
        A[row_of[link[k]], col[k]] += weight[k]
    rate = np.empty(n_c)
    dense_fill(A, cap, rate)
    n_f = n_run + src.shape[0]
    flow_rate = np.zeros(n_f)
    for c in range(n_c):
        flow_rate[par[c]] += rate[c]
    shared = np.inf
    for f in range(n_run, n_f):
        shared = min(shared, flow_rate[f])
    c0 = 0  # the job's own subflows: the last columns
    while c0 < n_c and par[c0] < n_run:
        c0 += 1
    alone = np.inf
    if one_subflow:  # the first level of the job's own filling
        for li in range(n_used):
            w = 0.0
            for c in range(c0, n_c):
                w += A[li, c]
            if w > 0 and cap[li] / w < alone:
                alone = cap[li] / w
    else:
        own_rate = np.empty(n_c - c0)
        dense_fill(A[:, c0:], cap, own_rate)
        own = np.zeros(n_f - n_run)
        for c in range(c0, n_c):
            own[par[c] - n_run] += own_rate[c - c0]
        for f in range(n_f - n_run):
            alone = min(alone, own[f])
    return max(1.0, alone / shared) if shared > 0 else np.inf


PLACE = kernel(place_hosts)
ROUTE_ENTRIES = kernel(route_entries)
RING_LEVEL = kernel(ring_level, {"route_entries": ROUTE_ENTRIES})
CONTENTION = kernel(pair_contention, {"route_entries": ROUTE_ENTRIES, "dense_fill": DENSE_FILL})


__all__ = [
    "DEFAULT_SIZES",
    "RULES",
    "FifoCluster",
    "Job",
    "JobFabric",
    "JobMixConfig",
    "generate_jobs",
    "job_workload",
    "mean_duration_s",
]
