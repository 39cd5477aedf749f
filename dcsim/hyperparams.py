"""Validated Stable-Baselines3 hyperparameters, one pydantic model per algorithm.

`--hp NAME=VALUE` values arrive as YAML scalars (`1e-3` is a string in YAML 1.1); pydantic's
lax mode turns numeric text into numbers, and the bounds below refuse values SB3 would
accept only to fail later (or silently diverge). Ranges follow SB3's documented meaning of
each parameter (stable-baselines3 docs, "PPO/A2C/SAC/TD3/DQN parameters").
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from dcsim.errors import InputError
from dcsim.schema import StrictModel, validate_model


class _Common(StrictModel):
    learning_rate: float | None = Field(None, gt=0, le=1, description="optimizer step size")
    gamma: float | None = Field(None, gt=0, le=1, description="discount factor")


class _OnPolicy(_Common):
    n_steps: int | None = Field(None, ge=1, le=1_000_000, description="rollout steps per env")
    gae_lambda: float | None = Field(None, ge=0, le=1)
    ent_coef: float | None = Field(None, ge=0, le=10)
    vf_coef: float | None = Field(None, ge=0, le=100)
    max_grad_norm: float | None = Field(None, gt=0)
    normalize_advantage: bool | None = None


class PPOParams(_OnPolicy):
    batch_size: int | None = Field(None, ge=2, le=10_000_000, description="minibatch size")
    n_epochs: int | None = Field(None, ge=1, le=1000)
    clip_range: float | None = Field(None, gt=0, le=10)
    target_kl: float | None = Field(None, gt=0)


class A2CParams(_OnPolicy):
    use_rms_prop: bool | None = None
    rms_prop_eps: float | None = Field(None, gt=0)


class _OffPolicy(_Common):
    buffer_size: int | None = Field(None, ge=1, le=100_000_000)
    learning_starts: int | None = Field(None, ge=0)
    batch_size: int | None = Field(None, ge=1, le=10_000_000)
    tau: float | None = Field(None, gt=0, le=1, description="soft target update coefficient")
    train_freq: int | None = Field(None, ge=1)
    gradient_steps: int | None = Field(None, ge=-1, description="-1: as many as env steps")

    @model_validator(mode="after")
    def _gradient_steps(self) -> _OffPolicy:
        if self.gradient_steps == 0:
            raise ValueError("gradient_steps must be -1 or >= 1")
        return self


class SACParams(_OffPolicy):
    ent_coef: float | Literal["auto"] | None = None
    target_update_interval: int | None = Field(None, ge=1)


class TD3Params(_OffPolicy):
    policy_delay: int | None = Field(None, ge=1)
    target_policy_noise: float | None = Field(None, ge=0)
    target_noise_clip: float | None = Field(None, ge=0)


class DQNParams(_OffPolicy):
    target_update_interval: int | None = Field(None, ge=1)
    exploration_fraction: float | None = Field(None, ge=0, le=1)
    exploration_initial_eps: float | None = Field(None, ge=0, le=1)
    exploration_final_eps: float | None = Field(None, ge=0, le=1)
    max_grad_norm: float | None = Field(None, gt=0)


MODELS: dict[str, type[_Common]] = {
    "ppo": PPOParams,
    "maskable-ppo": PPOParams,  # sb3-contrib MaskablePPO takes PPO's parameters
    "a2c": A2CParams,
    "sac": SACParams,
    "td3": TD3Params,
    "dqn": DQNParams,
}


def validate_hyperparams(algo: str, raw: dict[str, Any] | None, n_envs: int = 1) -> dict[str, Any]:
    """Typed, bounded hyperparameters for `algo` (only those given); InputError names `hp.NAME`."""
    model = MODELS[algo]
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(model.model_fields))
    if unknown:
        raise InputError(
            f"unknown {algo.upper()} hyperparameter '{unknown[0]}'; "
            f"expected one of: {', '.join(sorted(model.model_fields))}",
            field=f"hp.{unknown[0]}",
        )
    if any(v is None for v in raw.values()):
        name = next(k for k, v in raw.items() if v is None)
        raise InputError("needs a value (NAME=VALUE)", field=f"hp.{name}")
    params = validate_model(model, raw, prefix="hp")
    out = params.model_dump(exclude_unset=True)
    if algo in ("ppo", "maskable-ppo") and out.get("n_steps", 2048) * n_envs < 2:
        raise InputError(
            "n_steps x n_envs must be > 1 for PPO's advantage normalisation", field="hp.n_steps"
        )
    return out
