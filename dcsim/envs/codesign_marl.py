"""A PettingZoo `ParallelEnv` view of `dcsim/CoDesign-v0`: one agent per layer.

Agents `scheduler`, `network`, `power`, `cooling` each own their slice of the single env's
`MultiDiscrete` action (`SLICES`); the view joins the four slices and steps one
`CoDesignEnv`, so it holds no physics and a rollout equals the single env's under the joined
action (tested). The team is cooperative: every agent gets the env reward, and
`infos[agent]["cost"]` passes the constraint costs through for constrained MARL.

Every agent observes the full observation, not a per-layer slice: the layers are coupled
through shared state (a start raises rack power, which the power agent caps against the budget
and the cooling agent must remove; routing changes exposed communication and so power), so no
slice is sufficient for any layer, and the full vector is small (~200 features). Methods that
want local views can slice it by `CoDesignEnv.features` names.

The scheduler's action mask (`CoDesignEnv.action_masks`, its `top_k` slot segments) is in
`infos["scheduler"]["action_mask"]` and `action_mask("scheduler")`; other layers' choices are
always valid.

Needs the optional `pettingzoo` package (the `marl` extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from dcsim.envs.codesign import CoDesignEnv
from dcsim.errors import InputError

try:
    from pettingzoo import ParallelEnv
except ImportError:  # pragma: no cover - depends on extras
    from dcsim.resources import install_hint

    raise InputError(
        f"pettingzoo is not installed; install the extra: {install_hint('marl')}"
    ) from None

AGENTS = ("scheduler", "network", "power", "cooling")


def slices(top_k: int) -> dict[str, slice]:
    """Each agent's part of the single env's action vector (see `CoDesignEnv.decode`):
    scheduler = the top-k queue slots, network = routing per training class, power = clock
    cap per class, cooling = supply air, CHW, economizer and tank."""
    k = top_k
    return {
        "scheduler": slice(0, k),
        "network": slice(k, k + 2),
        "power": slice(k + 2, k + 5),
        "cooling": slice(k + 5, k + 9),
    }


class CoDesignParallelEnv(ParallelEnv):
    """CoDesign-v0 as a cooperative four-agent `ParallelEnv` (shared reward, full obs)."""

    metadata = {"name": "dcsim_codesign_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, env: CoDesignEnv | None = None, **kwargs: Any) -> None:
        """Wrap `env`, or build a `CoDesignEnv(**kwargs)`."""
        if env is not None and kwargs:
            raise InputError("pass either env or CoDesign-v0 kwargs, not both", field="env")
        self.env = env if env is not None else CoDesignEnv(**kwargs)
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        self.slices = slices(self.env.top_k)
        nvec = self.env.nvec
        self._action_spaces = {
            a: spaces.MultiDiscrete(nvec[s].copy()) for a, s in self.slices.items()
        }
        self._obs_space = self.env.observation_space
        mask_len = np.cumsum([0, *nvec])
        sch = self.slices["scheduler"]
        self._mask_slice = slice(int(mask_len[sch.start]), int(mask_len[sch.stop]))

    def observation_space(self, agent: str) -> spaces.Space:
        """The same space object on every call (the API test checks identity)."""
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        """The agent's slice of the MultiDiscrete action (same object on every call)."""
        return self._action_spaces[agent]

    def action_mask(self, agent: str) -> np.ndarray:
        """Flat mask over the agent's sub-actions' choices (all True except the scheduler's)."""
        if agent == "scheduler":
            return self.env.action_masks()[self._mask_slice]
        return np.ones(int(self._action_spaces[agent].nvec.sum()), dtype=bool)

    def join(self, actions: dict[str, Any]) -> np.ndarray:
        """The single env's action from the agents' slices (a missing agent's slice is 0)."""
        a = np.zeros(len(self.env.nvec), dtype=np.int64)
        for agent, act in actions.items():
            if agent not in self.slices:
                raise InputError(f"unknown agent '{agent}'; expected one of {AGENTS}")
            a[self.slices[agent]] = np.asarray(act, dtype=np.int64)
        return a

    def split(self, action: np.ndarray) -> dict[str, np.ndarray]:
        """The agents' slices of a single-env action (inverse of `join`)."""
        a = np.asarray(action, dtype=np.int64)
        return {agent: a[s].copy() for agent, s in self.slices.items()}

    def _infos(self, info: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {a: dict(info) for a in self.agents}
        if "scheduler" in out:
            out["scheduler"]["action_mask"] = self.action_mask("scheduler")
        return out

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return {a: obs for a in self.agents}, self._infos(info)

    def step(self, actions: dict[str, Any]):
        obs, reward, term, trunc, info = self.env.step(self.join(actions))
        agents = list(self.agents)
        out = (
            {a: obs for a in agents},
            {a: float(reward) for a in agents},
            {a: bool(term) for a in agents},
            {a: bool(trunc) for a in agents},
            self._infos(info),
        )
        if term or trunc:
            self.agents = []
        return out

    def state(self) -> np.ndarray:
        """The global observation (every agent already sees it)."""
        return self.env._obs()

    def close(self) -> None:
        self.env.close()


def parallel_env(**kwargs: Any) -> CoDesignParallelEnv:
    """PettingZoo-style constructor: `parallel_env(**CoDesign-v0 kwargs)`."""
    return CoDesignParallelEnv(**kwargs)
