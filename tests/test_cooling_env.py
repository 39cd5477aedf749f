"""dcsim/Cooling-v0: API checks, reward terms, determinism, heuristics."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from dcsim.agents.cooling import FixedSetpoint, ReactiveSetpoint

import dcsim.envs  # noqa: F401  (registers ids)
from dcsim.envs.cooling import OBS_NAMES, CoolingEnv


def make(**kw) -> CoolingEnv:
    kw.setdefault("episode_steps", 120)
    return CoolingEnv(**kw)


def test_gymnasium_check_env():
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make("dcsim/Cooling-v0", episode_steps=50).unwrapped)


def test_sb3_check_env():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env

    check_env(make(episode_steps=50), warn=True)


def test_spaces_and_defaults():
    env = make()
    assert env.observation_space.shape == (len(OBS_NAMES),)
    assert env.action_space.shape == (3,)
    assert env.n_racks == 64  # 1,024 accelerators, 16 per rack
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and info == {}


def test_reward_is_sum_of_terms_and_truncates():
    env = make(episode_steps=30)
    obs, _ = env.reset(seed=1)
    a = env.action_space.sample()
    for k in range(30):
        obs, r, term, trunc, info = env.step(a)
        assert isinstance(r, float) and isinstance(term, bool) and isinstance(trunc, bool)
        assert set(info["reward_terms"]) == {
            "energy",
            "carbon",
            "violation",
            "throttle",
            "hottest",
            "cost",
        }
        assert r == pytest.approx(sum(info["reward_terms"].values()))
        assert all(v <= 0 for v in info["reward_terms"].values())
        assert env.observation_space.contains(obs)
        assert not term
        assert trunc == (k == 29)


def test_same_seed_same_episode():
    def run(seed):
        env = make(episode_steps=40)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        out = [obs]
        for _ in range(40):
            obs, r, *_ = env.step(rng.uniform(-1, 1, 3).astype(np.float32))
            out.append(obs)
            out.append(np.array([r]))
        return np.concatenate(out)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_action_mapping_round_trip():
    env = make()
    for sa, chw, mode in [(18.0, 6.0, "off"), (22.5, 12.0, "auto"), (27.0, 18.0, "on")]:
        c = env.to_controls(env.to_action(sa, chw, mode))
        assert c.supply_air_c == pytest.approx(sa, abs=1e-5)
        assert c.chw_supply_c == pytest.approx(chw, abs=1e-5)
        assert c.economizer == mode


def test_forced_economizer_in_heat_violates_and_throttles():
    env = make(climate={"weather": {"preset": "hot-humid"}}, episode_steps=60)
    env.reset(seed=0)
    a = env.to_action(27.0, 18.0, "on")
    terms = {"violation": 0.0, "throttle": 0.0}
    for _ in range(60):
        _, _, _, _, info = env.step(a)
        for k in terms:
            terms[k] += info["reward_terms"][k]
    assert terms["violation"] < -1.0
    assert info["metrics"]["inlet_max_c"] > 27.0


def test_carbon_term_scales_with_grid_intensity():
    clean = make(climate={"carbon": {"country": "SE"}}, random_start_day=False)
    dirty = make(climate={"carbon": {"country": "PL"}}, random_start_day=False)
    out = []
    for env in (clean, dirty):
        env.reset(seed=0)
        _, _, _, _, info = env.step(env.to_action(22.0, 12.0, "auto"))
        out.append(info["reward_terms"])
    assert out[0]["energy"] == pytest.approx(out[1]["energy"])
    assert out[1]["carbon"] / out[0]["carbon"] == pytest.approx(662 / 41, rel=1e-6)


def test_liquid_config_runs_with_lower_pue():
    pues = []
    for typ in ("air", "liquid"):
        env = make(cooling={"type": typ}, random_start_day=False, episode_steps=20)
        env.reset(seed=0)
        for _ in range(20):
            _, _, _, _, info = env.step(env.to_action(22.0, 12.0, "auto"))
        pues.append(info["metrics"]["pue"])
    assert pues[1] < pues[0]


def test_heuristics_run_and_reactive_saves_energy_when_warm():
    env = make(climate={"weather": {"preset": "hot-humid"}}, episode_steps=240)
    energy = {}
    for cls in (FixedSetpoint, ReactiveSetpoint):
        agent = cls(env)
        obs, _ = env.reset(seed=2)
        agent.reset()
        e = 0.0
        for _ in range(240):
            obs, _, _, trunc, info = env.step(agent.predict(obs))
            e += info["metrics"]["cooling_kwh"]
            assert env.action_space.contains(agent.predict(obs))
        energy[cls.name] = e
    assert energy["reactive"] < energy["fixed"]


def test_bad_config_is_input_error():
    from dcsim.errors import InputError

    with pytest.raises(InputError) as exc:
        CoolingEnv(cooling={"liquid_fraction": 2.0})
    assert exc.value.field == "cooling.liquid_fraction"


@pytest.mark.slow
def test_ppo_trains_a_few_steps():
    sb3 = pytest.importorskip("stable_baselines3")
    env = make(episode_steps=200)
    model = sb3.PPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=512)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action)


def test_features_read_back_physical_values():
    """Heuristics read physical values through `physical()`: they match the step's metrics."""
    from dcsim.envs.contract import physical

    env = make(episode_steps=10)
    env.reset(seed=4)
    for _ in range(5):
        obs, _, _, _, info = env.step(env.to_action(24.0, 12.0, "auto"))
        m = info["metrics"]
        for name, want in (
            ("inlet_max_c", m["inlet_max_c"]),
            ("inlet_above_limit_k", m["inlet_max_c"] - 27.0),
            ("pue", m["pue"]),
            ("it_w", m["it_w"]),
            ("supply_air_c", m["supply_air_c"]),
            ("chw_supply_c", m["chw_supply_c"]),
        ):
            assert physical(obs, env.features, name) == pytest.approx(want, rel=1e-6), name


