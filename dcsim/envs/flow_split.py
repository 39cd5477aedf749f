"""`dcsim/FlowSplit-v0`: choose the routing policy and split factor for each arriving collective."""

from __future__ import annotations

import functools
from typing import Any, Literal, get_args

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pydantic import Field

from dcsim.config import MAX_STEPS
from dcsim.envs.contract import (
    METADATA,
    Encoder,
    EnvKwargs,
    Feature,
    Metric,
    RewardTerm,
    compiled_encoder,
    encode_rows,
    observation_space,
    parse_kwargs,
    render_frame,
    render_mode_arg,
    reward_weights,
    weigh,
)
from dcsim.errors import InputError
from dcsim.jit import numba_loaded
from dcsim.network import load_topology
from dcsim.network.background import BackgroundTraffic
from dcsim.network.patterns import (
    inter_tor_permutation,
    random_derangement,
    tor_demand,
    tor_members,
    tor_of_hosts,
    traffic_time,
)
from dcsim.network.routing import prefetch_paths
from dcsim.network.topology import FailureConfig

POLICIES = ("ecmp", "spray", "split", "colour")
SPLITS = (1, 2, 4, 8)
Pattern = Literal["ring", "permutation", "halving-doubling", "all-to-all"]
PATTERNS: tuple[Pattern, ...] = get_args(Pattern)


