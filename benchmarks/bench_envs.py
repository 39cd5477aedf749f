"""Env steps per second for every dcsim env, through the Gymnasium API (pytest-benchmark).

Run: pytest benchmarks/bench_envs.py --benchmark-only -q
Each round resets (outside the timing where possible) and takes N steps with a fixed
heuristic or sampled action; steps/s = N / mean round time. Target (issue 6):
Cooling-v0 with 1,024 accelerators >= 5,000 steps/s on one core.
"""

from __future__ import annotations

import numpy as np
import pytest
from dcsim.agents import make_agent

from dcsim.envs.cooling import CoolingEnv
from dcsim.envs.datacenter import DatacenterEnv
from dcsim.envs.flow_split import FlowSplitEnv
from dcsim.envs.placement import PlacementEnv
from dcsim.envs.power_cap import PowerCapEnv


def _steps(env, agent, n: int, seed: int = 0) -> None:
    obs, _ = env.reset(seed=seed)
    agent.reset()
    for _ in range(n):
        obs, _, term, trunc, _ = env.step(agent.predict(obs))
        if term or trunc:
            obs, _ = env.reset()


CASES = {
    "cooling-1024": (lambda: CoolingEnv(n_accelerators=1024, episode_steps=1000), "reactive", 1000),
    "cooling-16384": (
        lambda: CoolingEnv(n_accelerators=16384, episode_steps=1000),
        "reactive",
        1000,
    ),
    "datacenter-256": (lambda: DatacenterEnv(steps=200), "reactive", 200),
    "powercap-60": (lambda: PowerCapEnv(), "polca", 360),
    "flowsplit-64": (lambda: FlowSplitEnv(episode_steps=64), "spray", 64),
    "placement-64": (lambda: PlacementEnv(n_jobs=512), "pack", 512),
    "placement-256": (
        lambda: PlacementEnv(topology="leaf_spine_256.yaml", n_jobs=512),
        "pack",
        512,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_env_steps(benchmark, case: str) -> None:
    build, agent_name, n = CASES[case]
    env = build()
    agent = make_agent(agent_name, env)
    _steps(env, agent, n)  # warm caches (Placement's collective times, FlowSplit fabrics)
    benchmark.extra_info["steps_per_round"] = n
    benchmark.pedantic(_steps, args=(env, agent, n), rounds=3, iterations=1)


def test_placement_random_actions(benchmark) -> None:
    """Mixed rules touch more distinct rank sets: the cache-miss-heavy case."""
    env = PlacementEnv(n_jobs=512)
    agent = make_agent("random", env)
    benchmark.extra_info["steps_per_round"] = 512
    benchmark.pedantic(_steps, args=(env, agent, 512, 1), rounds=3, iterations=1)
    assert np.isfinite(env.cluster.now)
