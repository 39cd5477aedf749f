"""The thermal throttle maps allowed power to clock with the device's own DVFS law (leakage
and voltage floor, `DevicePowerModel.freq_for_scale`), not a second power law in the plant."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.config import load_scenario
from dcsim.cooling import CoolingConfig, thermal_throttle
from dcsim.hardware import get_profile
from dcsim.power import DevicePowerModel


def test_throttled_clock_follows_the_device_law():
    cfg = CoolingConfig()
    dev = DevicePowerModel.from_profile(get_profile("H100-SXM"))
    excess = np.array([0.0, 5.0, 20.0, 40.0])
    inlet = cfg.inlet_limit_c + excess
    p_allow = 1.0 - excess / cfg.throttle_headroom_k
    f = thermal_throttle(cfg, inlet, None, dev.freq_for_scale)
    assert np.allclose(dev.clock_scale(f)[f > dev.f_min_frac], p_allow[f > dev.f_min_frac])
    assert f[0] == 1.0
    # below the voltage floor power falls only linearly in f: the clock drops further than
    # the pure f^alpha law would say
    bare = p_allow ** (1.0 / cfg.throttle_dvfs_alpha)
    assert f[2] < bare[2]


def test_every_device_bound_plant_uses_its_devices_law():
    from dcsim.envs.cooling import CoolingEnv
    from dcsim.sim import Simulation

    sim = Simulation(load_scenario(None))
    assert sim.plant.clock_for_power == sim.power.freq_for_scale
    env = CoolingEnv(n_accelerators=256)
    assert env.plant.clock_for_power == env.rack_power.device.freq_for_scale


def test_the_plant_only_alpha_is_refused_where_a_device_sets_the_law(tmp_path):
    res = CliRunner().invoke(
        app,
        ["run", "--steps", "2", "--out", str(tmp_path), "--set", "cooling.throttle_dvfs_alpha=2"],
    )
    assert res.exit_code == 2, res.output
    assert "cooling.throttle_dvfs_alpha" in " ".join(res.output.split())


@pytest.mark.parametrize("alpha", [2.0, 3.0])
def test_plant_only_runs_keep_the_alpha_law(alpha):
    cfg = CoolingConfig(throttle_dvfs_alpha=alpha)
    inlet = np.array([cfg.inlet_limit_c + 11.0])
    assert thermal_throttle(cfg, inlet, None)[0] == pytest.approx(0.8 ** (1 / alpha))
