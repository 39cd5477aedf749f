"""Agents: heuristic baselines and Stable-Baselines3 policies, selected by name.

Every agent has `predict(obs) -> action` and `reset()`. Names are per env (see
`available(env)`): heuristics (`fixed`, `reactive`, `polca`, `ecmp`, `pack`, ...), the
env-agnostic `random`, or a saved SB3 model `ALGO:path.zip` (e.g. `ppo:runs/train/model.zip`).
Heuristic modules are imported lazily, so a missing optional module only affects its env.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from dcsim.errors import InputError

Builder = Callable[..., Any]


def _cls(module: str, cls_name: str, **kwargs: Any) -> Builder:
    def build(env: Any, seed: int = 0) -> Any:
        return getattr(importlib.import_module(module), cls_name)(env, **kwargs)

    build.__doc__ = f"{module}.{cls_name}"
    return build


def _discover(module: str) -> dict[str, Builder]:
    """Classes of `module` with a `name` attribute and `predict` (agents named by `name`)."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return {}
    out: dict[str, Builder] = {}
    for cls_name, obj in vars(mod).items():
        name = getattr(obj, "name", None)
        if (
            inspect.isclass(obj)
            and obj.__module__ == mod.__name__
            and hasattr(obj, "predict")
            and isinstance(name, str)
        ):
            out[name] = _cls(module, cls_name)
    return out


def _uncapped(env: Any, seed: int = 0) -> Any:
    import numpy as np
    from dcsim.agents.baselines import ConstantAction

    return ConstantAction(env, np.ones(env.action_space.shape), name="uncapped")


def _random(env: Any, seed: int = 0) -> Any:
    from dcsim.agents.baselines import RandomAgent

    return RandomAgent(env, seed=seed)


# env class name -> {agent name -> builder}; FlowSplit names come from agents/routing.py.
HEURISTICS: dict[str, dict[str, Builder]] = {
    "DatacenterEnv": {
        "fixed": _cls("dcsim.agents.datacenter", "FixedSetpoint"),
        "reactive": _cls("dcsim.agents.datacenter", "ReactiveSetpoint"),
        "carbon-cap": _cls("dcsim.agents.datacenter", "CarbonAwareCap"),
        "reactive-spray": _cls("dcsim.agents.datacenter", "ReactiveSpray"),
    },
    "CoolingEnv": {
        "fixed": _cls("dcsim.agents.cooling", "FixedSetpoint"),
        "reactive": _cls("dcsim.agents.cooling", "ReactiveSetpoint"),
    },
    "PowerCapEnv": {
        "polca": _cls("dcsim.agents.polca", "PolcaAgent"),
        "uncapped": _uncapped,
    },
    "PlacementEnv": {
        "pack": _cls("dcsim.agents.placement", "Pack"),
        "spread": _cls("dcsim.agents.placement", "Spread"),
        "first-fit": _cls("dcsim.agents.placement", "FirstFit"),
    },
}
_DISCOVER = {
    "FlowSplitEnv": ("dcsim.agents.routing",),
    "CoDesignEnv": ("dcsim.agents.codesign", "dcsim.agents.codesign_oracle"),
}
GENERIC: dict[str, Builder] = {"random": _random}

SB3_ALGOS = ("ppo", "sac", "dqn", "a2c", "td3", "maskable-ppo")


def _table(env: Any) -> dict[str, Builder]:
    return _class_table(type(env.unwrapped).__name__)


def _class_table(name: str) -> dict[str, Builder]:
    table = dict(HEURISTICS.get(name, {}))
    if name in _DISCOVER:
        for module in _DISCOVER[name]:
            table = _discover(module) | table
    return table


def check_agent_name(name: str, env_class: str) -> str:
    """`name` if it is an agent of the env class `env_class` (heuristic, `random` or
    ALGO:model.zip), else ValueError listing the valid names (for config validators)."""
    if is_sb3(name):
        return name
    table = _class_table(env_class) | GENERIC
    if name not in table:
        raise ValueError(
            f"unknown agent '{name}'; expected one of: {', '.join(sorted(table))} "
            f"or ALGO:model.zip with ALGO in {', '.join(SB3_ALGOS)}"
        )
    return name


def all_heuristics() -> list[str]:
    """Every env's heuristic names, discovered ones included (CLI completion)."""
    names = {n for table in HEURISTICS.values() for n in table}
    for modules in _DISCOVER.values():
        for module in modules:
            names |= set(_discover(module))
    return sorted(names)


def heuristics(env: Any) -> list[str]:
    """Names of the env's heuristic baselines (no `random`), best-known first is not implied."""
    return sorted(_table(env))


def available(env: Any) -> list[str]:
    return sorted(_table(env) | GENERIC)


def is_sb3(name: str) -> bool:
    return ":" in name and name.split(":", 1)[0].lower() in SB3_ALGOS


def make_agent(name: str, env: Any, seed: int = 0) -> Any:
    """Build the agent called `name` for `env` (InputError lists the valid names)."""
    if is_sb3(name):
        from dcsim.agents.sb3 import SB3Agent

        algo, path = name.split(":", 1)
        return SB3Agent.load(algo.lower(), path, env)
    table = _table(env) | GENERIC
    if name not in table:
        raise InputError(
            f"unknown agent '{name}' for {type(env.unwrapped).__name__}; expected one of: "
            f"{', '.join(sorted(table))} or ALGO:model.zip with ALGO in {', '.join(SB3_ALGOS)}",
            field="agent",
        )
    return table[name](env, seed=seed)
