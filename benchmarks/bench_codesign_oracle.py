"""Cost of the CoDesign-v0 oracle MPC (issue 13.4): CPU seconds per 2-day episode.

Run: python benchmarks/bench_codesign_oracle.py [seeds]   (default 2 seeds from 1000), or
pytest benchmarks/bench_codesign_oracle.py --benchmark-only -q (one episode; one plan).
The oracle (`agents/codesign_oracle.py`, defaults: 8 candidates, re-plan every 12 steps,
72-step horizon) on the held-out task (`scenarios/tasks/codesign.yaml`, 512 H100s): per
episode, CPU seconds, rollout env steps and env steps per CPU-second including rollouts. The
comparison on the held-out suite is `dcsim compare` (docs/codesign.md has the command).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from dcsim.agents.codesign_oracle import OracleMPC

from dcsim.envs.codesign import CoDesignEnv

TASK = Path(__file__).resolve().parents[1] / "scenarios" / "tasks" / "codesign.yaml"


def oracle_episode(env: CoDesignEnv, seed: int) -> tuple[float, int, Counter]:
    """(CPU seconds, env steps incl. rollouts, candidates chosen) of one oracle episode."""
    oracle = OracleMPC(env)
    t = time.process_time()
    obs, _ = env.reset(seed=seed)
    oracle.reset()
    n, done = 0, False
    while not done:
        obs, _, term, trunc, _ = env.step(oracle.predict(obs))
        n += 1
        done = term or trunc
    return time.process_time() - t, n + oracle.rollout_steps, Counter(oracle.chosen)


def _env() -> CoDesignEnv:
    return CoDesignEnv(**yaml.safe_load(TASK.read_text())["kwargs"])


def test_oracle_episode(benchmark) -> None:
    env = _env()
    got = benchmark.pedantic(lambda: oracle_episode(env, 1000), rounds=1, iterations=1)
    benchmark.extra_info["env_steps_per_cpu_s"] = got[1] / got[0]


def test_oracle_plan(benchmark) -> None:
    """One re-plan (8 candidates x 72-step rollouts) from the state after 6 h of the composite."""
    env = _env()
    oracle = OracleMPC(env)
    obs, _ = env.reset(seed=1000)
    for _ in range(72):
        obs, *_ = env.step(oracle.base.predict(obs))
    choice = benchmark.pedantic(lambda: oracle.plan(obs), rounds=3, iterations=1)
    assert choice in oracle.candidates


@pytest.fixture(autouse=True)
def _warm_caches() -> None:
    """Serving DES table and routes are process-wide caches; build them untimed."""
    env = _env()
    env.reset(seed=0)


if __name__ == "__main__":
    n_seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    env = _env()
    for seed in range(1000, 1000 + n_seeds):
        cpu, steps, chosen = oracle_episode(env, seed)
        print(
            f"seed {seed}: {cpu:.1f} CPU-s per episode, {steps:,} env steps "
            f"({steps / cpu:,.0f} per CPU-s), chosen {dict(chosen)}"
        )
