"""`dcsim/Placement-v0`: place arriving data-parallel training jobs on a leaf-spine fabric."""

from __future__ import annotations

import heapq
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dcsim.errors import InputError
from dcsim.hardware import get_profile
from dcsim.network import collective_time, load_topology, route
from dcsim.network.topology import resolve_topology_path
from dcsim.power import PHASE_ACTIVITY

RULES = ("pack", "spread", "first-fit")
REWARD_TERMS = ("comm", "energy", "fragmentation", "queue")
DEFAULT_WEIGHTS = {"comm": 1.0, "energy": 0.0, "fragmentation": 0.2, "queue": 0.5}
# Job size mix (GPUs): most jobs small, a tail of multi-node jobs, shaped after the
# Microsoft Philly trace (Jeon et al., USENIX ATC 2019, Fig. 2) and Alibaba PAI
# (Weng et al., NSDI 2022); sizes are powers of two as in both traces.
DEFAULT_SIZES = {1: 0.25, 2: 0.10, 4: 0.15, 8: 0.25, 16: 0.15, 32: 0.10}
# ranks -> (latency s, s per byte) and (src, dst) -> routed subflows, per (fabric, routing)
_ISO_CACHE: dict[tuple[str, str], dict] = {}
_PATH_CACHE: dict[tuple[str, str], dict] = {}


def _resolve_topology(topology: Any) -> Any:
    if isinstance(topology, str | Path):
        return resolve_topology_path(topology)
    return topology


