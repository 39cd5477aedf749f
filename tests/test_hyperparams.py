"""`--hp` values: typed from YAML text, bounded, unknown names refused (issue 14)."""

from __future__ import annotations

import pytest

from dcsim.errors import InputError
from dcsim.hyperparams import MODELS, validate_hyperparams


def test_help_example_learning_rate_1e_3_is_a_float() -> None:
    # YAML 1.1 reads `1e-3` as a string; the README/--help example must still work.
    hp = validate_hyperparams("ppo", {"learning_rate": "1e-3", "n_steps": 512})
    assert hp == {"learning_rate": pytest.approx(1e-3), "n_steps": 512}
    assert isinstance(hp["learning_rate"], float)


def test_only_given_values_are_passed_on() -> None:
    assert validate_hyperparams("sac", {}) == {}
    assert validate_hyperparams("sac", {"ent_coef": "auto"}) == {"ent_coef": "auto"}


@pytest.mark.parametrize(
    "algo,raw,field",
    [
        ("ppo", {"learning_rate": -1}, "hp.learning_rate"),
        ("ppo", {"learning_rate": "fast"}, "hp.learning_rate"),
        ("ppo", {"gamma": 1.5}, "hp.gamma"),
        ("ppo", {"gamma": 0}, "hp.gamma"),
        ("ppo", {"n_steps": 0}, "hp.n_steps"),
        ("ppo", {"n_steps": 1}, "hp.n_steps"),
        ("ppo", {"n_steps": 2.5}, "hp.n_steps"),
        ("ppo", {"batch_size": 1}, "hp.batch_size"),
        ("ppo", {"n_epochs": 0}, "hp.n_epochs"),
        ("ppo", {"clip_range": 0}, "hp.clip_range"),
        ("ppo", {"ent_coef": -0.1}, "hp.ent_coef"),
        ("ppo", {"gae_lambda": 2}, "hp.gae_lambda"),
        ("ppo", {"learning_rate": float("nan")}, "hp.learning_rate"),
        ("ppo", {"learning_rate": None}, "hp.learning_rate"),
        ("ppo", {"learnig_rate": 1e-3}, "hp.learnig_rate"),
        ("ppo", {"buffer_size": 10}, "hp.buffer_size"),
        ("sac", {"tau": 0}, "hp.tau"),
        ("sac", {"gradient_steps": 0}, "hp"),
        ("dqn", {"exploration_final_eps": 1.5}, "hp.exploration_final_eps"),
    ],
)
def test_bad_values_name_the_field(algo: str, raw: dict, field: str) -> None:
    with pytest.raises(InputError) as exc:
        validate_hyperparams(algo, raw)
    assert (exc.value.field or "").startswith(field)


def test_every_model_field_exists_in_sb3() -> None:
    sb3 = pytest.importorskip("stable_baselines3")
    import inspect

    contrib = pytest.importorskip("sb3_contrib")
    classes = {"ppo": sb3.PPO, "a2c": sb3.A2C, "sac": sb3.SAC, "td3": sb3.TD3, "dqn": sb3.DQN}
    classes["maskable-ppo"] = contrib.MaskablePPO
    for algo, model in MODELS.items():
        params = set(inspect.signature(classes[algo]).parameters)
        assert set(model.model_fields) <= params, (algo, set(model.model_fields) - params)
