"""`dcsim/Placement-v0`: place arriving data-parallel training jobs on a leaf-spine fabric."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pydantic import Field

from dcsim.cost import FlatCostConfig
from dcsim.envs.contract import (
    METADATA,
    Encoder,
    EnvKwargs,
    Feature,
    Metric,
    RewardTerm,
    observation_space,
    parse_kwargs,
    render_frame,
    render_mode_arg,
    reward_weights,
    weigh,
)
from dcsim.errors import InputError
from dcsim.hardware import get_profile
from dcsim.jobs import (
    RULES,
    FifoCluster,
    JobFabric,
    JobMixConfig,
    generate_jobs,
    mean_duration_s,
)
from dcsim.network import load_topology
from dcsim.network.topology import resolve_topology_path
from dcsim.power import DevicePowerModel

if TYPE_CHECKING:  # pragma: no cover
    from dcsim.config import LoadedScenario


def _resolve_topology(topology: Any) -> Any:
    if isinstance(topology, str | Path):
        return resolve_topology_path(topology)
    return topology


def features(jf: JobFabric) -> tuple[Feature, ...]:
    """Observation entries, all bounded to [0, 1]: per leaf, then the head job and the queue."""

    def f(name: str, unit: str, scale: float = 1.0) -> Feature:
        return Feature(name, unit, float(scale), low=0.0, high=1.0)

    leaves = range(jf.n_leaves)
    return (
        *(f(f"leaf{i}_free_gpus", "GPUs", jf.per_leaf[i]) for i in leaves),
        # leaf-crossing ring flows of running jobs leaving the leaf, per uplink
        *(f(f"leaf{i}_crossing_flows", "flows", max(int(jf.uplinks[i]), 1)) for i in leaves),
        *(f(f"leaf{i}_head_fits", "1") for i in leaves),
        f("head_gpus", "GPUs", jf.hosts_per_leaf),
        f("head_grad_bytes", "B", 2.0**35),
        f("free_share", "1"),
        f("queue_len", "jobs", 16.0),
        f("head_wait_rel", "1"),  # head job's wait / mean job duration of the episode
        f("placed_share", "1"),
    )


class PlacementKwargs(EnvKwargs, JobMixConfig):
    """Placement-v0 arguments: the fabric, hardware and episode length, plus the job mix
    (`dcsim.jobs.JobMixConfig`: job_sizes, load, mfu, overlap, tokens_per_gpu, ...)."""

    topology: Any = Field(
        "leaf_spine_oversub.yaml", description="YAML name in topologies/, path, mapping or config"
    )
    hardware: str = "H100-SXM"
    n_jobs: int = Field(
        128,
        ge=1,
        le=1_000_000,  # drawn up front (~100 B each): a size cap, not a physical limit
        description="jobs placed per episode",
    )
    routing: str = Field("ecmp", description="ecmp | spray | split:K | colour")
    cost: FlatCostConfig = Field(default_factory=FlatCostConfig)


class PlacementEnv(gym.Env):
    """Place arriving data-parallel training jobs on the GPUs of a leaf-spine fabric.

    ## Description
    The workload, scheduler and contention model are `dcsim.jobs` (sources there); this env
    wires them. Jobs arrive (Poisson, rate set by `load`) asking for 1-32 GPUs (`job_sizes`, a
    Philly/PAI-like mix). Each host of the fabric (`dcsim.network.load_topology`, default
    `leaf_spine_oversub.yaml`: 64 GPUs, 8 leaves, 2:1 oversubscribed) is one GPU with its
    NIC. Jobs wait in a FIFO queue (no backfilling); each step places the job at the head
    of the queue once enough GPUs are free. A job trains for `iters` iterations: compute
    t_c = 6 N tokens / (peak FLOPs * MFU) per iteration (`dcsim.workload.training_step_time`), then a ring all-reduce of its 2N-byte
    BF16 gradients over its GPUs (`dcsim.network.collective_time` on the fabric with the
    env's `routing`, cached per rank set), of which all but `overlap * t_c` is exposed.
    Under the current occupancy the job's leaf-crossing ring flows share spine links with
    those of the jobs already running (all assumed to communicate at once: an upper bound
    on contention): their max-min fair rates (`dcsim.network.flows.dense_max_min`, the
    tested fast path of `max_min_rates`, over the routed flows) stretch the all-reduce by
    `contention = rate alone / rate shared` >= 1. The job's runtime is fixed at placement.
    Energy per job: GPUs at the training phase activity during compute and the
    communication one while stalled on exposed communication (`dcsim.power.PHASE_ACTIVITY`),
    P = `DevicePowerModel.power_w(a)` at full clock.

    ## Action space
    `Discrete(3)`, the placement rule for the head-of-queue job (`RULES`):

    | action | rule | effect |
    |---|---|---|
    | 0 | pack | best fit: the fullest leaf that holds the whole job; else fewest leaves, fullest first |
    | 1 | spread | round-robin over leaves with free GPUs, emptiest first (balances leaves) |
    | 2 | first-fit | the lowest-numbered free GPUs |

    ## Observation space
    `Box(0, 1, (3 * n_leaves + 6,), float32)`, entries declared in `env.features` (read them
    with `dcsim.envs.contract.physical`): per leaf the free GPUs (/ hosts on the leaf), the
    leaf-crossing ring flows leaving it (/ uplinks, clipped at 1) and whether the head
    job fits in it; then the head job's GPUs (/ hosts per leaf, clipped), its gradient
    bytes (/ 2^35, clipped), total free share, queue length (/ 16), the head job's wait /
    mean job duration (clipped) and the share of the episode's jobs placed.

    ## Rewards
    `reward = sum(info["reward_terms"].values())`, each term <= 0 and its weight
    (`reward_weights`, defaults in `REWARD`: comm 1, energy 0, fragmentation 0.2, queue 0.5)
    times
    `comm = -(runtime / runtime if packed on an empty fabric - 1)`;
    `energy = -(job energy / energy if packed on an empty fabric - 1)`, which is also the job's
    excess electricity bill over its ideal bill (`info["metrics"]` `electricity_usd` and
    `excess_electricity_usd` at the `dcsim.cost` price of the `cost` argument);
    `fragmentation = -(1 - largest free block on one leaf / min(free GPUs, hosts per leaf))`
    after the placement; `queue = -(placed job's wait) / (mean job duration)`.

    ## Episode end
    Never terminates; truncates once `n_jobs` jobs are placed (default 128).

    ## Arguments
    `topology` (YAML name in topologies/, path, mapping or TopologyConfig), `hardware`
    (catalog name), `n_jobs`, `load` (offered GPU-time / capacity, default 0.9),
    `job_sizes` (GPUs -> probability), `routing` (ecmp | spray | split:K | colour),
    `mfu`, `overlap`, `tokens_per_gpu` (per iteration), the rest of
    `dcsim.jobs.JobMixConfig` (model-size and iteration distributions), `reward_weights`;
    validated by `PlacementKwargs`. `info` holds `reward_terms` and `metrics` (declared in
    `METRICS` with their episode aggregation: job size, leaves used, contention, times,
    energy; no wall-clock values). Deterministic given the reset seed.
    """

    metadata = METADATA
    render = render_frame
    Kwargs = PlacementKwargs
    REWARD = (
        RewardTerm("comm", 1.0),
        RewardTerm("energy", 0.0),
        RewardTerm("fragmentation", 0.2),
        RewardTerm("queue", 0.5),
    )
    METRICS = (
        Metric("t_s", "s", "none"),
        Metric("job_gpus", "GPUs", "mean"),
        Metric("leaves_used", "leaves", "mean"),
        Metric("extra_leaves", "leaves", "mean"),
        Metric("crossing_flows", "flows", "mean"),
        Metric("contention", "1", "mean"),
        Metric("allreduce_s", "s", "mean"),
        Metric("slowdown", "1", "mean"),
        Metric("runtime_h", "h", "mean"),
        Metric("wait_h", "h", "mean"),
        Metric("energy_kwh", "kWh", "sum"),
        Metric("excess_energy_kwh", "kWh", "sum"),
        Metric("electricity_usd", "USD", "sum"),
        Metric("excess_electricity_usd", "USD", "sum"),
        Metric("fragmentation", "1", "mean"),
        Metric("utilization", "1", "mean"),
        Metric("queue_len", "jobs", "mean"),
    )

    @classmethod
    def scenario_kwargs(
        cls, loaded: LoadedScenario, overrides: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A dcsim scenario's fabric (relative to the scenario file), hardware and routing."""
        sc = loaded.scenario
        topo = sc.cluster.topology
        if isinstance(topo, str) and not Path(topo).is_absolute():
            cand = loaded.base_dir / topo
            topo = str(cand) if cand.is_file() else topo
        kwargs: dict[str, Any] = {"topology": topo, "hardware": sc.cluster.hardware}
        routing = getattr(sc.workload, "routing", None)
        if routing:
            kwargs["routing"] = routing
        return kwargs

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.render_mode = render_mode_arg(kwargs)
        self.kw = kw = parse_kwargs(self.Kwargs, kwargs)
        self.weights = reward_weights(self.REWARD, kw.reward_weights)
        self.usd_per_kwh = kw.cost.flat_prices()[0]
        self.mix = JobMixConfig.model_validate(
            kw.model_dump(include=set(JobMixConfig.model_fields))
        )
        self.jf = JobFabric(load_topology(_resolve_topology(kw.topology)), kw.routing)
        self.fabric = self.jf.fabric
        if max(self.mix.job_sizes) > self.jf.n_hosts:
            raise InputError(
                f"job_sizes must map 1..{self.jf.n_hosts} GPUs to probabilities",
                field="job_sizes",
            )
        self.host_leaf, self.n_hosts, self.n_leaves = (
            self.jf.host_leaf,
            self.jf.n_hosts,
            self.jf.n_leaves,
        )
        self.hpl = self.jf.hosts_per_leaf
        prof = get_profile(kw.hardware)
        self.peak = prof.peak_flops
        self.device = DevicePowerModel.from_profile(prof)
        self.n_jobs = kw.n_jobs
        self.routing = kw.routing
        self.action_space = spaces.Discrete(len(RULES))
        self.features = features(self.jf)
        self.observation_space = observation_space(self.features)
        self._encode = Encoder(self.features)
        self.cluster = FifoCluster(self.jf, [])

    # ------------------------------------------------------------ state (the cluster's)
    @property
    def free(self) -> np.ndarray:
        return self.cluster.free

    @property
    def running(self) -> list:
        return self.cluster.running

    @property
    def queue(self) -> list[int]:
        return self.cluster.queue

    def place(self, rule: int, g: int) -> np.ndarray:
        """Host indices (sorted) for a g-GPU job under rule `RULES[rule]`."""
        return self.jf.place(RULES[rule], g, self.cluster.free)

    def _iso_time(self, ranks: np.ndarray, grad_bytes: float) -> float:
        return self.jf.allreduce_alone_s(ranks, grad_bytes)

    # ------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        jobs = generate_jobs(self.mix, self.n_jobs, self.n_hosts, self.peak, self.np_random)
        self.mean_duration = mean_duration_s(jobs)
        self.cluster = FifoCluster(self.jf, jobs)
        self.placed = 0
        self.cluster.advance()
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        L, c = self.n_leaves, self.cluster
        free_leaf = self.jf.free_per_leaf(c.free)
        out_flows = np.bincount(self.host_leaf[c.run_src], minlength=L)
        job = c.head
        g = job.gpus if job is not None else self.n_hosts + 1  # nothing waiting: fits nowhere
        vals = {
            "head_gpus": job.gpus if job is not None else 0.0,
            "head_grad_bytes": job.grad_bytes if job is not None else 0.0,
            "free_share": np.count_nonzero(c.free) / self.n_hosts,  # the mean, cheaper
            "queue_len": len(c.queue),
            "head_wait_rel": (c.now - job.arrival_s) / self.mean_duration if job else 0.0,
            "placed_share": self.placed / self.n_jobs,
        }
        per_leaf = ((0, free_leaf), (L, out_flows), (2 * L, free_leaf >= g))
        return self._encode.named_blocks(vals, per_leaf)

    def step(self, action):
        c, jf = self.cluster, self.jf
        job = c.head
        if job is None:
            raise RuntimeError("episode is over: call reset()")
        rule = int(np.asarray(action).reshape(-1)[0]) if np.ndim(action) else int(action)
        if not 0 <= rule < len(RULES):
            raise ValueError(f"action must be in 0..{len(RULES) - 1}")
        g = job.gpus
        hosts = self.place(rule, g)
        src, dst = jf.ring_crossings(hosts)
        iso = jf.allreduce_alone_s(hosts, job.grad_bytes) if g > 1 else 0.0
        cont = jf.contention(c.run_src, c.run_dst, src, dst)
        comm = iso * cont
        runtime, st = job.runtime_s(comm)
        ideal_runtime, ideal_st = job.runtime_s(jf.packed_allreduce_s(g, job.grad_bytes))
        energy_j, ideal_j = job.energies_j((st, ideal_st), self.device)
        wait = c.now - job.arrival_s
        c.start_head(hosts, runtime, (src, dst))
        self.placed += 1
        frag = jf.fragmentation(c.free)
        raw = {
            "comm": -(runtime / ideal_runtime - 1.0),
            "energy": -(energy_j / ideal_j - 1.0),
            "fragmentation": -frag,
            "queue": -wait / self.mean_duration,
        }
        terms = weigh(self.weights, raw)
        leaves = np.count_nonzero(np.bincount(self.host_leaf[hosts]))  # distinct leaves
        metrics = {
            "t_s": float(c.now),
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
            "electricity_usd": energy_j / 3.6e6 * self.usd_per_kwh,
            "excess_electricity_usd": (energy_j - ideal_j) / 3.6e6 * self.usd_per_kwh,
            "fragmentation": float(frag),
            "utilization": 1.0 - np.count_nonzero(c.free) / self.n_hosts,
            "queue_len": float(len(c.queue)),
        }
        truncated = self.placed >= self.n_jobs
        if not truncated:
            c.advance()
            truncated = not c.queue
        reward = float(sum(terms.values()))
        return (
            self._obs(),
            reward,
            False,
            bool(truncated),
            {"reward_terms": terms, "metrics": metrics},
        )
