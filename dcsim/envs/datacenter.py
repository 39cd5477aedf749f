"""`dcsim/Datacenter-v0`: the whole datacenter loop with cooling and power actuators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dcsim.config import LoadedScenario, load_scenario, scenario_from_dict
from dcsim.sim import Controls, Simulation, StepRecord

OBS_NAMES = (
    "outdoor_c/40",
    "wetbulb_c/40",
    "sin_hour",
    "cos_hour",
    "carbon_g_per_kwh/1000",
    "it_w/design",
    "cooling_w/design",
    "inlet_max_c/40",
    "(inlet_max-limit)/10",
    "supply_air_c/40",
    "chw_supply_c/20",
    "cap_frac",
    "freq_frac",
    "throttle_min",
    "tokens_per_s/ref",
    "pue-1",
)
ACTION_NAMES = ("supply_air_c", "chw_supply_c", "cap_frac")


def make_loaded(
    scenario: str | Path | dict | LoadedScenario | None, overrides: dict | None
) -> LoadedScenario:
    """Accept a scenario path, a mapping, an already loaded scenario, or None (default)."""
    if isinstance(scenario, LoadedScenario):
        return scenario
    if isinstance(scenario, dict):
        from dcsim.config import set_dotted

        data = dict(scenario)
        for k, v in (overrides or {}).items():
            set_dotted(data, k, v)
        return scenario_from_dict(data)
    return load_scenario(scenario, overrides)


class DatacenterEnv(gym.Env):
    """Control a datacenter running an AI training job: cooling setpoints and accelerator power cap.

    ## Description
    Each step is one control interval (scenario `time.dt_s`, default 60 s) of a
    `dcsim.sim.Simulation`: weather and grid carbon move on, the training job
    runs its iterations (SimPy), accelerators draw power at the capped clock,
    the cooling plant (with thermal mass) removes the heat and throttles
    racks whose inlet exceeds `cooling.inlet_limit_c` (ASHRAE A1 allowable,
    32 C) on the next interval. "limit" below is the ASHRAE recommended
    maximum inlet, `cooling.recommended_inlet_max_c` (27 C).

    ## Action space
    `Box(-1, 1, (3,), float32)`, each mapped linearly:

    | index | actuator | range |
    |---|---|---|
    | 0 | supply air setpoint | `supply_air_range_c` (default 16-27 C) |
    | 1 | chilled water supply setpoint | `chw_range_c` (default 6-18 C) |
    | 2 | accelerator power cap, share of TDP | `power.min_cap_frac`-1.0 |

    ## Observation space
    `Box(-10, 10, (16,), float32)`, names in `OBS_NAMES` (weather, hour of day,
    grid carbon, IT and cooling power relative to design, hottest inlet and its
    margin to the limit, current setpoints, cap, clock, thermal throttle,
    throughput relative to full speed, PUE - 1). Values are clipped to the bounds.

    ## Rewards
    `reward = sum(info["reward_terms"].values())`, weights from the scenario `reward:` block:
    `energy = -w_e * facility_kWh / design_kWh`, `carbon = -w_c * kgCO2 / (design_kWh * 0.4)`,
    `throughput = +w_t * tokens_per_s / reference`, `violation = -w_v * max(0, inlet_max - limit)`.

    ## Episode end
    Never terminates; truncates after `steps` intervals (default the scenario's `time.steps`).

    ## Arguments
    `scenario` (path, mapping or None for the default), `overrides` (dotted keys),
    `steps`, `supply_air_range_c`, `chw_range_c`.
    `info` holds `reward_terms` and `metrics` (the interval's `StepRecord`, no wall-clock values).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: str | Path | dict | LoadedScenario | None = None,
        overrides: dict[str, Any] | None = None,
        steps: int | None = None,
        supply_air_range_c: tuple[float, float] = (16.0, 27.0),
        chw_range_c: tuple[float, float] = (6.0, 18.0),
    ):
        super().__init__()
        self.loaded = make_loaded(scenario, overrides)
        self.sim = Simulation(self.loaded)
        self.max_steps = steps or self.loaded.scenario.time.steps
        sc = self.loaded.scenario
        self.low = np.array([supply_air_range_c[0], chw_range_c[0], sc.power.min_cap_frac])
        self.high = np.array([supply_air_range_c[1], chw_range_c[1], 1.0])
        self.action_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.observation_space = spaces.Box(-10.0, 10.0, shape=(len(OBS_NAMES),), dtype=np.float32)
        self.design_kwh = self.sim.design_it_w / 1e3 * self.sim.dt / 3600.0
        self.chw_c = float(sc.cooling.chilled_water_setpoint_c)

    # -- mapping between normalized actions and physical controls
    def to_controls(self, action: np.ndarray) -> Controls:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        phys = self.low + (a + 1.0) * 0.5 * (self.high - self.low)
        self.chw_c = float(phys[1])
        return Controls(
            supply_air_c=float(phys[0]), chw_supply_c=float(phys[1]), cap_frac=float(phys[2])
        )

    def to_action(self, supply_air_c: float, chw_supply_c: float, cap_frac: float) -> np.ndarray:
        phys = np.array([supply_air_c, chw_supply_c, cap_frac], dtype=np.float64)
        return np.clip(2.0 * (phys - self.low) / (self.high - self.low) - 1.0, -1, 1).astype(
            np.float32
        )

    def _obs(self, r: StepRecord | None) -> np.ndarray:
        sim = self.sim
        sc = self.loaded.scenario
        hour = ((sim.t / 3600.0 + sc.climate.weather.start_hour) % 24.0) / 24.0 * 2 * np.pi
        if r is None:
            ws = sim.weather.at(sim.t)
            vals = [
                ws.dry_bulb_c / 40,
                ws.wet_bulb_c / 40,
                np.sin(hour),
                np.cos(hour),
                sim.carbon.at(sim.t) / 1000,
                0,
                0,
                sim.supply_air_c / 40,
                0,
                sim.supply_air_c / 40,
                self.chw_c / 20,
                sim.cap_frac,
                1,
                1,
                0,
                0,
            ]
        else:
            design = sim.design_it_w
            vals = [
                r.outdoor_c / 40,
                r.wetbulb_c / 40,
                np.sin(hour),
                np.cos(hour),
                r.carbon_g_per_kwh / 1000,
                r.it_w / design,
                r.cooling_w / design,
                r.inlet_max_c / 40,
                (r.inlet_max_c - sc.cooling.recommended_inlet_max_c) / 10,
                r.supply_air_c / 40,
                self.chw_c / 20,
                r.cap_frac,
                r.freq_frac,
                r.throttle_min,
                r.tokens_per_s / max(sim.ref_tokens_per_s, 1e-9),
                r.pue - 1,
            ]
        obs = np.nan_to_num(np.asarray(vals, dtype=np.float64), nan=0.0, posinf=10.0, neginf=-10.0)
        return np.clip(obs, -10.0, 10.0).astype(np.float32)

    def reward_terms(self, r: StepRecord) -> dict[str, float]:
        w = self.loaded.scenario.reward
        return {
            "energy": -w.energy * r.facility_kwh / self.design_kwh,
            "carbon": -w.carbon * r.carbon_kg / (self.design_kwh * 0.4),
            "throughput": w.throughput * r.tokens_per_s / max(self.sim.ref_tokens_per_s, 1e-9),
            "violation": -w.violation * r.violation_c,
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.sim.reset(seed=seed)
        self.chw_c = float(self.loaded.scenario.cooling.chilled_water_setpoint_c)
        return self._obs(None), {}

    def step(self, action):
        r = self.sim.step(self.to_controls(action))
        terms = self.reward_terms(r)
        reward = float(sum(terms.values()))
        truncated = bool(self.sim.k >= self.max_steps)
        info = {"reward_terms": terms, "metrics": r.as_row()}
        return self._obs(r), reward, False, truncated, info
