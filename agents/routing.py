"""Heuristic routing baselines for `dcsim/FlowSplit-v0` (one fixed action each).

- `ecmp`: per-flow ECMP hashing, what a RoCE fabric does by default.
- `spray`: ideal packet spraying over all equal-cost paths (Ultra Ethernet's direction).
- `greedy-split`: 4 subflows per flow, each on the least-loaded path so far (global greedy).
- `split:1`: the same greedy placement of whole flows (no subflow overhead); the best fixed
  action PPO found on this env (issue 13), so it is the fixed-action bar to beat.
- `colour`: single-path assignment by bipartite edge colouring with spines as colours
  (Addanki, Goyal, Marinos, arXiv 2407.00550).
"""

from __future__ import annotations

import numpy as np

from dcsim.envs.flow_split import POLICIES, SPLITS


class FixedRouting:
    """Always route with the same policy and split factor."""

    name = "ecmp"
    policy = "ecmp"
    split = 1

    def __init__(self, env=None, policy: str | None = None, split: int | None = None):
        self.policy = policy or self.policy
        self.split = split or self.split
        self.action = np.array(
            [POLICIES.index(self.policy), SPLITS.index(self.split)], dtype=np.int64
        )

    def predict(self, obs: np.ndarray) -> np.ndarray:
        return self.action.copy()

    def reset(self) -> None:
        pass


class Ecmp(FixedRouting):
    name = "ecmp"
    policy = "ecmp"


class Spray(FixedRouting):
    name = "spray"
    policy = "spray"


class GreedySplit(FixedRouting):
    name = "greedy-split"
    policy = "split"
    split = 4


class Split1(FixedRouting):
    name = "split:1"
    policy = "split"
    split = 1


class Colour(FixedRouting):
    name = "colour"
    policy = "colour"
