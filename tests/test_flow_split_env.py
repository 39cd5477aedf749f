"""dcsim/FlowSplit-v0: API checks, determinism, and that routing choices matter the right way."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from dcsim.agents.routing import Colour, Ecmp, GreedySplit, Split1, Spray
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import dcsim.envs  # noqa: F401  (registers ids)
from dcsim.envs.contract import physical
from dcsim.envs.flow_split import FlowSplitEnv
from dcsim.errors import InputError
from dcsim.network.patterns import traffic_time


def test_passes_gymnasium_and_sb3_checkers():
    env = gym.make("dcsim/FlowSplit-v0", episode_steps=4)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(FlowSplitEnv(episode_steps=4))


def run(env, agent, seed, steps=None):
    obs, _ = env.reset(seed=seed)
    total, infos = 0.0, []
    for _ in range(steps or env.episode_steps):
        obs, r, term, trunc, info = env.step(agent.predict(obs))
        assert isinstance(r, float) and r <= -1.0 + 1e-9 and not term
        assert env.observation_space.contains(obs)
        infos.append(info)
        total += r
        if trunc:
            break
    return total, infos


def test_same_seed_same_episode():
    a, ia = run(FlowSplitEnv(episode_steps=8), Ecmp(), seed=3)
    b, ib = run(FlowSplitEnv(episode_steps=8), Ecmp(), seed=3)
    assert a == b and [i["metrics"] for i in ia] == [i["metrics"] for i in ib]
    c, _ = run(FlowSplitEnv(episode_steps=8), Ecmp(), seed=4)
    assert c != a


def test_truncates_after_episode_steps():
    env = FlowSplitEnv(episode_steps=3)
    env.reset(seed=0)
    flags = [env.step(np.array([1, 0]))[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_permutations_reward_path_aware_routing():
    """On inter-ToR permutations of the intact fabric, colouring matches the NIC bound
    (reward -1) and per-flow ECMP is worse on average (Addanki et al.)."""
    env = FlowSplitEnv(
        episode_steps=6, patterns=("permutation",), failure_fraction=0.0, background_flows=0
    )
    col, _ = run(env, Colour(), seed=0)
    ecmp, _ = run(env, Ecmp(), seed=0)
    spray, _ = run(env, Spray(), seed=0)
    assert col == pytest.approx(-6.0)
    assert spray == pytest.approx(-6.0 / env.spray_efficiency)  # fluid-ideal, minus the goodput tax
    assert ecmp < 2 * col  # at least 2x the bound on average


def test_split_overhead_and_observation_meaning():
    env = FlowSplitEnv(
        episode_steps=2, patterns=("ring",), failure_fraction=0.0, min_size=2**20, max_size=2**20
    )
    obs, _ = env.reset(seed=1)
    assert physical(obs, env.features, "pattern_ring") == 1.0
    assert physical(obs, env.features, "log2_size_B") == pytest.approx(20.0)  # 2^20 B per rank
    m1 = env.evaluate([2, 0])  # split:1
    m8 = env.evaluate([2, 3])  # split:8 pays 7 subflow overheads on the same pattern
    _, src, dst, chunk, _, _ = env._pattern
    raw = traffic_time(env.fabric, src, dst, chunk, "split:8", background=env.background).time_s
    assert m8["time_s"] == pytest.approx(raw + 7 * env.subflow_overhead_s)
    assert m8["split"] == 8 and m1["split"] == 1
    assert m1["lower_bound_s"] > 0 and m1["time_s"] >= m1["lower_bound_s"] * (1 - 1e-9)


def test_failures_redrawn_per_episode_and_bad_args():
    env = FlowSplitEnv(failure_fraction=0.1)
    env.reset(seed=0)
    f0 = list(env.fabric.failed)
    env.reset(seed=1)
    assert f0 and env.fabric.failed and env.fabric.failed != f0
    for kw in (
        {"episode_steps": 0},
        {"patterns": ("zigzag",)},
        {"spray_efficiency": 0},
        {"failure_fraction": 1.0},
        {"topology": {"kind": "leaf_spine"}},
    ):
        with pytest.raises(InputError):
            FlowSplitEnv(**kw)
    with pytest.raises(InputError):
        env.evaluate([9, 9])


def test_greedy_split_baseline_beats_ecmp_over_an_episode():
    env = FlowSplitEnv(episode_steps=8)
    g = np.mean([run(env, GreedySplit(), seed=s)[0] for s in range(2)])
    e = np.mean([run(env, Ecmp(), seed=s)[0] for s in range(2)])
    assert g > e


def test_background_makes_earlier_actions_matter():
    """Same seed, same second action on the same pattern: with other tenants' long-lived
    flows the second step's time depends on how the first was routed (the first decides how
    far each background flow got); without background it does not (a contextual bandit)."""
    for bg, differ in ((8.0, True), (0.0, False)):
        times = []
        for first in ([0, 0], [1, 0]):  # ecmp, then spray
            env = FlowSplitEnv(background_flows=bg, patterns=("permutation",), failure_fraction=0)
            env.reset(seed=2)
            env.step(np.array(first))
            times.append(env.step(np.array([0, 0]))[4]["metrics"]["time_s"])
        assert (times[0] != pytest.approx(times[1], rel=1e-6)) == differ, (bg, times)


def test_background_flows_persist_and_progress_at_their_fair_share():
    """Background flows outlive a step: the ones still active keep their ids and have fewer
    bytes left, never more; arrivals are admitted between steps."""
    env = FlowSplitEnv(background_flows=8.0, background_lifetime_ms=50.0)
    env.reset(seed=0)
    bg = env.background
    assert bg is not None and bg.n_active > 0
    carried = 0
    for _ in range(6):
        ids0, rem0 = bg.ids.copy(), bg.remaining.copy()
        env.step(np.array([0, 0]))
        common, i0, i1 = np.intersect1d(ids0, bg.ids, return_indices=True)
        carried += common.size
        assert np.all(bg.remaining[i1] <= rem0[i0] * (1 + 1e-12))
        assert np.any(bg.remaining[i1] < rem0[i0]) or common.size == 0
        assert np.all(bg.ids[np.isin(bg.ids, ids0, invert=True)] >= ids0.max(initial=-1))
    assert carried > 0
    # the arrival sample path is the env's seed, not the actions: same admissions either way
    a = FlowSplitEnv()
    b = FlowSplitEnv()
    a.reset(seed=4)
    b.reset(seed=4)
    for _ in range(3):
        a.step(np.array([0, 0]))
        b.step(np.array([0, 0]))
    assert a.background.admitted == b.background.admitted


def test_split1_baseline_is_registered():
    from dcsim.agents import available, make_agent

    env = FlowSplitEnv(episode_steps=2)
    assert "split:1" in available(env)
    agent = make_agent("split:1", env)
    assert isinstance(agent, Split1)
    assert list(agent.predict(None)) == [2, 0]  # policy "split", K = 1
    from typer.testing import CliRunner

    from dcsim.cli import _complete_agent, app

    assert "split:1" in _complete_agent("spl")
    args = ["evaluate", "tasks/flowsplit.yaml", "--agent", "split:1", "-n", "1"]
    res = CliRunner().invoke(app, [*args, "--set", "episode_steps=2", "--json"])
    assert res.exit_code == 0, res.output
    assert '"agent": "split:1"' in res.output
