"""Heuristic placement rules for `dcsim/Placement-v0` (one fixed rule per episode).

- `pack`: best fit within one leaf, else the fewest leaves: keeps ring all-reduce traffic
  off the spine and whole leaves free for large jobs (the locality-first placement of
  Gandiva, OSDI 2018, and Tiresias' consolidation, NSDI 2019).
- `spread`: round-robin across the emptiest leaves: balances leaf power and failure
  domains but puts every multi-GPU job's ring on the oversubscribed spine.
- `first-fit`: the lowest-numbered free GPUs, what a simple scheduler without topology
  awareness does (Slurm's default linear selection).
"""

from __future__ import annotations

import numpy as np

from dcsim.jobs import RULES


class PlacementRule:
    """Always choose the same placement rule."""

    rule = "pack"

    def __init__(self, env=None, rule: str | None = None):
        self.rule = rule or self.rule
        self.name = self.rule
        self.action = np.int64(RULES.index(self.rule))

    def predict(self, obs: np.ndarray) -> np.int64:
        return self.action

    def reset(self) -> None:
        pass


class Pack(PlacementRule):
    rule = "pack"


class Spread(PlacementRule):
    rule = "spread"


class FirstFit(PlacementRule):
    rule = "first-fit"
