"""`dcsim/Placement-v0`: place arriving data-parallel training jobs on a leaf-spine fabric."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

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
from dcsim.schema import validate_model

REWARD_TERMS = ("comm", "energy", "fragmentation", "queue")
DEFAULT_WEIGHTS = {"comm": 1.0, "energy": 0.0, "fragmentation": 0.2, "queue": 0.5}


def _resolve_topology(topology: Any) -> Any:
    if isinstance(topology, str | Path):
        return resolve_topology_path(topology)
    return topology


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
        mix: dict[str, Any] = {
            "load": load,
            "mfu": mfu,
            "overlap": overlap,
            "tokens_per_gpu": tokens_per_gpu,
        }
        if job_sizes is not None:
            mix["job_sizes"] = job_sizes
        self.mix = validate_model(JobMixConfig, mix)
        self.jf = JobFabric(load_topology(_resolve_topology(topology)), routing)
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
        self.device = DevicePowerModel.from_profile(prof)
        self.n_jobs = int(n_jobs)
        self.routing = routing
        self.action_space = spaces.Discrete(len(RULES))
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(3 * self.n_leaves + 6,), dtype=np.float32
        )
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
        out_flows = (
            np.bincount(self.host_leaf[c.run_src], minlength=L) if len(c.run_src) else np.zeros(L)
        )
        job = c.head
        if job is not None:
            g = job.gpus
            head = [
                min(g / self.hpl, 1.0),
                min(job.grad_bytes / 2**35, 1.0),
                min((c.now - job.arrival_s) / self.mean_duration, 1.0),
            ]
        else:
            g, head = self.n_hosts + 1, [0.0, 0.0, 0.0]
        vals = np.concatenate(
            [
                free_leaf / self.jf.per_leaf,
                np.minimum(out_flows / np.maximum(self.jf.uplinks, 1), 1.0),
                (free_leaf >= g).astype(float),
                [
                    head[0],
                    head[1],
                    c.free.mean(),
                    min(len(c.queue) / 16, 1.0),
                    head[2],
                    self.placed / self.n_jobs,
                ],
            ]
        )
        return np.clip(vals, 0.0, 1.0).astype(np.float32)

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
        energy_j = job.energy_j(st, self.device)
        ideal_j = job.energy_j(ideal_st, self.device)
        wait = c.now - job.arrival_s
        c.start_head(hosts, runtime)
        self.placed += 1
        frag = jf.fragmentation(c.free)
        w = self.weights
        terms = {
            "comm": -w["comm"] * (runtime / ideal_runtime - 1.0),
            "energy": -w["energy"] * (energy_j / ideal_j - 1.0),
            "fragmentation": -w["fragmentation"] * frag,
            "queue": -w["queue"] * wait / self.mean_duration,
        }
        leaves = int(len(np.unique(self.host_leaf[hosts])))
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
            "fragmentation": float(frag),
            "utilization": float(1.0 - c.free.mean()),
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
