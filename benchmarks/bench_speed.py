"""Issue 17 figures in CPU time: env steps/s, the batched Cooling-v0 and Datacenter-v0, start-up
(pytest-benchmark).

Run: pytest benchmarks/bench_speed.py -q -s   (prints the CPU-time figures; -p no:xdist)
CPU time (`time.process_time`, children's rusage for subprocesses) approximates an idle core
on a shared machine; pytest-benchmark's own columns are wall time. Every env is made with
`gym.make` (its wrappers included) and driven by uniform random actions drawn up front from a
seeded `action_space` (so `Box.sample`, ~15-20 % of a Cooling-v0 step, is not timed);
`test_env_sampled_actions` times Cooling-v0 with `sample()` inside the loop as well.
Figures and targets: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dcsim.envs  # noqa: F401  (registers the ids)
from dcsim.envs.datacenter_vector import DatacenterVectorEnv
from dcsim.envs.vector import CoolingVectorEnv

STEPS = {"Cooling": 3000, "Datacenter": 1500, "PowerCap": 1000, "Placement": 1000, "FlowSplit": 300}


def _cpu_steps_per_s(env_id: str, n: int, presample: bool = True) -> float:
    env = gym.make(env_id)
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(min(50, n)):  # warm caches (fabrics, collective times)
        if any(env.step(env.action_space.sample())[2:4]):
            env.reset()
    acts = [env.action_space.sample() for _ in range(n)] if presample else None
    env.reset(seed=1)
    t0 = time.process_time()
    for i in range(n):
        a = acts[i] if acts is not None else env.action_space.sample()
        if any(env.step(a)[2:4]):
            env.reset()
    return n / (time.process_time() - t0)


def _report(benchmark, key: str, value: float, unit: str) -> None:
    benchmark.extra_info[key] = round(value, 1)
    print(f"\n  {benchmark.name}: {value:,.{0 if value >= 100 else 2}f} {unit}")


@pytest.mark.parametrize("env", list(STEPS))
def test_env_cpu_steps_per_s(benchmark, env: str) -> None:
    rate = benchmark.pedantic(
        _cpu_steps_per_s, args=(f"dcsim/{env}-v0", STEPS[env]), rounds=1, iterations=1
    )
    _report(benchmark, "steps_per_cpu_s", rate, "steps per CPU-second")
    assert rate > 0


def test_env_sampled_actions(benchmark) -> None:
    rate = benchmark.pedantic(
        _cpu_steps_per_s, args=("dcsim/Cooling-v0", 3000, False), rounds=1, iterations=1
    )
    _report(benchmark, "steps_per_cpu_s", rate, "steps per CPU-second (Box.sample timed)")
    assert rate > 0


def _vector_rate(num_envs: int, steps: int) -> float:
    venv = CoolingVectorEnv(num_envs)
    venv.reset(seed=0)
    acts = np.random.default_rng(0).uniform(-1, 1, (steps, num_envs, 3)).astype(np.float32)
    for a in acts[:10]:
        venv.step(a)
    t0 = time.process_time()
    for a in acts:
        venv.step(a)
    return steps * num_envs / (time.process_time() - t0)


@pytest.mark.parametrize("num_envs", [1, 16, 64])
def test_cooling_vector_env(benchmark, num_envs: int) -> None:
    rate = benchmark.pedantic(_vector_rate, args=(num_envs, 200), rounds=1, iterations=1)
    _report(benchmark, "env_steps_per_cpu_s", rate, "env-steps per CPU-second")
    assert rate > 0


def _dc_vector_rate(num_envs: int, steps: int) -> float:
    """Batched Datacenter-v0 on its default task, random actions drawn up front, CPU time
    (episodes of 1,440 steps: no auto-reset in the timed loop)."""
    venv = DatacenterVectorEnv(num_envs)
    venv.reset(seed=0)
    acts = np.random.default_rng(0).uniform(-1, 1, (steps + 10, num_envs, 5)).astype(np.float32)
    for a in acts[:10]:
        venv.step(a)
    t0 = time.process_time()
    for a in acts[10:]:
        venv.step(a)
    return steps * num_envs / (time.process_time() - t0)


@pytest.mark.parametrize("num_envs", [1, 16, 64])
def test_datacenter_vector_env(benchmark, num_envs: int) -> None:
    rate = benchmark.pedantic(_dc_vector_rate, args=(num_envs, 200), rounds=1, iterations=1)
    _report(benchmark, "env_steps_per_cpu_s", rate, "env-steps per CPU-second")
    assert rate > 0


@pytest.fixture(scope="module")
def child_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Children keep compiled bytecode between rounds, as an installed package has its .pyc:
    with PYTHONDONTWRITEBYTECODE set (as in some shells) every round would recompile dcsim's
    sources (~0.05 s). The cache lives in a temporary folder, not the source tree."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pyc"))
    return env


def _child_cpu_s(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    """CPU seconds of the whole child process (start to exit) and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def test_startup_cli_help(benchmark, child_env: dict[str, str]) -> None:
    script = Path(sys.executable).with_name("dcsim")  # the installed console script
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "dcsim.cli"]
    cpu, _ = benchmark.pedantic(_child_cpu_s, args=([*cmd, "--help"], child_env), rounds=3)
    _report(benchmark, "cpu_s", cpu, "CPU-s (last round) for dcsim --help")


