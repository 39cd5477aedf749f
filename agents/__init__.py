"""Agents: heuristic baselines and Stable-Baselines3 policies, selected by name.

Every agent has `predict(obs) -> action` and `reset()`. Names: heuristics
(`fixed`, `reactive`, `carbon-cap`, ...) or a saved SB3 model `ALGO:path.zip`
(e.g. `ppo:runs/train/model.zip`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dcsim.errors import InputError


def _datacenter(cls_name: str) -> Callable[[Any], Any]:
    def build(env: Any) -> Any:
        from agents import datacenter

        return getattr(datacenter, cls_name)(env)

    return build


HEURISTICS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "DatacenterEnv": {
        "fixed": _datacenter("FixedSetpoint"),
        "reactive": _datacenter("ReactiveSetpoint"),
        "carbon-cap": _datacenter("CarbonAwareCap"),
    },
}

SB3_ALGOS = ("ppo", "sac", "dqn", "a2c", "td3")


def available(env: Any) -> list[str]:
    return sorted(HEURISTICS.get(type(env.unwrapped).__name__, {}))


def make_agent(name: str, env: Any) -> Any:
    """Build the agent called `name` for `env` (InputError lists the valid names)."""
    if ":" in name and name.split(":", 1)[0].lower() in SB3_ALGOS:
        from agents.sb3 import SB3Agent

        algo, path = name.split(":", 1)
        return SB3Agent.load(algo.lower(), path, env)
    table = HEURISTICS.get(type(env.unwrapped).__name__, {})
    if name not in table:
        raise InputError(
            f"unknown agent '{name}' for {type(env.unwrapped).__name__}; expected one of: "
            f"{', '.join(sorted(table))} or ALGO:model.zip with ALGO in {', '.join(SB3_ALGOS)}",
            field="agent",
        )
    return table[name](env)