def test_bad_kwargs_are_input_errors_naming_the_field():
    from dcsim.errors import InputError

    for kw, field in (
        ({"n_accelerators": 0}, "n_accelerators"),
        ({"dt_s": 0.0}, "dt_s"),
        ({"supply_air_range_c": (27.0, 18.0)}, "supply_air_range_c"),
        ({"rack_load": {"training_share": 2.0}}, "rack_load.training_share"),
        ({"weights": {"energy": 1.0}}, "weights"),  # the contract's name is reward_weights
    ):
        with pytest.raises(InputError) as exc:
            CoolingEnv(**kw)
        assert exc.value.field == field


def test_rack_load_argument_changes_the_load():
    """More training racks (activity 0.85) than the diurnal inference mix draw more power."""
    its = []
    for share in (0.0, 1.0):
        env = make(rack_load={"training_share": share}, random_start_day=False, episode_steps=5)
        env.reset(seed=0)
        _, _, _, _, info = env.step(env.to_action(22.0, 12.0, "auto"))
        its.append(info["metrics"]["it_w"])
    assert its[1] > its[0] * 1.1


def test_env_refuses_over_dense_air_at_construction():
    """Issue 15.5: 64 H100 per air-cooled rack (64 kW) is an InputError when the env is built,
    unless cooling.allow_over_density is set; liquid cooling carries it."""
    from dcsim.envs.cooling import CoolingEnv
    from dcsim.errors import InputError

    with pytest.raises(InputError, match="allow_over_density"):
        CoolingEnv(accelerators_per_rack=64)
    CoolingEnv(accelerators_per_rack=64, cooling={"allow_over_density": True})
    CoolingEnv(accelerators_per_rack=64, cooling={"type": "liquid"})


def test_observation_holds_the_wet_bulb_forecast():
    """Issue 13.8: the obs carries the wet bulb 1 h and 3 h ahead, read from the weather
    series: step k's forecast +h equals the wet bulb the env meets h hours later."""
    from dcsim.envs.contract import physical

    env = make(episode_steps=40, dt_s=300.0)  # 12 steps = 1 h
    names = [f.name for f in env.features]
    assert "wetbulb_fc_1h_c" in names and "wetbulb_fc_3h_c" in names
    obs, _ = env.reset(seed=5)
    seen = [physical(obs, env.features, "wetbulb_c")]
    fc1 = [physical(obs, env.features, "wetbulb_fc_1h_c")]
    fc3 = [physical(obs, env.features, "wetbulb_fc_3h_c")]
    for _ in range(39):
        obs, *_ = env.step(env.to_action(22.0, 12.0, "auto"))
        seen.append(physical(obs, env.features, "wetbulb_c"))
        fc1.append(physical(obs, env.features, "wetbulb_fc_1h_c"))
        fc3.append(physical(obs, env.features, "wetbulb_fc_3h_c"))
    # float32 observations: equal to ~1e-5 K
    np.testing.assert_allclose(fc1[:28], seen[12:40], atol=1e-4)
    np.testing.assert_allclose(fc3[:4], seen[36:40], atol=1e-4)
    assert max(abs(a - b) for a, b in zip(fc3, seen, strict=True)) > 0.1  # not the present


def test_reward_scores_the_hottest_rack():
    """Issue 13.8: one hot rack among cool ones costs reward: the `hottest` term is minus
    the hottest inlet's excess over 27 C (the mean-inlet `violation` term dilutes it by the
    rack count), and is 0 when every rack is inside the envelope."""
    env = make(
        n_accelerators=256,
        episode_steps=30,
        random_start_day=False,
        cooling={"air": {"recirculation_mean": 0.1, "recirculation_spread": 0.2}},
    )
    env.reset(seed=0)
    hot_seen = False
    for _ in range(30):
        _, _, _, _, info = env.step(env.to_action(24.0, 14.0, "auto"))
        m, t = info["metrics"], info["reward_terms"]
        excess = max(m["inlet_max_c"] - 27.0, 0.0)
        assert t["hottest"] == pytest.approx(-env.weights["hottest"] * excess, abs=1e-12)
        assert m["hottest_excess_k"] == pytest.approx(excess)
        hot_seen |= excess > 0
    assert hot_seen
    # the racks spread in recirculation: the hottest counts >2x what the mean makes of it
    assert -t["hottest"] > 2.0 * -t["violation"] > 0.0
