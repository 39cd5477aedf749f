"""Env registration and rendering (issue 19.9): every dcsim spec has max_episode_steps equal to
the length the env truncates itself at, each shipped task file has a registered id, and
render_mode="rgb_array" returns an RGB frame without changing the episode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dcsim.envs
from dcsim.errors import InputError
from dcsim.evaluation import build_env, load_spec
from dcsim.resources import list_bundled

DCSIM_IDS = [k for k in gym.registry if k.startswith("dcsim/")]
# The small shipped tasks (one per env) plus Datacenter-v0 on its default scenario.
RENDER_IDS = [
    "dcsim/Datacenter-v0",
    "dcsim/Cooling-hot-dry-v0",
    "dcsim/PowerCap-polca-v0",
    "dcsim/FlowSplit-small-v0",
    "dcsim/Placement-oversub-v0",
    "dcsim/CoDesign-v0",
]


def own_episode_steps(env) -> int:
    """The step count at which the env truncates itself (its own attribute, not the registry)."""
    uw = env.unwrapped
    for name in ("max_steps", "episode_steps", "n_jobs"):
        if hasattr(uw, name):
            return int(getattr(uw, name))
    raise AssertionError(f"{type(uw).__name__} has no episode length attribute")


@pytest.mark.parametrize("env_id", DCSIM_IDS)
def test_every_spec_has_the_envs_own_max_episode_steps(env_id):
    spec = gym.spec(env_id)
    assert spec.max_episode_steps is not None and spec.max_episode_steps >= 1
    env = gym.make(env_id, max_episode_steps=-1)  # build without the TimeLimit wrapper
    assert own_episode_steps(env) == spec.max_episode_steps
    env.close()


def test_every_shipped_task_file_has_a_registered_id_with_its_kwargs():
    files = {str(p) for p in list_bundled("scenarios", "tasks")}
    assert set(dcsim.envs.TASK_IDS.values()) == files
    for env_id, path in dcsim.envs.TASK_IDS.items():
        spec = load_spec(path)  # how dcsim train/evaluate read the file
        assert gym.spec(env_id).kwargs == spec.kwargs
        assert gym.spec(env_id).entry_point == dcsim.envs.ENV_IDS[spec.env_id]
    assert "dcsim/Cooling-hot-dry-v0" in dcsim.envs.TASK_IDS


@pytest.mark.parametrize("env_id", RENDER_IDS)
def test_rgb_array_frames(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    assert env.metadata["render_modes"] == ["rgb_array"] and env.metadata["render_fps"] > 0
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(3):
        env.step(env.action_space.sample())
    frame = env.render()
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.shape[0] >= 200
    assert frame.std() > 10  # a picture, not a blank canvas
    env.close()


def test_rendering_does_not_change_the_episode():
    spec = load_spec("scenarios/tasks/flowsplit.yaml")
    runs = []
    for mode in (None, "rgb_array"):
        env = (
            build_env(spec)
            if mode is None
            else gym.make("dcsim/FlowSplit-small-v0", render_mode=mode)
        )
        env.action_space.seed(1)
        obs, _ = env.reset(seed=3)
        trace = [obs]
        for _ in range(4):
            obs, reward, *_ = env.step(env.action_space.sample())
            trace += [obs, np.array([reward])]
            if mode:
                env.render()
        runs.append(np.concatenate(trace))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_no_render_mode_renders_nothing_and_a_bad_one_is_refused():
    env = gym.make("dcsim/FlowSplit-small-v0")
    env.reset(seed=0)
    assert env.unwrapped.render() is None
    with pytest.raises(InputError, match="render_mode"):
        dcsim.envs.flow_split.FlowSplitEnv(render_mode="human")
    from dcsim.envs.codesign import CoDesignEnv

    with pytest.raises(InputError, match="render_mode"):
        CoDesignEnv(render_mode="human")
