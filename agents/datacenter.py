"""Heuristic baselines for `dcsim/Datacenter-v0`: one per actuator family.

These hold the scenario's own routing (`workload.routing`) and economizer mode
(`cooling.economizer`) on the env's routing and economizer actions, except:
- `reactive-spray`: `reactive` with the all-reduce sprayed per packet over the fabric's
  paths (the best fixed routing on an oversubscribed fabric, where ECMP hash collisions
  expose the all-reduce; the baseline an RL routing policy has to beat).

- `fixed`: holds the scenario's own operating point every interval: its supply-air
  setpoint, the chilled water its plant would run (setpoint, raised by the CHW reset
  when that is on) and its `power.cap_frac`, so `--set` on any of them changes the run.
- `reactive`: a proportional controller that raises supply air (and chilled
  water with it) until the hottest inlet sits a margin below the limit: the
  "raise the setpoint" practice (Google/DeepMind 2016 and ASHRAE guidance that
  warmer supply saves chiller energy).
- `carbon-cap`: full power when the grid is clean, a lower accelerator cap when
  grid carbon is above its running average (carbon-aware capping, as in
  Google's carbon-intelligent computing, Radovanovic et al. 2022).
"""

from __future__ import annotations

import numpy as np
from dcsim.agents.baselines import ConstantAction

from dcsim.envs.contract import physical


class FixedSetpoint(ConstantAction):
    """The scenario's own setpoints, cap, routing and economizer mode, every interval (a
    plant nobody retunes)."""

    name = "fixed"

    def __init__(self, env):
        u = env.unwrapped
        supply_air_c, chw_c, _ = u.sim.plant.setpoints(None)
        super().__init__(
            env, u.to_action(supply_air_c, chw_c, u.sim.sc.power.cap_frac), name=self.name
        )


class ReactiveSetpoint:
    """Proportional setpoint control on the hottest inlet's margin to the limit."""

    name = "reactive"

    routing: str | None = None  # None: the scenario's own

    def __init__(self, env, margin_c: float = 1.5, gain: float = 0.2, max_step_c: float = 0.5):
        self.env = env.unwrapped
        self.margin_c = margin_c
        self.gain = gain
        self.max_step_c = (
            max_step_c  # setpoint ramp limit per interval, keeps the thermal loop stable
        )
        self.reset()

    def reset(self) -> None:
        self.supply_c = 18.0

    def predict(self, obs: np.ndarray) -> np.ndarray:
        feats = self.env.features
        margin = -physical(obs, feats, "inlet_above_limit_k")  # limit - inlet_max, K
        if physical(obs, feats, "it_w") > 0:  # after the first interval
            step = self.gain * (margin - self.margin_c)
            self.supply_c += float(np.clip(step, -self.max_step_c, self.max_step_c))
        lo, hi = self.env.low[0], self.env.high[0]
        self.supply_c = float(np.clip(self.supply_c, lo, hi))
        chw = float(np.clip(self.supply_c - 8.0, self.env.low[1], self.env.high[1]))
        return self.env.to_action(self.supply_c, chw, 1.0, self.routing)


class ReactiveSpray(ReactiveSetpoint):
    """`reactive` cooling with the job's all-reduce sprayed over every path."""

    name = "reactive-spray"
    routing = "spray"


class CarbonAwareCap:
    """Cap accelerators to `low_cap` when grid carbon is above its running mean."""

    name = "carbon-cap"

    def __init__(self, env, low_cap: float = 0.7, supply_air_c: float = 18.0, chw_c: float = 7.0):
        self.env = env.unwrapped
        self.low_cap = max(low_cap, float(self.env.low[2]))
        self.supply_air_c = supply_air_c
        self.chw_c = chw_c
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.mean = 0.0

    def predict(self, obs: np.ndarray) -> np.ndarray:
        ci = physical(obs, self.env.features, "carbon_g_per_kwh")
        self.n += 1
        self.mean += (ci - self.mean) / self.n
        cap = self.low_cap if (self.n > 1 and ci > self.mean * 1.02) else 1.0
        return self.env.to_action(self.supply_air_c, self.chw_c, cap)
