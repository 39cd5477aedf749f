"""Env-agnostic reference agents: a uniform random policy and a constant action.

`random` is the floor every RL benchmark reports (e.g. the Atari/MuJoCo tables of Mnih et
al. 2015 and the SB3 zoo); `uncapped` on PowerCap-v0 is "no controller at all" (full
clocks, only the row's power brake protects the budget), the reference POLCA improves on.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RandomAgent:
    """Samples the action space with its own seeded generator (reproducible)."""

    name = "random"

    def __init__(self, env: Any, seed: int = 0):
        self.space = env.action_space
        self.space.seed(seed)  # one stream across episodes, fixed by the seed

    def reset(self) -> None:
        pass

    def predict(self, obs: np.ndarray) -> Any:
        return self.space.sample()


class ConstantAction:
    """The same action every step."""

    def __init__(self, env: Any, action: Any, name: str = "constant"):
        self.action = np.asarray(action, dtype=env.action_space.dtype)
        self.name = name

    def reset(self) -> None:
        pass

    def predict(self, obs: np.ndarray) -> Any:
        return self.action.copy()
