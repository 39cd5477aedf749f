"""dcsim/CoDesign-v0: action masks and meanings, constraint costs, reset draws, the composite
heuristic, and bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from dcsim.agents import make_agent

import dcsim.envs  # noqa: F401  (registers the ids)
from dcsim.envs.codesign import CLOCKS, ROUTINGS, SCHEDULE, CoDesignEnv
from dcsim.envs.contract import Episode, physical
from dcsim.errors import InputError

SMALL = {
    "episode_steps": 24,
    "engine": {"racks": 8, "inference": {"servers": 2}, "workload": {"mix": {"job_sizes": {8: 1}}}},
}


def test_registered_with_max_episode_steps():
    assert gym.spec("dcsim/CoDesign-v0").max_episode_steps == 576


def test_action_names_round_trip_and_mask():
    env = CoDesignEnv(**SMALL)
    env.reset(seed=3)
    a = env.encode_action(
        ["pack", "cool"],
        {"comm": "spray", "compute": "colour"},
        {"comm": 0.7},
        24.0,
        12.0,
        "on",
        1.0,
    )
    c = env.decode(a)
    assert c["schedule"][:2] == ["pack", "cool"] and c["schedule"][2:] == ["wait"] * 2
    assert c["routing"] == {"comm": "spray", "compute": "colour"}
    assert c["clock"] == {"comm": 0.7, "compute": 1.0, "inference": 1.0}
    assert c["economizer"] == "on" and c["tank"] == 1.0
    assert abs(c["supply_air_c"] - 24.0) <= 9.0 / 8 and abs(c["chw_supply_c"] - 12.0) <= 9.0 / 8
    m = env.action_masks()
    assert m.shape == (int(env.nvec.sum()),)
    slots = env.slots()
    off = 0
    for s in range(env.top_k):
        seg = m[off : off + len(SCHEDULE)]
        assert seg[0]  # waiting is always allowed
        fits = s < len(slots) and env.engine.fits(slots[s])
        assert seg[1:].all() == fits and seg[1:].any() == fits
        off += len(SCHEDULE)
    assert m[off:].all()
    assert len(ROUTINGS) == 4 and CLOCKS[0] == 1.0


def test_invalid_placement_is_a_wait_and_valid_one_starts_a_job():
    env = CoDesignEnv(**SMALL)
    env.reset(seed=0)
    e = env.engine
    idle = env.encode_action([], {}, {}, 22.0, 10.0, "auto", 0.0)
    for _ in range(200):  # until exactly one job waits and fits
        if len(e.queue) == 1 and e.fits(e.queue[0]):
            break
        env.step(idle)
    assert len(e.queue) == 1
    n = len(e.running)
    # slots 1-3 hold no job: their placements are waits; slot 0 waits too
    *_, info = env.step(
        env.encode_action(["wait", "pack", "cool", "uplink"], {}, {}, 22.0, 10.0, "auto", 0.0)
    )
    assert info["metrics"]["jobs_started"] == 0 and len(e.running) <= n
    while not (e.queue and e.fits(e.queue[0])):
        env.step(idle)
    n = len(e.running)
    *_, info = env.step(env.encode_action(["pack"], {}, {}, 22.0, 10.0, "auto", 0.0))
    assert info["metrics"]["jobs_started"] == 1


def test_constraint_costs_are_reported_separately_and_match_terms():
    env = CoDesignEnv(**SMALL, reward_weights={"thermal": 0.0})
    env.reset(seed=1)
    hot = env.encode_action([], {}, {}, 27.0, 16.0, "off", 0.0)  # warmest setpoints
    for _ in range(12):
        _, r, _, _, info = env.step(hot)
        cost = info["cost"]
        assert set(cost) == {"thermal_k_min", "over_budget_kw_min", "brakes", "slo_violation_min"}
        assert all(v >= 0 for v in cost.values())
        assert info["reward_terms"]["thermal"] == 0.0  # weight 0 removes it from the reward ...
        assert r == pytest.approx(sum(info["reward_terms"].values()))
    # ... but the cost still reports the physical violation (K-minutes above 27 C)
    assert cost["thermal_k_min"] == pytest.approx(
        max(0.0, info["metrics"]["inlet_max_c"] - 27.0) * 5.0
    )


def test_reset_draws_scenarios_from_the_seed():
    env = CoDesignEnv(**SMALL)
    draws = {tuple(sorted(env.reset(seed=s)[1].items())) for s in range(12)}
    assert len(draws) >= 6
    assert env.reset(seed=5)[1] == env.reset(seed=5)[1]
    one = CoDesignEnv(**SMALL, regions=["BPAT"], climates=["cold"], random_start_day=False)
    info = one.reset(seed=9)[1]
    assert info["region"] == "BPAT" and info["climate"] == "cold" and info["start_day"] == 0


def test_forecast_error_zero_is_perfect_foresight():
    env = CoDesignEnv(**SMALL, forecast_error=0.0)
    obs, _ = env.reset(seed=2)
    g = env.engine.grid
    for h in (1, 24):
        assert physical(obs, env.features, f"carbon_fc_{h}h") == pytest.approx(
            float(g.carbon(env.t0 + h * 3600.0)), rel=1e-5
        )


def _run(agent: str, seed: int) -> dict:
    env = gym.make("dcsim/CoDesign-v0")  # 2 days
    ag = make_agent(agent, env)
    obs, _ = env.reset(seed=seed)
    ag.reset()
    ep = Episode(env.unwrapped.METRICS)
    ret, done = 0.0, False
    while not done:
        obs, r, term, trunc, info = env.step(ag.predict(obs))
        ret += r
        ep.add(info["metrics"])
        done = term or trunc
    return {"return": ret, **ep.result()}


def test_composite_heuristic_beats_its_fifo_pack_ablation():
    """POLCA thresholds avoid most brakes an uncapped FIFO trips under the 80 % budget."""
    for seed in (1000, 1001):
        comp, fifo = _run("composite", seed), _run("fifo-pack", seed)
        assert comp["brakes"] < fifo["brakes"]
        assert comp["return"] > fifo["return"]


def test_bad_inputs_are_input_errors(tmp_path):
    with pytest.raises(InputError):
        CoDesignEnv(regions=["Atlantis"])
    with pytest.raises(InputError):
        CoDesignEnv(engine={"racks": 2, "accelerators_per_rack": 8})  # job sizes up to 128
    with pytest.raises(InputError):
        CoDesignEnv(supply_air_range_c=(27.0, 18.0))
    trace = tmp_path / "t.yaml"
    trace.write_text(
        "jobs:\n  - {arrival_s: 0, accelerators: 8, model_params: 1e9, iterations: 0}\n"
    )
    with pytest.raises(InputError):
        CoDesignEnv(job_trace=str(trace))


def test_job_trace_drives_the_workload(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text(
        "arrival_s,accelerators,model_params,iterations\n0,8,1e9,100000\n600,16,2e9,100000\n"
    )
    env = CoDesignEnv(**SMALL, job_trace=str(trace))
    env.reset(seed=0)
    assert len(env.engine.jobs) == 2
    a = env.encode_action(["pack"] * 4, {}, {}, 22.0, 10.0, "auto", 0.0)
    for _ in range(4):
        env.step(a)
    assert sorted(env.engine.running) == [0, 1]
    assert np.all(env.engine.jobs[1].hosts < 112)  # training racks; inference holds 112-127


def test_fast_encode_equals_the_contract_encode():
    from dcsim.envs.contract import encode

    env = CoDesignEnv(**SMALL)
    env.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(5):
        vals = {
            f.name: float(v)
            for f, v in zip(env.features, rng.normal(0, 50, len(env.features)), strict=True)
        }
        vals[env.features[3].name] = float("nan")
        names = [f.name for f in env.features]
        blocks, rest = [], dict(vals)
        for start in env._rack_starts:  # the per-rack runs as arrays, as `_obs` passes them
            run = names[start : start + env.n_racks]
            blocks.append((start, np.array([rest.pop(n) for n in run])))
        got = env._encoder.named_blocks(rest, blocks)
        np.testing.assert_array_equal(got, encode(env.features, vals))
        with pytest.raises(KeyError, match="missing"):
            env._encoder.named_blocks({**rest, "inlet_c_00": 1.0}, blocks[1:])


def test_a_cost_only_reward_is_the_energy_bill():
    """Issue 18.1: CoDesign-v0 reports its electricity cost and a reward term can use it:
    with weight on `cost` alone, each step's reward is minus that step's bill (cost_usd),
    normalised by the design IT energy at REF_PRICE; its episode sum is the bill's."""
    from dcsim.envs.codesign import REF_PRICE

    zero = {t.name: 0.0 for t in CoDesignEnv.REWARD}
    env = CoDesignEnv(reward_weights=zero | {"cost": 1.0}, episode_steps=6)
    env.reset(seed=3)
    env.action_space.seed(3)
    design_kwh = env.engine.design_it_w * env.dt / 3.6e6
    bill = 0.0
    for _ in range(6):
        _, r, _, _, info = env.step(env.action_space.sample())
        usd = info["metrics"]["cost_usd"]
        assert usd > 0
        assert r == pytest.approx(-usd / (design_kwh / 1000.0 * REF_PRICE), rel=1e-12)
        bill += usd
    assert bill > 0
