"""`dcsim/Datacenter-v0`: the whole datacenter loop with cooling and power actuators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pydantic import Field

from dcsim.config import MAX_STEPS, LoadedScenario, load_scenario, scenario_from_dict
from dcsim.cost import network_inventory, price_at, work_prices
from dcsim.envs.contract import (
    METADATA,
    Actuator,
    Encoder,
    EnvKwargs,
    Feature,
    Metric,
    RewardTerm,
    compiled_encoder,
    encode_rows,
    observation_space,
    parse_kwargs,
    render_frame,
    render_mode_arg,
    reward_weights,
)
from dcsim.errors import InputError
from dcsim.sim import Controls, StepRecord
from dcsim.sim_fast import FastSimulation

# Routing policies offered for the job's DP all-reduce (as CoDesign-v0); the scenario's own
# `workload.routing` is appended when it is none of these, so `fixed` can hold it.
ROUTINGS = ("ecmp", "spray", "split:4", "colour")
ECONOMIZER_MODES = ("off", "auto", "on")
ACTION_NAMES = ("supply_air_c", "chw_supply_c", "cap_frac", "routing", "economizer")
# the env's own scenario when none is given: a job whose all-reduce the fabric exposes
DEFAULT_SCENARIO = "datacenter_comm.yaml"
CARBON_FORECAST_H = (1.0, 3.0)  # grid carbon forecast leads, h (the hourly series itself)
# components of the cooling plant's power (StepRecord.extra, W), as `cooling_<part>`
COOLING_PARTS = (
    "crah_fan_w",
    "chiller_w",
    "tower_fan_w",
    "chw_pump_w",
    "cw_pump_w",
    "cdu_pump_w",
    "fws_pump_w",
    "drycooler_fan_w",
    "trim_chiller_w",
)


# the observation's entries before the one-hot routing and economizer (`features`, `_obs`)
OBS_ORDER = (
    "outdoor_c",
    "wetbulb_c",
    "sin_hour",
    "cos_hour",
    "carbon_g_per_kwh",
    "it_w",
    "cooling_w",
    "inlet_max_c",
    "inlet_above_limit_k",
    "supply_air_c",
    "chw_supply_c",
    "cap_frac",
    "freq_frac",
    "throttle_min",
    "tokens_per_s",
    "pue",
    *(f"carbon_fc_{h:g}h_g_per_kwh" for h in CARBON_FORECAST_H),
    "exposed_comm_share",
)


def features(
    design_it_w: float, ref_tokens_per_s: float, routings: tuple[str, ...]
) -> tuple[Feature, ...]:
    """Observation entries, bounded to [-10, 10]; IT, cooling and throughput relative to design."""
    return (
        Feature("outdoor_c", "C", 40.0),
        Feature("wetbulb_c", "C", 40.0),
        Feature("sin_hour", "1"),
        Feature("cos_hour", "1"),
        Feature("carbon_g_per_kwh", "g/kWh", 1000.0),
        Feature("it_w", "W", design_it_w),
        Feature("cooling_w", "W", design_it_w),
        Feature("inlet_max_c", "C", 40.0),
        Feature("inlet_above_limit_k", "K", 10.0),  # hottest inlet - recommended max
        Feature("supply_air_c", "C", 40.0),
        Feature("chw_supply_c", "C", 20.0),
        Feature("cap_frac", "1"),
        Feature("freq_frac", "1"),
        Feature("throttle_min", "1"),
        Feature("tokens_per_s", "tokens/s", max(ref_tokens_per_s, 1e-9)),
        Feature("pue", "1", offset=1.0),
        *(Feature(f"carbon_fc_{h:g}h_g_per_kwh", "g/kWh", 1000.0) for h in CARBON_FORECAST_H),
        Feature("exposed_comm_share", "1"),  # exposed all-reduce / step time
        *(Feature(f"routing_{r.replace(':', '')}", "1") for r in routings),  # one-hot
        *(Feature(f"economizer_{m}", "1") for m in ECONOMIZER_MODES),  # one-hot
    )


def actuators(low: np.ndarray, high: np.ndarray, routings: tuple[str, ...]) -> tuple[Actuator, ...]:
    """The action entries: setpoint and cap ranges, then routing and economizer choices."""
    return (
        Actuator("supply_air_c", "C", float(low[0]), float(high[0])),
        Actuator("chw_supply_c", "C", float(low[1]), float(high[1])),
        Actuator("cap_frac", "1", float(low[2]), float(high[2])),
        Actuator("routing", choices=routings),
        Actuator("economizer", choices=ECONOMIZER_MODES),
    )


class DatacenterKwargs(EnvKwargs):
    """Datacenter-v0 arguments (see the env's docstring)."""

    scenario: Any = Field(None, description="path, mapping, LoadedScenario or None (default)")
    overrides: dict[str, Any] | None = None
    steps: int | None = Field(None, ge=1, le=MAX_STEPS)
    # up to the ASHRAE A1 allowable inlet (32 C): warm setpoints can reach the thermal
    # throttle, so the inlet limit is a consequence an agent can meet, not out of range
    supply_air_range_c: tuple[float, float] = (16.0, 32.0)
    chw_range_c: tuple[float, float] = (6.0, 18.0)


def make_loaded(
    scenario: str | Path | dict | LoadedScenario | None, overrides: dict | None
) -> LoadedScenario:
    """Accept a scenario path, a mapping, an already loaded scenario, or None (the env's
    DEFAULT_SCENARIO, not `dcsim run`'s default.yaml)."""
    if isinstance(scenario, LoadedScenario):
        return scenario
    if isinstance(scenario, dict):
        from dcsim.config import set_dotted

        data = dict(scenario)
        for k, v in (overrides or {}).items():
            set_dotted(data, k, v)
        return scenario_from_dict(data)
    return load_scenario(scenario or DEFAULT_SCENARIO, overrides)


class DatacenterEnv(gym.Env):
    """Control a datacenter running an AI training job: cooling, power cap, routing, economizer.

    ## Description
    Each step is one control interval (scenario `time.dt_s`, default 60 s) of a
    `dcsim.sim.Simulation`: weather and grid carbon move on, the training job
    runs its iterations (compute, then the exposed part of the DP all-reduce,
    re-timed on the fabric for the routing in force; `dcsim.workload.PhaseClock`, stepped by
    `dcsim.sim_fast.FastSimulation`, compiled by numba when installed: `dcsim.sim_kernel`),
    accelerators draw power at the
    capped clock, the cooling plant (with thermal mass) removes the heat and throttles
    racks whose inlet exceeds `cooling.inlet_limit_c` (ASHRAE A1 allowable,
    32 C) on the next interval. "limit" below is the ASHRAE recommended
    maximum inlet, `cooling.recommended_inlet_max_c` (27 C).
    Default scenario (`scenarios/datacenter_comm.yaml`): 70B training on 256 H100 behind a
    4:1 oversubscribed leaf-spine with a 1M-token batch (ECMP exposes ~30% of the step as
    all-reduce), hourly CAISO grid carbon (EIA-930 2022), California electricity price.

    ## Action space
    `Box(-1, 1, (5,), float32)`, entries declared in `env.actuators`
    (`dcsim.envs.contract.Actuator`):

    | index | actuator | range |
    |---|---|---|
    | 0 | supply air setpoint | `supply_air_range_c` (default 16-32 C: throttling reachable), linear |
    | 1 | chilled water supply setpoint | `chw_range_c` (default 6-18 C), linear |
    | 2 | accelerator power cap, share of TDP | `power.min_cap_frac`-1.0, linear |
    | 3 | routing of the job's all-reduce | `ROUTINGS` (ecmp, spray, split:4, colour), equal bins |
    | 4 | water-side economizer mode | off, auto, on (chillers locked out), equal bins |

    ## Observation space
    `Box(-10, 10, (n,), float32)`, entries declared in `env.features` (read them with
    `dcsim.envs.contract.physical`): weather, hour of day, grid carbon, IT and cooling
    power relative to design, hottest inlet and its excess over the limit, current
    setpoints, cap, clock, thermal throttle, throughput relative to full speed, PUE - 1,
    grid carbon +1 h and +3 h (the series itself), the exposed all-reduce share of the
    step, and the routing and economizer mode in force (one-hot). Values are clipped.

    ## Rewards
    `reward = sum(info["reward_terms"].values())`, in units of the cluster's ownership cost
    of one interval, U = (capex annuity + maintenance + staff) x dt (`dcsim.cost.work_prices`):
    `throughput = +tokens_per_s / reference` (full-speed work is worth what owning the
    cluster costs: slowing the job forfeits that), `energy = -facility kWh x electricity
    price / U` (the hour's price when the scenario has `cost.electricity_prices_csv`), `carbon = -kgCO2 x social cost of carbon / U`, `violation = -max(0,
    inlet_max - limit)` (K). Weights: the scenario's `reward:` block, updated by
    `reward_weights`.

    ## Episode end
    Never terminates; truncates after `steps` intervals (default the scenario's `time.steps`).

    ## Arguments
    `scenario` (path, mapping or None for `DEFAULT_SCENARIO`), `overrides` (dotted keys),
    `steps`, `supply_air_range_c`, `chw_range_c`, `reward_weights`; validated by
    `DatacenterKwargs`. `info` holds `reward_terms` and `metrics` (the interval's
    `StepRecord`, declared in `METRICS`; no wall-clock values).
    """

    metadata = METADATA
    render = render_frame
    Kwargs = DatacenterKwargs
    DEFAULT_SCENARIO = DEFAULT_SCENARIO  # scenario=None and `dcsim evaluate/train` without one
    REWARD = (  # default weights: the scenario's `reward:` block (dcsim.config.RewardConfig)
        RewardTerm("energy", 1.0),
        RewardTerm("carbon", 0.0),
        RewardTerm("throughput", 1.0),
        RewardTerm("violation", 2.0, violation=True),
    )
    METRICS = (
        Metric("t_s", "s", "none"),
        *(
            Metric(n, u, "mean")
            for n, u in (
                ("outdoor_c", "C"),
                ("wetbulb_c", "C"),
                ("carbon_g_per_kwh", "g/kWh"),
                ("supply_air_c", "C"),
                ("cap_frac", "1"),
                ("freq_frac", "1"),
                ("throttle_min", "1"),
                ("activity", "1"),
                ("it_w", "W"),
                ("accel_w", "W"),
                ("cooling_w", "W"),
                ("facility_w", "W"),
                ("pue", "1"),
                ("inlet_mean_c", "C"),
                ("violation_c", "K"),
                ("step_time_s", "s"),
                ("exposed_comm_s", "s"),
                ("tokens_per_s", "tokens/s"),
                ("iterations", "1"),  # per interval
            )
        ),
        Metric("inlet_max_c", "C", "max"),
        *(Metric(n, u, "sum") for n, u in (("it_kwh", "kWh"), ("facility_kwh", "kWh"))),
        Metric("carbon_kg", "kg", "sum"),
        Metric("electricity_usd", "USD", "sum"),
        Metric("carbon_usd", "USD", "sum"),
        Metric("water_l", "L", "sum"),
        *(Metric(f"cooling_{p}", "W", "mean") for p in COOLING_PARTS),
    )

    @classmethod
    def scenario_kwargs(
        cls, loaded: LoadedScenario, overrides: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Constructor arguments that rebuild `loaded` (its file and overrides, or its data)."""
        if loaded.source is None:
            return {"scenario": loaded.scenario.model_dump(mode="json")}
        return {"scenario": str(loaded.source), "overrides": overrides or None}

    def __init__(self, scenario: Any = None, **kwargs: Any):
        super().__init__()
        self.render_mode = render_mode_arg(kwargs)
        self.kw = kw = parse_kwargs(self.Kwargs, {"scenario": scenario, **kwargs})
        self.loaded = make_loaded(kw.scenario, kw.overrides)
        sc = self.loaded.scenario
        self.weights = reward_weights(self.REWARD, kw.reward_weights, sc.reward.model_dump())
        for name, (lo, hi) in (
            ("supply_air_range_c", kw.supply_air_range_c),
            ("chw_range_c", kw.chw_range_c),
        ):
            if not lo < hi:
                raise InputError(f"need low < high (got {lo}, {hi})", field=name)
        self.max_steps = kw.steps or sc.time.steps
        # power once per kind of server, memoized weather/carbon (dcsim.sim_fast): same numbers
        self.sim = FastSimulation(
            self.loaded,
            steps=self.max_steps,
            carbon_leads_s=tuple(3600.0 * h for h in CARBON_FORECAST_H),
        )
        sa, chw = kw.supply_air_range_c, kw.chw_range_c
        self.low = np.array([sa[0], chw[0], sc.power.min_cap_frac])
        self.high = np.array([sa[1], chw[1], 1.0])
        # The box always holds the scenario's own operating point (supply air, CHW after the
        # plant's reset), so the `fixed` agent can hold it instead of a clipped value.
        own = np.array(self.sim.plant.setpoints(None)[:2])
        self.low[:2], self.high[:2] = np.minimum(self.low[:2], own), np.maximum(self.high[:2], own)
        routings = ROUTINGS + (() if sc.workload.routing in ROUTINGS else (sc.workload.routing,))
        self.routings = routings
        self.actuators = actuators(self.low, self.high, routings)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(len(self.actuators),), dtype=np.float32)
        self.features = features(self.sim.design_it_w, self.sim.ref_tokens_per_s, routings)
        self.observation_space = observation_space(self.features)
        self._encode = Encoder(self.features)
        if self._encode.names[: len(OBS_ORDER)] != OBS_ORDER:  # `_obs` lists values in it
            raise AssertionError("Datacenter-v0 features out of _obs's order")
        self._onehot = {
            **{r: f"routing_{r.replace(':', '')}" for r in routings},
            **{m: f"economizer_{m}" for m in ECONOMIZER_MODES},
        }
        self._onehot_rows: dict[tuple[str, str], list[float]] = {}  # `_obs`'s, by pair
        # reward unit: the cluster's ownership cost of one interval (USD)
        self.prices = work_prices(sc, self.sim.describe(), network_inventory(self.sim.fabric))
        self.unit_usd = self.prices.ownership_usd_per_hour * self.sim.dt / 3600.0
        self.chw_c = float(sc.cooling.chilled_water_setpoint_c)
        self.economizer: str = sc.cooling.economizer

    # -- mapping between normalized actions and physical controls
    def to_controls(self, action: np.ndarray) -> Controls:
        # Python floats (value() is cheaper on them): an array's own, exact for float32
        arr = action if isinstance(action, np.ndarray) else np.asarray(action, dtype=np.float64)
        entries = arr.tolist()
        if len(entries) != len(self.actuators):
            raise ValueError(f"action has {len(entries)} entries, expected {len(self.actuators)}")
        # value() returns floats for ranges and str for choices: no conversions needed
        vals: Any = map(Actuator.value, self.actuators, entries)
        sa, chw, cap, routing, econ = vals
        self.chw_c = chw
        self.economizer = econ
        return Controls(sa, chw, econ, cap, routing)

    def to_action(
        self,
        supply_air_c: float,
        chw_supply_c: float,
        cap_frac: float,
        routing: str | None = None,
        economizer: str | None = None,
    ) -> np.ndarray:
        """The action for these controls; routing and economizer None: the scenario's own."""
        sc = self.loaded.scenario
        vals: tuple[float | str, ...] = (
            supply_air_c,
            chw_supply_c,
            cap_frac,
            sc.workload.routing if routing is None else routing,
            sc.cooling.economizer if economizer is None else economizer,
        )
        return np.array(
            [act.action(v) for act, v in zip(self.actuators, vals, strict=True)], dtype=np.float32
        )

    def _obs(self, r: StepRecord | None) -> np.ndarray:
        sim = self.sim
        sc = self.loaded.scenario
        hour = ((sim.t / 3600.0 + sc.climate.weather.start_hour) % 24.0) / 24.0 * 2 * np.pi
        fc = [sim.carbon.at(sim.t + 3600.0 * h) for h in CARBON_FORECAST_H]
        if r is None:  # before the first interval: weather and setpoints only
            ws = sim.weather.at(sim.t)
            sa = sim.supply_air_c
            vals = [ws.dry_bulb_c, ws.wet_bulb_c, np.sin(hour), np.cos(hour), sim.carbon.at(sim.t),
                    0.0, 0.0, sa, 0.0, sa, self.chw_c, sim.cap_frac, 1.0, 1.0, 0.0, 1.0, *fc, 0.0]  # fmt: skip
        else:
            vals = [r.outdoor_c, r.wetbulb_c, np.sin(hour), np.cos(hour), r.carbon_g_per_kwh,
                    r.it_w, r.cooling_w, r.inlet_max_c,
                    r.inlet_max_c - sc.cooling.recommended_inlet_max_c, r.supply_air_c,
                    self.chw_c, r.cap_frac, r.freq_frac, r.throttle_min, r.tokens_per_s, r.pue,
                    *fc, r.exposed_comm_s / r.step_time_s if r.step_time_s else 0.0]  # fmt: skip
        key = (sim.routing, self.economizer)
        onehot = self._onehot_rows.get(key)
        if onehot is None:  # one-hot routing and economizer mode, built once per pair
            onehot = [0.0] * (len(self.routings) + len(ECONOMIZER_MODES))
            onehot[self.routings.index(key[0])] = 1.0
            onehot[len(self.routings) + ECONOMIZER_MODES.index(key[1])] = 1.0
            self._onehot_rows[key] = onehot
        return self._encode(vals + onehot)

    def interval_usd(self, r: StepRecord) -> dict[str, float]:
        """The interval's facility electricity and carbon (social cost) in USD (`dcsim.cost`
        prices; the hour's price when the scenario has `cost.electricity_prices_csv`)."""
        p, hourly = self.prices, self.sim.electricity_prices
        price = p.electricity_usd_per_kwh
        if hourly is not None:
            price = float(price_at(hourly, np.asarray(r.t_s), self.sim.year_offset_s, self.sim.dt))
        return {
            "electricity_usd": r.facility_kwh * price,
            "carbon_usd": r.carbon_kg * p.carbon_usd_per_kg,
        }

    def reward_terms(self, r: StepRecord, usd: dict[str, float]) -> dict[str, float]:
        """Weighted terms of one interval (`info["reward_terms"]`), in units of the cluster's
        ownership cost of one interval; `usd` is `interval_usd(r)`."""
        unit = self.unit_usd
        w = self.weights  # `weigh`'s terms, written out (one dict, no intermediate)
        return {
            "energy": float(w["energy"] * (-usd["electricity_usd"] / unit)),
            "carbon": float(w["carbon"] * (-usd["carbon_usd"] / unit)),
            "throughput": float(
                w["throughput"] * (r.tokens_per_s / max(self.sim.ref_tokens_per_s, 1e-9))
            ),
            "violation": float(w["violation"] * -r.violation_c),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.sim.reset(seed=seed)
        self.chw_c = float(self.loaded.scenario.cooling.chilled_water_setpoint_c)
        self.economizer = self.loaded.scenario.cooling.economizer
        return self._obs(None), {}

    def step(self, action):
        c = self.to_controls(action)
        sim = self.sim
        r = sim.step(c)
        if self._encode.fn is encode_rows and sim.kernel() is not None:
            self._encode.fn = compiled_encoder()  # NumPy's numbers (test_cooling_fast)
        usd = self.interval_usd(r)
        terms = self.reward_terms(r, usd)
        reward = float(sum(terms.values()))
        truncated = sim.k >= self.max_steps
        metrics = r.as_row()
        metrics.update(usd)
        info = {
            "reward_terms": terms,
            "metrics": metrics,
            "routing": c.routing,
            "economizer": c.economizer,
        }
        return self._obs(r), reward, False, truncated, info
