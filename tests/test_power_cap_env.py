"""`dcsim/PowerCap-v0`: API checks, determinism, reward bookkeeping, POLCA baseline."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from dcsim.agents.polca import PolcaAgent

import dcsim.envs  # noqa: F401  (registers the ids)
from dcsim.envs.power_cap import PowerCapEnv


@pytest.fixture(scope="module")
def env() -> PowerCapEnv:
    return PowerCapEnv(horizon_s=120.0)


def test_gymnasium_and_sb3_check_env(env: PowerCapEnv) -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    check_env(env)
    sb3_check_env(env)


def test_registered_id() -> None:
    e = gym.make("dcsim/PowerCap-v0", horizon_s=60.0)
    assert isinstance(e.unwrapped, PowerCapEnv)
    e.close()


def rollout(env: PowerCapEnv, seed: int, policy) -> tuple[list[np.ndarray], list[float], dict]:
    obs, _ = env.reset(seed=seed)
    obs_seq, rewards, terms = [obs], [], {}
    while True:
        obs, r, term, trunc, info = env.step(policy(obs))
        assert isinstance(r, float) and isinstance(term, bool) and isinstance(trunc, bool)
        assert r == pytest.approx(sum(info["reward_terms"].values()))
        assert env.observation_space.contains(obs)
        for k, v in info["reward_terms"].items():
            terms[k] = terms.get(k, 0.0) + v
        obs_seq.append(obs)
        rewards.append(r)
        if term or trunc:
            return obs_seq, rewards, terms


def test_deterministic_with_seed(env: PowerCapEnv) -> None:
    pol = lambda o: np.array([0.3, 0.9], dtype=np.float32)  # noqa: E731
    a = rollout(env, 11, pol)
    b = rollout(env, 11, pol)
    np.testing.assert_array_equal(np.array(a[0]), np.array(b[0]))
    assert a[1] == b[1]
    assert len(a[1]) == env.max_steps == 24
    assert len(env.features) == env.observation_space.shape[0]


def test_polca_agent_avoids_brakes_full_clock_does_not() -> None:
    e = PowerCapEnv(n_servers=80, horizon_s=900.0)  # +100%: uncapped peaks exceed the budget
    agent = PolcaAgent(e)
    full = lambda o: np.ones(2, dtype=np.float32)  # noqa: E731
    _, r_full, t_full = rollout(e, 5, full)
    agent.reset()
    _, r_polca, t_polca = rollout(e, 5, agent.predict)
    assert t_full["brake"] < 0  # uncontrolled oversubscription trips the brake
    assert t_polca["brake"] > t_full["brake"]
    assert sum(r_polca) > sum(r_full)
    # and capping everything to the floor is worse still for latency
    floor = lambda o: -np.ones(2, dtype=np.float32)  # noqa: E731
    _, _, t_floor = rollout(e, 5, floor)
    assert t_floor["hp_latency"] < t_polca["hp_latency"]


def test_bad_config_is_input_error_and_to_action_roundtrip(env: PowerCapEnv) -> None:
    from dcsim.errors import InputError

    with pytest.raises(InputError) as e:
        PowerCapEnv(n_servers=0)
    assert e.value.field == "row.n_servers"
    a = env.to_action(1.0, 1305 / 1410)
    assert a[0] == pytest.approx(1.0) and -1.0 < a[1] < 1.0


def test_latency_interpolates_in_clock_between_table_clocks(env: PowerCapEnv) -> None:
    """A clock between two characterised clocks scores a latency between theirs (linear in
    f), not the nearest clock's: the nearest-cell scoring let 0.65 f_max pay 0.79's latency."""
    from dcsim.polca import RowConfig, RowSimulation

    tab = env.table
    S = tab.p50_slowdown
    i = int(np.argmin(np.abs(tab.rho_grid - 0.8)))
    j = next(j for j in range(tab.f_grid.size - 1) if abs(S[i, j] - S[i, j + 1]) > 0.05)
    f_hi, f_lo = tab.f_grid[j], tab.f_grid[j + 1]
    f = f_hi - 0.3 * (f_hi - f_lo)  # nearer f_hi: the nearest cell would be f_hi's
    sim = RowSimulation(RowConfig(n_servers=4, horizon_s=20.0), tab)
    sim.start()
    sim.rho[:] = tab.rho_grid[i]
    for fx, want in ((f_hi, S[i, j]), (f_lo, S[i, j + 1]), (f, 0.7 * S[i, j] + 0.3 * S[i, j + 1])):
        sim.f_eff[:] = fx
        got = sim.slowdown(0, 20, np.ones(4, dtype=bool))
        assert got == pytest.approx(want, rel=1e-6)  # f_eff is float32
    assert min(S[i, j], S[i, j + 1]) < want < max(S[i, j], S[i, j + 1])


def test_constant_clock_between_table_clocks_no_longer_beats_polca() -> None:
    """The nearest-clock artifact: a constant low-priority clock of 0.65 f_max (nearest table
    clock 0.79, power of 0.65) outscored POLCA; scored at its own clock it does not."""
    e = PowerCapEnv(n_servers=80, horizon_s=900.0)
    agent = PolcaAgent(e)
    agent.reset()
    _, r_polca, _ = rollout(e, 5, agent.predict)
    _, r_mid, _ = rollout(e, 5, lambda o: e.to_action(0.65, 1.0))
    assert sum(r_mid) < sum(r_polca)


def test_brakes_are_a_reported_and_penalised_cost() -> None:
    """info["cost"] counts brakes (and braked seconds, kW-min over budget); each engaged brake
    costs the declared `brake_event` weight, so a braking policy scores below POLCA."""
    e = PowerCapEnv(n_servers=80, horizon_s=900.0)
    w = e.weights["brake_event"]
    assert w > 0
    obs, _ = e.reset(seed=5)
    brakes = brake_s = over = event_terms = total = 0.0
    for _ in range(e.max_steps):
        obs, r, _, trunc, info = e.step(np.ones(2, dtype=np.float32))  # uncapped: brakes
        c = info["cost"]
        brakes += c["brakes"]
        brake_s += c["brake_s"]
        over += c["over_budget_kw_min"]
        event_terms += info["reward_terms"]["brake_event"]
        total += r
    assert e.sim is not None
    assert brakes == e.sim.brake_events >= 1
    assert brake_s == float(e.sim.brake_on.sum()) and over > 0
    assert event_terms == pytest.approx(-w * brakes)
    agent = PolcaAgent(e)
    agent.reset()
    _, r_polca, _ = rollout(e, 5, agent.predict)
    assert e.sim.brake_events == 0
    assert total < sum(r_polca)
