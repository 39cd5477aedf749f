"""The compiled Datacenter-v0 interval (`dcsim.sim_kernel`) is `Simulation.step`, fast.

The kernel composes the job's clock, step time and phases (`dcsim.workload.book_phases`,
compiled as written), server and rack power, the cooling plant (`dcsim.cooling.fast`, the
compiled `CoolingPlant.step`) and facility power. Every record field must equal the readable
`Simulation.step`'s to a relative 1e-12 (libm's sinh/asinh/exp against NumPy's SIMD ones
differ in the last bit), with the same phase clock and completed iterations; its compiled
code must equal its own Python source run by the interpreter, bitwise; without numba
Datacenter-v0 takes the NumPy path (`Simulation.step`, bitwise) with the same numbers.
"""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("dcsim.sim_kernel", exc_type=ImportError)  # numba, not DCSIM_NO_JIT=1

from dcsim.config import load_scenario  # noqa: E402
from dcsim.envs.datacenter import DatacenterEnv  # noqa: E402
from dcsim.sim import Controls, Simulation  # noqa: E402
from dcsim.sim_fast import FastSimulation  # noqa: E402
from dcsim.workload import PhaseClock, StepTime  # noqa: E402

RTOL = 1e-12
ATOL = 1e-11  # differences such as inlet - limit (K) lose the rtol of their terms

SCENARIOS = {
    "comm": ("datacenter_comm.yaml", {}),
    "default": ("default.yaml", {}),
    # idle servers and a last rack that is not full: racks of different kinds of servers
    "mixed_racks": (
        "default.yaml",
        {"workload.active_fraction": 0.6, "cluster.servers": 31, "cluster.servers_per_rack": 3},
    ),
    # intervals shorter than a phase: partial phases booked
    "short_dt": ("default.yaml", {"time.dt_s": 7.0, "workload.active_fraction": 0.5}),
    # recirculation: inlets above the limit, the thermal throttle feeds the next clock
    "throttled": ("default.yaml", {"cooling.air.recirculation_mean": 0.3}),
    "no_job": ("default.yaml", {"workload.active_fraction": 0.0}),
}


def _controls(rng: np.random.Generator, k: int) -> Controls:
    return Controls(
        supply_air_c=float(rng.uniform(16, 32)) if k % 5 else 32.0,
        chw_supply_c=float(rng.uniform(6, 18)) if k % 6 else None,  # None: the plant's reset
        cap_frac=float(rng.uniform(0.3, 1.0)),
        routing=str(rng.choice(["ecmp", "spray"])),
        economizer=str(rng.choice(["off", "auto", "on"])) if k % 7 else None,
    )


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) + ATOL


@pytest.mark.parametrize("case", sorted(SCENARIOS))
def test_kernel_step_equals_simulation(case: str) -> None:
    """150 intervals under random controls: every record field to 1e-12, the same phase
    clock and completed iterations."""
    scenario, overrides = SCENARIOS[case]
    loaded = load_scenario(scenario, overrides)
    a, b = Simulation(loaded), FastSimulation(loaded)
    rng = np.random.default_rng(1)
    lowest = 1.0
    for k in range(150):
        c = _controls(rng, k)
        ra, rb = a.step(c).as_row(), b.step(c).as_row()
        assert list(ra) == list(rb)
        for key, v in ra.items():
            assert _close(rb[key], v), (k, key, rb[key], v)
        assert a.phase.comm == b.phase.comm, k
        assert _close(a.phase.left, b.phase.left), k
        assert a.total_iterations == b.total_iterations, k
        assert np.allclose(a.throttle, b.throttle, rtol=RTOL, atol=ATOL), k
        lowest = min(lowest, ra["throttle_min"])
    assert b.kernel() is not None  # the compiled step ran
    if case == "throttled":
        assert lowest < 0.99  # the throttle branch ran


def test_scenarios_outside_the_kernel_take_the_readable_step() -> None:
    """A liquid loop (scalar, between rack power and the water side) is not in the kernel:
    the step is `Simulation.step`'s, bitwise."""
    loaded = load_scenario("default.yaml", {"cooling.type": "liquid"})
    a, b = Simulation(loaded), FastSimulation(loaded)
    assert b.kernel() is None
    rng = np.random.default_rng(2)
    for k in range(20):
        c = _controls(rng, k)
        assert a.step(c).as_row() == b.step(c).as_row()


def test_unknown_economizer_mode_steps_as_the_readable_path() -> None:
    """A mode the kernel has no code for is left to `Simulation.step` (same record)."""
    loaded = load_scenario("datacenter_comm.yaml")
    a, b = Simulation(loaded), FastSimulation(loaded)
    c = Controls(economizer="sometimes")
    assert a.step(c).as_row() == b.step(c).as_row()


def test_compiled_phase_booking_is_phase_clock_bitwise() -> None:
    """`book_phases` compiled equals `PhaseClock.advance` (its interpreted form) on random
    clocks, step times and spans, including phases ending exactly at the interval's end."""
    from dcsim import sim_kernel

    rng = np.random.default_rng(3)
    for i in range(3000):
        comm, left = bool(rng.integers(2)), float(rng.choice([1.0, rng.uniform(0, 1)]))
        compute, exposed = float(rng.uniform(0.5, 30)), float(rng.choice([0.0, rng.uniform(0, 9)]))
        span = float(rng.choice([60.0, 7.0, compute + exposed, 3 * (compute + exposed)]))
        st = StepTime(compute, exposed, exposed)
        booking, clock = PhaseClock(comm, left).advance(st, span)
        got = sim_kernel._book_phases(comm, left, compute, exposed, st.total_s, span)
        want = (booking.compute_s, booking.comm_s, booking.iterations, booking.completed)
        assert got == (*want, clock.comm, clock.left), i


