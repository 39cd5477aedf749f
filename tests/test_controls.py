"""Controls mean what they say (issue 12.5): the default `fixed` agent holds the scenario's own
setpoints and cap, and every control field of a scenario changes the run's summary."""

from __future__ import annotations

import pytest

from dcsim.config import load_scenario
from dcsim.envs.datacenter import DatacenterEnv
from dcsim.errors import InputError
from dcsim.runner import simulate
from dcsim.sweep import execute, plan_sweep
from tests.conftest import ROOT, SMALL

STEPS = 6


def summary_of(**over) -> dict:
    o = dict(SMALL)
    o.update(over)
    summary, _ = simulate(load_scenario(None, o), "fixed", STEPS)
    return summary


def test_fixed_agent_holds_the_scenarios_setpoints_and_cap():
    loaded = load_scenario(
        None,
        {**SMALL, "cooling.supply_air_setpoint_c": 24.0, "power.cap_frac": 0.8},
    )
    env = DatacenterEnv(loaded)
    from dcsim.agents import make_agent

    agent = make_agent("fixed", env)
    obs, _ = env.reset(seed=0)
    sa, chw, _ = env.sim.plant.setpoints(None)  # the plant's own, with CHW reset
    c = env.to_controls(agent.predict(obs))
    assert c.supply_air_c == pytest.approx(24.0, abs=1e-5)
    assert c.chw_supply_c == pytest.approx(chw, abs=1e-5) and sa == 24.0
    assert c.cap_frac == pytest.approx(0.8, abs=1e-6)


def test_supply_air_override_moves_inlets_up():
    """`dcsim run --set cooling.supply_air_setpoint_c=24` (the README's example) must matter."""
    cool = summary_of(**{"cooling.supply_air_setpoint_c": 18.0})
    warm = summary_of(**{"cooling.supply_air_setpoint_c": 24.0})
    assert warm["max_inlet_c"] > cool["max_inlet_c"] + 4.0
    assert warm["pue"] < cool["pue"]  # warmer supply air: less chiller work


def test_cap_below_min_cap_is_refused():
    with pytest.raises(InputError, match="cap_frac"):
        load_scenario(None, {"power.cap_frac": 0.4, "power.min_cap_frac": 0.5})


def test_shipped_setpoint_sweep_gives_distinct_pue():
    """All 48 runs of cooling_setpoint_random.yaml gave one PUE while `fixed` forced 18 C."""
    plan = plan_sweep(
        ROOT / "scenarios" / "sweeps" / "cooling_setpoint_random.yaml",
        ["steps=3", "seeds=1", "samples=4"],
        check_build=False,
    )
    outs = [execute(spec) for spec in plan.runs]
    assert all(o.status == "complete" for o in outs), [o.error for o in outs]
    pues = [round(o.summary["pue"], 6) for o in outs]
    assert len(set(pues)) == len(pues)
    setpoints = [spec.params["cooling.supply_air_setpoint_c"] for spec in plan.runs]
    # warmer supply air, lower PUE (the same hot-dry weather for every run)
    by_sa = [p for _, p in sorted(zip(setpoints, pues, strict=True))]
    assert by_sa == sorted(by_sa, reverse=True)


# Each control field with a value that must move the result away from the base run.
COMM = {"workload.global_batch_tokens": 262144, "workload.overlap": 0.0}
CONTROLS = [
    ({"cooling.supply_air_setpoint_c": 24.0}, ("max_inlet_c", "pue")),
    ({"cooling.chilled_water_setpoint_c": 16.0}, ("pue",)),
    ({"cooling.chw_reset": False}, ("pue",)),
    ({"cooling.economizer": "off"}, ("pue",)),
    ({"cooling.type": "liquid"}, ("pue",)),
    ({"power.cap_frac": 0.8}, ("mean_step_time_s", "it_energy_kwh")),
    ({"workload.mfu": 0.3}, ("mean_step_time_s",)),
    ({"cluster.hardware": "B200"}, ("mean_step_time_s", "it_energy_kwh")),
    ({"cluster.servers": 16}, ("mean_step_time_s", "it_energy_kwh")),
    ({"climate.weather.preset": "hot-dry"}, ("pue",)),
    ({**COMM, "workload.routing": "spray"}, ("mean_step_time_s", "exposed_comm_share")),
]


@pytest.mark.parametrize("override, moved", CONTROLS, ids=[",".join(o) for o, _ in CONTROLS])
def test_every_control_changes_the_summary(override, moved):
    base_over = {k: v for k, v in override.items() if k in COMM}
    base = summary_of(**base_over)
    changed = summary_of(**override)
    for key in moved:
        assert changed[key] != pytest.approx(base[key], rel=1e-6), key
