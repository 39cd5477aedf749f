"""The batched Datacenter-v0 (dcsim.envs.datacenter_vector) equals N separate envs, bitwise:
on the compiled path (`dcsim.sim_kernel`, the code each env's `FastSimulation` runs with one
hall) and on the NumPy path (numba absent: `Simulation.step` in each env)."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.envs.datacenter import DatacenterEnv
from dcsim.envs.datacenter_vector import DatacenterVectorEnv
from dcsim.jit import numba_module

STEPS = 12  # short episodes: the run crosses auto-resets


def _actions(rng: np.random.Generator, n_env: int, n: int) -> np.ndarray:
    acts = rng.uniform(-1, 1, (n, n_env, 5)).astype(np.float32)
    acts[::5, :, 0] = 1.0  # warmest supply air: inlets reach the thermal throttle
    acts[1::7, :, 2] = -1.0  # lowest cap
    return acts


HOT_AISLE = {"cooling.air.recirculation_mean": 0.3}
LIQUID = {"cooling.type": "liquid", "cooling.liquid.tcs_limit_c": 30.0}


@pytest.mark.parametrize("path", ["kernel", "numpy"])
@pytest.mark.parametrize(
    ("n_env", "lanes", "overrides"),
    [(1, False, HOT_AISLE), (3, False, HOT_AISLE), (3, True, HOT_AISLE), (2, True, LIQUID)],
    ids=["one", "halls", "lanes", "liquid"],
)
def test_vector_equals_separate_envs(n_env: int, lanes: bool, overrides: dict, path: str) -> None:
    """The compiled step, and on the NumPy path both water paths (each hall's own plant, and
    the lane-wise batch used from BATCH_WATER_MIN halls), against separate envs, across
    auto-resets and throttling. (A liquid loop is outside the kernel: NumPy path.)"""
    kw = {"steps": STEPS, "overrides": overrides}
    venv = DatacenterVectorEnv(n_env, **kw)
    venv.batch_water = lanes
    envs = [DatacenterEnv(**kw) for _ in range(n_env)]
    if path == "numpy":  # as without numba (tests/test_sim_kernel.py switches numba off)
        venv.use_kernel = False
        for e in envs:
            e.sim.use_kernel = False
    obs, _ = venv.reset(seed=4)
    for i, e in enumerate(envs):
        o, _ = e.reset(seed=4 + i)
        assert np.array_equal(o, obs[i])
    throttled = False
    for a in _actions(np.random.default_rng(2), n_env, 2 * STEPS + 5):
        obs, rew, term, trunc, info = venv.step(a)
        for i, e in enumerate(envs):
            o, r, te, tr, inf = e.step(a[i])
            assert (te, tr) == (term[i], trunc[i])
            assert r == rew[i]
            for key in ("it_w", "cooling_w", "facility_w", "pue", "freq_frac", "water_l"):
                assert venv.last_metrics[key][i] == inf["metrics"][key], key
            throttled |= inf["metrics"]["throttle_min"] < 1.0
            if tr:
                assert np.array_equal(info["final_obs"][i], o)
                o, _ = e.reset()
            assert np.array_equal(o, obs[i])
    assert throttled  # the run covered the throttle
    compiled = path == "kernel" and overrides is not LIQUID and bool(numba_module())
    assert (venv._kernel() is not None) == compiled


def test_nan_choice_is_refused_naming_the_actuator() -> None:
    from dcsim.errors import InputError

    venv = DatacenterVectorEnv(2, steps=3)
    venv.reset(seed=0)
    a = np.zeros((2, 5), dtype=np.float32)
    a[1, 4] = np.nan
    with pytest.raises(InputError, match="economizer"):
        venv.step(a)


def test_sb3_adapter_steps() -> None:
    pytest.importorskip("stable_baselines3")
    from dcsim.envs.vector import sb3_vec_env

    venv = sb3_vec_env(DatacenterVectorEnv(2, steps=3))
    obs = venv.reset()
    assert obs.shape == (2, venv.observation_space.shape[0])
    for _ in range(3):
        venv.step_async(np.zeros((2, 5), dtype=np.float32))
        obs, rew, done, infos = venv.step_wait()
    assert done.all() and "terminal_observation" in infos[0]


def test_train_vectorized_equals_separate_envs(tmp_path) -> None:
    """`dcsim train --vectorized` on Datacenter-v0 learns the very same policy as separate
    in-process envs."""
    pytest.importorskip("stable_baselines3")
    import zipfile

    from dcsim.rl import train_agent

    common = dict(
        env="datacenter",
        overrides={"time.steps": 10},
        timesteps=64,
        n_envs=2,
        hyperparams={"n_steps": 16, "batch_size": 32, "n_epochs": 1},
    )
    weights = []
    for i, how in enumerate(({"vectorized": True}, {"dummy": True})):
        run = train_agent(**common, **how, out=tmp_path / str(i)).result
        assert run.manifest["episodes_finished"] >= 4
        weights.append(zipfile.ZipFile(run.model_path).read("policy.pth"))
    assert weights[0] == weights[1]
