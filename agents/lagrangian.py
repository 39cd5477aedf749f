"""Lagrangian constraint handling for `dcsim train --cost-limit` (PPO-Lagrangian).

The constrained MDP: maximise the env's return subject to the share of steps with a
constraint violation (a step where a `REWARD` term marked `violation` is negative, the
`violation_steps` that `dcsim compare` reports) staying <= `cost_limit`. Training maximises
the Lagrangian reward r - lambda * 1[violation step], and after every rollout the
multiplier takes a projected gradient-ascent step on the constraint,
lambda <- max(0, lambda + lr * (violation share of the rollout - cost_limit)),
as in PPO-Lagrangian (Ray, Achiam & Amodei, "Benchmarking Safe Exploration in Deep
Reinforcement Learning", OpenAI 2019, Sec. 5). The penalty exists only in training; the
saved model is evaluated on the env's own reward.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from dcsim.errors import InputError
from dcsim.evaluation import is_violation_step


def check_lagrangian(cost_limit: float, lr: float) -> None:
    """Refuse a limit outside [0, 1] (it is a share of steps) or a step size <= 0."""
    if not 0.0 <= cost_limit <= 1.0:
        raise InputError(
            f"cost_limit is the allowed share of steps with a violation, in [0, 1] "
            f"(got {cost_limit!r})",
            field="cost_limit",
        )
    if not lr > 0.0:
        raise InputError(f"lagrange_lr must be > 0 (got {lr!r})", field="lagrange_lr")


def next_multiplier(
    multiplier: float, violation_share: float, cost_limit: float, lr: float
) -> float:
    """One projected gradient-ascent step of the Lagrange multiplier (never below 0)."""
    return max(0.0, multiplier + lr * (violation_share - cost_limit))


class LagrangianPenalty(gym.Wrapper):
    """Subtracts `multiplier` from the reward on every violation step; marks the step in
    `info["violation_step"]` (0 or 1) for the multiplier update."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.multiplier = 0.0
        self._violation_terms = tuple(t.name for t in env.unwrapped.REWARD if t.violation)
        if not self._violation_terms:
            raise InputError(
                f"{env.unwrapped.spec.id if env.unwrapped.spec else type(env.unwrapped).__name__}"
                " has no constraint (violation) reward terms: --cost-limit has nothing to limit",
                field="cost_limit",
            )

    def set_multiplier(self, value: float) -> None:
        self.multiplier = float(value)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        v = is_violation_step(info.get("reward_terms", {}), self._violation_terms)
        info["violation_step"] = int(v)
        return obs, float(reward) - self.multiplier * v, terminated, truncated, info


def multiplier_callback(
    cost_limit: float, lr: float, history: list[dict[str, float]], log: Path | None = None
) -> Any:
    """An SB3 callback that counts violation steps over each rollout, updates the multiplier
    with `next_multiplier` at the rollout's end and pushes it to every env; appends
    {timestep, violation_share, multiplier} to `history` per rollout, and as a CSV row to
    `log` if given (so an interrupted run still shows its multiplier)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class _Multiplier(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.multiplier = 0.0
            self.steps = 0
            self.violations = 0

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                self.steps += 1
                self.violations += int(info.get("violation_step", 0))
            return True

        def _on_rollout_end(self) -> None:
            share = self.violations / max(self.steps, 1)
            self.multiplier = next_multiplier(self.multiplier, share, cost_limit, lr)
            self.training_env.env_method("set_multiplier", self.multiplier)
            row = {
                "timestep": float(self.num_timesteps),
                "violation_share": share,
                "multiplier": self.multiplier,
            }
            history.append(row)
            if log is not None:
                log.parent.mkdir(parents=True, exist_ok=True)
                with log.open("a") as f:
                    if f.tell() == 0:
                        f.write(",".join(row) + "\n")
                    f.write(",".join(repr(v) for v in row.values()) + "\n")
            self.steps = self.violations = 0

    return _Multiplier()
