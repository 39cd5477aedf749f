"""The batched Cooling-v0 (`dcsim.envs.vector`) gives the numbers of N separate envs, bitwise.

The vector env runs the per-rack chain of every hall as one (halls, racks) array pass and
auto-resets in the same step; each copy must still see exactly what a lone `CoolingEnv`
with the same seed and actions sees: observations, rewards, truncations and the final
observation of each episode. Also: SB3 can train on it through `sb3_vec_env`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dcsim.envs.cooling import CoolingEnv
from dcsim.envs.vector import CoolingVectorEnv, sb3_vec_env

CASES = {
    "air": dict(n_accelerators=256, episode_steps=17),
    # hot-aisle recirculation and warm setpoints: racks throttle (the f < 1 branch)
    "throttled": dict(
        n_accelerators=200,
        episode_steps=17,
        cooling={"air": {"recirculation_mean": 0.45, "recirculation_spread": 0.1}},
    ),
    "liquid": dict(n_accelerators=512, episode_steps=17, cooling={"type": "liquid"}),
}


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "kernel"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_vector_equals_separate_envs(case: str, compiled: bool) -> None:
    if compiled:
        pytest.importorskip("dcsim.cooling.fast", exc_type=ImportError)
    kw, n = CASES[case], 3
    venv = CoolingVectorEnv(n, **kw)
    # both paths: the compiled kernel (as the lone envs' step) or NumPy on (halls, racks)
    # arrays (as the lone envs' readable CoolingPlant.step)
    venv.use_fast = compiled
    singles = [CoolingEnv(**kw) for _ in range(n)]
    for env in singles:
        env.use_fast = compiled
    obs, _ = venv.reset(seed=11)
    assert np.array_equal(obs, np.stack([e.reset(seed=11 + i)[0] for i, e in enumerate(singles)]))
    rng = np.random.default_rng(0)
    throttled = ends = 0
    for t in range(40):  # two episode ends per copy
        acts = rng.uniform(-1.2, 1.2, (n, 3)).astype(np.float32)
        if case == "throttled" or t % 5 == 0:
            acts[:, :2] = 1.0  # warmest setpoints
        obs, rew, term, trunc, info = venv.step(acts)
        for i, env in enumerate(singles):
            o, r, te, tr, inf = env.step(acts[i])
            for key, v in venv.last_metrics.items():  # the water side too (water_l)
                assert v[i] == inf["metrics"][key], (t, i, key)
            throttled += env.throttle_min < 1.0
            assert (te, tr) == (term[i], trunc[i])
            if tr:
                ends += 1
                assert np.array_equal(info["final_obs"][i], o)
                o, _ = env.reset()
            assert np.array_equal(obs[i], o), (t, i)
            assert rew[i] == r, (t, i)
    assert ends == 2 * n
    assert bool(venv._fast) == compiled and all(bool(e._fast) == compiled for e in singles)
    if case == "throttled":
        assert throttled > 0


def test_vector_seeds_and_shapes() -> None:
    venv = CoolingVectorEnv(2, n_accelerators=64, episode_steps=5)
    obs, _ = venv.reset(seed=[3, 3])
    assert obs.shape == venv.observation_space.shape == (2, 19)
    assert np.array_equal(obs[0], obs[1])  # same seed, same hall
    obs, rew, term, trunc, _ = venv.step(venv.action_space.sample())
    assert venv.observation_space.contains(obs)
    assert rew.shape == term.shape == trunc.shape == (2,)
    with pytest.raises(ValueError):
        CoolingVectorEnv(0)


def test_sb3_trains_on_vector_env() -> None:
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    venv = VecMonitor(sb3_vec_env(CoolingVectorEnv(4, n_accelerators=128, episode_steps=20)))
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(128)  # two rollouts of 16 steps x 4 envs
    assert model.num_timesteps == 128
    assert len(model.ep_info_buffer) >= 4  # episodes of 20 steps ended and were recorded
    assert all(info["l"] == 20 for info in model.ep_info_buffer)


def test_train_vectorized_equals_separate_envs(tmp_path) -> None:
    """`dcsim train --vectorized` learns the very same policy as separate in-process envs."""
    pytest.importorskip("stable_baselines3")
    import zipfile

    from dcsim.errors import InputError
    from dcsim.rl import train_agent

    task = {"n_accelerators": 64, "episode_steps": 20}
    common = dict(
        scenario=str(Path(__file__).resolve().parents[1] / "scenarios" / "tasks" / "cooling.yaml"),
        overrides=task,
        timesteps=128,
        n_envs=4,
        hyperparams={"n_steps": 16, "batch_size": 32, "n_epochs": 1},
    )
    weights = []
    for i, how in enumerate(({"vectorized": True}, {"dummy": True})):
        run = train_agent(**common, **how, out=tmp_path / str(i)).result
        assert run.manifest["episodes_finished"] >= 4
        weights.append(zipfile.ZipFile(run.model_path).read("policy.pth"))
    assert weights[0] == weights[1]
    with pytest.raises(InputError, match="vectorized"):
        train_agent(env="placement", timesteps=8, vectorized=True, out=tmp_path / "p")
