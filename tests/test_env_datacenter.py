"""Datacenter-v0: API checks, determinism, baselines, and a short PPO training."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from dcsim.agents import make_agent

import dcsim.envs  # noqa: F401  (registers ids)
from tests.conftest import SMALL


def make_env(steps: int = 30):
    return gym.make("dcsim/Datacenter-v0", overrides=dict(SMALL), steps=steps)


def test_gymnasium_check_env():
    from gymnasium.utils.env_checker import check_env

    check_env(make_env().unwrapped, skip_render_check=True)


def test_sb3_check_env():
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_checker.check_env(make_env().unwrapped, warn=True)


def rollout(env, agent_name: str, seed: int = 0):
    agent = make_agent(agent_name, env)
    obs, _ = env.reset(seed=seed)
    agent.reset()
    out = []
    done = False
    while not done:
        obs, reward, term, trunc, info = env.step(agent.predict(obs))
        assert env.observation_space.contains(obs)
        assert set(info["reward_terms"]) == {"energy", "carbon", "throughput", "violation"}
        assert reward == pytest.approx(sum(info["reward_terms"].values()))
        out.append((obs.copy(), reward))
        done = term or trunc
    return out


def test_determinism_same_seed():
    a = rollout(make_env(), "reactive", seed=3)
    b = rollout(make_env(), "reactive", seed=3)
    assert len(a) == len(b) == 30
    for (oa, ra), (ob, rb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(oa, ob)
        assert ra == rb


@pytest.mark.parametrize("name", ["fixed", "reactive", "carbon-cap", "reactive-spray"])
def test_baselines_run(name):
    out = rollout(make_env(), name)
    assert all(np.isfinite(r) for _, r in out)


def test_reactive_raises_setpoint_and_saves_cooling_energy():
    """Warmer supply air (inside the limit) must cut cooling energy vs the 18 C fixed baseline."""

    def cooling_kwh(agent_name):
        env = make_env(steps=60)
        agent = make_agent(agent_name, env)
        obs, _ = env.reset(seed=0)
        total, viol = 0.0, 0.0
        for _ in range(60):
            obs, _, _, _, info = env.step(agent.predict(obs))
            m = info["metrics"]
            total += m["cooling_w"] * 60 / 3.6e6
            viol += m["violation_c"]
        return total, viol, m["supply_air_c"]

    fixed, _, _ = cooling_kwh("fixed")
    reactive, viol, supply = cooling_kwh("reactive")
    assert supply > 18.0
    assert reactive < fixed
    assert viol < 1.0


def test_unknown_agent_is_input_error():
    from dcsim.errors import InputError

    with pytest.raises(InputError, match="unknown agent"):
        make_agent("nope", make_env())


@pytest.mark.slow
def test_ppo_trains_a_few_thousand_steps(tmp_path):
    pytest.importorskip("stable_baselines3")
    from dcsim.agents.sb3 import SB3Agent

    env = make_env(steps=64)
    agent = SB3Agent.train("ppo", env, timesteps=2048, seed=0, n_steps=512, batch_size=128)
    path = agent.save(tmp_path / "ppo.zip")
    with pytest.warns(UserWarning, match="pickle"):
        again = SB3Agent.load("ppo", path, env)
    obs, _ = env.reset(seed=1)
    for _ in range(10):
        a1, a2 = agent.predict(obs), again.predict(obs)
        np.testing.assert_array_equal(a1, a2)
        obs, *_ = env.step(a1)


# ------------------------------------------------------------------ issue 13.8
def test_action_space_holds_routing_and_economizer():
    """Routing of the job's all-reduce and the economizer mode are actions, declared once in
    `env.actuators`; every choice round-trips through `to_action` / `to_controls`."""
    env = make_env().unwrapped
    assert env.action_space.shape == (5,)
    assert [a.name for a in env.actuators] == [
        "supply_air_c",
        "chw_supply_c",
        "cap_frac",
        "routing",
        "economizer",
    ]
    assert {"ecmp", "spray", "split:4", "colour"} <= set(env.routings)
    for routing in env.routings:
        for mode in ("off", "auto", "on"):
            c = env.to_controls(env.to_action(20.0, 10.0, 0.8, routing, mode))
            assert (c.routing, c.economizer) == (routing, mode)
            assert c.supply_air_c == pytest.approx(20.0, abs=1e-5)
            assert c.cap_frac == pytest.approx(0.8, abs=1e-6)


@pytest.fixture(scope="module")
def default_env():
    """The env on its own default scenario (256 H100, 4:1 leaf-spine), one episode's length."""
    from dcsim.envs.datacenter import DatacenterEnv

    return DatacenterEnv()


def test_default_task_exposes_communication_and_routing_retimes_the_step(default_env):
    """On the default task the DP all-reduce is exposed under ECMP (hash collisions on the
    4:1 uplinks) and switching routing mid-episode re-times the very next step: spraying
    balances the uplinks and hides the all-reduce behind compute."""
    env = default_env
    env.reset(seed=0)
    m = {}
    for routing in ("ecmp", "spray", "ecmp", "split:4"):
        _, _, _, _, info = env.step(env.to_action(18.0, 7.0, 1.0, routing))
        m.setdefault(routing, []).append(info["metrics"])
    ecmp, spray = m["ecmp"][0], m["spray"][0]
    assert ecmp["exposed_comm_s"] / ecmp["step_time_s"] > 0.2
    assert spray["step_time_s"] < 0.8 * ecmp["step_time_s"]
    assert spray["tokens_per_s"] > ecmp["tokens_per_s"]
    assert m["ecmp"][1]["step_time_s"] == ecmp["step_time_s"]  # back to ECMP: slow again
    # compute is the same under every routing: only the exposed all-reduce moved
    for a in (spray, m["split:4"][0]):
        compute = a["step_time_s"] - a["exposed_comm_s"]
        assert compute == pytest.approx(ecmp["step_time_s"] - ecmp["exposed_comm_s"])


