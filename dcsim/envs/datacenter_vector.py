"""Datacenter-v0 as a batch: N datacenters stepped together (a `gymnasium.vector.VectorEnv`).

Each copy is a `DatacenterEnv` (its own seed, so its own weather and all-reduce times); the
step runs on arrays over copies: actions to controls, the job's clock under its power cap and
thermal throttle (`DevicePowerModel.freq_for_cap`), its step time, the job's progress in the
interval (`dcsim.workload.advance_phase_clocks`, `PhaseClock.advance` lane by lane),
accelerator, host and rack power (`dcsim.power`), the per-rack air chain of every hall as one (copies, racks) `AirChain`, the
water side of all halls in one lane-wise pass (`ChilledWaterBatch`), the thermal throttle,
facility power, reward and observation. This module holds wiring only: every formula is the
`dcsim` function the single env calls, applied to arrays, in the same order
(`FastSimulation.step`, `CoolingPlant.step`, `DatacenterEnv.step`), so results equal N
separate `DatacenterEnv`s bitwise (tests/test_datacenter_vector.py). Weather and carbon of
each copy's episode are read once at its reset (the arrays its own `FastSimulation` looked up).

Episodes auto-reset in the same step (`AutoresetMode.SAME_STEP`): the returned observation is
the new episode's first one and `info["final_obs"]` (masked by `info["_final_obs"]`) the last
one of the finished episode; `last_metrics` holds the step's reward terms and main metrics as
arrays. `dcsim.envs.vector.sb3_vec_env` adapts it to Stable-Baselines3.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from dcsim.cooling import AirChain, thermal_throttle
from dcsim.cooling.plant import cooling_breakdown
from dcsim.cooling.water_batch import MODE_CODES, ChilledWaterBatch
from dcsim.cost import price_at
from dcsim.envs.datacenter import CARBON_FORECAST_H, ECONOMIZER_MODES, DatacenterEnv
from dcsim.errors import InputError
from dcsim.power import (
    PHASE_ACTIVITY,
    facility_power_w,
    interval_activity,
    server_wall_power_w,
    throttled_clock,
)
from dcsim.sim_fast import interval_starts, pattern_sum
from dcsim.workload import advance_phase_clocks, step_flops

# halls from which the lane-wise water side beats each hall's own ChilledWaterPlant: NumPy's
# per-call cost once per step against ~20 us per hall (measured for Cooling-v0, issue 17)
BATCH_WATER_MIN = 24


class DatacenterVectorEnv(VectorEnv):
    """`num_envs` copies of `dcsim/Datacenter-v0` with the same arguments, stepped as one batch.

    `reset(seed=s)` seeds copy i with s + i (or with seed[i] for a list), as
    `gymnasium.vector.SyncVectorEnv` does.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = n_env = int(num_envs)
        e0 = DatacenterEnv(**kwargs)
        # the copies share the parsed scenario (overrides already applied)
        rest = {k: v for k, v in kwargs.items() if k not in ("scenario", "overrides")}
        self.envs = [e0, *(DatacenterEnv(e0.loaded, **rest) for _ in range(n_env - 1))]
        self.single_action_space = e0.action_space
        self.single_observation_space = e0.observation_space
        self.action_space = batch_space(e0.action_space, n_env)
        self.observation_space = batch_space(e0.observation_space, n_env)
        sim, sc = e0.sim, e0.loaded.scenario
        self.sim0, self.sc, self.dt = sim, sc, sim.dt
        self.n_racks = sim.n_racks
        w = sc.workload
        # constant per scenario: the same expressions as Simulation / training_step_time
        self.n_acc = max(sim.n_active * sim.acc_per_server, 1)
        self.compute_base = step_flops(w) / (self.n_acc * sim.profile.peak_flops * sim.mfu)
        self.active_racks = sim.server_rack[sim.active]
        self.routing_names = e0.routings
        self.econ_codes = np.array([MODE_CODES[m] for m in ECONOMIZER_MODES])
        self.max_steps = e0.max_steps
        self.times = interval_starts(sim.t0, sim.dt, self.max_steps)  # t of interval k
        self.times_arr = np.array(self.times)
        self.feature_col = {name: j for j, name in enumerate(e0._encode.names)}
        plant = sim.plant
        self.cfg, self.f_liq = plant.cfg, plant.f_liq
        self.clock_for_power = plant.clock_for_power
        self.liquid_active = plant.liquid.active
        # one air chain holding every hall's state, shape (halls, racks) (as CoolingVectorEnv)
        self.air: Any = cast(
            Any, AirChain(sc.cooling.air, self.n_racks, sim.design_it_w, self.f_liq)
        )
        shape = (n_env, self.n_racks)
        self.air.t_in, self.air.t_rack, self.air.u = (
            np.zeros(shape),
            np.zeros(shape),
            np.zeros(shape),
        )
        self.air.t_supply = np.zeros((n_env, 1))
        self.water = ChilledWaterBatch(plant.water)
        # lane-wise water side from BATCH_WATER_MIN halls (NumPy's per-call cost, measured for
        # Cooling-v0); below it each hall's own ChilledWaterPlant, whose state then stays there
        self.batch_water = n_env >= BATCH_WATER_MIN
        # per-copy state
        self.k = np.zeros(n_env, dtype=np.int64)
        self.cap_frac, self.supply_air_c = np.zeros(n_env), np.zeros(n_env)
        self.throttle = np.ones(shape)
        self.comm, self.left = np.zeros(n_env, dtype=bool), np.ones(n_env)
        self.p_chiller_prev = np.zeros(n_env)
        self.routing = np.zeros(n_env, dtype=np.int64)
        self.econ = np.zeros(n_env, dtype=np.int64)
        self.chw_c = np.zeros(n_env)
        n_t = self.max_steps + 1
        self.comm_s = np.zeros((n_env, len(self.routing_names)))
        self.db, self.wb = np.zeros((n_env, n_t)), np.zeros((n_env, n_t))
        self.ci = np.zeros((n_env, n_t))
        self.ci_fc = np.zeros((len(CARBON_FORECAST_H), n_env, n_t))
        self._seeds: list[int | None] = [None] * n_env

    # ------------------------------------------------------------ reset
    def _load(self, i: int) -> None:
        """Copy copy i's freshly reset state (its FastSimulation and plant) into the batch."""
        env = self.envs[i]
        sim = env.sim
        a, src = self.air, sim.plant.air
        a.t_in[i], a.t_rack[i], a.u[i], a.t_supply[i, 0] = src.t_in, src.t_rack, src.u, src.t_supply
        self.throttle[i] = sim.throttle
        self.k[i], self.cap_frac[i], self.supply_air_c[i] = sim.k, sim.cap_frac, sim.supply_air_c
        self.comm[i], self.left[i] = sim.phase.comm, sim.phase.left
        self.p_chiller_prev[i] = sim.plant.water.p_chiller_prev
        self.routing[i] = self.routing_names.index(sim.routing)
        self.econ[i] = ECONOMIZER_MODES.index(env.economizer)
        self.chw_c[i] = env.chw_c
        if self._seeds[i] != sim.seed or not self.comm_s[i].any():  # per seed (ECMP hashing)
            self._seeds[i] = sim.seed
            self.comm_s[i] = [sim.comm_time(r) for r in self.routing_names]
            ts = self.times
            ws = [sim.weather.at(t + 0.5 * self.dt) for t in ts]
            self.db[i] = [x.dry_bulb_c for x in ws]
            self.wb[i] = [x.wet_bulb_c for x in ws]
            self.ci[i] = [sim.carbon.at(t + 0.5 * self.dt) for t in ts]
            for j, h in enumerate(CARBON_FORECAST_H):
                self.ci_fc[j, i] = [sim.carbon.at(t + 3600.0 * h) for t in ts]

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is None or isinstance(seed, int):
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"need {self.num_envs} seeds, got {len(seeds)}")
        obs = np.empty((self.num_envs, len(self.envs[0].features)), dtype=np.float32)
        for i, (env, s) in enumerate(zip(self.envs, seeds, strict=True)):
            obs[i], _ = env.reset(seed=s, options=options)
            self._load(i)
        return obs, {}

    # ------------------------------------------------------------ step
    def _controls(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        """`DatacenterEnv.to_controls` (Actuator.value) on arrays: supply air, CHW and cap
        setpoints, routing and economizer indices."""
        a = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, 5)
        acts = self.envs[0].actuators
        for j in (3, 4):  # as Actuator.value: a choice needs a number
            if np.isnan(a[:, j]).any():
                raise InputError(
                    "action entry is NaN; expected a number in [-1, 1]", field=acts[j].name
                )
        a = np.minimum(np.maximum(a, -1.0), 1.0)
        vals = [
            acts[j].low + (a[:, j] + 1.0) * 0.5 * (acts[j].high - acts[j].low) for j in range(3)
        ]
        idx = []
        for j in (3, 4):
            n = len(acts[j].choices)
            idx.append(np.minimum(((a[:, j] + 1.0) * 0.5 * n).astype(np.int64), n - 1))
        return vals[0], vals[1], vals[2], idx[0], idx[1]

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        sim, sc, dt, n_env = self.sim0, self.sc, self.dt, self.num_envs
        rows = np.arange(n_env)
        sa, chw, cap, routing, econ = self._controls(actions)
        self.chw_c, self.econ, self.routing = chw, econ, routing
        # ---- Simulation.step: controls, clock, step time, the job's interval
        self.cap_frac = np.minimum(np.maximum(cap, sc.power.min_cap_frac), 1.0)
        self.supply_air_c = np.minimum(np.maximum(sa, 10.0), 35.0)
        chw_set = np.minimum(np.maximum(chw, 4.0), 25.0)
        pw = sim.power
        f = pw.freq_for_cap(self.cap_frac * sim.profile.tdp_w, sim.a_compute)
        active = sim.n_active > 0
        if active:
            f_thermal = self.throttle[:, self.active_racks].min(axis=1)
            f = throttled_clock(f, f_thermal, pw.f_min_frac)
        w = sc.workload
        compute = self.compute_base * pw.time_scale(f, w.memory_bound_fraction)
        exposed = np.maximum(0.0, self.comm_s[rows, routing] - w.overlap * compute)
        step_time = compute + exposed
        if active:
            cs, es, iters, _, self.comm, self.left = advance_phase_clocks(
                self.comm, self.left, compute, exposed, dt
            )
        else:
            cs = es = iters = np.zeros(n_env)
        act_active = interval_activity(cs, es, dt, sim.a_compute, sim.a_comm)
        rack_w = self._rack_power(act_active, f)
        k = self.k
        db, wb, ci = self.db[rows, k], self.wb[rows, k], self.ci[rows, k]
        # ---- CoolingPlant.step, all halls at once
        air = self.air.step((1.0 - self.f_liq) * rack_w, dt)
        p_sum = rack_w.sum(axis=-1)
        water_step = self._water if self.batch_water else self._water_halls
        cooling, chw_sup, water_l, tcs = water_step(air, p_sum, chw_set, econ, wb, db)
        self.air.advance_supply(self.supply_air_c[:, None], chw_sup[:, None], dt)
        thr = thermal_throttle(self.cfg, air.inlet_c, tcs, self.clock_for_power)
        # ---- the record (Simulation.step)
        it_w = rack_w.sum(axis=-1) + air.server_fan_w.sum(axis=-1)
        # facility_power_w is plain arithmetic: it takes arrays of halls as they are
        facility_w = facility_power_w(it_w, cast(Any, cooling), sim.design_it_w, sc.power)
        it_kwh = it_w * dt / 3.6e6
        fac_kwh = facility_w * dt / 3.6e6
        inlet_max = air.inlet_c.max(axis=-1)
        violation = np.maximum(0.0, inlet_max - sc.cooling.recommended_inlet_max_c)
        self.throttle = thr
        tokens = iters * w.global_batch_tokens / dt if active else np.zeros(n_env)
        carbon_kg = fac_kwh * ci / 1000.0
        pue = facility_w / it_w
        t_s = self.times_arr[k] - sim.t0
        # ---- reward (DatacenterEnv.interval_usd, reward_terms)
        e0 = self.envs[0]
        p = e0.prices
        price: Any = p.electricity_usd_per_kwh
        if sim.electricity_prices is not None:
            price = price_at(sim.electricity_prices, t_s, sim.year_offset_s, dt)
        elec_usd = fac_kwh * price
        carbon_usd = carbon_kg * p.carbon_usd_per_kg
        unit, wt = e0.unit_usd, e0.weights
        terms = {
            "energy": wt["energy"] * (-elec_usd / unit),
            "carbon": wt["carbon"] * (-carbon_usd / unit),
            "throughput": wt["throughput"] * (tokens / max(sim.ref_tokens_per_s, 1e-9)),
            "violation": wt["violation"] * -violation,
        }
        reward = terms["energy"] + terms["carbon"] + terms["throughput"] + terms["violation"]
        self.k = k + 1
        st = step_time if active else np.zeros(n_env)
        ex = exposed if active else np.zeros(n_env)
        self.last_metrics = {
            **{f"reward_{n}": v for n, v in terms.items()},
            "it_w": it_w,
            "cooling_w": cooling,
            "facility_w": facility_w,
            "pue": pue,
            "freq_frac": f,
            "tokens_per_s": tokens,
            "inlet_max_c": inlet_max,
            "violation_c": violation,
            "water_l": water_l,
            "it_kwh": it_kwh,
            "facility_kwh": fac_kwh,
            "carbon_kg": carbon_kg,
            "electricity_usd": elec_usd,
        }
        obs = self._observe(db, wb, ci, it_w, cooling, inlet_max, f, thr, tokens, pue, st, ex)
        trunc = self.k >= self.max_steps
        info: dict[str, Any] = {}
        if trunc.any():
            info["final_obs"] = np.full(n_env, None, dtype=object)
            info["_final_obs"] = trunc.copy()
            for i in np.flatnonzero(trunc):
                info["final_obs"][i] = obs[i].copy()
                obs[i], _ = self.envs[i].reset()
                self._load(int(i))
        return obs, reward, np.zeros(n_env, dtype=bool), trunc, info

    def _rack_power(self, act_active: np.ndarray, f: np.ndarray) -> np.ndarray:
        """`FastSimulation._server_power`'s racks for every copy: accelerator power once per
        kind of server (active at the copy's activity and clock, idle), each rack's
        accelerators summed over its pattern of kinds in server order, then its hosts' sum
        through the PSUs plus its share of the switches (as `rack_wall_power_w`)."""
        sim = self.sim0
        pw, n = sim.power, sim.acc_per_server
        idle = pw.power_w_scalar(PHASE_ACTIVITY["idle"], 1.0) * n
        per_kind: list[Any] = [pw.power_w(act_active, f) * n, idle]
        acc_sums = [pattern_sum(p, per_kind) for p in sim._patterns]
        acc = np.stack([np.broadcast_to(a, (self.num_envs,)) for a in acc_sums], axis=1)
        wall = server_wall_power_w(acc, sim._host_sums, sim.psu_eff)
        # C order: a hall's row sums (it_w) then reduce pairwise as a single rack vector does;
        # the gather alone can come back column-major, which sums the racks one by one
        racks = np.ascontiguousarray(wall[:, sim._rack_pattern])
        return racks + sim.switch_w / self.n_racks

    def _water_halls(
        self,
        air: Any,
        p_sum: np.ndarray,
        chw_set: np.ndarray,
        econ: np.ndarray,
        wb: np.ndarray,
        db: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
        """`_water` hall by hall through each copy's own `CoolingPlant.step_water` (cheaper
        below BATCH_WATER_MIN halls)."""
        n_env = self.num_envs
        to_coils = (air.heat_to_air_w + air.crah_fan_w).tolist()
        crah, chw = air.crah_fan_w.tolist(), chw_set.tolist()
        q_liq = (self.f_liq * p_sum).tolist()
        wbl, dbl = wb.tolist(), db.tolist()
        cooling, chw_sup, water_l = np.empty(n_env), np.empty(n_env), np.empty(n_env)
        tcs = None
        for i, (env, mode) in enumerate(zip(self.envs, econ.tolist(), strict=True)):
            plant = env.sim.plant
            liq, water = plant.step_water(
                to_coils[i], q_liq[i], chw[i], ECONOMIZER_MODES[mode], wbl[i], dbl[i], self.dt
            )
            c = 0.0
            for x in cooling_breakdown(crah[i], water, liq).values():
                c += x
            cooling[i], chw_sup[i], water_l[i] = c, water.chw_supply_c, water.water_l
            if self.liquid_active:
                tcs = liq.tcs_supply_c  # the same for every hall (one LiquidConfig)
        return cooling, chw_sup, water_l, tcs

    def _water(
        self,
        air: Any,
        p_sum: np.ndarray,
        chw_set: np.ndarray,
        econ: np.ndarray,
        wb: np.ndarray,
        db: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
        """Liquid loop (hall by hall, its scalar model) and the water side of all halls
        (`CoolingPlant.step_water`); (cooling W in `cooling_breakdown`'s order, CHW supply C,
        water L, TCS supply C or None)."""
        q_liq = self.f_liq * p_sum
        other = np.zeros(self.num_envs)
        tcs = None
        liq_w: list[np.ndarray] = []
        if self.liquid_active:
            waters = [env.sim.plant.water for env in self.envs]
            liqs = [
                env.sim.plant.liquid.step(float(q), d, wp.t_cond_prev)
                for env, q, d, wp in zip(
                    self.envs, q_liq.tolist(), db.tolist(), waters, strict=True
                )
            ]
            tcs = liqs[0].tcs_supply_c  # the same for every hall (one LiquidConfig)
            other = np.array([lq.to_tower_w for lq in liqs])
            liq_w = [
                np.array([getattr(lq, n) for lq in liqs])
                for n in ("cdu_pump_w", "fws_pump_w", "drycooler_fan_w", "trim_chiller_w")
            ]
        water = self.water.step(
            self.p_chiller_prev,
            air.heat_to_air_w + air.crah_fan_w,
            chw_set,
            self.econ_codes[econ],
            wb,
            other,
            self.dt,
            db,
        )
        self.p_chiller_prev = water.chiller_w
        if self.liquid_active:
            for env, tc in zip(self.envs, water.condenser_c.tolist(), strict=True):
                env.sim.plant.water.t_cond_prev = tc
        cooling = (
            air.crah_fan_w
            + water.chiller_w
            + water.tower_fan_w
            + water.chw_pump_w
            + water.cw_pump_w
        )
        for x in liq_w:  # without a liquid loop its parts are 0.0: adding them changes nothing
            cooling = cooling + x
        return cooling, water.chw_supply_c, water.water_l, tcs

    def _observe(
        self,
        db: np.ndarray,
        wb: np.ndarray,
        ci: np.ndarray,
        it_w: np.ndarray,
        cooling: np.ndarray,
        inlet_max: np.ndarray,
        f: np.ndarray,
        thr: np.ndarray,
        tokens: np.ndarray,
        pue: np.ndarray,
        step_time: np.ndarray,
        exposed: np.ndarray,
    ) -> np.ndarray:
        """`DatacenterEnv._obs` after an interval, for every copy, in feature order."""
        e0, n_env = self.envs[0], self.num_envs
        rows, k = np.arange(n_env), self.k
        t = self.times_arr[k]
        hour = ((t / 3600.0 + self.sc.climate.weather.start_hour) % 24.0) / 24.0 * 2 * np.pi
        col = self.feature_col
        x = np.zeros((n_env, len(col)))
        for name, v in (
            ("outdoor_c", db),
            ("wetbulb_c", wb),
            ("sin_hour", np.sin(hour)),
            ("cos_hour", np.cos(hour)),
            ("carbon_g_per_kwh", ci),
            ("it_w", it_w),
            ("cooling_w", cooling),
            ("inlet_max_c", inlet_max),
            ("inlet_above_limit_k", inlet_max - self.sc.cooling.recommended_inlet_max_c),
            ("supply_air_c", self.supply_air_c),
            ("chw_supply_c", self.chw_c),
            ("cap_frac", self.cap_frac),
            ("freq_frac", f),
            ("throttle_min", thr.min(axis=-1)),
            ("tokens_per_s", tokens),
            ("pue", pue),
            (
                "exposed_comm_share",
                np.where(step_time != 0, exposed / np.where(step_time != 0, step_time, 1.0), 0.0),
            ),
        ):
            x[:, col[name]] = v
        for j, h in enumerate(CARBON_FORECAST_H):
            x[:, col[f"carbon_fc_{h:g}h_g_per_kwh"]] = self.ci_fc[j, rows, k]
        # one-hot routing and economizer mode (the rest of their columns stay 0)
        onehot = e0._onehot
        x[rows, np.array([col[onehot[r]] for r in self.routing_names])[self.routing]] = 1.0
        x[rows, np.array([col[onehot[m]] for m in ECONOMIZER_MODES])[self.econ]] = 1.0
        return e0._encode(cast(Any, x))
