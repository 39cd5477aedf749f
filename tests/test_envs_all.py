"""Every registered env: both check_env flavours, vector stepping, determinism, heuristics, docs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from dcsim.agents import available, heuristics, make_agent
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv

import dcsim.envs  # noqa: F401  (registers the ids)
from dcsim.envs import ENV_IDS

SMALL = {
    "dcsim/Datacenter-v0": {
        "overrides": {"cluster.servers": 8, "cluster.servers_per_rack": 2, "time.steps": 12}
    },
    "dcsim/Cooling-v0": {"n_accelerators": 64, "episode_steps": 12},
    "dcsim/PowerCap-v0": {"horizon_s": 60.0},
    "dcsim/FlowSplit-v0": {"episode_steps": 6},
    "dcsim/Placement-v0": {"n_jobs": 12},
    "dcsim/CoDesign-v0": {
        "episode_steps": 12,
        "engine": {
            "racks": 8,
            "inference": {"servers": 2},
            "workload": {"mix": {"job_sizes": {8: 1}}},
        },
    },
}
IDS = list(ENV_IDS)


def make(env_id: str) -> gym.Env:
    return gym.make(env_id, **SMALL[env_id])


def test_all_ids_have_small_config() -> None:
    assert set(SMALL) == set(ENV_IDS)


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_both_flavours(env_id: str) -> None:
    env = make(env_id)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)


@pytest.mark.parametrize("env_id", IDS)
def test_determinism_fixed_seed(env_id: str) -> None:
    """Same seed, same actions -> identical observations, rewards and metrics."""

    def rollout(seed: int) -> list:
        env = make(env_id)
        env.action_space.seed(123)
        obs, _ = env.reset(seed=seed)
        out = [obs.copy()]
        for _ in range(6):
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            out += [obs.copy(), r, sorted(info["reward_terms"].items())]
            if term or trunc:
                break
        return out

    a, b = rollout(7), rollout(7)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
        else:
            assert x == y


@pytest.mark.parametrize("env_id", IDS)
def test_reward_is_sum_of_terms_and_types(env_id: str) -> None:
    env = make(env_id)
    obs, _ = env.reset(seed=0)
    obs, r, term, trunc, info = env.step(env.action_space.sample())
    assert isinstance(r, float) and isinstance(term, bool) and isinstance(trunc, bool)
    assert r == pytest.approx(sum(info["reward_terms"].values()))
    assert env.observation_space.contains(obs)


def test_sync_vector_env_steps_all() -> None:
    envs = gym.vector.SyncVectorEnv([lambda i=i: make(i) for i in ["dcsim/Placement-v0"] * 3])
    obs, _ = envs.reset(seed=[0, 1, 2])
    assert obs.shape == (3, *envs.single_observation_space.shape)
    for _ in range(20):  # crosses episode ends (12 jobs): autoreset keeps stepping
        obs, r, term, trunc, _ = envs.step(envs.action_space.sample())
    assert r.shape == (3,) and np.isfinite(r).all()
    envs.close()


@pytest.mark.parametrize("env_id", ["dcsim/Cooling-v0", "dcsim/FlowSplit-v0", "dcsim/Placement-v0"])
def test_sb3_dummy_vec_env(env_id: str) -> None:
    vec = DummyVecEnv([lambda: make(env_id) for _ in range(2)])
    vec.seed(0)
    obs = vec.reset()
    for _ in range(15):
        obs, r, done, infos = vec.step(np.array([vec.action_space.sample() for _ in range(2)]))
    assert obs.shape[0] == 2 and np.isfinite(r).all()
    vec.close()


@pytest.mark.parametrize("env_id", IDS)
def test_every_heuristic_runs_valid_actions(env_id: str) -> None:
    env = make(env_id)
    names = heuristics(env)
    assert names, f"{env_id} has no heuristic baseline"
    assert "random" in available(env)
    for name in names:
        agent = make_agent(name, env)
        obs, _ = env.reset(seed=0)
        agent.reset()
        for _ in range(4):
            a = agent.predict(obs)
            assert env.action_space.contains(np.asarray(a, dtype=env.action_space.dtype)), (name, a)
            obs, _, term, trunc, _ = env.step(a)
            if term or trunc:
                break


@pytest.mark.parametrize("env_id", IDS)
def test_docstring_has_gymnasium_sections(env_id: str) -> None:
    doc = type(make(env_id).unwrapped).__doc__ or ""
    for section in (
        "## Description",
        "## Action space",
        "## Observation space",
        "## Rewards",
        "## Episode end",
        "## Arguments",
    ):
        assert section in doc, f"{env_id} docstring lacks {section}"
