"""`dcsim/Cooling-v0`: cooling-plant setpoint control under weather, grid carbon and AI load."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dcsim.climate import DAY_S, ClimateConfig, WeatherSample, build_carbon, build_weather
from dcsim.cooling import CoolingConfig, CoolingControls, CoolingPlant
from dcsim.hardware import get_profile
from dcsim.rack_load import RackLoadConfig, RackPower, rack_activity, rack_sizes
from dcsim.schema import validate_model

OBS_NAMES = (
    "dry_bulb_c/40",
    "wet_bulb_c/40",
    "rh",
    "carbon_g_per_kwh/1000",
    "it_w/design",
    "inlet_mean_c/40",
    "inlet_max_c/40",
    "(inlet_max-27)/10",
    "supply_air_c/40",
    "chw_supply_c/20",
    "pue-1",
    "economizer_fraction",
    "throttle_min",
    "sin_hour",
    "cos_hour",
    "sin_day",
    "cos_day",
)
ACTION_NAMES = ("supply_air_c", "chw_supply_c", "economizer")
ECONOMIZER_MODES = ("off", "auto", "on")


class CoolingEnv(gym.Env):
    """Control a chilled-water cooling plant serving an AI cluster (no network/job simulation).

    ## Description
    Each step is `dt_s` seconds (default 60 s). The synthetic IT load of `dcsim.rack_load`
    for `n_accelerators` (default 1,024 H100s, 16 per rack) runs: half the racks train
    (activity ~0.85) and half serve inference with a daily cycle (0.2-0.8), each with AR(1)
    noise. Rack power is `dcsim.rack_load.RackPower` (accelerator power law of `dcsim.power`,
    P = P_idle + (TDP - P_idle) * a * f^alpha, plus host share, through the PSUs), where f is
    the thermal throttle the plant imposed on the previous step (racks whose inlet exceeded
    the limit).
    The `dcsim.cooling.CoolingPlant` (thermal mass, EnergyPlus EIR chiller, tower, economizer)
    removes the heat under `dcsim.climate` weather and grid carbon. Episodes start on a random
    day of the year (from the reset seed), so policies must cope with seasons.

    ## Action space
    `Box(-1, 1, (3,), float32)`, mapped linearly (index 2 by thirds):

    | index | actuator | range |
    |---|---|---|
    | 0 | supply air setpoint | `supply_air_range_c` (default 18-27 C, ASHRAE recommended) |
    | 1 | chilled water supply setpoint | `chw_range_c` (default 6-18 C) |
    | 2 | water-side economizer mode | < -1/3 off, -1/3..1/3 auto, > 1/3 on (chillers locked out) |

    ## Observation space
    `Box(-10, 10, (17,), float32)`, names in `OBS_NAMES`: weather, grid carbon, IT load,
    mean and hottest inlet, supply air and chilled water temperatures, PUE - 1, economizer
    share, lowest throttle, hour-of-day and day-of-year phases. Values are clipped to bounds.

    ## Rewards
    `reward = sum(info["reward_terms"].values())`, each term <= 0:
    `energy = -w_energy * (cooling W + server fan W) / design IT W`;
    `carbon = -w_carbon * that energy's CO2 / (design IT energy at 400 g/kWh)`;
    `violation = -w_violation * mean over racks of K outside the ASHRAE 18-27 C inlet band`;
    `throttle = -w_throttle * mean over racks of (1 - frequency fraction allowed)`.

    ## Episode end
    Never terminates; truncates after `episode_steps` (default 1,440 = one day at 60 s).

    ## Arguments
    `n_accelerators`, `accelerators_per_rack`, `hardware` (catalog name), `cooling`
    (CoolingConfig or mapping), `climate` (ClimateConfig or mapping), `dt_s`, `episode_steps`,
    `supply_air_range_c`, `chw_range_c`, `weights` (mapping of term -> weight),
    `random_start_day` (default True), `rack_load` (`dcsim.rack_load.RackLoadConfig` or
    mapping). `info` holds `reward_terms` and `metrics` (floats; no wall-clock values).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        n_accelerators: int = 1024,
        accelerators_per_rack: int = 16,
        hardware: str = "H100-SXM",
        cooling: CoolingConfig | dict | None = None,
        climate: ClimateConfig | dict | None = None,
        dt_s: float = 60.0,
        episode_steps: int = 1440,
        supply_air_range_c: tuple[float, float] = (18.0, 27.0),
        chw_range_c: tuple[float, float] = (6.0, 18.0),
        weights: dict[str, float] | None = None,
        random_start_day: bool = True,
        rack_load: RackLoadConfig | dict | None = None,
    ):
        super().__init__()
        if n_accelerators < 1 or accelerators_per_rack < 1:
            raise ValueError("n_accelerators and accelerators_per_rack must be >= 1")
        if dt_s <= 0 or episode_steps < 1:
            raise ValueError("dt_s must be > 0 and episode_steps >= 1")
        self.cfg = (
            cooling
            if isinstance(cooling, CoolingConfig)
            else validate_model(CoolingConfig, cooling or {}, prefix="cooling")
        )
        self.climate = (
            climate
            if isinstance(climate, ClimateConfig)
            else validate_model(ClimateConfig, climate or {}, prefix="climate")
        )
        self.load_cfg = (
            rack_load
            if isinstance(rack_load, RackLoadConfig)
            else validate_model(RackLoadConfig, rack_load or {}, prefix="rack_load")
        )
        self.acc_per_rack = rack_sizes(n_accelerators, accelerators_per_rack)
        self.n_racks = len(self.acc_per_rack)
        self.rack_power = RackPower.from_profile(get_profile(hardware), self.acc_per_rack)
        self.design_rack_w = self.rack_power.design_w()
        self.design_it_w = float(self.design_rack_w.sum())
        self.plant = CoolingPlant(self.cfg, self.n_racks, self.design_it_w)
        self.dt = float(dt_s)
        self.max_steps = int(episode_steps)
        self.random_start_day = random_start_day
        self.low = np.array([supply_air_range_c[0], chw_range_c[0]], dtype=float)
        self.high = np.array([supply_air_range_c[1], chw_range_c[1]], dtype=float)
        w = {"energy": 1.0, "carbon": 0.5, "violation": 1.0, "throttle": 5.0}
        if weights:
            unknown = set(weights) - set(w)
            if unknown:
                raise ValueError(
                    f"unknown reward weight(s) {sorted(unknown)}; expected {sorted(w)}"
                )
            w.update(weights)
        self.weights = w
        self.action_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.observation_space = spaces.Box(-10.0, 10.0, shape=(len(OBS_NAMES),), dtype=np.float32)
        self._weather_seed: int | None = None
        self.k = 0
        self.t0 = 0.0

    # ------------------------------------------------------------ action mapping
    def to_controls(self, action: np.ndarray) -> CoolingControls:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        sa = self.low[0] + (a[0] + 1.0) * 0.5 * (self.high[0] - self.low[0])
        chw = self.low[1] + (a[1] + 1.0) * 0.5 * (self.high[1] - self.low[1])
        mode = ECONOMIZER_MODES[0 if a[2] < -1 / 3 else (2 if a[2] > 1 / 3 else 1)]
        return CoolingControls(supply_air_c=float(sa), chw_supply_c=float(chw), economizer=mode)

    def to_action(
        self, supply_air_c: float, chw_supply_c: float, economizer: str = "auto"
    ) -> np.ndarray:
        phys = np.array([supply_air_c, chw_supply_c], dtype=np.float64)
        ab = np.clip(2.0 * (phys - self.low) / (self.high - self.low) - 1.0, -1.0, 1.0)
        e = {"off": -1.0, "auto": 0.0, "on": 1.0}[economizer]
        return np.array([ab[0], ab[1], e], dtype=np.float32)

    # ------------------------------------------------------------ wiring
    def _precompute(self, rng: np.random.Generator) -> None:
        """Weather, carbon and rack activity for the whole episode (vectorized, once per reset)."""
        t = self.t0 + self.dt * np.arange(self.max_steps + 1) + 0.5 * self.dt  # step midpoints
        ws = self.weather.at_many(t)
        self.w_db, self.w_wb, self.w_rh = ws.dry_bulb_c, ws.wet_bulb_c, ws.rh
        self.w_ci = self.carbon.at_many(t)
        self.activity = rack_activity(self.load_cfg, self.n_racks, t, self.dt, rng)

    def _rack_power(self, k: int) -> np.ndarray:
        return self.rack_power.power_w(self.activity[k], self.throttle)

    # ------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        wseed = int(rng.integers(0, 2**31 - 1))
        if self._weather_seed is None or seed is not None:
            self._weather_seed = wseed
            self.weather = build_weather(self.climate, None, wseed)
            self.carbon = build_carbon(self.climate, None, wseed)
        day = int(rng.integers(0, 365)) if self.random_start_day else 0
        self.t0 = day * DAY_S
        self.k = 0
        self.throttle = np.ones(self.n_racks)
        self._precompute(rng)
        p = self._rack_power(0)
        ws = self.weather.at(self.t0)
        self.plant.reset(ws, p)
        sa, chw, _ = self.plant.setpoints(None)
        self._last = dict(
            it=float(p.sum()),
            inlet_mean=float(self.plant.t_in.mean()),
            inlet_max=float(self.plant.t_in.max()),
            supply=self.plant.t_supply,
            chw=chw,
            pue=1.0,
            econ=0.0,
            throttle=1.0,
        )
        return self._obs(0), {}

    def _obs(self, k: int) -> np.ndarray:
        t = self.t0 + k * self.dt
        h = 2 * np.pi * (t / 3600.0 % 24.0) / 24.0
        d = 2 * np.pi * (t / DAY_S % 365.0) / 365.0
        s = self._last
        vals = (
            self.w_db[k] / 40,
            self.w_wb[k] / 40,
            self.w_rh[k],
            self.w_ci[k] / 1000,
            s["it"] / self.design_it_w,
            s["inlet_mean"] / 40,
            s["inlet_max"] / 40,
            (s["inlet_max"] - self.cfg.recommended_inlet_max_c) / 10,
            s["supply"] / 40,
            s["chw"] / 20,
            s["pue"] - 1.0,
            s["econ"],
            s["throttle"],
            math.sin(h),
            math.cos(h),
            math.sin(d),
            math.cos(d),
        )
        obs = np.array(vals, dtype=np.float64)
        obs = np.nan_to_num(obs, nan=0.0, posinf=10.0, neginf=-10.0)
        return np.clip(obs, -10.0, 10.0).astype(np.float32)

    def step(self, action):
        k = self.k
        c = self.to_controls(action)
        p = self._rack_power(k)
        ws = WeatherSample(float(self.w_db[k]), float(self.w_wb[k]), float(self.w_rh[k]))
        res = self.plant.step(p, ws, self.dt, c)
        self.throttle = res.throttle
        fan = float(res.server_fan_w.sum())
        it = float(p.sum()) + fan
        ctrl_w = res.cooling_w + fan
        ci = float(self.w_ci[k])
        cfg = self.cfg
        inlet = res.inlet_c
        viol = float(
            np.mean(
                np.maximum(inlet - cfg.recommended_inlet_max_c, 0.0)
                + np.maximum(cfg.recommended_inlet_min_c - inlet, 0.0)
            )
        )
        thr = float(1.0 - res.throttle.mean())
        w = self.weights
        terms = {
            "energy": -w["energy"] * ctrl_w / self.design_it_w,
            "carbon": -w["carbon"] * ctrl_w * ci / (self.design_it_w * 400.0),
            "violation": -w["violation"] * viol,
            "throttle": -w["throttle"] * thr,
        }
        reward = float(sum(terms.values()))
        inlet_max = float(inlet.max())
        pue = (it + res.cooling_w) / it
        self._last = dict(
            it=it,
            inlet_mean=float(inlet.mean()),
            inlet_max=inlet_max,
            supply=res.supply_air_c,
            chw=res.chw_supply_c,
            pue=pue,
            econ=res.economizer_fraction,
            throttle=float(res.throttle.min()),
        )
        self.k += 1
        kwh = self.dt / 3.6e6
        metrics: dict[str, Any] = {
            "t_s": float(k * self.dt),
            "it_w": it,
            "server_fan_w": fan,
            "cooling_w": float(res.cooling_w),
            "pue": float(pue),
            "it_kwh": it * kwh,
            "cooling_kwh": res.cooling_w * kwh,
            "carbon_kg": (it + res.cooling_w) * kwh * ci / 1000.0,
            "water_l": float(res.water_l),
            "inlet_max_c": inlet_max,
            "violation_k": viol,
            "economizer_fraction": float(res.economizer_fraction),
            "supply_air_c": float(res.supply_air_c),
            "chw_supply_c": float(res.chw_supply_c),
            "dry_bulb_c": float(self.w_db[k]),
            "wet_bulb_c": float(self.w_wb[k]),
            "carbon_g_per_kwh": ci,
            "economizer_mode": c.economizer,
        }
        info = {"reward_terms": terms, "metrics": metrics}
        truncated = bool(self.k >= self.max_steps)
        return self._obs(self.k), reward, False, truncated, info