_PY = """
import json
import numpy as np
from dcsim.config import load_scenario
from dcsim.envs.datacenter_vector import DatacenterVectorEnv
from dcsim.sim import Controls
from dcsim.sim_fast import FastSimulation

sim = FastSimulation(load_scenario("default.yaml", {"cooling.air.recirculation_mean": 0.3}))
rng = np.random.default_rng(5)
rows = []
for k in range(30):
    c = Controls(supply_air_c=float(rng.uniform(16, 33)), chw_supply_c=float(rng.uniform(6, 18)),
                 cap_frac=float(rng.uniform(0.3, 1.0)), routing="ecmp",
                 economizer=["off", "auto", "on"][k % 3])
    rows.append(sim.step(c).as_row())
assert sim.kernel() is not None
venv = DatacenterVectorEnv(3, steps=8, overrides={"cooling.air.recirculation_mean": 0.3})
obs, _ = venv.reset(seed=1)
out = [obs.tolist()]
for a in rng.uniform(-1, 1, (12, 3, 5)):
    obs, rew, _, _, _ = venv.step(a)
    out.append([obs.tolist(), rew.tolist()])
assert venv._kernel() is not None
print(json.dumps([rows, out]))
"""


def test_compiled_kernel_equals_its_python_source_bitwise() -> None:
    """The same sources (sim kernel, plant kernel, phase booking, the batch's wiring) run by
    numba and by the interpreter (NUMBA_DISABLE_JIT=1): the same records and observations."""
    outs = []
    for disable in ("0", "1"):
        env = {**os.environ, "NUMBA_DISABLE_JIT": disable}
        run = subprocess.run(
            [sys.executable, "-c", _PY], capture_output=True, text=True, env=env, check=True
        )
        outs.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert outs[0] == outs[1]


def _episode(env: DatacenterEnv, acts: np.ndarray) -> list[tuple]:
    obs, _ = env.reset(seed=6)
    rows: list[tuple] = [(obs, 0.0, {})]
    for a in acts:
        obs, r, _, _, info = env.step(a)
        rows.append((obs, r, info["metrics"]))
    return rows


def test_env_without_numba_takes_the_readable_path(monkeypatch) -> None:
    """numba missing (or DCSIM_NO_JIT=1): Datacenter-v0 steps `Simulation.step`, and its
    numbers are the compiled step's to 1e-12."""
    import dcsim.jit as jit

    kw = {"steps": 30, "overrides": {"cooling.air.recirculation_mean": 0.3}}
    acts = np.random.default_rng(7).uniform(-1, 1, (25, 5)).astype(np.float32)
    fast_env = DatacenterEnv(**kw)
    got = _episode(fast_env, acts)
    assert fast_env.sim.kernel() is not None
    monkeypatch.setattr(jit, "_NUMBA", False)  # what dcsim.jit decides without numba
    for mod in ("dcsim.sim_kernel", "dcsim.cooling.fast"):
        monkeypatch.delitem(sys.modules, mod)
    slow_env = DatacenterEnv(**kw)
    want = _episode(slow_env, acts)
    assert slow_env.sim.kernel() is None
    monkeypatch.undo()
    readable = DatacenterEnv(**kw)
    readable.sim.use_kernel = False
    assert all(
        np.array_equal(x[0], y[0]) and x[1] == y[1] and x[2] == y[2]
        for x, y in zip(_episode(readable, acts), want, strict=True)
    )
    for k, (f, s) in enumerate(zip(got, want, strict=True)):
        # float32 observations of values equal to 1e-12: at most one float32 rounding apart
        assert np.allclose(f[0], s[0], rtol=2e-7, atol=1e-7), k
        assert _close(f[1], s[1]), k
        for key, v in s[2].items():
            assert _close(f[2][key], v), (k, key)


def test_env_and_batch_pickle_and_copy_mid_episode() -> None:
    """The compiled code is not part of the state: a pickled or deep-copied Datacenter-v0
    (and batch) continues exactly as the original."""
    from dcsim.envs.datacenter_vector import DatacenterVectorEnv

    acts = np.random.default_rng(8).uniform(-1, 1, (8, 2, 5)).astype(np.float32)
    env, venv = DatacenterEnv(steps=20), DatacenterVectorEnv(2, steps=20)
    env.reset(seed=1)
    venv.reset(seed=1)
    for a in acts[:4]:
        env.step(a[0])
        venv.step(a)
    for make in (copy.deepcopy, lambda x: pickle.loads(pickle.dumps(x))):
        a_env, twin = copy.deepcopy(env), make(env)
        a_venv, vtwin = copy.deepcopy(venv), make(venv)
        for a in acts[4:]:
            o1, r1, *_ = a_env.step(a[0])
            o2, r2, *_ = twin.step(a[0])
            assert np.array_equal(o1, o2) and r1 == r2
            v1, w1, *_ = a_venv.step(a)
            v2, w2, *_ = vtwin.step(a)
            assert np.array_equal(v1, v2) and np.array_equal(w1, w2)
    assert math.isfinite(r1)