@pytest.mark.parametrize("env", [*STEPS, "CoDesign"])
def test_startup_first_make(benchmark, child_env: dict[str, str], env: str) -> None:
    """Fresh interpreter: import gymnasium + dcsim.envs, gym.make, reset. `cpu_s` is the
    child's CPU time from its start (interpreter start-up included) to reset's return, as
    it prints it; `process_cpu_s` adds the interpreter's exit (~0.07 s: module teardown and
    final garbage collections), which a user does not wait for before stepping."""
    code = (
        "import time\nimport gymnasium as gym, dcsim.envs\n"
        f"e = gym.make('dcsim/{env}-v0')\ne.reset(seed=0)\nprint(time.process_time())\n"
    )
    whole, out = benchmark.pedantic(
        _child_cpu_s, args=([sys.executable, "-c", code], child_env), rounds=3
    )
    benchmark.extra_info["process_cpu_s"] = round(whole, 3)
    _report(
        benchmark, "cpu_s", float(out.split()[-1]), f"CPU-s (last round) to first {env}-v0 reset"
    )
    print(f"  (whole process incl. interpreter exit: {whole:.2f} CPU-s)")


def _cooling_readable_rate(n: int) -> float:
    """Cooling-v0 through gym.make on the readable NumPy plant step (as without numba)."""
    env = gym.make("dcsim/Cooling-v0")
    env.unwrapped.use_fast = False
    env.action_space.seed(0)
    acts = [env.action_space.sample() for _ in range(n)]
    env.reset(seed=1)
    t0 = time.process_time()
    for a in acts:
        if any(env.step(a)[2:4]):
            env.reset()
    return n / (time.process_time() - t0)


def test_cooling_readable_path(benchmark) -> None:
    rate = benchmark.pedantic(_cooling_readable_rate, args=(3000,), rounds=1, iterations=1)
    _report(benchmark, "steps_per_cpu_s", rate, "steps per CPU-second (no numba: NumPy path)")
    assert rate > 0


def _vector_episodes_rate(num_envs: int, steps: int, fast: bool = True) -> float:
    """Like _vector_rate, over a whole episode: every hall's reset (weather, load) is timed."""
    venv = CoolingVectorEnv(num_envs)
    venv.use_fast = fast
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        venv.step(rng.uniform(-1, 1, (num_envs, 3)).astype(np.float32))
    acts = rng.uniform(-1, 1, (steps, num_envs, 3)).astype(np.float32)
    t0 = time.process_time()
    for a in acts:
        venv.step(a)
    return steps * num_envs / (time.process_time() - t0)


def test_cooling_vector_env_with_resets(benchmark) -> None:
    """N=64 over 1,500 steps: each hall's 1,440-step episode ends (and resets) once."""
    rate = benchmark.pedantic(_vector_episodes_rate, args=(64, 1500), rounds=1, iterations=1)
    _report(benchmark, "env_steps_per_cpu_s", rate, "env-steps per CPU-second, resets included")
    assert rate > 0


def test_cooling_vector_env_numpy_path(benchmark) -> None:
    """N=64 on the NumPy path (numba absent), 200 steps as test_cooling_vector_env."""
    rate = benchmark.pedantic(_vector_episodes_rate, args=(64, 200, False), rounds=1, iterations=1)
    _report(benchmark, "env_steps_per_cpu_s", rate, "env-steps per CPU-second (NumPy path)")
    assert rate > 0
