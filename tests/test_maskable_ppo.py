"""`--algo maskable-ppo` (sb3-contrib MaskablePPO): trains on CoDesign-v0's action masks and
never picks a masked choice when evaluated, even where the unmasked policy prefers it."""

from __future__ import annotations

import pytest
import torch
from dcsim.agents.sb3 import SB3Agent, check_algo_fits, make_vec_env

from dcsim.envs.codesign import SCHEDULE, CoDesignEnv
from dcsim.envs.cooling import CoolingEnv
from dcsim.errors import InputError

SMALL = {
    "episode_steps": 24,
    "engine": {"racks": 8, "inference": {"servers": 2}, "workload": {"mix": {"job_sizes": {8: 1}}}},
}


def test_masked_choices_are_never_predicted_though_the_policy_prefers_them():
    vec = make_vec_env(lambda: CoDesignEnv(**SMALL), 1)
    agent = SB3Agent.train("maskable-ppo", vec, 16, seed=0, n_steps=16, batch_size=16, n_epochs=1)
    env = CoDesignEnv(**SMALL)
    agent = SB3Agent(agent.model, "maskable-ppo", env=env)
    k = len(SCHEDULE)
    with torch.no_grad():  # every queue slot's logits favour "place" over "wait" by far
        bias = agent.model.policy.action_net.bias
        for s in range(env.top_k):
            bias[s * k] = -50.0
            bias[s * k + 1 : (s + 1) * k] = 50.0
    obs, _ = env.reset(seed=1)
    masked_seen = 0
    for _ in range(24):
        mask = env.action_masks()
        a = agent.predict(obs)
        plain, _ = agent.model.predict(obs, deterministic=True)  # no masks: prefers placing
        for s in range(env.top_k):
            if not mask[s * k + 1 : (s + 1) * k].any():
                masked_seen += 1
                assert a[s] == 0 and plain[s] != 0
        obs, _, term, trunc, _ = env.step(a)
        if term or trunc:
            break
    assert masked_seen > 0  # the test saw slots whose placement was masked


def test_an_env_without_masks_is_refused_with_a_clear_error():
    with pytest.raises(InputError, match="action_masks") as exc:
        check_algo_fits("maskable-ppo", CoolingEnv())
    assert exc.value.field == "algo"
    check_algo_fits("maskable-ppo", CoDesignEnv(**SMALL))  # has masks: accepted
