"""The Simulation's fast path (dcsim.sim_fast) gives the readable path's numbers.

The job's SimPy process books each phase as differences of its absolute clock (t up to
~1e4 s here, so ~2e-12 s per event); the closed form books the same durations without that
rounding. Seconds are compared to 1e-9 s (hundreds of events' rounding), completed steps and
phases exactly, whole step records to 1e-10 (over a whole 1,440-step day the records differ by
at most ~1e-11 relative, 1e-10 on the small `violation_c`, all from SimPy's clock); everything
else that is claimed bitwise is compared with ==.
"""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.config import load_scenario
from dcsim.hardware import get_profile
from dcsim.power import DevicePowerModel
from dcsim.sim import Controls, Simulation
from dcsim.sim_fast import FastSimulation, interval_starts, job_interval, job_interval_batch
from dcsim.workload import StepTime

DT = 60.0


@pytest.fixture(scope="module")
def loaded():
    return load_scenario("datacenter_comm.yaml")


def _step_times(rng: np.random.Generator, n: int) -> list[StepTime]:
    """Random step times with the edge cases: no exposed comm, exact divisors of dt (phases
    ending exactly at an interval's end), a phase longer than dt, tiny phases."""
    fixed = [(20.0, 10.0), (15.0, 0.0), (7.5, 2.5), (45.0, 30.0), (90.0, 5.0), (0.25, 0.0)]
    out = []
    for k in range(n):
        if k % 3 == 0:
            c, e = fixed[(k // 3) % len(fixed)]
        else:
            c = float(rng.uniform(0.3, 80.0))
            e = 0.0 if rng.random() < 0.2 else float(rng.uniform(0.0, 40.0))
        out.append(StepTime(compute_s=c, comm_s=e, exposed_comm_s=e))
    return out


def test_job_interval_matches_simpy_process(loaded) -> None:
    """Closed form vs `Simulation._job` (the SimPy process) over 400 intervals whose step time
    changes every interval: same phase times, iterations and completed steps."""
    sim = Simulation(loaded)
    sts = _step_times(np.random.default_rng(3), 400)
    comm, left = False, 1.0
    t = sim.t0
    for k, st in enumerate(sts):
        sim.k, sim._cur_step = k, st
        acc = sim._run_job(t + DT)
        t = t + DT
        cs, es, it, done, comm, left = job_interval(comm, left, st.compute_s, st.exposed_comm_s, DT)
        assert done == acc.completed, k
        assert cs == pytest.approx(acc.compute_s, abs=1e-9), k
        assert es == pytest.approx(acc.comm_s, abs=1e-9), k
        assert it == pytest.approx(acc.iterations, rel=1e-12), k
        assert cs + es == pytest.approx(DT, abs=1e-9)


def test_job_interval_batch_is_scalar_bitwise() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    sts = _step_times(rng, n)
    c = np.array([s.compute_s for s in sts])
    e = np.array([s.exposed_comm_s for s in sts])
    comm = rng.random(n) < 0.5
    left = np.where(rng.random(n) < 0.3, 1.0, rng.uniform(1e-10, 1.0, n))
    got = job_interval_batch(comm, left, c, e, DT)
    for i in range(n):
        want = job_interval(bool(comm[i]), float(left[i]), float(c[i]), float(e[i]), DT)
        assert tuple(x[i] for x in got) == want, i


def test_freq_for_cap_scalar_is_array_bitwise() -> None:
    rng = np.random.default_rng(0)
    for hw in ("H100-SXM", "MI300X", "Ascend-910B"):
        m = DevicePowerModel.from_profile(get_profile(hw))
        for _ in range(3000):
            cap, a = float(rng.uniform(0.0, 1.2) * m.tdp_w), float(rng.uniform(-0.1, 1.1))
            assert m.freq_for_cap_scalar(cap, a) == float(m.freq_for_cap(cap, a))


def test_power_scalars_are_array_bitwise() -> None:
    rng = np.random.default_rng(1)
    for hw in ("H100-SXM", "MI300X", "Ascend-910B"):
        m = DevicePowerModel.from_profile(get_profile(hw))
        for _ in range(2000):
            a, f = float(rng.uniform(-0.1, 1.1)), float(rng.uniform(0.0, 1.1))
            assert m.power_w_scalar(a, f) == float(m.power_w(a, f))
            mb, f1 = float(rng.uniform(-0.2, 1.2)), float(rng.uniform(0.1, 1.0))
            assert m.time_scale_scalar(f1, mb) == float(m.time_scale(f1, mb))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        # part of the cluster idle, a last rack that is not full, 3 servers per rack
        {"workload.active_fraction": 0.6, "cluster.servers": 31, "cluster.servers_per_rack": 3},
    ],
)
def test_server_power_per_kind_is_per_server_bitwise(overrides: dict) -> None:
    loaded = load_scenario("default.yaml", overrides)
    fast = FastSimulation(loaded)
    rng = np.random.default_rng(2)
    for _ in range(200):
        act, f = float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.3, 1.0))
        rack, activity, accel = fast._server_power(act, f)
        want_rack, want_activity, want_accel = Simulation._server_power(fast, act, f)
        assert np.array_equal(rack, want_rack)
        assert (activity, accel) == (want_activity, want_accel)


def test_memo_fill_is_at_bitwise(loaded) -> None:
    """The vectorized prefill caches what `at` returns, for every time the steps read."""
    sim = FastSimulation(loaded, steps=50, carbon_leads_s=(3600.0, 10800.0))
    ts = interval_starts(sim.t0, sim.dt, 50)
    mids = [t + 0.5 * sim.dt for t in ts]
    assert set(mids) <= set(sim.weather.cache)
    assert {*mids, *(t + 3600.0 for t in ts), *(t + 10800.0 for t in ts)} <= set(sim.carbon.cache)
    for memo in (sim.weather, sim.carbon):
        for t, v in memo.cache.items():
            assert v == memo.series.at(t), t


@pytest.mark.parametrize("scenario", ["datacenter_comm.yaml", "default.yaml"])
def test_fast_simulation_matches_simulation(scenario: str) -> None:
    """The whole step under random controls (cap, routing, setpoints, economizer): the same
    records and completed steps as the SimPy Simulation."""
    loaded = load_scenario(scenario)
    a, b = Simulation(loaded), FastSimulation(loaded)
    rng = np.random.default_rng(1)
    for k in range(150):
        c = Controls(
            supply_air_c=float(rng.uniform(16, 32)),
            chw_supply_c=float(rng.uniform(6, 18)),
            cap_frac=float(rng.uniform(0.5, 1.0)),
            routing=str(rng.choice(["ecmp", "spray"])),
            economizer=str(rng.choice(["off", "auto", "on"])),
        )
        ra, rb = a.step(c).as_row(), b.step(c).as_row()
        assert ra.keys() == rb.keys()
        for key, v in ra.items():
            assert rb[key] == pytest.approx(v, rel=1e-10, abs=1e-10), (k, key)
    assert a.total_iterations == b.total_iterations
