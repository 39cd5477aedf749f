"""`dcsim train --cost-limit` (PPO-Lagrangian, Ray et al. 2019): the training reward loses
exactly the multiplier on violation steps (the steps `violation_steps` counts), and the
multiplier follows lambda <- max(0, lambda + lr (violation share - limit)) rollout by rollout."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from dcsim.agents.lagrangian import LagrangianPenalty, next_multiplier

from dcsim.envs.codesign import CoDesignEnv
from dcsim.errors import InputError
from dcsim.evaluation import load_spec, run_episode
from dcsim.training import train

SMALL = {
    "episode_steps": 24,
    "engine": {"racks": 8, "inference": {"servers": 2}, "workload": {"mix": {"job_sizes": {8: 1}}}},
}
COOLING = str(Path(__file__).resolve().parents[1] / "scenarios" / "tasks" / "cooling.yaml")
TINY = {"n_steps": 16, "batch_size": 16, "n_epochs": 1}


class _Replay:
    """Plays a fixed action sequence (so two envs see the same actions)."""

    def __init__(self, actions: list[np.ndarray]) -> None:
        self.actions = actions
        self.k = 0

    def reset(self) -> None:
        self.k = 0

    def predict(self, obs: np.ndarray) -> np.ndarray:
        self.k += 1
        return self.actions[self.k - 1]


def test_penalty_is_the_multiplier_on_exactly_the_violation_steps() -> None:
    plain, wrapped = CoDesignEnv(**SMALL), LagrangianPenalty(CoDesignEnv(**SMALL))
    wrapped.set_multiplier(2.5)
    space = plain.action_space
    space.seed(3)
    actions = [space.sample() for _ in range(24)]
    plain.reset(seed=7)
    wrapped.reset(seed=7)
    flags = []
    for a in actions:
        _, r0, *_ = plain.step(a)
        _, r1, _, _, info = wrapped.step(a)
        flags.append(info["violation_step"])
        assert r1 == pytest.approx(r0 - 2.5 * info["violation_step"], abs=1e-12)
    # the same steps `dcsim compare` counts as violation steps
    counted = run_episode(CoDesignEnv(**SMALL), _Replay(actions), seed=7)["violation_steps"]
    assert 0 < sum(flags) == counted < len(actions)


def test_multiplier_rises_with_violations_falls_below_the_limit_and_never_goes_negative() -> None:
    assert next_multiplier(0.0, 0.1, 0.0, 2.0) == pytest.approx(0.2)
    assert next_multiplier(0.2, 0.1, 0.0, 2.0) == pytest.approx(0.4)  # ascent on the constraint
    assert next_multiplier(0.4, 0.0, 0.05, 2.0) == pytest.approx(0.3)  # slack: it falls
    assert next_multiplier(0.05, 0.0, 0.05, 2.0) == 0.0  # projected onto lambda >= 0
    assert next_multiplier(1.0, 0.05, 0.05, 2.0) == 1.0  # on the limit: unchanged


def test_training_applies_the_update_each_rollout_and_records_it(tmp_path: Path) -> None:
    spec = load_spec(COOLING, overrides={"n_accelerators": 64, "episode_steps": 20})
    r = train(
        spec,
        "ppo",
        64,
        seed=0,
        out=tmp_path,
        hyperparams=TINY,
        cost_limit=0.0,
        lagrange_lr=3.0,
        checkpoint_every=32,
    )
    text = (r.run_dir / "lagrangian.csv").read_text()
    data = list(csv.DictReader(io.StringIO(text)))
    assert list(data[0]) == ["timestep", "violation_share", "multiplier"]
    assert len(data) == 4  # 64 steps / 16 per rollout
    lam = 0.0
    for row in data:
        lam = next_multiplier(lam, float(row["violation_share"]), 0.0, 3.0)
        assert float(row["multiplier"]) == pytest.approx(lam)
    assert lam > 0  # the random early policy violated the inlet band
    # streamed beside the checkpoints as it went, the same rows
    streamed = list(
        csv.DictReader(io.StringIO((r.run_dir / "checkpoints" / "lagrangian.csv").read_text()))
    )
    assert [{k: float(v) for k, v in x.items()} for x in streamed] == [
        {k: float(v) for k, v in x.items()} for x in data
    ]
    m = json.loads((r.run_dir / "manifest.json").read_text())
    assert m["lagrangian"] == {"cost_limit": 0.0, "lr": 3.0, "final_multiplier": pytest.approx(lam)}


def test_bad_limits_are_refused_naming_the_field(tmp_path: Path) -> None:
    spec = load_spec(COOLING, overrides={"n_accelerators": 64, "episode_steps": 20})
    for kw, field in (
        ({"cost_limit": 1.5}, "cost_limit"),
        ({"cost_limit": 0.0, "lagrange_lr": 0.0}, "lagrange_lr"),
    ):
        with pytest.raises(InputError) as exc:
            train(spec, "ppo", 16, out=tmp_path, hyperparams=TINY, **kw)
        assert exc.value.field == field


def test_the_updated_multiplier_reaches_every_env() -> None:
    from dcsim.agents.lagrangian import multiplier_callback
    from dcsim.agents.sb3 import SB3Agent, make_vec_env

    vec = make_vec_env(lambda: LagrangianPenalty(CoDesignEnv(**SMALL)), 2, subproc=False)
    history: list[dict[str, float]] = []
    SB3Agent.train("ppo", vec, 64, seed=0, callback=multiplier_callback(0.0, 5.0, history), **TINY)
    assert len(history) == 2 and history[-1]["multiplier"] > 0  # 2 rollouts of 16 x 2 envs
    assert vec.get_attr("multiplier") == [history[-1]["multiplier"]] * 2