class PlacementEnv(gym.Env):
    """Place arriving data-parallel training jobs on the GPUs of a leaf-spine fabric.

    ## Description
    Jobs arrive (Poisson, rate set by `load`) asking for 1-32 GPUs (`job_sizes`, a
    Philly/PAI-like mix). Each host of the fabric (`dcsim.network.load_topology`, default
    `leaf_spine_oversub.yaml`: 64 GPUs, 8 leaves, 2:1 oversubscribed) is one GPU with its
    NIC. Jobs wait in a FIFO queue (no backfilling); each step places the job at the head
    of the queue once enough GPUs are free. A job trains for `iters` iterations: compute
    t_c = 6 N tokens / (peak FLOPs * MFU) per iteration, then a ring all-reduce of its 2N-byte
    BF16 gradients over its GPUs (`dcsim.network.collective_time` on the fabric with the
    env's `routing`, cached per rank set), of which all but `overlap * t_c` is exposed.
    Under the current occupancy the job's leaf-crossing ring flows share spine links with
    those of the jobs already running (all assumed to communicate at once: an upper bound
    on contention): their max-min fair rates (`dcsim.network.max_min_rates` over the routed
    flows) stretch the all-reduce by `contention = rate alone / rate shared` >= 1. The
    job's runtime is fixed at placement. Energy per job: GPUs at activity 0.85 during
    compute and 0.35 while stalled on exposed communication (`dcsim.power`), P = P_idle +
    (TDP - P_idle) * a.

    ## Action space
    `Discrete(3)`, the placement rule for the head-of-queue job (`RULES`):

    | action | rule | effect |
    |---|---|---|
    | 0 | pack | best fit: the fullest leaf that holds the whole job; else fewest leaves, fullest first |
    | 1 | spread | round-robin over leaves with free GPUs, emptiest first (balances leaves) |
    | 2 | first-fit | the lowest-numbered free GPUs |

    ## Observation space
    `Box(0, 1, (3 * n_leaves + 6,), float32)`: per leaf the free-GPU share, the
    leaf-crossing ring flows leaving it (/ uplinks, clipped at 1) and whether the head
    job fits in it; then the head job's GPUs / hosts per leaf (clipped), its gradient
    bytes / 2^35 (clipped), total free share, queue length / 16, the head job's wait /
    mean job duration (clipped) and the share of the episode's jobs placed.

    ## Rewards
    `reward = sum(info["reward_terms"].values())`, each term <= 0, weights from
    `reward_weights` (defaults `DEFAULT_WEIGHTS`):
    `comm = -w * (runtime / runtime if packed on an empty fabric - 1)`;
    `energy = -w * (job energy / energy if packed on an empty fabric - 1)`;
    `fragmentation = -w * (1 - largest free block on one leaf / min(free GPUs, hosts per leaf))`
    after the placement; `queue = -w * (placed job's wait) / (mean job duration)`.

    ## Episode end
    Never terminates; truncates once `n_jobs` jobs are placed (default 128).

    ## Arguments
    `topology` (YAML name in topologies/, path, mapping or TopologyConfig), `hardware`
    (catalog name), `n_jobs`, `load` (offered GPU-time / capacity, default 0.9),
    `job_sizes` (GPUs -> probability), `routing` (ecmp | spray | split:K | colour),
    `mfu`, `overlap`, `tokens_per_gpu` (per iteration), `reward_weights`.
    `info` holds `reward_terms` and `metrics` (job size, leaves used, contention, times,
    energy; no wall-clock values). Deterministic given the reset seed.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        topology: Any = "leaf_spine_oversub.yaml",
        hardware: str = "H100-SXM",
        n_jobs: int = 128,
        load: float = 0.9,
        job_sizes: dict[int, float] | None = None,
        routing: str = "ecmp",
        mfu: float = 0.4,
        overlap: float = 0.5,
        tokens_per_gpu: float = 4096.0,
        reward_weights: dict[str, float] | None = None,
    ):
        super().__init__()
        if n_jobs < 1:
            raise InputError("n_jobs must be >= 1", field="n_jobs")
        if not 0 < load <= 2:
            raise InputError("load must be in (0, 2]", field="load")
        if not (0 < mfu <= 1 and 0 <= overlap <= 1 and tokens_per_gpu > 0):
            raise InputError(
                "need 0 < mfu <= 1, 0 <= overlap <= 1, tokens_per_gpu > 0", field="mfu"
            )
        self.fabric = load_topology(_resolve_topology(topology))
        fab = self.fabric
        if not fab.host_single.all():
            raise InputError(
                "placement needs single-homed hosts (one NIC per GPU)", field="topology"
            )
        leaf_nodes, self.host_leaf = np.unique(fab.host_key, return_inverse=True)
        self.n_hosts = fab.n_hosts
        self.n_leaves = len(leaf_nodes)
        self.per_leaf = np.bincount(self.host_leaf, minlength=self.n_leaves)
        self.hpl = int(self.per_leaf.max())
        self.uplinks = np.array(
            [
                int(np.sum(fab.link_src == n)) - int(self.per_leaf[i])
                for i, n in enumerate(leaf_nodes)
            ]
        )
        sizes = dict(job_sizes or DEFAULT_SIZES)
        self.sizes = np.array(sorted(int(k) for k in sizes), dtype=np.int64)
        probs = np.array([float(sizes[k]) for k in self.sizes])
        if (
            (self.sizes < 1).any()
            or self.sizes.max() > self.n_hosts
            or (probs < 0).any()
            or probs.sum() <= 0
        ):
            raise InputError(
                f"job_sizes must map 1..{self.n_hosts} GPUs to probabilities", field="job_sizes"
            )
        self.size_p = probs / probs.sum()
        self.routing = routing
        w = dict(DEFAULT_WEIGHTS)
        for k, v in (reward_weights or {}).items():
            if k not in w:
                raise InputError(
                    f"unknown reward weight '{k}'; expected {', '.join(REWARD_TERMS)}",
                    field=f"reward.{k}",
                )
            if not (isinstance(v, int | float) and v >= 0 and math.isfinite(v)):
                raise InputError("reward weights must be finite and >= 0", field=f"reward.{k}")
            w[k] = float(v)
        self.weights = w
        prof = get_profile(hardware)
        self.peak = prof.peak_flops
        self.p_busy = prof.idle_w + (prof.tdp_w - prof.idle_w) * PHASE_ACTIVITY["training"]
        self.p_comm = prof.idle_w + (prof.tdp_w - prof.idle_w) * PHASE_ACTIVITY["communication"]
        self.n_jobs, self.load, self.mfu, self.overlap, self.tokens = (
            int(n_jobs),
            float(load),
            mfu,
            overlap,
            tokens_per_gpu,
        )
        self.action_space = spaces.Discrete(len(RULES))
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(3 * self.n_leaves + 6,), dtype=np.float32
        )
        # caches shared by every env on the same fabric and routing in this process
        fkey = (self.fabric.config.model_dump_json(), routing)
        self._iso: dict[tuple[int, ...], tuple[float, float]] = _ISO_CACHE.setdefault(fkey, {})
        self._paths: dict[tuple[int, int], tuple] = _PATH_CACHE.setdefault(fkey, {})
        self.free = np.ones(self.n_hosts, dtype=bool)

    # ------------------------------------------------------------ workload
    def _draw_jobs(self, rng: np.random.Generator) -> None:
        """The episode's jobs: sizes, model sizes (log-uniform 0.1-13 B params), iterations."""
        n = self.n_jobs
        self.j_gpus = rng.choice(self.sizes, size=n, p=self.size_p)
        # model size grows with job size (bigger jobs train bigger models), log-uniform spread
        params = np.exp(rng.uniform(np.log(1e8), np.log(1.3e10), size=n))
        self.j_params = np.round(params / 1e8) * 1e8 + 1e8  # 0.1 B steps: keeps the cache small
        self.j_tc = 6.0 * self.j_params * self.tokens / (self.peak * self.mfu)
        self.j_iters = np.ceil(rng.lognormal(np.log(2000.0), 1.0, size=n))  # heavy-tailed (Philly)
        base = self.j_iters * self.j_tc
        mean_gpu_time = float(np.sum(self.j_gpus * base) / n)
        rate = self.load * self.n_hosts / mean_gpu_time  # jobs per second
        self.j_arrival = np.cumsum(rng.exponential(1.0 / rate, size=n))
        self.mean_duration = float(base.mean())

    # ------------------------------------------------------------ network
    def _iso_time(self, ranks: np.ndarray, grad_bytes: float) -> float:
        """Ring all-reduce of `grad_bytes` over `ranks` alone on the fabric.

        `collective_time` runs once per rank set at 1 GiB; the fluid makespan of equal-size
        flows scales linearly with bytes, so T(n) = latency + (T(1 GiB) - latency) n / 1 GiB.
        """
        key = tuple(ranks.tolist())
        got = self._iso.get(key)
        if got is None:
            res = collective_time(
                self.fabric, "all-reduce", "ring", float(1 << 30), self.routing, ranks=ranks
            )
            got = (res.latency_s, (res.time_s - res.latency_s) / float(1 << 30))
            self._iso[key] = got
        return got[0] + got[1] * grad_bytes

    def _crossing(self, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ring flows rank i -> i+1 that leave their leaf (ranks sorted by host)."""
        if len(ranks) < 2:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        nxt = np.roll(ranks, -1)
        m = self.host_leaf[ranks] != self.host_leaf[nxt]
        return ranks[m], nxt[m]

    def _path(self, s: int, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Links and rate shares of flow s -> d under the env's routing (cached per pair)."""
        key = (s, d)
        got = self._paths.get(key)
        if got is None:
            r = route(self.fabric, np.array([s]), np.array([d]), np.ones(1), routing=self.routing)
            A = r.A.tocoo()
            # per subflow j of this flow: its links; a flow's rate = sum of its subflows'
            got = (A.row.astype(np.int64), A.col.astype(np.int64), A.data.astype(float), A.shape[1])
            self._paths[key] = got
        return got

    def _contention(self, src: np.ndarray, dst: np.ndarray) -> float:
        """Slowest crossing-flow rate of the job alone / shared with running jobs' flows.

        Max-min fair rates by progressive filling (`dcsim.network.flows.max_min_rates`'s
        algorithm) on the dense sub-matrix of the links these flows touch: the job's ring
        flows plus one flow per leaf crossing of every running job.
        """
        if len(src) == 0 or len(self.run_src) == 0:
            return 1.0
        bs = np.concatenate([self.run_src, src]).tolist()
        bd = np.concatenate([self.run_dst, dst]).tolist()
        rows, cols, data, parent = [], [], [], []
        off = 0
        for f, (s, d) in enumerate(zip(bs, bd, strict=True)):
            r, c, v, n = self._path(s, d)
            rows.append(r)
            cols.append(c + off)
            data.append(v)
            parent.append(np.full(n, f))
            off += n
        rows_a = np.concatenate(rows)
        links, ri = np.unique(rows_a, return_inverse=True)
        A = np.zeros((len(links), off))
        np.add.at(A, (ri, np.concatenate(cols)), np.concatenate(data))
        cap = self.fabric.link_cap[links]
        rates = dense_max_min(A, cap)
        par = np.concatenate(parent)
        flow_rate = np.bincount(par, weights=rates, minlength=len(bs))
        own = flow_rate[len(self.run_src) :]
        # alone: each leaf sends and receives one ring flow of the job, so no self-sharing
        # on leaf-spine links; the rate is the job's own water-filling (same code path).
        mask = np.isin(par, np.arange(len(self.run_src), len(bs)))
        A0 = A[:, mask]
        alone_rates = dense_max_min(A0, cap)
        alone = np.bincount(
            par[mask] - len(self.run_src), weights=alone_rates, minlength=len(src)
        ).min()
        shared = float(own.min())
        return max(1.0, float(alone) / shared) if shared > 0 else float("inf")

    # ------------------------------------------------------------ placement rules
    def place(self, rule: int, g: int) -> np.ndarray:
        """Host indices (sorted) for a g-GPU job under a rule; requires g free GPUs."""
        free_per_leaf = np.bincount(self.host_leaf[self.free], minlength=self.n_leaves)
        if RULES[rule] == "first-fit":
            return np.flatnonzero(self.free)[:g]
        take = np.zeros(self.n_leaves, dtype=np.int64)
        if RULES[rule] == "pack":
            fits = np.flatnonzero(free_per_leaf >= g)
            if len(fits):
                take[fits[np.argmin(free_per_leaf[fits])]] = g  # best fit (ties: lowest leaf)
            else:
                order = np.argsort(-free_per_leaf, kind="stable")  # fewest leaves
                cum = np.cumsum(free_per_leaf[order])
                k = int(np.searchsorted(cum, g)) + 1
                take[order[:k]] = free_per_leaf[order[:k]]
                take[order[k - 1]] -= cum[k - 1] - g
        else:  # spread: round-robin, emptiest leaves first
            order = np.argsort(-free_per_leaf, kind="stable")
            cap = free_per_leaf[order]
            left = g
            while left > 0:
                avail = np.flatnonzero(cap - take[order] > 0)
                n = min(left, len(avail))
                take[order[avail[:n]]] += 1
                left -= n
        hosts = []
        for leaf in np.flatnonzero(take):
            on = np.flatnonzero(self.free & (self.host_leaf == leaf))
            hosts.append(on[: take[leaf]])
        return np.sort(np.concatenate(hosts))

    def _packed_empty(self, g: int, grad_bytes: float) -> float:
        return self._iso_time(np.arange(g), grad_bytes) if g > 1 else 0.0

    def _runtime(self, j: int, comm_s: float) -> tuple[float, float]:
        """(runtime, exposed comm per iteration) of job j for a given all-reduce time."""
        tc = float(self.j_tc[j])
        exposed = max(0.0, comm_s - self.overlap * tc)
        return float(self.j_iters[j]) * (tc + exposed), exposed

    # ------------------------------------------------------------ simulation
    def _advance(self) -> None:
        """Process arrivals/completions until the head job fits (or no jobs are left)."""
        while True:
            if self.queue and int(self.j_gpus[self.queue[0]]) <= int(self.free.sum()):
                return
            t_arr = (
                self.j_arrival[self.next_arrival] if self.next_arrival < self.n_jobs else math.inf
            )
            t_end = self.running[0][0] if self.running else math.inf
            if math.isinf(t_arr) and math.isinf(t_end):
                return
            if t_end <= t_arr:
                self.now, _, hosts, s, d = heapq.heappop(self.running)
                self.free[hosts] = True
                self._drop_flows(s)
            else:
                self.now = float(t_arr)
                self.queue.append(self.next_arrival)
                self.next_arrival += 1

    def _drop_flows(self, src: np.ndarray) -> None:
        if len(src):
            keep = ~np.isin(self.run_src, src)
            self.run_src, self.run_dst = self.run_src[keep], self.run_dst[keep]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._draw_jobs(self.np_random)
        self.free = np.ones(self.n_hosts, dtype=bool)
        self.running: list[tuple[float, int, np.ndarray, np.ndarray, np.ndarray]] = []
        self.run_src = np.zeros(0, np.int64)
        self.run_dst = np.zeros(0, np.int64)
        self.queue: list[int] = []
        self.next_arrival = 0
        self.placed = 0
        self.now = 0.0
        self._advance()
        return self._obs(), {}

    def _frag(self) -> float:
        nf = int(self.free.sum())
        if nf == 0:
            return 0.0
        best = int(np.bincount(self.host_leaf[self.free], minlength=self.n_leaves).max())
        return 1.0 - best / min(nf, self.hpl)

    def _obs(self) -> np.ndarray:
        L = self.n_leaves
        free_leaf = np.bincount(self.host_leaf[self.free], minlength=L)
        out_flows = (
            np.bincount(self.host_leaf[self.run_src], minlength=L)
            if len(self.run_src)
            else np.zeros(L)
        )
        if self.queue:
            j = self.queue[0]
            g = int(self.j_gpus[j])
            head = [
                min(g / self.hpl, 1.0),
                min(2 * self.j_params[j] / 2**35, 1.0),
                min((self.now - self.j_arrival[j]) / self.mean_duration, 1.0),
            ]
        else:
            g, head = self.n_hosts + 1, [0.0, 0.0, 0.0]
        vals = np.concatenate(
            [
                free_leaf / self.per_leaf,
                np.minimum(out_flows / np.maximum(self.uplinks, 1), 1.0),
                (free_leaf >= g).astype(float),
                [
                    head[0],
                    head[1],
                    self.free.mean(),
                    min(len(self.queue) / 16, 1.0),
                    head[2],
                    self.placed / self.n_jobs,
                ],
            ]
        )
        return np.clip(vals, 0.0, 1.0).astype(np.float32)

    def step(self, action):
        if not self.queue:
            raise RuntimeError("episode is over: call reset()")
        rule = int(np.asarray(action).reshape(-1)[0]) if np.ndim(action) else int(action)
        if not 0 <= rule < len(RULES):
            raise ValueError(f"action must be in 0..{len(RULES) - 1}")
        j = self.queue.pop(0)
        g = int(self.j_gpus[j])
        grad = 2.0 * float(self.j_params[j])
        hosts = self.place(rule, g)
        src, dst = self._crossing(hosts)
        iso = self._iso_time(hosts, grad) if g > 1 else 0.0
        cont = self._contention(src, dst)
        comm = iso * cont
        runtime, exposed = self._runtime(j, comm)
        ideal_runtime, ideal_exposed = self._runtime(j, self._packed_empty(g, grad))
        tc, it = float(self.j_tc[j]), float(self.j_iters[j])
        energy_j = g * it * (tc * self.p_busy + exposed * self.p_comm)
        ideal_j = g * it * (tc * self.p_busy + ideal_exposed * self.p_comm)
        wait = self.now - float(self.j_arrival[j])
        self.free[hosts] = False
        heapq.heappush(self.running, (self.now + runtime, j, hosts, src, dst))
        self.run_src = np.concatenate([self.run_src, src])
        self.run_dst = np.concatenate([self.run_dst, dst])
        self.placed += 1
        frag = self._frag()
        w = self.weights
        terms = {
            "comm": -w["comm"] * (runtime / ideal_runtime - 1.0),
            "energy": -w["energy"] * (energy_j / ideal_j - 1.0),
            "fragmentation": -w["fragmentation"] * frag,
            "queue": -w["queue"] * wait / self.mean_duration,
        }
        leaves = int(len(np.unique(self.host_leaf[hosts])))
        metrics = {
            "t_s": float(self.now),
            "job_gpus": float(g),
            "leaves_used": float(leaves),
            "extra_leaves": float(leaves - math.ceil(g / self.hpl)),
            "crossing_flows": float(len(src)),
            "contention": float(cont),
            "allreduce_s": float(comm),
            "slowdown": float(runtime / ideal_runtime),
            "runtime_h": runtime / 3600.0,
            "wait_h": wait / 3600.0,
            "energy_kwh": energy_j / 3.6e6,
            "excess_energy_kwh": (energy_j - ideal_j) / 3.6e6,
            "fragmentation": float(frag),
            "utilization": float(1.0 - self.free.mean()),
            "queue_len": float(len(self.queue)),
        }
        truncated = self.placed >= self.n_jobs
        if not truncated:
            self._advance()
            truncated = not self.queue
        reward = float(sum(terms.values()))
        return (
            self._obs(),
            reward,
            False,
            bool(truncated),
            {"reward_terms": terms, "metrics": metrics},
        )


def dense_max_min(A: np.ndarray, cap: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Max-min fair rates of the columns of a small dense links x flows matrix.

    Progressive filling (Bertsekas & Gallager 6.5.2), identical to
    `dcsim.network.flows.max_min_rates` but without sparse-matrix overhead, for the few
    dozen flows a placement decision involves. Flows crossing no link get rate inf.
    """
    n_f = A.shape[1]
    rate = np.zeros(n_f)
    act = (A > 0).any(axis=0)
    rate[~act] = np.inf
    resid = np.asarray(cap, dtype=float).copy()
    B = A > 0
    while act.any():
        w = A @ act
        used = w > 0
        delta = float(np.min(resid[used] / w[used]))
        rate[act] += delta
        resid[used] -= delta * w[used]
        sat = used & (resid <= tol * cap)
        act &= ~(B[sat].any(axis=0))
    return rate
