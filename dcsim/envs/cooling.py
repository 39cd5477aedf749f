"""`dcsim/Cooling-v0`: cooling-plant setpoint control under weather, grid carbon and AI load."""

from __future__ import annotations

import importlib
import math
import operator
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pydantic import Field, model_validator

from dcsim.climate import DAY_S, ClimateConfig, WeatherSample, build_carbon, build_weather
from dcsim.config import MAX_STEPS
from dcsim.cooling import CoolingConfig, CoolingControls, CoolingPlant, thermal_throttle
from dcsim.cost import FlatCostConfig
from dcsim.envs.contract import (
    METADATA,
    Encoder,
    EnvKwargs,
    Feature,
    Metric,
    RewardTerm,
    compiled_encoder,
    observation_space,
    parse_kwargs,
    render_frame,
    render_mode_arg,
    reward_weights,
)
from dcsim.errors import InputError
from dcsim.hardware import get_profile
from dcsim.rack_load import RackLoadConfig, RackPower, rack_activity, rack_sizes

if TYPE_CHECKING:  # pragma: no cover
    from dcsim.config import LoadedScenario

ACTION_NAMES = ("supply_air_c", "chw_supply_c", "economizer")
ECONOMIZER_MODES: tuple[Literal["off", "auto", "on"], ...] = ("off", "auto", "on")
# wet-bulb forecast leads, h: the tower approach and the economizer's free-cooling hours
# follow the wet bulb, so an hour or three ahead is what pre-cooling decisions need
WETBULB_FORECAST_H = (1.0, 3.0)


def features(design_it_w: float) -> tuple[Feature, ...]:
    """Observation entries, bounded to [-10, 10]; IT load relative to the design load."""
    return (
        Feature("outdoor_c", "C", 40.0),  # dry bulb
        Feature("wetbulb_c", "C", 40.0),
        *(Feature(f"wetbulb_fc_{h:g}h_c", "C", 40.0) for h in WETBULB_FORECAST_H),
        Feature("rh", "1"),
        Feature("carbon_g_per_kwh", "g/kWh", 1000.0),
        Feature("it_w", "W", design_it_w),
        Feature("inlet_mean_c", "C", 40.0),
        Feature("inlet_max_c", "C", 40.0),
        Feature("inlet_above_limit_k", "K", 10.0),  # hottest inlet - recommended max
        Feature("supply_air_c", "C", 40.0),
        Feature("chw_supply_c", "C", 20.0),
        Feature("pue", "1", offset=1.0),
        Feature("economizer_fraction", "1"),
        Feature("throttle_min", "1"),
        Feature("sin_hour", "1"),
        Feature("cos_hour", "1"),
        Feature("sin_day", "1"),
        Feature("cos_day", "1"),
    )


OBS_NAMES = tuple(f.name for f in features(1.0))


MAX_EPISODE_CELLS = 20_000_000  # episode_steps x racks precomputed per episode (memory)


def bill_usd(
    ctrl_w: Any, water_l: Any, dt: float, usd_per_kwh: float, usd_per_m3: float
) -> tuple[Any, Any]:
    """(electricity USD of ctrl_w W over dt s, USD of water_l L of tower water). Array code:
    the batched env's compiled step calls it too."""
    return ctrl_w * (dt / 3.6e6) * usd_per_kwh, water_l / 1e3 * usd_per_m3


