"""The PettingZoo ParallelEnv view of CoDesign-v0: API test and equality with the single env."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pettingzoo")
from pettingzoo.test import parallel_api_test  # noqa: E402

from dcsim.envs.codesign import CoDesignEnv  # noqa: E402
from dcsim.envs.codesign_marl import AGENTS, CoDesignParallelEnv  # noqa: E402

SMALL = {
    "episode_steps": 12,
    "engine": {"racks": 8, "inference": {"servers": 2}, "workload": {"mix": {"job_sizes": {8: 1}}}},
}


def test_parallel_api_test_passes():
    parallel_api_test(CoDesignParallelEnv(**SMALL), num_cycles=50)


def test_slices_partition_the_composite_action():
    par = CoDesignParallelEnv(**SMALL)
    env = par.env
    assert par.possible_agents == list(AGENTS)
    n = sum(int(par.action_space(a).shape[0]) for a in AGENTS)
    assert n == len(env.nvec)
    a = np.random.default_rng(0).integers(env.nvec)
    assert np.array_equal(par.join(par.split(a)), a)
    assert np.array_equal(np.concatenate([par.action_space(x).nvec for x in AGENTS]), env.nvec)


def test_parallel_rollout_equals_the_single_env_with_the_joined_action():
    single = CoDesignEnv(**SMALL)
    par = CoDesignParallelEnv(**SMALL)
    obs1, _ = single.reset(seed=3)
    obs2, infos = par.reset(seed=3)
    rng = np.random.default_rng(4)
    steps = 0
    while par.agents:
        for a in AGENTS:
            assert np.array_equal(obs2[a], obs1)
        mask = single.action_masks()
        assert np.array_equal(
            infos["scheduler"]["action_mask"], mask[: len(infos["scheduler"]["action_mask"])]
        )
        a = rng.integers(single.nvec)
        obs1, r1, t1, tr1, info1 = single.step(a)
        obs2, rew, term, trunc, infos = par.step(par.split(a))
        steps += 1
        for x in AGENTS:
            assert rew[x] == r1 and trunc[x] == tr1 and term[x] == t1  # shared reward
            assert infos[x]["cost"] == info1["cost"]
    assert steps == SMALL["episode_steps"] and tr1


def test_missing_pettingzoo_gives_the_install_hint(monkeypatch):
    import importlib
    import sys

    from dcsim.errors import InputError

    monkeypatch.setitem(sys.modules, "pettingzoo", None)  # import pettingzoo -> ImportError
    monkeypatch.delitem(sys.modules, "dcsim.envs.codesign_marl", raising=False)
    from dcsim.resources import install_hint

    with pytest.raises(InputError) as e:  # the install's own command (tests/test_cli_thin.py)
        importlib.import_module("dcsim.envs.codesign_marl")
    assert install_hint("marl") in str(e.value) and "[marl]'" in str(e.value)
