"""Oracle MPC for `dcsim/CoDesign-v0`: the upper bound RL is measured against.

A rollout (receding-horizon) controller with perfect foresight, after Bertsekas' rollout
algorithm ("Rollout, Policy Iteration, and Distributed Reinforcement Learning", 2020, ch. 2):
every `every` steps it saves the env (`CoDesignEnv.get_state`), and for each candidate
macro-action (a per-layer override of the composite heuristic held for `every` steps) rolls the
env forward `horizon` steps, following the composite heuristic after the macro-action, then
restores the env and commits to the best candidate. The env's future (arrivals, inference
load, weather, carbon, price) is fixed at reset, so a rollout from a saved state is the real
future: perfect foresight, no model error. Candidates are scored by the env reward minus
`penalty` per constraint violated per step (`info["cost"]`: thermal, budget, brake, SLO).

Candidates (each overrides one layer of the composite's action; `base` is the composite):
`base`; `start` (start every queued job that fits: no carbon deferral, no admission limit);
`defer` (deferrable jobs wait); `cap` (training clocks at 0.8 f_max); `boost` (training at
f_max, no POLCA caps); `charge` / `discharge` (tank); `warm` (supply air one level up).

By construction, with `horizon` reaching the episode end, the oracle's score (reward minus
penalty) is at least the composite's: `base` is always a candidate, and its rollout from the
next decision replays the previous best plan's tail exactly (deterministic env, heuristic
state saved and restored with the env), so the best score found never decreases
(Bertsekas' cost-improvement property). With a shorter horizon this is not guaranteed.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from dcsim.agents.codesign import CompositeHeuristic

from dcsim.envs.codesign import CLOCKS, LEVELS, SCHEDULE, TANK
from dcsim.errors import InputError

CANDIDATES = ("base", "start", "defer", "cap", "boost", "charge", "discharge", "warm")
VIOLATION_COSTS = ("thermal_k_min", "over_budget_kw_min", "brakes", "slo_violation_min")


def violation(cost: dict[str, float]) -> float:
    """Number of constraints a step violates (each positive `info["cost"]` entry counts, so a
    brake during an SLO-violating step still costs a penalty)."""
    return float(sum(cost.get(c, 0.0) > 0.0 for c in VIOLATION_COSTS))


class OracleMPC:
    """Perfect-foresight rollout MPC over macro-actions on top of the composite heuristic."""

    name = "oracle"

    def __init__(
        self,
        env: Any,
        horizon: int = 72,
        every: int = 12,
        penalty: float = 10.0,
        candidates: tuple[str, ...] = CANDIDATES,
    ):
        self.env = env.unwrapped
        if not hasattr(self.env, "get_state"):
            raise InputError("the oracle needs an env with get_state/set_state", field="env")
        if horizon < every or every < 1:
            raise InputError(
                f"need horizon >= every >= 1 (got {horizon}, {every})", field="horizon"
            )
        bad = [c for c in candidates if c not in CANDIDATES]
        if bad or "base" not in candidates:
            raise InputError(
                f"candidates must include 'base' and come from {CANDIDATES} (got {candidates})",
                field="candidates",
            )
        self.horizon, self.every, self.penalty = horizon, every, penalty
        self.candidates = candidates
        self.base = CompositeHeuristic(env)
        self.rollout_steps = 0  # env steps spent in rollouts (for the benchmark)
        self.chosen: list[str] = []
        self.reset()

    def reset(self) -> None:
        self.base.reset()
        self.k = 0
        self.choice = "base"
        self.chosen = []

    # ------------------------------------------------------------ macro-actions
    def act(self, choice: str, obs: np.ndarray) -> np.ndarray:
        """The composite's action for `obs` with one layer overridden by `choice` (the
        composite's internal state advances either way, as it would running alone)."""
        a = self.base.predict(obs).copy()
        k = self.env.top_k
        if choice == "start":
            for s in range(k):
                a[s] = SCHEDULE.index("pack") if self.base._p(obs, f"q{s}_fits") > 0.5 else 0
        elif choice == "defer":
            for s in range(k):
                if self.base._p(obs, f"q{s}_deferrable") > 0.5:
                    a[s] = 0
        elif choice in ("cap", "boost"):
            a[k + 2] = a[k + 3] = CLOCKS.index(0.8 if choice == "cap" else 1.0)
        elif choice in ("charge", "discharge"):
            a[k + 8] = TANK.index(1.0 if choice == "charge" else -1.0)
        elif choice == "warm":
            a[k + 5] = min(a[k + 5] + 1, LEVELS - 1)
        return a

    def _save_base(self) -> dict[str, Any]:
        keep = {id(v): v for v in (self.base.env, self.base.f, self.base._index)}
        return copy.deepcopy(vars(self.base), keep)

    def _load_base(self, saved: dict[str, Any]) -> None:
        keep = {id(v): v for v in (self.base.env, self.base.f, self.base._index)}
        vars(self.base).update(copy.deepcopy(saved, keep))

    def score(self, choice: str, obs: np.ndarray) -> float:
        """Reward minus violation penalty of `choice` for `every` steps, then the composite,
        over `horizon` steps or to the episode end (mutates env and heuristic state)."""
        env = self.env
        total = 0.0
        for j in range(self.horizon):
            obs, r, term, trunc, info = env.step(
                self.act(choice if j < self.every else "base", obs)
            )
            self.rollout_steps += 1
            total += float(r) - self.penalty * violation(info["cost"])
            if term or trunc:
                break
        return total

    def plan(self, obs: np.ndarray) -> str:
        """The best candidate from the current state; env and heuristic left as found."""
        state, base = self.env.get_state(), self._save_base()
        best, best_j = "base", -np.inf
        for c in self.candidates:
            self.env.set_state(state)
            self._load_base(base)
            j = self.score(c, obs)
            if j > best_j:  # ties keep the earlier candidate, `base` first
                best, best_j = c, j
        self.env.set_state(state)
        self._load_base(base)
        return best

    def predict(self, obs: np.ndarray) -> np.ndarray:
        if self.k % self.every == 0:
            self.choice = self.plan(obs)
            self.chosen.append(self.choice)
        self.k += 1
        return self.act(self.choice, obs)