class CoolingKwargs(EnvKwargs):
    """Cooling-v0 arguments (see the env's docstring); config errors name `cooling.<field>`."""

    n_accelerators: int = Field(1024, ge=1, le=1_000_000)
    accelerators_per_rack: int = Field(16, ge=1)
    hardware: str = "H100-SXM"
    cooling: CoolingConfig = Field(default_factory=CoolingConfig)
    climate: ClimateConfig = Field(default_factory=ClimateConfig)
    rack_load: RackLoadConfig = Field(default_factory=RackLoadConfig)
    dt_s: float = Field(60.0, gt=0)
    episode_steps: int = Field(1440, ge=1, le=MAX_STEPS)
    supply_air_range_c: tuple[float, float] = (18.0, 27.0)
    chw_range_c: tuple[float, float] = (6.0, 18.0)
    random_start_day: bool = True
    cost: FlatCostConfig = Field(default_factory=FlatCostConfig)

    @model_validator(mode="after")
    def _episode_fits_in_memory(self) -> CoolingKwargs:
        # rack activity and full-clock rack power are precomputed per episode (steps x racks)
        racks = -(-self.n_accelerators // self.accelerators_per_rack)
        if racks * self.episode_steps > MAX_EPISODE_CELLS:
            raise InputError(  # not a ValueError: names the field, not the model's root
                f"episode_steps x racks = {self.episode_steps:,} x {racks:,} = "
                f"{racks * self.episode_steps:,}; limit {MAX_EPISODE_CELLS:,} (memory: two "
                "float64 arrays of that size per episode): shorten the episode or the cluster",
                field="episode_steps",
            )
        return self


class CoolingEnv(gym.Env):
    """Control a chilled-water cooling plant serving an AI cluster (no network/job simulation).

    ## Description
    Each step is `dt_s` seconds (default 60 s). The synthetic IT load of `dcsim.rack_load`
    for `n_accelerators` (default 1,024 H100s, 16 per rack) runs: half the racks train
    (activity ~0.85) and half serve inference with a daily cycle (0.2-0.8), each with AR(1)
    noise. Rack power is `dcsim.rack_load.RackPower` (accelerator power law of `dcsim.power`,
    P = P_idle + (TDP - P_idle) * a * S(f), leakage + switching with a V/F floor, plus host share, through the PSUs), where f is
    the thermal throttle the plant imposed on the previous step (racks whose inlet exceeded
    the limit).
    The `dcsim.cooling.CoolingPlant` (thermal mass, EnergyPlus EIR chiller, tower, economizer)
    removes the heat under `dcsim.climate` weather and grid carbon. Episodes start on a random
    day of the year (from the reset seed), so policies must cope with seasons. With numba
    installed the plant steps through the compiled kernel `dcsim.cooling.fast` (the same
    numbers as `CoolingPlant.step` to 1e-12; ~0.5 CPU-s to load on the first step); set
    `use_fast = False` for the readable NumPy path. `dcsim.envs.vector.CoolingVectorEnv`
    steps N copies as one batch.

    ## Action space
    `Box(-1, 1, (3,), float32)`, mapped linearly (index 2 by thirds):

    | index | actuator | range |
    |---|---|---|
    | 0 | supply air setpoint | `supply_air_range_c` (default 18-27 C, ASHRAE recommended) |
    | 1 | chilled water supply setpoint | `chw_range_c` (default 6-18 C) |
    | 2 | water-side economizer mode | < -1/3 off, -1/3..1/3 auto, > 1/3 on (chillers locked out) |

    ## Observation space
    `Box(-10, 10, (19,), float32)`, entries declared in `env.features` (read them with
    `dcsim.envs.contract.physical`): weather and the wet bulb forecast +1 h and +3 h (the
    weather series itself, perfect foresight), grid carbon, IT load (/ design), mean and
    hottest inlet and the hottest inlet above the recommended maximum, supply air and
    chilled water temperatures, PUE, economizer share, lowest throttle, hour-of-day and
    day-of-year phases. Values are clipped to the bounds.

    ## Rewards
    `reward = sum(info["reward_terms"].values())`, each term <= 0 and its weight
    (`reward_weights`, defaults in `REWARD`: energy 1, carbon 0.5, violation 1, throttle 5,
    hottest 1) times
    `energy = -(cooling W + server fan W) / design IT W`;
    `carbon = -that energy's CO2 / (design IT energy at 400 g/kWh)`;
    `violation = -mean over racks of K outside the ASHRAE 18-27 C inlet band`;
    `throttle = -mean over racks of (1 - frequency fraction allowed)`;
    `hottest = -K of the hottest rack's inlet above the recommended maximum (27 C)`: the
    mean alone lets one hot rack hide among cool ones;
    `cost = -(electricity of cooling + server fans + tower water) in USD / the design IT
    load's electricity bill of the step` (weight 0 by default; prices from `dcsim.cost` via
    the `cost` argument: `region`, flat `electricity_usd_per_kwh`, `prices` overrides).

    ## Episode end
    Never terminates; truncates after `episode_steps` (default 1,440 = one day at 60 s).

    ## Arguments
    `n_accelerators`, `accelerators_per_rack`, `hardware` (catalog name), `cooling`
    (CoolingConfig or mapping), `climate` (ClimateConfig or mapping), `dt_s`, `episode_steps`,
    `supply_air_range_c`, `chw_range_c`, `reward_weights` (term -> weight),
    `random_start_day` (default True), `rack_load` (`dcsim.rack_load.RackLoadConfig` or
    mapping); validated by `CoolingKwargs`. `info` holds `reward_terms` and `metrics`
    (declared in `METRICS` with their episode aggregation; no wall-clock values).
    """

    metadata = METADATA
    render = render_frame
    Kwargs = CoolingKwargs
    REWARD = (
        RewardTerm("energy", 1.0),
        RewardTerm("carbon", 0.5),
        RewardTerm("violation", 1.0, violation=True),
        RewardTerm("throttle", 5.0),
        RewardTerm("hottest", 1.0, violation=True),
        RewardTerm("cost", 0.0),
    )
    METRICS = (
        Metric("t_s", "s", "none"),
        Metric("it_w", "W", "mean"),
        Metric("server_fan_w", "W", "mean"),
        Metric("cooling_w", "W", "mean"),
        Metric("pue", "1", "mean"),
        Metric("it_kwh", "kWh", "sum"),
        Metric("cooling_kwh", "kWh", "sum"),
        Metric("carbon_kg", "kg", "sum"),
        Metric("water_l", "L", "sum"),
        Metric("cooling_electricity_usd", "USD", "sum"),
        Metric("water_usd", "USD", "sum"),
        Metric("inlet_max_c", "C", "max"),
        Metric("violation_k", "K", "mean"),
        Metric("hottest_excess_k", "K", "mean"),
        Metric("economizer_fraction", "1", "mean"),
        Metric("supply_air_c", "C", "mean"),
        Metric("chw_supply_c", "C", "mean"),
        Metric("dry_bulb_c", "C", "mean"),
        Metric("wet_bulb_c", "C", "mean"),
        Metric("carbon_g_per_kwh", "g/kWh", "mean"),
    )

    @classmethod
    def scenario_kwargs(
        cls, loaded: LoadedScenario, overrides: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A dcsim scenario's cluster, cooling, climate, time and reward as env arguments."""
        sc = loaded.scenario
        prof = get_profile(sc.cluster.hardware)
        per_server = sc.cluster.accelerators_per_server or prof.server.accelerators
        r = sc.reward
        return {
            "n_accelerators": sc.cluster.servers * per_server,
            "accelerators_per_rack": sc.cluster.servers_per_rack * per_server,
            "hardware": sc.cluster.hardware,
            "cooling": sc.cooling.model_dump(mode="json"),
            "climate": sc.climate.model_dump(mode="json"),
            "dt_s": sc.time.dt_s,
            "episode_steps": sc.time.steps,
            "cost": sc.cost.model_dump(mode="json"),
            "reward_weights": {"energy": r.energy, "carbon": r.carbon, "violation": r.violation},
        }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.render_mode = render_mode_arg(kwargs)
        self.kw = kw = parse_kwargs(self.Kwargs, kwargs)
        self.weights = reward_weights(self.REWARD, kw.reward_weights)
        for name, (lo, hi) in (
            ("supply_air_range_c", kw.supply_air_range_c),
            ("chw_range_c", kw.chw_range_c),
        ):
            if not lo < hi:
                raise InputError(f"need low < high (got {lo}, {hi})", field=name)
        self.cfg, self.climate, self.load_cfg = kw.cooling, kw.climate, kw.rack_load
        self.acc_per_rack = rack_sizes(kw.n_accelerators, kw.accelerators_per_rack)
        self.n_racks = len(self.acc_per_rack)
        self.rack_power = RackPower.from_profile(get_profile(kw.hardware), self.acc_per_rack)
        self.design_rack_w = self.rack_power.design_w()
        self.design_it_w = float(self.design_rack_w.sum())
        self.plant = CoolingPlant(
            self.cfg, self.n_racks, self.design_it_w, self.rack_power.device.freq_for_scale
        )
        self.dt = float(kw.dt_s)
        # dcsim.cost prices; the cost term is the plant's bill over the design IT load's
        # electricity bill of the same step (dimensionless, like the energy term)
        self.usd_per_kwh, self.usd_per_m3 = kw.cost.flat_prices()
        self.cost_unit_usd = max(self.design_it_w * self.dt / 3.6e6 * self.usd_per_kwh, 1e-12)
        self.max_steps = int(kw.episode_steps)
        self.random_start_day = kw.random_start_day
        self.low = np.array([kw.supply_air_range_c[0], kw.chw_range_c[0]], dtype=float)
        self.high = np.array([kw.supply_air_range_c[1], kw.chw_range_c[1]], dtype=float)
        self._lo_hi = (tuple(map(float, self.low)), tuple(map(float, self.high)))
        self.action_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.features = features(self.design_it_w)
        self.observation_space = observation_space(self.features)
        self._encode = Encoder(self.features)
        self._inlet_band = (self.cfg.recommended_inlet_min_c, self.cfg.recommended_inlet_max_c)
        self._weather_seed: int | None = None
        self._fast: Any = None  # (dcsim.cooling.fast, parameters, state buffers), or False
        self._no_throttle = np.ones(0)
        self._fused: tuple | None = None  # `_fused_step`'s compiled call and buffers
        self.k = 0
        self.t0 = 0.0

    # ------------------------------------------------------------ action mapping
    def to_controls(self, action: np.ndarray) -> CoolingControls:
        sa, chw, mode = self._setpoints(action)
        return CoolingControls(supply_air_c=sa, chw_supply_c=chw, economizer=ECONOMIZER_MODES[mode])

    def _setpoints(self, action: np.ndarray) -> tuple[float, float, int]:
        """(supply air C, CHW supply C, index into ECONOMIZER_MODES) of an action."""
        x0, x1, x2 = action.tolist() if isinstance(action, np.ndarray) else map(float, action)
        a0, a1, a2 = min(max(x0, -1.0), 1.0), min(max(x1, -1.0), 1.0), min(max(x2, -1.0), 1.0)
        (lo0, lo1), (hi0, hi1) = self._lo_hi
        sa = lo0 + (a0 + 1.0) * 0.5 * (hi0 - lo0)
        chw = lo1 + (a1 + 1.0) * 0.5 * (hi1 - lo1)
        return sa, chw, 0 if a2 < -1 / 3 else (2 if a2 > 1 / 3 else 1)

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
        self.w_db, self.w_wb, self.w_rh = (
            np.asarray(x) for x in (ws.dry_bulb_c, ws.wet_bulb_c, ws.rh)
        )
        self.w_ci = self.carbon.at_many(t)
        # wet-bulb forecasts: the weather series itself at the leads (perfect foresight)
        wb_fc = [np.asarray(self.weather.at_many(t + 3600.0 * h).wet_bulb_c, dtype=float)
                 for h in WETBULB_FORECAST_H]  # fmt: skip
        self._wb_fc = tuple(x.tolist() for x in wb_fc)
        # per-step scalars as Python floats (cheaper to index than NumPy scalars, same values)
        self._db, self._wb, self._rh, self._ci = (
            x.tolist() for x in (self.w_db, self.w_wb, self.w_rh, self.w_ci)
        )
        # the observation's exogenous entries per step: weather, forecasts, carbon
        self._exo = list(zip(self._db, self._wb, *self._wb_fc, self._rh, self._ci, strict=True))
        self.activity = rack_activity(self.load_cfg, self.n_racks, t, self.dt, rng)
        # the same power law at full clock for the whole episode: used while no rack throttles
        # (f = 1 makes S(f) exactly 1, so the numbers are identical)
        self.p_full = self.rack_power.power_w(self.activity, 1.0)
        # the two as one hall's arrays for the compiled step (`_fused_step`)
        cols = (self.w_db, self.w_wb, *wb_fc, self.w_rh, self.w_ci)  # `_exo`'s, as arrays
        self._exo_arr = np.stack([np.asarray(x, dtype=float) for x in cols], axis=1)[None]
        self._p_full1 = self.p_full[None]

    def _rack_power(self, k: int) -> np.ndarray:
        if self.throttle_min == 1.0:
            return self.p_full[k]
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
        self.throttle_min = 1.0
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
        return self._encode(self._obs_values(k))

    def _phases(self, k: int) -> tuple[float, float, float, float]:
        """sin and cos of the hour-of-day and day-of-year phases at the start of step k."""
        t = self.t0 + k * self.dt
        h = 2 * np.pi * (t / 3600.0 % 24.0) / 24.0
        d = 2 * np.pi * (t / DAY_S % 365.0) / 365.0
        return math.sin(h), math.cos(h), math.sin(d), math.cos(d)

    def _obs_values(self, k: int) -> tuple[float, ...]:
        """Physical observation values at step k, in the order of `features`."""
        s = self._last
        inlet_max = s["inlet_max"]
        return (
            *self._exo[k],
            s["it"],
            s["inlet_mean"],
            inlet_max,
            inlet_max - self._inlet_band[1],
            s["supply"],
            s["chw"],
            s["pue"],
            s["econ"],
            s["throttle"],
            *self._phases(k),
        )

    def bill_usd(self, ctrl_w: Any, water_l: Any) -> tuple[Any, Any]:
        """Electricity of cooling + server fans and tower water over one step, USD (floats,
        or per-hall arrays for the batched env)."""
        return bill_usd(ctrl_w, water_l, self.dt, self.usd_per_kwh, self.usd_per_m3)

    # ------------------------------------------------------------ plant step
    use_fast = True  # the compiled kernel (dcsim.cooling.fast) when numba is installed

    def _kernel(self) -> Any:
        """`dcsim.cooling.fast` with this plant's parameters, imported on the first step (numba
        costs ~0.3 s to import); None without numba or with `use_fast` off."""
        if not self.use_fast:
            return None
        if self._fast is None:
            try:
                fast = importlib.import_module("dcsim.cooling.fast")
            except ImportError:  # numba missing: the readable NumPy path
                self._fast = False
                return None
            prm, rk = fast.plant_params(self.plant)
            self._encode.fn = compiled_encoder()
            self._fast = (fast, prm, rk, np.empty((4, 1, self.n_racks)), np.zeros((1, fast.N_HALL)))
            self._no_throttle = np.ones(self.n_racks)
            self._no_throttle.flags.writeable = False
        return self._fast or None

    def __getstate__(self) -> dict[str, Any]:
        """Picklable and deep-copyable as before the kernel: the compiled code is left out and
        loaded again on the next step (the plant holds the state; the encoder pickles
        without its compiled code itself)."""
        state = self.__dict__.copy()
        state["_fast"] = state["_fused"] = None
        return state

    def _plant_step(
        self, p: np.ndarray, sa: float, chw: float, mode: int, k: int
    ) -> tuple[Any, ...]:
        """The plant over one step: (throttle, server fan W, cooling W, water L,
        supply air C, CHW supply C, economizer share, rack IT W, inlet sum, hottest inlet,
        ASHRAE-band violation K summed over racks). The compiled kernel when available,
        else `CoolingPlant.step` (the readable reference; equal to 1e-12,
        tests/test_cooling_fast.py)."""
        kern = self._kernel()
        db, wb = self._db[k], self._wb[k]
        if kern is None:
            c = CoolingControls(
                supply_air_c=sa, chw_supply_c=chw, economizer=ECONOMIZER_MODES[mode]
            )
            res = self.plant.step(p, WeatherSample(db, wb, self._rh[k]), self.dt, c)
            inlet = res.inlet_c
            lo, hi = self._inlet_band
            viol = float((np.maximum(inlet - hi, 0.0) + np.maximum(lo - inlet, 0.0)).sum())
            return (
                res.throttle,
                float(res.server_fan_w.sum()),
                float(res.cooling_w),
                float(res.water_l),
                float(res.supply_air_c),
                float(res.chw_supply_c),
                float(res.economizer_fraction),
                float(p.sum()),
                float(inlet.sum()),
                float(inlet.max()),
                viol,
            )
        fast, prm, rk, racks, hall = kern
        plant = self.plant
        air, water = plant.air, plant.water
        fast.hold_air_state(air, racks)
        tcs = None
        if plant.liquid.active:  # the liquid loop: scalar, readable, before the kernel
            liq = plant.liquid.step(plant.f_liq * float(p.sum()), db, water.t_cond_prev)
            tcs = liq.tcs_supply_c
            hall[0, :13] = (air.t_supply, water.p_chiller_prev, water.t_cond_prev, sa, chw, mode,
                            wb, db, liq.to_tower_w, liq.cdu_pump_w, liq.fws_pump_w,
                            liq.drycooler_fan_w, liq.trim_chiller_w)  # fmt: skip
        else:
            hall[0, :8] = (
                air.t_supply,
                water.p_chiller_prev,
                water.t_cond_prev,
                sa,
                chw,
                mode,
                wb,
                db,
            )
        fast.step_halls(prm, rk, racks, hall, p[None], self.dt)
        o = hall[0].tolist()
        air.t_supply, water.p_chiller_prev, water.t_cond_prev = o[:3]
        cfg = self.cfg
        if o[fast.O_INLET_MAX] <= cfg.inlet_limit_c and (
            tcs is None or tcs <= cfg.liquid.tcs_limit_c
        ):
            thr = self._no_throttle  # thermal_throttle's no-excess answer, exactly 1
        else:
            thr = thermal_throttle(cfg, racks[0, 0].copy(), tcs, plant.clock_for_power)
        return (
            thr,
            o[fast.O_FAN_SUM],
            o[fast.O_COOLING],
            o[fast.O_WATER_L],
            o[fast.O_SUPPLY],
            o[fast.O_CHW_SUP],
            o[fast.O_ECON],
            o[fast.O_P_SUM],
            o[fast.O_INLET_SUM],
            o[fast.O_INLET_MAX],
            o[fast.O_VIOL_SUM],
        )

    def _fused_step(self, action: Any) -> tuple[tuple[Any, ...], np.ndarray | None, int] | None:
        """The step through the batched env's one compiled call with one hall
        (`dcsim.envs.vector._step_calm`: setpoints, rack power, plant, observation), while no
        rack throttles and without a liquid loop; None otherwise (the caller's path). Returns
        `_plant_step`'s tuple, the next observation (None when an inlet passed its limit: the
        plant has stepped, the caller observes) and the economizer mode's index."""
        fused = self._fused
        if fused is None:
            kern = self._kernel()
            if kern is None or self.plant.liquid.active:
                return None
            fused = self._fused = self._fused_call(kern)
        if self.throttle_min != 1.0:
            return None
        (calm, lo, span, consts, w, c, enc_arr, ones, k1, t01, p1, last, phase, vals, rew, acts,
         outs_of, racks, hall, row, obs_shape, prm, rk, hold, i_mode) = fused  # fmt: skip
        air = self.plant.air
        water = self.plant.water
        if air.t_in.base is not racks:  # a reset or a readable step replaced the state
            hold(air, racks)
        row[0] = air.t_supply
        row[1] = water.p_chiller_prev
        row[2] = water.t_cond_prev
        k1[0] = self.k
        t01[0] = self.t0
        obs = np.empty(obs_shape, dtype=np.float32)
        acts[0] = action  # (as float64, as `_setpoints` reads it)
        ended = calm(acts, lo, span, self._p_full1, self._exo_arr, k1, prm, rk, racks, hall, p1,
                     consts, w, c, ones, last, t01, phase, vals, enc_arr, rew, obs)  # fmt: skip
        o = row.tolist()
        air.t_supply, water.p_chiller_prev, water.t_cond_prev = o[0], o[1], o[2]
        if ended >= 0:
            return (self._no_throttle, *outs_of(o)), obs[0], int(o[i_mode])
        # an inlet passed its limit: thermal_throttle, as `_plant_step`
        thr = thermal_throttle(self.cfg, racks[0, 0].copy(), None, self.plant.clock_for_power)
        return (thr, *outs_of(o)), None, int(o[i_mode])

    def _fused_call(self, kern: tuple[Any, ...]) -> tuple[Any, ...]:
        """`_fused_step`'s compiled function, constants and buffers (built on its first step)."""
        from dcsim.envs import vector  # (imports this module)

        fast, prm, rk, racks, hall = kern
        n_obs = len(self.features)
        return (
            vector._compiled_array_fns(fast)[4],
            *vector.calm_constants(self),
            np.ones(1), np.zeros(1, dtype=np.intp), np.zeros(1), np.empty((1, self.n_racks)),
            np.empty((1, 8)), np.empty((1, 4)), np.empty((1, n_obs)), np.empty(1),
            np.empty((1, 3)),
            operator.itemgetter(fast.O_FAN_SUM, fast.O_COOLING, fast.O_WATER_L,
                                fast.O_SUPPLY, fast.O_CHW_SUP, fast.O_ECON, fast.O_P_SUM,
                                fast.O_INLET_SUM, fast.O_INLET_MAX, fast.O_VIOL_SUM),
            racks, hall, hall[0], (1, n_obs), prm, rk, fast.hold_air_state, fast.I_MODE,
        )  # fmt: skip

    def step(self, action):
        k = self.k
        db, wb, ci = self._db[k], self._wb[k], self._ci[k]
        fused = self._fused_step(action)
        if fused is None:
            sa, chw, mode = self._setpoints(action)
            outs, obs = self._plant_step(self._rack_power(k), sa, chw, mode, k), None
        else:
            outs, obs, mode = fused
        (throttle, fan, cooling_w, water_l, supply, chw_sup, econ, p_sum, inlet_sum,
         inlet_max, viol_sum) = outs  # fmt: skip
        self.throttle = throttle
        n = self.n_racks
        it = p_sum + fan
        ctrl_w = cooling_w + fan
        viol = viol_sum / n
        if throttle is self._no_throttle:
            self.throttle_min = thr_min = 1.0
        else:
            self.throttle_min = thr_min = float(throttle.min())
        thr = 1.0 if thr_min == 1.0 else float(throttle.sum()) / n
        thr = 1.0 - thr
        design = self.design_it_w
        hot = max(inlet_max - self._inlet_band[1], 0.0)  # the hottest rack's K above its max
        dt = self.dt
        kwh = dt / 3.6e6
        elec_usd, water_usd = bill_usd(ctrl_w, water_l, dt, self.usd_per_kwh, self.usd_per_m3)
        w = self.weights  # `weigh`'s terms, written out (one dict, no intermediate)
        terms = {
            "energy": w["energy"] * (-ctrl_w / design),
            "carbon": w["carbon"] * (-ctrl_w * ci / (design * 400.0)),
            "violation": w["violation"] * -viol,
            "throttle": w["throttle"] * -thr,
            "hottest": w["hottest"] * -hot,
            "cost": w["cost"] * (-(elec_usd + water_usd) / self.cost_unit_usd),
        }
        reward = float(sum(terms.values()))
        pue = (it + cooling_w) / it
        self._last = {
            "it": it,
            "inlet_mean": inlet_sum / n,
            "inlet_max": inlet_max,
            "supply": supply,
            "chw": chw_sup,
            "pue": pue,
            "econ": econ,
            "throttle": thr_min,
        }
        self.k = k + 1
        metrics: dict[str, Any] = {
            "t_s": float(k * dt),
            "it_w": it,
            "server_fan_w": fan,
            "cooling_w": float(cooling_w),
            "pue": float(pue),
            "it_kwh": it * kwh,
            "cooling_kwh": cooling_w * kwh,
            "carbon_kg": (it + cooling_w) * kwh * ci / 1000.0,
            "water_l": water_l,
            "cooling_electricity_usd": elec_usd,
            "water_usd": water_usd,
            "inlet_max_c": inlet_max,
            "violation_k": viol,
            "hottest_excess_k": hot,
            "economizer_fraction": econ,
            "supply_air_c": supply,
            "chw_supply_c": chw_sup,
            "dry_bulb_c": db,
            "wet_bulb_c": wb,
            "carbon_g_per_kwh": ci,
            "economizer_mode": ECONOMIZER_MODES[mode],
        }
        info = {"reward_terms": terms, "metrics": metrics}
        truncated = self.k >= self.max_steps
        return self._obs(self.k) if obs is None else obs, reward, False, truncated, info
