"""Agents, statistics, Placement-v0 physics, SB3 save/load, training runs and the RL CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from dcsim.agents import make_agent
from dcsim.agents.sb3 import SB3Agent, check_algo_fits
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.envs.cooling import CoolingEnv
from dcsim.envs.placement import RULES, PlacementEnv
from dcsim.errors import InputError
from dcsim.evaluation import compare, evaluate, load_spec, mean_ci, run_episode, summarize
from dcsim.network import collective_time, max_min_rates
from dcsim.network.flows import dense_max_min
from dcsim.training import train

TINY_PPO = {"n_steps": 32, "batch_size": 32, "n_epochs": 1}


# ------------------------------------------------------------------ statistics
def test_mean_ci_matches_scipy_t_interval() -> None:
    x = [2.0, 4.0, 4.0, 5.0, 7.0]
    m, half, s = mean_ci(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert m == pytest.approx(4.4)
    assert s == pytest.approx(np.std(x, ddof=1))
    assert m - half == pytest.approx(lo) and m + half == pytest.approx(hi)
    # known number: t_{0.975,4} = 2.776445, s = 1.8166, n = 5 -> half = 2.2556
    assert half == pytest.approx(2.776445 * 1.816590 / np.sqrt(5), rel=1e-5)


def test_mean_ci_edge_cases() -> None:
    m, half, _ = mean_ci([3.0])
    assert m == 3.0 and np.isnan(half)
    assert mean_ci([1.0, 1.0, 1.0])[1] == 0.0
    s = summarize([{"a": 1.0, "b": 2.0}, {"a": 3.0}])
    assert s["a"]["mean"] == 2.0 and s["a"]["n"] == 2 and s["b"]["n"] == 1


# ------------------------------------------------------------------ placement physics
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_dense_max_min_equals_sparse_solver(seed: int) -> None:
    rng = np.random.default_rng(seed)
    A = (rng.random((12, 9)) < 0.35) * rng.choice([1.0, 0.5, 0.25], size=(12, 9))
    cap = rng.uniform(1.0, 5.0, 12)
    np.testing.assert_allclose(dense_max_min(A, cap), max_min_rates(sp.csr_matrix(A), cap))


def _fresh(**kw) -> PlacementEnv:
    env = PlacementEnv(n_jobs=40, **kw)
    env.reset(seed=3)
    return env


def test_rules_place_where_they_say() -> None:
    env = _fresh()
    hosts = env.place(RULES.index("pack"), 8)
    assert len(np.unique(env.host_leaf[hosts])) == 1  # fits in one empty leaf
    hosts = env.place(RULES.index("spread"), 8)
    assert len(np.unique(env.host_leaf[hosts])) == 8  # one per leaf
    np.testing.assert_array_equal(env.place(RULES.index("first-fit"), 5), np.arange(5))
    env.free[:4] = False  # leaf 0 half full: best fit puts a 4-GPU job there
    hosts = env.place(RULES.index("pack"), 4)
    assert set(env.host_leaf[hosts]) == {0}
    assert env.place(RULES.index("pack"), 20).size == 20  # spans leaves, fewest first


def test_isolated_time_is_collective_time_and_scales_linearly() -> None:
    env = _fresh()
    ranks = np.array([0, 1, 8, 9, 17])
    for n in (1e8, 3e9):
        ref = collective_time(env.fabric, "all-reduce", "ring", n, "ecmp", ranks=ranks).time_s
        assert env._iso_time(ranks, n) == pytest.approx(ref, rel=1e-9)


def test_episode_conserves_gpus_and_contention_at_least_one() -> None:
    env = PlacementEnv(n_jobs=30)
    env.reset(seed=1)
    done = False
    while not done:
        _, _, _, done, info = env.step(env.action_space.sample())
        m = info["metrics"]
        assert m["contention"] >= 1.0 and m["slowdown"] >= 1.0 - 1e-12
        busy = sum(len(h) for _, _, h, _, _ in env.running)
        assert busy + int(env.free.sum()) == env.n_hosts
        assert all(v <= 0.0 for v in info["reward_terms"].values())


def test_spread_is_slower_than_pack_on_oversubscribed_fabric() -> None:
    spec = load_spec("tasks/placement.yaml", overrides={"n_jobs": 48})
    comp = compare(spec, ["pack", "spread"], seeds=2)
    s = {e.agent: e.stats for e in comp.evaluations}
    assert s["spread"]["slowdown"]["mean"] > s["pack"]["slowdown"]["mean"]
    assert s["spread"]["energy_kwh"]["mean"] > s["pack"]["energy_kwh"]["mean"]
    assert s["pack"]["return"]["mean"] > s["spread"]["return"]["mean"]


def test_placement_reward_weights() -> None:
    with pytest.raises(InputError, match="unknown reward weight"):
        PlacementEnv(reward_weights={"bogus": 1.0})
    env = PlacementEnv(n_jobs=10, reward_weights={"comm": 0.0, "fragmentation": 0.0, "queue": 0.0})
    env.reset(seed=0)
    _, r, _, _, info = env.step(1)
    assert r == 0.0 and info["metrics"]["slowdown"] >= 1.0


# ------------------------------------------------------------------ specs and agents
def test_load_spec_task_scenario_and_rewards() -> None:
    spec = load_spec("tasks/powercap.yaml", reward={"brake": 9.0})
    assert spec.env_id == "dcsim/PowerCap-v0"
    assert spec.kwargs["reward_weights"] == {
        "over_budget": 1.0,
        "brake": 9.0,  # --reward replaces the task file's 5.0
        "brake_event": 100.0,
        "hp_latency": 1.0,
        "lp_latency": 0.1,
    }
    assert spec.make().weights["brake"] == 9.0
    spec = load_spec(None, "cooling")
    env = spec.make()
    assert isinstance(env, CoolingEnv) and env.weights["energy"] == 1.0
    with pytest.raises(InputError, match="unknown reward") as e:  # every env takes weights
        load_spec("tasks/flowsplit.yaml", reward={"tim": 1.0}).make()
    # the weight came from --reward, not from the task file (issue 19.2)
    assert e.value.field == "reward.tim" and e.value.file == "command line (--reward tim=1.0)"
    with pytest.raises(InputError, match="contradicts"):
        load_spec("tasks/placement.yaml", env="cooling")
    with pytest.raises(InputError, match="unknown env"):
        load_spec(None, "nope")
    with pytest.raises(InputError, match="unknown agent"):
        make_agent("nope", PlacementEnv(n_jobs=4))


def test_algo_space_fit_messages() -> None:
    with pytest.raises(InputError, match="DQN needs a Discrete"):
        check_algo_fits("dqn", CoolingEnv(n_accelerators=32))
    with pytest.raises(InputError, match="SAC needs a continuous"):
        check_algo_fits("sac", PlacementEnv(n_jobs=4))
    check_algo_fits("dqn", PlacementEnv(n_jobs=4))


@pytest.mark.parametrize(
    ("space", "algo", "fits"),
    [
        (spaces.Box(-1, 1, (3,)), "dqn", "ppo, sac, a2c or td3"),
        (spaces.Discrete(3), "sac", "ppo, dqn or a2c"),
        (spaces.MultiDiscrete([4, 4]), "sac", "ppo or a2c"),  # FlowSplit-v0, CoDesign-v0
        (spaces.MultiDiscrete([4, 4]), "dqn", "ppo or a2c"),
    ],
)
def test_algo_misfit_suggests_only_algorithms_that_fit(space, algo, fits) -> None:
    """The suggestion must fit the space: DQN is Discrete-only, SAC/TD3 Box-only."""

    class Env:
        action_space = space

    with pytest.raises(InputError) as e:
        check_algo_fits(algo, Env())
    assert str(e.value).split(": use ")[1].startswith(fits), str(e.value)


def test_random_agent_reproducible() -> None:
    spec = load_spec("tasks/placement.yaml", overrides={"n_jobs": 20})
    a = evaluate(spec, "random", 2, seed=5).episodes
    b = evaluate(spec, "random", 2, seed=5).episodes
    assert a == b


# ------------------------------------------------------------------ SB3
@pytest.mark.parametrize(
    ("algo", "env_fn", "hp"),
    [
        ("ppo", lambda: PlacementEnv(n_jobs=16), TINY_PPO),
        ("ppo", lambda: CoolingEnv(n_accelerators=32, episode_steps=16), TINY_PPO),
        ("dqn", lambda: PlacementEnv(n_jobs=16), {"learning_starts": 0, "buffer_size": 100}),
    ],
)
def test_save_load_round_trip_same_actions(tmp_path: Path, algo: str, env_fn, hp) -> None:
    env = env_fn()
    agent = SB3Agent.train(algo, env, 32, seed=0, **hp)
    path = agent.save(tmp_path / "model.zip")
    with pytest.warns(UserWarning, match="pickled"):
        loaded = make_agent(f"{algo}:{path}", env)
    obs, _ = env.reset(seed=1)
    for _ in range(10):
        a, b = agent.predict(obs), loaded.predict(obs)
        np.testing.assert_array_equal(a, b)
        obs, *_ = env.step(a)


def test_train_writes_run_and_is_deterministic(tmp_path: Path) -> None:
    spec = load_spec("tasks/placement.yaml", overrides={"n_jobs": 16})
    r1 = train(spec, "ppo", 64, seed=4, out=tmp_path / "a", hyperparams=TINY_PPO)
    r2 = train(spec, "ppo", 64, seed=4, out=tmp_path / "b", hyperparams=TINY_PPO)
    m = json.loads((r1.run_dir / "manifest.json").read_text())
    assert m["status"] == "complete" and m["timesteps"] == 64 and m["algo"] == "ppo"
    assert (r1.run_dir / "training.csv").is_file() and r1.model_path.is_file()
    assert not list(r1.run_dir.parent.glob(".*partial*"))
    a = evaluate(spec, f"ppo:{r1.model_path}", 2).episodes
    b = evaluate(spec, f"ppo:{r2.model_path}", 2).episodes
    assert a == b


def test_train_reports_the_timesteps_it_ran(tmp_path: Path) -> None:
    # PPO collects whole rollouts of n_steps x n_envs: asking 40 with n_steps=32 runs 64.
    spec = load_spec("tasks/placement.yaml", overrides={"n_jobs": 16})
    r = train(spec, "ppo", 40, seed=0, out=tmp_path, hyperparams=TINY_PPO)
    m = json.loads((r.run_dir / "manifest.json").read_text())
    assert m["timesteps"] == 64 and m["timesteps_requested"] == 40


def test_run_episode_counts_violations() -> None:
    class Hot:
        def reset(self) -> None:
            pass

        def predict(self, obs):
            return np.array([1.0, 1.0, -1.0], dtype=np.float32)  # warmest setpoints, economizer off

    env = CoolingEnv(n_accelerators=64, episode_steps=40, random_start_day=False)
    ep = run_episode(env, Hot(), seed=0)
    assert ep["steps"] == 40
    assert float(ep["violation_steps"]).is_integer() and 0 <= ep["violation_steps"] <= 40
    assert ep["r_violation"] <= 0.0 and (ep["violation_steps"] > 0) == (ep["r_violation"] < 0)


# ------------------------------------------------------------------ CLI
runner = CliRunner()


def test_cli_train_evaluate_compare(tmp_path: Path) -> None:
    hp = [a for k, v in TINY_PPO.items() for a in ("--hp", f"{k}={v}")]
    res = runner.invoke(
        app,
        [
            "train",
            "tasks/placement.yaml",
            "--algo",
            "ppo",
            "--timesteps",
            "32",
            "--seed",
            "1",
            "--set",
            "n_jobs=16",
            "--out",
            str(tmp_path / "train"),
            "--json",
            *hp,
        ],
    )
    assert res.exit_code == 0, res.output
    man = json.loads(res.stdout)
    model = man["model"]
    assert Path(model).is_file()
    res = runner.invoke(
        app,
        [
            "evaluate",
            "tasks/placement.yaml",
            "--agent",
            f"ppo:{model}",
            "--episodes",
            "2",
            "--set",
            "n_jobs=16",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    ev = json.loads(res.stdout)
    assert len(ev["episodes"]) == 2 and "slowdown" in ev["stats"]
    res = runner.invoke(
        app,
        [
            "compare",
            "tasks/placement.yaml",
            "--agents",
            f"pack,spread,ppo:{model}",
            "--seeds",
            "2",
            "--set",
            "n_jobs=16",
            "--out",
            str(tmp_path / "cmp"),
        ],
    )
    assert res.exit_code == 0, res.output
    out = next((tmp_path / "cmp").glob("*/compare-*"))
    assert {"compare.csv", "episodes.csv", "summary.json", "compare.png"} <= {
        p.name for p in out.iterdir()
    }
    assert "mean ± 95% CI" in res.stdout
    head = (out / "compare.csv").read_text().splitlines()[0]
    assert head.split(",")[:4] == ["agent", "metric", "mean", "ci95"]


def test_cli_bad_inputs_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "train",
            "tasks/cooling.yaml",
            "--algo",
            "dqn",
            "--timesteps",
            "8",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2 and "DQN needs a Discrete" in res.output
    res = runner.invoke(app, ["evaluate", "tasks/placement.yaml", "--agent", "nope"])
    assert res.exit_code == 2 and "unknown agent" in res.output
    res = runner.invoke(app, ["evaluate", "tasks/placement.yaml", "--agent", "ppo:/no/such.zip"])
    assert res.exit_code == 2 and "not found" in res.output
    res = runner.invoke(
        app, ["compare", "tasks/placement.yaml", "--agents", "pack", "--reward", "bogus=1"]
    )
    assert res.exit_code == 2 and "bogus" in res.output
    bad = tmp_path / "t.yaml"
    bad.write_text("env: dcsim/Placement-v0\nkwargs: {n_jobs: -3}\n")
    res = runner.invoke(app, ["evaluate", str(bad), "--agent", "pack"])
    assert res.exit_code == 2 and "n_jobs" in res.output


def test_tensorboard_and_checkpoints(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    spec = load_spec("tasks/placement.yaml", overrides={"n_jobs": 16})
    r = train(
        spec,
        "ppo",
        64,
        seed=0,
        out=tmp_path / "r",
        hyperparams=TINY_PPO,
        tensorboard=str(tmp_path / "tb"),
        checkpoint_every=32,
    )
    assert list((tmp_path / "tb").rglob("events.out.tfevents*"))
    assert sorted(p.name for p in (r.run_dir / "checkpoints").iterdir())[:1] == [
        "model_32_steps.zip"
    ]


def test_normalize_stats_saved_and_applied(tmp_path: Path) -> None:
    spec = load_spec("tasks/placement.yaml", overrides={"n_jobs": 16})
    r = train(spec, "ppo", 64, seed=0, out=tmp_path, hyperparams=TINY_PPO, normalize=True)
    norm = json.loads((r.run_dir / "obs_norm.json").read_text())
    env = spec.make()
    assert len(norm["mean"]) == env.observation_space.shape[0]
    agent = make_agent(f"ppo:{r.model_path}", env)
    obs, _ = env.reset(seed=2)
    z = np.clip(
        (obs - np.array(norm["mean"])) / np.sqrt(np.array(norm["var"]) + norm["epsilon"]),
        -norm["clip_obs"],
        norm["clip_obs"],
    ).astype(np.float32)
    assert agent.predict(obs) == agent.model.predict(z, deterministic=True)[0]
    again = SB3Agent.load("ppo", agent.save(tmp_path / "copy" / "model.zip"))
    assert again.obs_norm == agent.obs_norm


def test_cli_unloadable_model_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_text("not a model")
    res = runner.invoke(app, ["evaluate", "tasks/placement.yaml", "--agent", f"ppo:{junk}"])
    assert res.exit_code == 2 and "cannot load PPO model" in res.output


def test_interrupted_training_keeps_checkpoints_and_resume_continues(tmp_path: Path) -> None:
    # The interruption is synchronised on the training step itself (no sleeps): on_step raises
    # KeyboardInterrupt at step 96, before that step's checkpoint: the latest is step 64.
    spec = load_spec("tasks/placement.yaml", overrides={"n_jobs": 16})

    def stop(k: int) -> None:
        if k >= 96:
            raise KeyboardInterrupt

    kw = {"seed": 3, "out": tmp_path, "hyperparams": TINY_PPO, "checkpoint_every": 32}
    with pytest.raises(KeyboardInterrupt):
        train(spec, "ppo", 160, on_step=stop, **kw)
    ckpts = sorted(tmp_path.rglob("*.checkpoints/model_*_steps.zip"))
    assert [p.name for p in ckpts] == ["model_32_steps.zip", "model_64_steps.zip"]
    assert not list(tmp_path.rglob("manifest.json"))  # nothing under a final name
    r = train(spec, "ppo", 160, resume=True, **kw)
    m = json.loads((r.run_dir / "manifest.json").read_text())
    assert m["resumed_from_timestep"] == 64 and m["timesteps"] == 160
    assert (r.run_dir / "checkpoints" / "model_160_steps.zip").is_file()
    again = train(spec, "ppo", 160, resume=True, **kw)  # complete: returned as it is
    assert again.run_dir == r.run_dir and again.episodes == []


def test_cli_train_resume_flag_reaches_training(tmp_path: Path) -> None:
    hp = [a for k, v in TINY_PPO.items() for a in ("--hp", f"{k}={v}")]
    args = ["train", "tasks/placement.yaml", "--timesteps", "64", "--set", "n_jobs=16"]
    args += ["--checkpoint-every", "32", "--out", str(tmp_path), "--json", *hp]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert a["run_dir"] == b["run_dir"] and a["timesteps"] == b["timesteps"] == 64


@pytest.fixture(scope="module")
def ppo_zip(tmp_path_factory) -> Path:
    env = PlacementEnv(n_jobs=16)
    agent = SB3Agent.train("ppo", env, 32, seed=0, **TINY_PPO)
    return agent.save(tmp_path_factory.mktemp("ppo") / "m" / "model.zip")


@pytest.mark.parametrize("algo", ["sac", "a2c", "dqn", "td3"])
def test_a_model_loaded_as_another_algorithm_says_which_it_is(ppo_zip: Path, algo: str) -> None:
    """Issue 14.3: `sac:` or `dqn:` on a PPO zip was an AssertionError / AttributeError
    traceback; a2c: loaded it silently as A2C."""
    with pytest.raises(InputError) as err:
        SB3Agent.load(algo, ppo_zip, env=PlacementEnv(n_jobs=16))
    assert err.value.file == str(ppo_zip) and err.value.field == "agent"
    assert f"this is a PPO model, not {algo.upper()}; load it as ppo:" in str(err.value)


@pytest.mark.parametrize(
    "text, field",
    [
        ('{"mean": [1, 2', None),
        ("[]", None),
        ('{"mean": [1, 2], "var": [1, 1], "epsilon": 1e-8, "clip_obs": 10}', "mean"),
        ('{"mean": [0], "var": [1], "epsilon": 1e-8, "clip_obs": 10}', "mean"),
        ("{}", "mean"),
    ],
)
def test_a_bad_obs_norm_file_is_a_clean_error(ppo_zip: Path, tmp_path: Path, text, field) -> None:
    """Issue 14.3: a malformed obs_norm.json next to a model was a JSONDecodeError, KeyError
    or TypeError traceback."""
    import shutil

    model = tmp_path / "model.zip"
    shutil.copy(ppo_zip, model)
    env = PlacementEnv(n_jobs=16)
    n = env.observation_space.shape[0]
    text = text.replace('"mean": [0], "var": [1]', f'"mean": {[0] * n}, "var": {[-1] * n}')
    (tmp_path / "obs_norm.json").write_text(text)
    if field == "mean" and "[-1" in text:
        field = "var"
    with pytest.warns(UserWarning, match="pickled"), pytest.raises(InputError) as err:
        SB3Agent.load("ppo", model, env=env)
    assert err.value.file == str(tmp_path / "obs_norm.json") and err.value.field == field


def test_a_good_obs_norm_file_is_used(ppo_zip: Path, tmp_path: Path) -> None:
    import shutil

    model = tmp_path / "model.zip"
    shutil.copy(ppo_zip, model)
    env = PlacementEnv(n_jobs=16)
    n = env.observation_space.shape[0]
    norm = {"mean": [0.5] * n, "var": [4.0] * n, "epsilon": 1e-8, "clip_obs": 10.0}
    (tmp_path / "obs_norm.json").write_text(json.dumps(norm))
    with pytest.warns(UserWarning, match="pickled"):
        agent = SB3Agent.load("ppo", model, env=env)
    assert agent.obs_norm == norm
