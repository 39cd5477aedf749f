"""`dcsim/CoDesign-v0`: one action reaching scheduler, network, power and cooling of the
multi-tenant datacenter (`dcsim.tenancy.Engine`)."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pydantic import Field

from dcsim.climate import DAY_S, WeatherSample, build_weather
from dcsim.config import MAX_STEPS
from dcsim.cooling import CoolingControls
from dcsim.envs.contract import (
    METADATA,
    Encoder,
    EnvKwargs,
    Feature,
    Metric,
    RewardTerm,
    observation_space,
    parse_kwargs,
    render_frame,
    render_mode_arg,
    reward_weights,
    weigh,
)
from dcsim.errors import InputError
from dcsim.hardware import get_profile
from dcsim.power import DevicePowerModel
from dcsim.tenancy.engine import CLASSES, PLACEMENTS, Decisions, Engine, EngineConfig
from dcsim.tenancy.fabric import SharedFabric
from dcsim.tenancy.grid import REGIONS, check_region, noisy_forecast
from dcsim.tenancy.workload import generate_specs, inference_load, load_job_trace

SCHEDULE = ("wait", *PLACEMENTS)  # per queued-job slot
ROUTINGS = ("ecmp", "spray", "split:4", "colour")
CLOCKS = (1.0, 0.9, 0.8, 0.7, 0.6)
ECONOMIZER = ("off", "auto", "on")
TANK = (-1.0, 0.0, 1.0)  # discharge, hold, charge
LEVELS = 5  # setpoint levels across each range
CARBON_LEADS_H = (1, 3, 6, 12, 24)
WETBULB_LEADS_H = (3, 12, 24)
PRESETS = ("temperate", "hot-dry", "hot-humid", "cold")
WETBULB_K_PER_ERROR = 10.0  # wet-bulb forecast sd = forecast_error x 10 K x sqrt(lead h), estimate
REF_CI = 400.0  # g/kWh: carbon term normalisation
REF_PRICE = 80.0  # $/MWh: cost term normalisation


class CoDesignKwargs(EnvKwargs):
    """CoDesign-v0 arguments; `engine` is `dcsim.tenancy.EngineConfig` (mapping accepted)."""

    engine: EngineConfig = Field(default_factory=EngineConfig)
    job_trace: str | None = Field(None, description="YAML/CSV job trace; default: generator")
    dt_s: float = Field(300.0, gt=0)
    episode_steps: int = Field(576, ge=1, le=MAX_STEPS, description="2 days of 5-min steps")
    top_k: int = Field(4, ge=1, le=16, description="queued jobs decided per step")
    regions: list[str] = Field(default_factory=lambda: list(REGIONS))
    climates: list[str] = Field(default_factory=lambda: list(PRESETS))
    oversubscriptions: list[float] = Field(default_factory=lambda: [2.0])
    random_start_day: bool = True
    start_day: int | None = Field(
        None, ge=0, le=364, description="fixed start day (0 = 1 January); None: random_start_day"
    )
    forecast_error: float = Field(
        0.05, ge=0, le=1, description="relative forecast error per sqrt(hour) of lead"
    )
    supply_air_range_c: tuple[float, float] = (18.0, 27.0)
    chw_range_c: tuple[float, float] = (7.0, 16.0)
    slo_target: float = Field(0.95, gt=0, le=1, description="share of requests within the SLO")


def _features(n_racks: int, top_k: int) -> tuple[Feature, ...]:
    f: list[Feature] = [
        Feature("sin_hour", "1"),
        Feature("cos_hour", "1"),
        Feature("sin_day", "1"),
        Feature("cos_day", "1"),
        Feature("dry_bulb_c", "C", 40.0),
        Feature("wet_bulb_c", "C", 40.0),
        Feature("carbon_g_per_kwh", "g/kWh", 1000.0),
        Feature("price_usd_per_mwh", "$/MWh", 200.0),
        *(Feature(f"carbon_fc_{h}h", "g/kWh", 1000.0) for h in CARBON_LEADS_H),
        *(Feature(f"price_fc_{h}h", "$/MWh", 200.0) for h in CARBON_LEADS_H),
        *(Feature(f"wet_bulb_fc_{h}h", "C", 40.0) for h in WETBULB_LEADS_H),
        Feature("it_over_budget", "1"),
        Feature("demand_over_budget", "1"),
        Feature("facility_over_design", "1"),
        Feature("brake", "1"),
        Feature("tank_soc", "1"),
        Feature("pue", "1", offset=1.0),
        Feature("inlet_max_c", "C", 40.0),
        *(Feature(f"inlet_c_{i:02d}", "C", 40.0) for i in range(n_racks)),
        *(Feature(f"rack_power_{i:02d}", "1") for i in range(n_racks)),
        *(Feature(f"leaf_free_{i:02d}", "1") for i in range(n_racks)),
        *(Feature(f"leaf_uplink_{i:02d}", "1") for i in range(n_racks)),
        Feature("queue_jobs", "jobs", 20.0),
        Feature("queue_accelerators", "1"),
    ]
    for s in range(top_k):
        f += [
            Feature(f"q{s}_accelerators", "1"),
            Feature(f"q{s}_comm_ratio", "1"),
            Feature(f"q{s}_wait_h", "h", 24.0),
            Feature(f"q{s}_deferrable", "1"),
            Feature(f"q{s}_slack_h", "h", 24.0),
            Feature(f"q{s}_fits", "1"),
        ]
    f += [
        Feature("running_jobs", "jobs", 20.0),
        Feature("comm_bound_share", "1"),
        Feature("compute_bound_share", "1"),
        Feature("inference_load", "1"),
        Feature("slo_attainment", "1"),
        Feature("slo_margin", "1"),
    ]
    return tuple(f)


def nearest_level(levels: Sequence[float], x: float) -> int:
    """Index of the level nearest x, the first of equally near ones (as np.argmin of the
    absolute differences, on Python floats)."""
    return min(range(len(levels)), key=lambda i: abs(levels[i] - x))


class CoDesignEnv(gym.Env):
    """Run a multi-tenant AI datacenter: place jobs, route, cap clocks, cool, store cold.

    ## Description
    `dcsim.tenancy.Engine`: training jobs (seeded generator fitted to Philly/PAI/Helios, or a
    job trace) and LLM inference servers share a leaf-spine fabric (one ToR per rack), a
    POLCA-style facility power budget (exceeding it trips the power brake for the step) and a
    chilled-water cooling plant with a storage tank, under hourly EIA-930 grid carbon and a
    price model. Steps are `dt_s` (5 min); episodes `episode_steps` (576 = 2 days). Every
    reset draws the start day, climate preset, grid region, oversubscription (from the
    kwargs' lists) and the workload from the reset seed.

    ## Action space
    `MultiDiscrete`: for each of the `top_k` oldest queued jobs, `SCHEDULE` (wait, pack,
    coolest racks, least-loaded uplinks); routing for comm-bound and compute-bound training
    (`ROUTINGS`: ecmp, spray, split:4, colour); clock cap for comm-bound, compute-bound and
    inference (`CLOCKS`, fractions of f_max); supply air and chilled-water setpoints (5 levels
    across their ranges); economizer (off/auto/on); tank (discharge/hold/charge).
    `action_masks()` returns the valid choices (a slot with no job, or a job that does not fit,
    can only wait) for MaskablePPO; invalid placements are treated as wait.

    ## Observation space
    `Box` of `env.features` (read with `dcsim.envs.contract.physical`): time phases; weather,
    carbon and price now and forecast (+1..24 h, log-normal error growing with sqrt(lead),
    fixed per target hour so forecasts firm up as the hour nears; wet bulb +3/12/24 h with an
    additive error of forecast_error x 10 K x sqrt(lead));
    facility power vs budget (drawn, and asked for before the brake), brake, tank state of
    charge, PUE; per-rack inlets and power;
    per-leaf free accelerators and uplink load; queue features and the top-k jobs; running
    classes; inference load and SLO attainment/margin.

    ## Rewards
    `work` = useful accelerator-seconds / cluster accelerator-seconds (>= 0); `carbon` =
    -facility kWh x grid g/kWh / (design IT kWh x 400 g/kWh); `cost` = -energy cost / (design
    kWh x $80/MWh) (weight 0 by default). Constraint terms (marked violation): `thermal` =
    -(hottest inlet - ASHRAE recommended max)+ K, `power` = -(IT power over budget)/budget,
    `slo` = -(slo_target - SLO attainment)+. `info["cost"]` repeats the constraints in
    physical units for constrained RL: hottest-rack K-minutes above the limit, kW-minutes
    over budget, brake events, SLO-violation minutes.

    ## Episode end
    Never terminates; truncates after `episode_steps`; the last step's `info["jobs"]` holds
    per-job metrics (jobs finished, mean JCT and slowdown, deadline misses, queue).

    ## Arguments
    `engine` (`dcsim.tenancy.EngineConfig` or mapping: hardware, racks, accelerators per rack,
    spines, oversubscription, inference, workload generator, budget fraction, cooling, climate,
    tank, region), `job_trace` (YAML/CSV; default: the seeded generator), `dt_s`,
    `episode_steps`, `top_k`, `regions`, `climates`, `oversubscriptions` (lists reset draws
    from), `random_start_day`, `start_day` (fixed; a multitenant scenario sets it),
    `forecast_error`, `supply_air_range_c`, `chw_range_c`,
    `slo_target`, `reward_weights`; validated by `CoDesignKwargs`.
    """

    metadata = METADATA
    render = render_frame
    Kwargs = CoDesignKwargs
    REWARD = (
        RewardTerm("work", 1.0),
        RewardTerm("carbon", 1.0),
        RewardTerm("cost", 0.0),
        RewardTerm("thermal", 1.0, violation=True),
        RewardTerm("power", 1.0, violation=True),
        RewardTerm("slo", 1.0, violation=True),
    )
    METRICS = (
        Metric("t_s", "s", "none"),
        Metric("work", "1", "mean"),
        Metric("train_work", "1", "mean"),
        Metric("inference_work", "1", "mean"),
        Metric("it_kwh", "kWh", "sum"),
        Metric("cooling_kwh", "kWh", "sum"),
        Metric("facility_kwh", "kWh", "sum"),
        Metric("carbon_kg", "kg", "sum"),
        Metric("cost_usd", "$", "sum"),
        Metric("pue", "1", "mean"),
        Metric("inlet_max_c", "C", "max"),
        Metric("thermal_k_min", "K min", "sum"),
        Metric("over_budget_kw_min", "kW min", "sum"),
        Metric("brakes", "1", "sum"),
        Metric("slo_violation_min", "min", "sum"),
        Metric("slo_attainment", "1", "mean"),
        Metric("tokens", "tokens", "sum"),
        Metric("tank_soc", "1", "mean"),
        Metric("running_jobs", "1", "mean"),
        Metric("queued_jobs", "1", "mean"),
        Metric("jobs_finished", "1", "sum"),
        Metric("jobs_started", "1", "sum"),
        Metric("carbon_g_per_kwh", "g/kWh", "mean"),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.render_mode = render_mode_arg(kwargs)
        self.kw = kw = parse_kwargs(self.Kwargs, kwargs)
        self.weights = reward_weights(self.REWARD, kw.reward_weights)
        for r in kw.regions:
            check_region(r)
        if not kw.regions or not kw.climates or not kw.oversubscriptions:
            raise InputError("regions, climates and oversubscriptions must not be empty")
        for name, (lo, hi) in (
            ("supply_air_range_c", kw.supply_air_range_c),
            ("chw_range_c", kw.chw_range_c),
        ):
            if not lo < hi:
                raise InputError(f"need low < high (got {lo}, {hi})", field=name)
        self.trace = load_job_trace(kw.job_trace) if kw.job_trace else None
        self.dt = float(kw.dt_s)
        self.max_steps = int(kw.episode_steps)
        self.top_k = kw.top_k
        self.n_racks = kw.engine.racks
        self.sa_levels = np.linspace(*kw.supply_air_range_c, LEVELS)
        self.chw_levels = np.linspace(*kw.chw_range_c, LEVELS)
        self._sa_list, self._chw_list = self.sa_levels.tolist(), self.chw_levels.tolist()
        self.nvec = np.array(
            [len(SCHEDULE)] * self.top_k
            + [len(ROUTINGS)] * 2
            + [len(CLOCKS)] * 3
            + [LEVELS, LEVELS, len(ECONOMIZER), len(TANK)],
            dtype=np.int64,
        )
        self.action_space = spaces.MultiDiscrete(self.nvec)
        self.features = _features(self.n_racks, self.top_k)
        self.observation_space = observation_space(self.features)
        self._encoder = Encoder(self.features)
        rack_names = [
            [f"{p}_{r:02d}" for r in range(self.n_racks)]
            for p in ("inlet_c", "rack_power", "leaf_free", "leaf_uplink")
        ]
        names = [f.name for f in self.features]
        # each per-rack block is a run of consecutive features (see `features`)
        self._rack_starts = [names.index(b[0]) for b in rack_names]
        assert all(
            names[s : s + len(b)] == b for s, b in zip(self._rack_starts, rack_names, strict=True)
        )
        self._fabrics: dict[float, SharedFabric] = {}
        self.engine: Engine | None = None
        self._slots: list[int] | None = None
        self.k = 0
        self._episode: object | None = None

    def engine_constants(self) -> dict[str, float]:
        """Facility constants a heuristic may know (from the config, before any reset)."""
        cfg = self.kw.engine
        prof = get_profile(cfg.hardware)
        dev = DevicePowerModel.from_profile(prof)
        srv = prof.server
        host = srv.host_power_w.value / srv.accelerators
        eta = srv.psu_efficiency.value
        n_acc = cfg.racks * cfg.accelerators_per_rack
        return {
            "busy_minus_idle_w": (dev.tdp_w - float(dev.power_w(0.0))) / eta,
            "train_capacity": float(n_acc - cfg.inference.servers * srv.accelerators),
            "budget_w": cfg.budget_fraction * n_acc * (dev.tdp_w + host) / eta,
        }

    # ------------------------------------------------------------ action helpers
    def decode(self, action: np.ndarray) -> dict[str, Any]:
        """The action's choices by name (what each index means)."""
        a = np.asarray(action, dtype=np.int64).ravel()
        k = self.top_k
        return {
            "schedule": [SCHEDULE[int(x)] for x in a[:k]],
            "routing": {"comm": ROUTINGS[int(a[k])], "compute": ROUTINGS[int(a[k + 1])]},
            "clock": {c: CLOCKS[int(a[k + 2 + i])] for i, c in enumerate(CLASSES)},
            "supply_air_c": float(self.sa_levels[int(a[k + 5])]),
            "chw_supply_c": float(self.chw_levels[int(a[k + 6])]),
            "economizer": ECONOMIZER[int(a[k + 7])],
            "tank": TANK[int(a[k + 8])],
        }

    def encode_action(
        self,
        schedule: list[str],
        routing: dict[str, str],
        clock: dict[str, float],
        supply_air_c: float,
        chw_supply_c: float,
        economizer: str,
        tank: float,
    ) -> np.ndarray:
        """The action index vector of named choices (nearest level for numbers)."""
        sched = [SCHEDULE.index(s) for s in schedule] + [0] * (self.top_k - len(schedule))
        out = sched[: self.top_k] + [
            ROUTINGS.index(routing.get("comm", "ecmp")),
            ROUTINGS.index(routing.get("compute", "ecmp")),
            *(nearest_level(CLOCKS, clock.get(c, 1.0)) for c in CLASSES),
            nearest_level(self._sa_list, supply_air_c),
            nearest_level(self._chw_list, chw_supply_c),
            ECONOMIZER.index(economizer),
            nearest_level(TANK, tank),
        ]
        return np.array(out, dtype=np.int64)

    def slots(self) -> list[int]:
        """Job ids of the top-k queued jobs: jobs that must start (not deferrable, or past
        their latest start) first, then deferrable ones, each oldest first, so deferring a
        flexible job never blocks the others (flexible work as low priority, as in CICS)."""
        e = self.engine
        assert e is not None
        if self._slots is None:
            # the queue is in arrival order: a stable partition is the sort by (can defer,
            # arrival), taking only the first top_k
            must: list[int] = []
            later: list[int] = []
            k = self.top_k
            for i in e.queue:
                (later if e.can_defer(i) else must).append(i)
                if len(must) >= k:
                    break
            self._slots = (must + later)[:k]
        return self._slots

    def action_masks(self) -> np.ndarray:
        """Flat boolean mask over every sub-action's choices (MaskablePPO convention)."""
        masks = [np.ones(n, dtype=bool) for n in self.nvec]
        e = self.engine
        slots = self.slots() if e is not None else []
        for s in range(self.top_k):
            ok = s < len(slots) and e is not None and e.fits(slots[s])
            if not ok:
                masks[s][1:] = False
        return np.concatenate(masks)

    # ------------------------------------------------------------ state
    def get_state(self) -> dict[str, Any]:
        """Everything a step changes (engine, step index, last-step readings, queue slots) and
        the env RNG's state, copied: stepping after `set_state(s)` replays the same future
        (arrivals, weather, carbon and forecasts are fixed at reset), which makes rollouts
        from a saved state perfect-foresight lookahead (the oracle MPC uses it). What reset
        drew and no step changes (weather series, forecast errors, region) is shared."""
        e = self.engine
        if e is None:
            raise InputError("get_state needs a reset env", field="state")
        return {
            "engine": e.snapshot(),
            "k": self.k,
            "last": dict(self._last),
            "slots": None if self._slots is None else list(self._slots),
            "rng": copy.deepcopy(self.np_random.bit_generator.state),
            "episode": self._episode,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a `get_state` result (copied again, so one state can be restored many
        times). Only states of this env's current episode are accepted: the reset draws that
        no step changes are not part of the state."""
        if state.get("episode") is not self._episode or self.engine is None:
            raise InputError("state is from another episode or env (get_state after reset)")
        self.engine = state["engine"].snapshot()
        self.k = int(state["k"])
        self._last = dict(state["last"])
        self._slots = None if state["slots"] is None else list(state["slots"])
        self.np_random.bit_generator.state = copy.deepcopy(state["rng"])

    # ------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        kw = self.kw
        region = kw.regions[int(rng.integers(len(kw.regions)))]
        preset = kw.climates[int(rng.integers(len(kw.climates)))]
        osub = float(kw.oversubscriptions[int(rng.integers(len(kw.oversubscriptions)))])
        if kw.start_day is not None:
            day = kw.start_day
        else:
            day = int(rng.integers(0, 365)) if kw.random_start_day else 0
        climate = kw.engine.climate.model_copy(
            update={"weather": kw.engine.climate.weather.model_copy(update={"preset": preset})}
        )
        cfg = kw.engine.model_copy(
            update={"region": region, "oversubscription": osub, "climate": climate}
        )
        prof = get_profile(cfg.hardware)
        n_train = (
            cfg.racks * cfg.accelerators_per_rack - cfg.inference.servers * prof.server.accelerators
        )
        specs = (
            self.trace
            if self.trace is not None
            else generate_specs(cfg.workload, n_train, prof.peak_flops, rng)
        )
        self.t0 = day * DAY_S
        n = self.max_steps + 1
        t = self.t0 + self.dt * np.arange(n)
        rho = inference_load(cfg.inference, t, self.dt, rng)
        fab = self._fabrics.get(osub)
        if fab is None:
            fab = self._fabrics[osub] = SharedFabric(Engine.build_fabric(cfg))
        self.engine = e = Engine(cfg, specs, rho, self.dt, fabric=fab)
        self._slots = None
        self.weather = build_weather(cfg.climate, None, int(rng.integers(0, 2**31 - 1)))
        tm = t + 0.5 * self.dt
        ws = self.weather.at_many(tm)
        self.w_db, self.w_wb, self.w_rh = (
            np.asarray(x) for x in (ws.dry_bulb_c, ws.wet_bulb_c, ws.rh)
        )
        # forecast errors: one standard normal per target hour and signal, fixed for the episode
        hours = int(self.max_steps * self.dt / 3600.0) + max(CARBON_LEADS_H) + 2
        self.fc_z = np.random.default_rng(int(rng.integers(0, 2**31 - 1))).standard_normal(
            (3, hours)
        )
        self._signals(e, t)
        self.region, self.preset, self.osub = region, preset, osub
        self._episode = object()  # identity of this reset's draws, checked by set_state
        e.reset_plant(self._weather(0), self.t0)
        self.k = 0
        self._last = {"brake": 0.0, "pue": 1.0, "slo": 1.0, "fac": 0.0, "it": 0.0, "demand": 0.0}
        info = {"region": region, "climate": preset, "oversubscription": osub, "start_day": day}
        return self._obs(), info

    def _weather(self, k: int) -> WeatherSample:
        k = min(k, len(self.w_db) - 1)
        return WeatherSample(float(self.w_db[k]), float(self.w_wb[k]), float(self.w_rh[k]))

    def _signals(self, e: Engine, t: np.ndarray) -> None:
        """The episode's grid signals and forecasts at every step's start `t` (steps 0..n),
        looked up at reset: now, and at each lead with the forecast error of its target hour
        (`noisy_forecast`; the wet-bulb error grows as sqrt(lead) in K). Elementwise the same
        operations a step would run on its own row."""
        lead_s = np.array(CARBON_LEADS_H, dtype=float) * 3600.0
        err = self.kw.forecast_error
        hour = ((t - self.t0) / 3600.0).astype(np.int64)[:, None]
        zc = self.fc_z[:, hour + np.array(CARBON_LEADS_H)]
        tl = t[:, None] + lead_s
        wb_lead = np.array(WETBULB_LEADS_H, dtype=float)
        wb_fc = np.asarray(self.weather.at_many(t[:, None] + wb_lead * 3600.0).wet_bulb_c)
        zw = self.fc_z[2, hour + np.array(WETBULB_LEADS_H)]
        self._sig = {
            "carbon": np.asarray(e.grid.carbon(t), dtype=float).tolist(),
            "price": np.asarray(e.grid.price(t), dtype=float).tolist(),
            "carbon_fc": noisy_forecast(e.grid.carbon(tl), CARBON_LEADS_H, err, zc[0]).tolist(),
            "price_fc": noisy_forecast(e.grid.price(tl), CARBON_LEADS_H, err, zc[1]).tolist(),
            "wet_bulb_fc": (wb_fc + err * WETBULB_K_PER_ERROR * np.sqrt(wb_lead) * zw).tolist(),
        }

    def _obs(self) -> np.ndarray:
        e = self.engine
        assert e is not None
        t = self.t0 + self.k * self.dt
        h = 2 * math.pi * (t / 3600.0 % 24.0) / 24.0
        d = 2 * math.pi * (t / DAY_S % 365.0) / 365.0
        k = min(self.k, len(self.w_db) - 1)
        sig = self._sig
        ci_fc, pr_fc, wb_fc = sig["carbon_fc"][k], sig["price_fc"][k], sig["wet_bulb_fc"][k]
        inlet = e.plant.t_in
        rack_w = e.last.rack_w if e.last is not None else np.zeros(self.n_racks)
        free = e.fabric.base.free_per_leaf(e.free) / e.per_rack
        up = e.fabric.uplink_load(e.tenants())
        v: dict[str, float] = {
            "sin_hour": math.sin(h),
            "cos_hour": math.cos(h),
            "sin_day": math.sin(d),
            "cos_day": math.cos(d),
            "dry_bulb_c": float(self.w_db[k]),
            "wet_bulb_c": float(self.w_wb[k]),
            "carbon_g_per_kwh": sig["carbon"][k],
            "price_usd_per_mwh": sig["price"][k],
            "it_over_budget": self._last["it"] / e.budget_w,
            "demand_over_budget": self._last["demand"] / e.budget_w,
            "facility_over_design": self._last["fac"] / e.design_it_w,
            "brake": self._last["brake"],
            "tank_soc": e.tank.soc,
            "pue": self._last["pue"],
            "inlet_max_c": float(inlet.max()),
            "queue_jobs": float(len(e.queue)),
            "queue_accelerators": e.queued_accelerators / e.train_capacity,
        }
        for i, lead in enumerate(CARBON_LEADS_H):
            v[f"carbon_fc_{lead}h"] = float(ci_fc[i])
            v[f"price_fc_{lead}h"] = float(pr_fc[i])
        for i, lead in enumerate(WETBULB_LEADS_H):
            v[f"wet_bulb_fc_{lead}h"] = float(wb_fc[i])
        blocks = [
            (start, np.asarray(arr, dtype=float))
            for start, arr in zip(
                self._rack_starts, (inlet, rack_w / e.design_rack_w, free, up), strict=True
            )
        ]
        slots = self.slots()
        now = e.t
        for s in range(self.top_k):
            if s < len(slots):
                j = e.jobs[slots[s]]
                st = j.step(1.0, e.packed_comm(j.id))
                dl = j.spec.deadline_s
                vals = (
                    j.spec.accelerators / e.train_capacity,
                    st.comm_s / st.compute_s if st.compute_s > 0 else 0.0,
                    (now - j.spec.arrival_s) / 3600.0,
                    float(j.spec.deferrable),
                    (dl - now - j.ideal_runtime_s(e.packed_comm(j.id))) / 3600.0 if dl else 0.0,
                    float(e.fits(j.id)),
                )
            else:
                vals = (0.0,) * 6
            for name, x in zip(
                ("accelerators", "comm_ratio", "wait_h", "deferrable", "slack_h", "fits"),
                vals,
                strict=True,
            ):
                v[f"q{s}_{name}"] = x
        acc = e.accelerators_by_class()
        rho = float(e.rho[min(self.k, len(e.rho) - 1)]) if len(e.rho) else 0.0
        v.update(
            running_jobs=float(len(e.running)),
            comm_bound_share=acc["comm"] / e.train_capacity,
            compute_bound_share=acc["compute"] / e.train_capacity,
            inference_load=rho,
            slo_attainment=self._last["slo"],
            slo_margin=self._last["slo"] - self.kw.slo_target,
        )
        return self._encoder.named_blocks(v, blocks)

    def step(self, action):
        e = self.engine
        assert e is not None, "call reset() first"
        c = self.decode(action)
        started = 0
        for job_id, rule in zip(self.slots(), c["schedule"], strict=False):
            if rule != "wait" and e.start_job(job_id, rule):
                started += 1
        d = Decisions(
            routing=c["routing"],
            clock=c["clock"],
            cooling=CoolingControls(
                supply_air_c=c["supply_air_c"],
                chw_supply_c=c["chw_supply_c"],
                economizer=c["economizer"],
            ),
            tank=c["tank"],
        )
        r = e.step(self._weather(self.k), d)
        self._slots = None
        k = self.k
        self.k += 1
        design_kwh = e.design_it_w * self.dt / 3.6e6
        fac_kwh = r.facility_w * self.dt / 3.6e6
        minutes = self.dt / 60.0
        slo_short = max(0.0, self.kw.slo_target - r.slo_attainment) if e.inf_acc else 0.0
        raw = {
            "work": r.work,
            "carbon": -fac_kwh * r.carbon_g_per_kwh / (design_kwh * REF_CI),
            "cost": -r.cost_usd / (design_kwh / 1000.0 * REF_PRICE),
            "thermal": -r.inlet_excess_k,
            "power": -r.over_budget_w / e.budget_w,
            "slo": -slo_short,
        }
        terms = weigh(self.weights, raw)
        reward = float(sum(terms.values()))
        pue = r.facility_w / r.it_w if r.it_w > 0 else 1.0
        self._last = {
            "brake": float(r.brake),
            "pue": pue,
            "slo": r.slo_attainment,
            "fac": r.facility_w,
            "it": r.it_w,
            "demand": r.demand_w,
        }
        cost = {
            "thermal_k_min": r.inlet_excess_k * minutes,
            "over_budget_kw_min": r.over_budget_w / 1000.0 * minutes,
            "brakes": float(r.brake),
            "slo_violation_min": minutes if slo_short > 0 else 0.0,
        }
        kwh = self.dt / 3.6e6
        metrics: dict[str, Any] = {
            "t_s": float(k * self.dt),
            "work": r.work,
            "train_work": r.train_work,
            "inference_work": r.inference_work,
            "it_kwh": r.it_w * kwh,
            "cooling_kwh": r.cooling_w * kwh,
            "facility_kwh": fac_kwh,
            "carbon_kg": r.carbon_kg,
            "cost_usd": r.cost_usd,
            "pue": pue,
            "inlet_max_c": float(r.inlet_c.max()),
            "slo_attainment": r.slo_attainment,
            "tokens": r.tokens,
            "tank_soc": r.tank_soc,
            "running_jobs": float(len(e.running)),
            "queued_jobs": float(len(e.queue)),
            "jobs_finished": float(len(r.finished)),
            "carbon_g_per_kwh": r.carbon_g_per_kwh,
            "jobs_started": float(started),
            **cost,
        }
        info = {"reward_terms": terms, "metrics": metrics, "cost": cost}
        truncated = bool(self.k >= self.max_steps)
        if truncated:
            info["jobs"] = e.job_metrics()
        return self._obs(), reward, False, truncated, info
