"""POLCA row power controller (Patel et al., arXiv 2308.12908, Sec. 5) as a heuristic baseline.

Row power as a share of the budget drives three levels:
- level 1, above 80 %: low-priority servers locked to 1275 MHz;
- level 2, above 89 %: low-priority to 1110 MHz and high-priority to 1305 MHz;
- levels are released with 5 % hysteresis (below 75 % / 84 %), one level at a time;
- above 100 % the row's power brake (a fail-safe in the simulator, not this policy) drops every
  GPU to ~288 MHz within 5 s; while it is on, POLCA holds its level instead of uncapping.
Clock numbers are A100 MHz (f_max 1410); other hardware uses the same fractions of f_max.

`PolcaController` is a callable for `dcsim.polca.RowSimulation`; `PolcaAgent` wraps it with
`predict(obs) -> action` for `dcsim/PowerCap-v0`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcsim.envs.contract import physical
from dcsim.polca import RowObservation, clock_to_action, polca_fraction


@dataclass
class PolcaController:
    """Threshold state machine over row power share; returns (low-prio, high-prio) clocks."""

    t1: float = 0.80
    t2: float = 0.89
    hysteresis: float = 0.05
    lp_level1: float = polca_fraction("lp_level1")
    lp_level2: float = polca_fraction("lp_level2")
    hp_level2: float = polca_fraction("hp_level2")
    level: int = 0

    def reset(self) -> None:
        self.level = 0

    def decide(self, row_frac: float, brake_active: bool = False) -> int:
        """Escalate immediately past a threshold; release one level below threshold - hysteresis."""
        if row_frac > self.t2:
            self.level = 2
        elif row_frac > self.t1:
            self.level = max(self.level, 1)
        if brake_active:  # power is artificially low while braked: keep the caps
            return self.level
        if self.level == 2 and row_frac < self.t2 - self.hysteresis:
            self.level = 1
        if self.level == 1 and row_frac < self.t1 - self.hysteresis:
            self.level = 0
        return self.level

    def clocks(self, level: int | None = None) -> tuple[float, float]:
        lvl = self.level if level is None else level
        if lvl >= 2:
            return self.lp_level2, self.hp_level2
        if lvl == 1:
            return self.lp_level1, 1.0
        return 1.0, 1.0

    def __call__(self, obs: RowObservation) -> tuple[float, float]:
        self.decide(obs.row_power_frac, obs.brake_active)
        return self.clocks()


class PolcaAgent:
    """POLCA for `dcsim/PowerCap-v0`: reads row power and brake flag, outputs the two clocks."""

    name = "polca"

    def __init__(self, env, **kwargs) -> None:
        self.ctl = PolcaController(**kwargs)
        self.features = env.unwrapped.features
        self.clock_lo = float(env.unwrapped.clock_lo)

    def reset(self) -> None:
        self.ctl.reset()

    def predict(self, obs: np.ndarray) -> np.ndarray:
        row = physical(obs, self.features, "row_power_frac")
        brake = physical(obs, self.features, "brake_active") > 0.5
        self.ctl.decide(row, brake)
        lp, hp = self.ctl.clocks()
        return clock_to_action(np.array([lp, hp]), self.clock_lo).astype(np.float32)