def test_lowest_cap_is_not_the_best_constant_policy(default_env):
    """The old reward's optimum was the lowest cap (slow the job, save energy). Work is now
    valued at the cluster's ownership cost, so over a day the lowest cap earns less than the
    `fixed` policy (full cap), with the same routing and cooling."""
    env = default_env
    fixed = make_agent("fixed", env)
    returns = {}
    for name, act in (
        ("fixed", None),
        ("lowest-cap", env.to_action(*env.sim.plant.setpoints(None)[:2], env.low[2])),
    ):
        obs, _ = env.reset(seed=0)
        total = 0.0
        done = False
        while not done:
            obs, r, term, trunc, _ = env.step(fixed.predict(obs) if act is None else act)
            total += r
            done = term or trunc
        returns[name] = total
    assert env.max_steps == 1440
    assert returns["lowest-cap"] < returns["fixed"]


def test_economizer_action_reaches_the_plant():
    """Economizer 'on' in cold weather cools with the towers alone: chiller power drops to
    0 where 'off' runs the chillers."""
    env = gym.make(
        "dcsim/Datacenter-v0",
        overrides={
            **SMALL,
            "climate.weather.preset": "cold",
            "climate.weather.start_day_of_year": 15,
        },
        steps=10,
    ).unwrapped
    chiller = {}
    for mode in ("off", "on"):
        env.reset(seed=0)
        for _ in range(10):
            _, _, _, _, info = env.step(env.to_action(18.0, 12.0, 1.0, None, mode))
        chiller[mode] = info["metrics"]["cooling_chiller_w"]
    assert chiller["off"] > 0.0 and chiller["on"] == 0.0


def test_grid_carbon_is_diurnal_and_forecast(default_env):
    """Hourly CAISO carbon (EIA-930 2022): it swings within the day, and the observation's
    +1 h forecast is the intensity the env meets an hour (60 steps) later."""
    from dcsim.envs.contract import physical

    env = default_env
    obs, _ = env.reset(seed=0)
    fixed = make_agent("fixed", env)
    now, fc1 = [], []
    for _ in range(180):
        now.append(physical(obs, env.features, "carbon_g_per_kwh"))
        fc1.append(physical(obs, env.features, "carbon_fc_1h_g_per_kwh"))
        obs, *_ = env.step(fixed.predict(obs))
    # observed carbon is the interval's midpoint value, 30 s off the forecast's time
    np.testing.assert_allclose(fc1[1:120], now[61:180], rtol=0.01)
    assert max(abs(a - b) for a, b in zip(fc1, now, strict=False)) > 1.0  # not the present
    ci = env.sim.carbon.at_many(np.arange(0.0, 86400.0, 600.0))
    assert ci.max() - ci.min() > 50.0  # g/kWh within one July day


def test_evaluate_without_a_scenario_uses_the_envs_default():
    """`dcsim evaluate/train --env datacenter` with no file builds the env's own default
    (the comm-bound scenario), not `dcsim run`'s default.yaml; other envs keep default.yaml."""
    from dcsim.evaluation import load_spec

    spec = load_spec(None, "datacenter")
    assert str(spec.kwargs["scenario"]).endswith("datacenter_comm.yaml")
    assert spec.name == "datacenter-comm"


def test_energy_term_prices_the_hour_from_the_scenarios_hourly_prices(tmp_path):
    """With `cost.electricity_prices_csv` the energy term costs each interval's kWh at its
    hour's price: a free first hour costs nothing, the second hour costs kWh x its price / U."""
    csv = tmp_path / "prices.csv"
    csv.write_text("hour,usd_per_kwh\n0,0.0\n" + "".join(f"{h},0.25\n" for h in range(1, 24)))
    env = gym.make(
        "dcsim/Datacenter-v0",
        overrides={**SMALL, "cost.electricity_prices_csv": str(csv), "time.steps": 62},
        steps=62,
    ).unwrapped
    env.reset(seed=0)
    fixed = make_agent("fixed", env)
    obs = None
    terms = []
    for _ in range(62):
        obs, _, _, _, info = env.step(fixed.predict(obs))
        terms.append((info["reward_terms"]["energy"], info["metrics"]["facility_kwh"]))
    w = env.weights["energy"]
    assert terms[0][0] == 0.0 and terms[59][0] == 0.0  # hour 0 (the scenario starts at 00:00)
    e, kwh = terms[61]
    assert e == pytest.approx(-w * kwh * 0.25 / env.unit_usd, rel=1e-12)


def test_thermal_throttle_is_reachable_in_the_action_range(default_env):
    """The warmest supply-air action pushes inlets past the 32 C allowable limit, so the
    plant throttles the racks and the synchronous job slows (issue 13.8: it was unreachable
    with supply air capped at 27 C)."""
    env = default_env
    env.reset(seed=0)
    warm = env.to_action(env.high[0], env.high[1], 1.0, "spray", "auto")
    lowest = 1.0
    for _ in range(120):
        _, _, _, _, info = env.step(warm)
        lowest = min(lowest, info["metrics"]["freq_frac"])
    assert info["metrics"]["inlet_max_c"] > env.loaded.scenario.cooling.inlet_limit_c
    assert lowest < 1.0 and info["reward_terms"]["violation"] < 0.0
