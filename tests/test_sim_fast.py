"""The Simulation's fast path (dcsim.sim_fast) gives the readable path's numbers bitwise: server
power once per kind of server (as the kernel and the batched env sum racks) against every
server's, the memoized weather and carbon, and whole step records."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.config import load_scenario
from dcsim.hardware import get_profile
from dcsim.power import DevicePowerModel, interval_activity, throttled_clock
from dcsim.sim import Controls, Simulation
from dcsim.sim_fast import FastSimulation, interval_starts


@pytest.fixture(scope="module")
def loaded():
    return load_scenario("datacenter_comm.yaml")


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
    """The batched env's (and kernel's) racks from server power once per kind of server equal
    every server's power summed by `rack_wall_power_w`, bitwise."""
    from dcsim.envs.datacenter_vector import DatacenterVectorEnv
    from dcsim.power import PHASE_ACTIVITY, host_power_w, rack_wall_power_w

    venv = DatacenterVectorEnv(1, steps=3, overrides=overrides)
    sim = venv.sim0
    rng = np.random.default_rng(2)
    for _ in range(200):
        act, f = float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.3, 1.0))
        got = venv._rack_power(np.array([act]), np.array([f]))[0]
        activity = np.where(sim.active, act, PHASE_ACTIVITY["idle"])
        freq = np.where(sim.active, f, 1.0)
        accel_w = sim.power.power_w(activity, freq) * sim.acc_per_server
        want = rack_wall_power_w(
            accel_w,
            host_power_w(sim.host_w, sim.active),
            sim.server_rack,
            sim.n_racks,
            sim.psu_eff,
            sim.switch_w,
        )
        assert np.array_equal(got, want)


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


@pytest.mark.parametrize(
    ("scenario", "overrides"),
    [
        ("datacenter_comm.yaml", {}),
        ("default.yaml", {}),
        # idle servers and a last rack that is not full: racks of different kinds of servers
        (
            "default.yaml",
            {"workload.active_fraction": 0.6, "cluster.servers": 31, "cluster.servers_per_rack": 3},
        ),
    ],
)
def test_fast_simulation_matches_simulation(scenario: str, overrides: dict) -> None:
    """The whole step under random controls (cap, routing, setpoints, economizer): the same
    records bit for bit, the same completed steps and phase clock (the NumPy path; the
    compiled step is held to it in tests/test_sim_kernel.py)."""
    loaded = load_scenario(scenario, overrides)
    a, b = Simulation(loaded), FastSimulation(loaded)
    b.use_kernel = False
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
        assert ra == rb, k
        assert a.phase == b.phase, k
    assert a.total_iterations == b.total_iterations


def test_interval_activity_and_throttled_clock_lanes_are_scalar_bitwise() -> None:
    """The batched env calls `interval_activity` and `throttled_clock` on arrays of copies:
    each lane equals the scalar call (idle share clipped at 0 included)."""
    rng = np.random.default_rng(4)
    n = 500
    cs, es = rng.uniform(0.0, 70.0, n), rng.uniform(0.0, 30.0, n)
    es[:50] = 0.0
    cs[50:60], es[50:60] = 40.0, 20.0  # busy the whole interval: idle share exactly 0
    cap, thr = rng.uniform(0.2, 1.0, n), rng.uniform(0.2, 1.0, n)
    act = interval_activity(cs, es, 60.0, 0.93, 0.3)
    clk = throttled_clock(cap, thr, 0.35)
    for i in range(n):
        assert act[i] == interval_activity(float(cs[i]), float(es[i]), 60.0, 0.93, 0.3), i
        assert clk[i] == throttled_clock(float(cap[i]), float(thr[i]), 0.35), i