@functools.lru_cache(maxsize=16)
def _all_pairs(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (s, d), s != d, in row-major order: an all-to-all among p ranks (read-only)."""
    s_, d_ = np.divmod(np.arange(p * p), p)
    keep = s_ != d_
    s_, d_ = s_[keep], d_[keep]
    s_.setflags(write=False)
    d_.setflags(write=False)
    return s_, d_


def _f(name: str, unit: str, scale: float = 1.0, offset: float = 0.0) -> Feature:
    return Feature(name, unit, scale, low=0.0, high=1.0, offset=offset)


FEATURES = (
    *(_f(f"pattern_{p}", "1") for p in PATTERNS),  # one-hot
    _f("log2_size_B", "log2(B)", scale=12.0, offset=20.0),  # bytes per rank, 2^20..2^32
    _f("ranks_frac", "1"),  # job ranks / hosts
    _f("inter_tor_frac", "1"),  # share of flows that leave their ToR
    _f("tor_pair_load", "flows/path", scale=4.0),  # max flows between one ToR pair / paths
    _f("tor_out_load", "flows/uplink", scale=4.0),  # max inter-ToR flows leaving one ToR
    _f("failed_frac", "1"),  # failed switch cables / all switch cables
    _f("oversubscription", "1", scale=4.0),  # ToR down:up ratio
    _f("last_norm_time", "1", scale=10.0),  # previous step's time / lower bound
    _f("bg_flows", "flows/host"),  # active background flows / hosts
    _f("bg_link_flows", "flows", scale=8.0),  # most background flows on one switch link
)


class FlowSplitKwargs(EnvKwargs):
    """FlowSplit-v0 arguments (see the env's docstring)."""

    topology: str | dict[str, Any] = "leaf_spine_small"
    episode_steps: int = Field(32, ge=1, le=MAX_STEPS)
    patterns: tuple[Pattern, ...] = Field(PATTERNS, min_length=1)
    min_size: float = Field(float(1 << 20), gt=0, description="bytes per rank")
    max_size: float = Field(float(1 << 30), gt=0, description="bytes per rank")
    spray_efficiency: float = Field(0.9, gt=0, le=1)
    subflow_overhead_us: float = Field(2.0, ge=0)
    failure_fraction: float = Field(0.05, ge=0, lt=1)
    background_flows: float = Field(
        8.0, ge=0, description="other tenants' concurrent flows at line rate (Little's law)"
    )
    background_lifetime_ms: float = Field(
        20.0, gt=0, description="mean background flow lifetime alone at line rate"
    )  # defaults are an assumption: 1 GB (a checkpoint or dataset shard) at 400 Gb/s


class FlowSplitEnv(gym.Env):
    """Route each arriving collective step on a leaf-spine fabric: pick policy and split factor.

    ## Description
    Every step one traffic pattern arrives on the fabric (default
    `topologies/leaf_spine_small.yaml`, 64 hosts): one step of a ring, a halving-doubling
    exchange, an inter-ToR permutation or a small all-to-all, over a job of random size placed
    on random hosts, with a log-uniform message size. The agent picks how the flows are
    routed; the flows then run to completion under max-min fair sharing
    (`dcsim.network.flows`), and the completion time is the cost. Per-flow ECMP suffers hash
    collisions (3-6x slower than spraying on permutations, Addanki et al. arXiv 2407.00550);
    spraying is ideal in the fluid model but pays a goodput tax (`spray_efficiency`, an
    assumption standing for reordering and loss-recovery overheads of packet spraying on
    RoCE-class NICs); splitting into K subflows costs `subflow_overhead_us` per extra
    subflow (message setup), so the best choice depends on the pattern and size. Each episode
    draws fresh link failures (`failure_fraction`) and ECMP hash seeds.

    Other tenants' long-lived flows share the fabric (`dcsim.network.background`): Poisson
    arrivals, exponential lifetimes (mean `background_lifetime_ms` alone at line rate),
    `background_flows` concurrent on average at line rate, between servers under two
    different ToRs, ECMP-pinned, on the uplinks and spines only (the job owns its NICs).
    They progress under max-min sharing while the step's flows run and carry their bytes
    left into the next step; the env clock advances by each step's time and arrivals join
    at step boundaries. How a step is routed decides how far each of them gets, so a
    decision shapes the later steps: the env is not a contextual bandit.

    ## Action space
    `MultiDiscrete([4, 4])`: policy index into `POLICIES` = (ecmp, spray, split, colour)
    and split-factor index into `SPLITS` = (1, 2, 4, 8). ecmp with K hashes K connections
    independently (NCCL_IB_QPS_PER_CONNECTION); split is greedy least-loaded subflow
    placement; colour is the bipartite edge-colouring assignment; spray ignores K.

    ## Observation space
    `Box(0, 1, (14,), float32)`, entries declared in `FEATURES` (read them with
    `dcsim.envs.contract.physical`): one-hot pattern, log2 of the bytes per rank,
    job size share, inter-ToR flow share, worst ToR-pair and ToR-uplink demand relative to
    the paths available, failed-cable share, oversubscription / 4, the previous step's
    normalized time / 10, active background flows per host, and the most background flows
    on one switch link / 8. All values are clipped to [0, 1].

    ## Rewards
    `reward = -min(t / t_lb, 10)`, with t the step's completion time (flows plus
    per-subflow overhead, divided by `spray_efficiency` under spraying) and t_lb the
    NIC lower bound (most bytes through any host link / its capacity, without background).
    Reward is -1 when the fabric adds no delay. `info["reward_terms"] = {"time": reward}` (one term, weight
    `reward_weights["time"]`, default 1).

    ## Episode end
    Never terminates; truncates after `episode_steps` steps (default 32).

    ## Arguments
    `topology` (path, preset name or mapping; default "leaf_spine_small"),
    `episode_steps` (32), `patterns` (subset of `PATTERNS`), `min_size`/`max_size` bytes per
    rank (1 MiB, 1 GiB), `spray_efficiency` (0.9), `subflow_overhead_us` (2.0),
    `failure_fraction` (0.05: share of switch cables failed, redrawn each episode; with
    none, colouring is optimal on every pattern of a non-blocking leaf-spine),
    `background_flows` (8; 0 turns the background off), `background_lifetime_ms` (20; both
    an assumption: a 1 GB checkpoint or dataset shard at 400 Gb/s), `reward_weights`;
    validated by `FlowSplitKwargs`. `info` holds `reward_terms` and `metrics` (numeric ones
    declared in `METRICS`: time_s, lower_bound_s, split, congestion, norm_time,
    background_flows; labels policy, pattern, routing); no wall-clock values. Deterministic
    given the reset seed. Baselines (`dcsim.agents.routing`): ecmp, spray, greedy-split,
    split:1, colour.
    """

    metadata = METADATA
    render = render_frame
    Kwargs = FlowSplitKwargs
    REWARD = (RewardTerm("time", 1.0),)
    METRICS = (
        Metric("time_s", "s", "mean"),
        Metric("lower_bound_s", "s", "mean"),
        Metric("split", "subflows", "mean"),
        Metric("congestion", "1", "mean"),
        Metric("norm_time", "1", "mean"),
        Metric("background_flows", "flows", "mean"),
    )
    features = FEATURES

    def __init__(self, **kwargs: Any):
        super().__init__()
        self.render_mode = render_mode_arg(kwargs)
        self.kw = kw = parse_kwargs(self.Kwargs, kwargs)
        self.weights = reward_weights(self.REWARD, kw.reward_weights)
        if kw.min_size > kw.max_size:
            raise InputError("need min_size <= max_size", field="min_size")
        self.topology = kw.topology
        self.episode_steps = kw.episode_steps
        self.patterns = tuple(kw.patterns)
        self.min_size, self.max_size = kw.min_size, kw.max_size
        self.spray_efficiency = kw.spray_efficiency
        self.subflow_overhead_s = kw.subflow_overhead_us * 1e-6
        self.failure_fraction = kw.failure_fraction
        self._base = load_topology(kw.topology)
        self._fabrics: dict[int, Any] = {}
        self.action_space = spaces.MultiDiscrete([len(POLICIES), len(SPLITS)])
        self.observation_space = observation_space(self.features)
        self._encode = Encoder(self.features)
        self._set_fabric(self._base)
        self._t = 0
        self._last = 1.0
        self.background: BackgroundTraffic | None = None
        self.clock_s = 0.0

    # ------------------------------------------------------------ fabric and patterns
    def _fabric_for(self, fail_seed: int):
        if self.failure_fraction <= 0:
            return self._base
        if fail_seed not in self._fabrics:
            fail = FailureConfig(fraction=self.failure_fraction, seed=fail_seed)
            cfg = self._base.config.model_copy(update={"failures": fail})
            self._fabrics[fail_seed] = load_topology(cfg)
        return self._fabrics[fail_seed]

    def _sample(self) -> None:
        rng = self.np_random
        fab = self.fabric
        n = fab.n_hosts
        kind = self.patterns[int(rng.integers(len(self.patterns)))]
        size = float(np.exp(rng.uniform(np.log(self.min_size), np.log(self.max_size))))
        if kind == "permutation":
            try:
                src, dst = inter_tor_permutation(fab, rng)
            except ValueError:
                src = np.arange(n)
                dst = random_derangement(n, rng)
            p = n
            chunk = size
        else:
            sizes = [q for q in (8, 16, 32, 64, n) if q <= n]
            p = sizes[int(rng.integers(len(sizes)))]  # rng.choice(sizes)'s draw, cheaper
            if kind == "all-to-all":
                p = min(p, 16)
            hosts = rng.permutation(n)[:p]
            r = np.arange(p)
            if kind == "ring":
                src, dst, chunk = hosts, hosts[(r + 1) % p], size / p
            elif kind == "halving-doubling":
                m = 1 << (p.bit_length() - 1)
                dist = 1 << int(rng.integers(0, max(m.bit_length() - 1, 1)))
                v = np.arange(m)
                src, dst, chunk = hosts[v], hosts[v ^ dist], size / 2
            else:
                s_, d_ = _all_pairs(p)
                src, dst, chunk = hosts[s_], hosts[d_], size / p
        self._pattern = (kind, np.asarray(src), np.asarray(dst), float(chunk), p, size)

    def _obs(self) -> np.ndarray:
        kind, src, dst, _, p, size = self._pattern
        fab = self.fabric
        T = len(self._tor_first)
        n_inter, a, pair_flows, most_out = tor_demand(self._tor, T, src, dst)
        pair_load, out_load = 0.0, 0.0
        if n_inter:
            pair_load = pair_flows / max(self._n_paths(a // T, a % T), 1)
            n_up = max(self._n_paths(0, 1), 1) if T > 1 else 1
            out_load = most_out / n_up
        bg = self.background
        bg_link = 0.0
        if bg is not None and bg.n_active:
            # background flows cross switch links only: the busiest link is a switch link
            bg_link = float(bg.link_flows().max())
        return self._encode(
            [
                *(float(q == kind) for q in PATTERNS),
                np.log2(size),
                p / fab.n_hosts,
                n_inter / len(src) if len(src) else 0.0,  # share of flows leaving their ToR
                pair_load,
                out_load,
                self._failed_frac,
                fab.oversubscription,
                self._last,
                (bg.n_active / fab.n_hosts) if bg is not None else 0.0,
                bg_link,
            ]
        )

    def _set_fabric(self, fab: Any) -> None:
        """Per-fabric constants of the observation, computed once per episode."""
        self.fabric = fab
        prefetch_paths(fab)
        self._tor = tor_of_hosts(fab)
        self._tor_first = np.array([m[0] for m in tor_members(fab)])
        self._paths_between: dict[int, int] = {}  # by ToR pair a * T + b
        self._host_bw = fab.host_link_Bps()
        sw_cables = (
            np.sum((fab.node_tier[fab.link_src] > 0) & (fab.node_tier[fab.link_dst] > 0)) / 2
        )
        self._failed_frac = len(fab.failed) / max(sw_cables + len(fab.failed), 1)

    def _n_paths(self, a: int, b: int) -> int:
        """Equal-cost paths between the first hosts of ToR groups a and b."""
        key = a * len(self._tor_first) + b
        n = self._paths_between.get(key)
        if n is None:
            f = self._tor_first
            n = self._paths_between[key] = self.fabric.n_paths(f[a], f[b])
        return n

    # ------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._t = 0
        self._last = 1.0
        self._ecmp_seed = int(self.np_random.integers(0, 2**31 - 1))
        self._set_fabric(self._fabric_for(int(self.np_random.integers(0, 2**31 - 1))))
        bg_seed = int(self.np_random.integers(0, 2**31 - 1))
        self.clock_s = 0.0
        self.background = (
            BackgroundTraffic(
                self.fabric,
                self.kw.background_flows,
                self.kw.background_lifetime_ms * 1e-3,
                seed=bg_seed,
            )
            if self.kw.background_flows > 0
            else None
        )
        self._sample()
        return self._obs(), {}

    def evaluate(self, action: Any) -> dict[str, Any]:
        """Time the current pattern under an action without advancing (for baselines/tests)."""
        return self._run(action)[0]

    def _run(self, action: Any) -> tuple[dict[str, Any], np.ndarray | None]:
        """Metrics of the current pattern under an action, and the background bytes left."""
        a = np.asarray(action, dtype=np.int64).reshape(-1)
        i, j = a.tolist() if a.shape == (2,) else (-1, -1)
        if not (0 <= i < len(POLICIES) and 0 <= j < len(SPLITS)):
            raise InputError(
                f"action must be in {self.action_space} (got {action!r})", field="action"
            )
        policy, k = POLICIES[i], SPLITS[j]
        kind, src, dst, chunk, _, _ = self._pattern
        routing = "spray" if policy == "spray" else f"{policy}:{k}"
        res = traffic_time(
            self.fabric, src, dst, chunk, routing, seed=self._ecmp_seed, background=self.background
        )
        t = res.time_s
        if policy == "spray":
            t /= self.spray_efficiency
        else:
            t += (k - 1) * self.subflow_overhead_s
        # most flows out of or into one host x chunk: the busiest NIC's bytes (exactly the
        # max of the per-host bytes, as chunk > 0)
        n = self.fabric.n_hosts
        most = max(
            int(np.bincount(src, minlength=n).max()), int(np.bincount(dst, minlength=n).max())
        )
        lb = most * chunk / self._host_bw
        bg = self.background
        return {
            "time_s": float(t),
            "lower_bound_s": float(lb),
            "policy": policy,
            "split": int(k if policy != "spray" else 1),
            "pattern": kind,
            "congestion": float(res.congestion),
            "routing": routing,
            "background_flows": float(bg.n_active if bg is not None else 0),
        }, res.background_left

    def step(self, action: Any):
        m, left = self._run(action)
        if self._encode.fn is encode_rows and numba_loaded():  # the network kernels loaded it
            self._encode.fn = compiled_encoder()  # NumPy's numbers (test_env_contract)
        if self.background is not None and left is not None:
            self.background.update(left)  # other tenants' flows carry their progress on
        self.clock_s += m["time_s"]
        norm = min(m["time_s"] / m["lower_bound_s"], 10.0) if m["lower_bound_s"] > 0 else 1.0
        terms = weigh(self.weights, {"time": -float(norm)})
        reward = float(sum(terms.values()))
        self._last = norm
        self._t += 1
        truncated = self._t >= self.episode_steps
        info = {"reward_terms": terms, "metrics": {**m, "norm_time": float(norm)}}
        if self.background is not None:
            self.background.admit(self.clock_s)  # arrivals join at the next step
        self._sample()
        return self._obs(), reward, False, bool(truncated), info
