"""Heuristic baselines for `dcsim/Cooling-v0` (supply air, chilled water, economizer mode).

- `fixed`: a constant plant: supply air 18 C, chilled water 7 C, economizer auto: the cold,
  conservative legacy practice (ASHRAE TC9.9 recommended envelope's cold end).
- `reactive`: a proportional controller that raises supply air until the hottest inlet sits a
  margin below the ASHRAE recommended maximum (27 C), and resets chilled water with it
  (CHW = supply - coil approach - 1 K): the "raise the setpoint" practice (ASHRAE TC9.9;
  ASHRAE 90.1 CHW reset) that saves chiller energy and lengthens economizer hours.
"""

from __future__ import annotations

import numpy as np
from dcsim.agents.baselines import ConstantAction

from dcsim.envs.contract import physical


class FixedSetpoint(ConstantAction):
    name = "fixed"

    def __init__(
        self, env, supply_air_c: float = 18.0, chw_c: float = 7.0, economizer: str = "auto"
    ):
        super().__init__(
            env, env.unwrapped.to_action(supply_air_c, chw_c, economizer), name=self.name
        )


class ReactiveSetpoint:
    """P-control of supply air on the hottest inlet's margin to the recommended maximum."""

    name = "reactive"

    def __init__(self, env, margin_c: float = 1.0, gain: float = 0.3, start_c: float = 20.0):
        self.env = env.unwrapped
        self.margin_c = margin_c
        self.gain = gain
        self.start_c = start_c
        self.coil_approach_k = self.env.cfg.air.coil_approach_k
        self.reset()

    def reset(self) -> None:
        self.supply_c = self.start_c

    def predict(self, obs: np.ndarray) -> np.ndarray:
        margin = -physical(obs, self.env.features, "inlet_above_limit_k")  # 27 C - hottest, K
        self.supply_c += self.gain * (margin - self.margin_c)
        lo, hi = self.env.low[0], self.env.high[0]
        self.supply_c = float(np.clip(self.supply_c, lo, hi))
        chw = float(
            np.clip(self.supply_c - self.coil_approach_k - 1.0, self.env.low[1], self.env.high[1])
        )
        return self.env.to_action(self.supply_c, chw, "auto")
