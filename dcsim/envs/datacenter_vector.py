"""Datacenter-v0 as a batch: N datacenters stepped together (a `gymnasium.vector.VectorEnv`).

Each copy is a `DatacenterEnv` (its own seed, so its own weather and all-reduce times). With
numba (the default) every copy's interval runs in one call of the compiled
`dcsim.sim_kernel.step_halls`, the same code each copy's `FastSimulation.step` runs with one
hall, between two compiled wiring passes (`_inputs`: actions to the kernel's tables;
`_outputs`: reward terms and observations, as `DatacenterEnv.step` forms them). Without it
(or with a liquid loop, outside the kernel) the NumPy path below runs; its step is on arrays
over copies: actions to controls, the job's clock under its power cap and
thermal throttle (`DevicePowerModel.freq_for_cap`), its step time, the job's progress in the
interval (`dcsim.workload.advance_phase_clocks`, `PhaseClock.advance` lane by lane),
accelerator, host and rack power (`dcsim.power`), the per-rack air chain of every hall as one (copies, racks) `AirChain`, the
water side of all halls in one lane-wise pass (`ChilledWaterBatch`), the thermal throttle,
facility power, reward and observation. This module holds wiring only: every formula is the
`dcsim` function the single env calls, applied to arrays, in the same order
(`CoolingPlant.step`, `DatacenterEnv.step`), server power once per kind of server as the
kernel sums it (bitwise the engine's per-server sums), so results equal N separate
`DatacenterEnv`s bitwise (tests/test_datacenter_vector.py). Weather and carbon of
each copy's episode are read once at its reset (the arrays its own `FastSimulation` looked up).

Episodes auto-reset in the same step (`AutoresetMode.SAME_STEP`): the returned observation is
the new episode's first one and `info["final_obs"]` (masked by `info["_final_obs"]`) the last
one of the finished episode; `last_metrics` holds the step's reward terms and main metrics as
arrays. `dcsim.envs.vector.sb3_vec_env` adapts it to Stable-Baselines3.
"""

from __future__ import annotations

import importlib
import math
from typing import Any, cast

import numpy as np
from gymnasium.vector import AutoresetMode

from dcsim.cooling import AirChain, thermal_throttle
from dcsim.cooling.plant import cooling_breakdown
from dcsim.cooling.water_batch import MODE_CODES, ChilledWaterBatch
from dcsim.cost import price_at
from dcsim.envs.contract import compiled, encode_into
from dcsim.envs.datacenter import (
    CARBON_FORECAST_H,
    ECONOMIZER_MODES,
    OBS_ORDER,
    DatacenterEnv,
)
from dcsim.envs.vector import (  # the plant kernel's hall table (dcsim.cooling.fast)
    I_CHW,
    I_DB,
    I_MODE,
    I_SA,
    I_WB,
    N_HALL,
    O_COOLING,
    O_INLET_MAX,
    O_WATER_L,
    BatchOfCopies,
)
from dcsim.errors import InputError
from dcsim.power import (
    PHASE_ACTIVITY,
    facility_power_w,
    interval_activity,
    server_wall_power_w,
    throttled_clock,
)
from dcsim.sim_fast import (  # the compiled step's tables (dcsim.sim_kernel), numba-free
    L_CAP,
    L_CARBON_KG,
    L_CI,
    L_COMM_S,
    L_EXPOSED,
    L_F,
    L_FAC_KWH,
    L_FAC_W,
    L_HOT,
    L_IT_KWH,
    L_IT_W,
    L_PH_COMM,
    L_PH_LEFT,
    L_PUE,
    L_STEP,
    L_TOKENS,
    L_VIOL,
    N_LANE,
    interval_starts,
    pattern_sum,
)
from dcsim.workload import advance_phase_clocks, step_flops


def _inputs(
    acts: np.ndarray,
    low: np.ndarray,
    span: np.ndarray,
    n_choice: np.ndarray,
    limits: np.ndarray,
    k: np.ndarray,
    comm_s: np.ndarray,
    exo: np.ndarray,
    econ_codes: np.ndarray,
    ctl: np.ndarray,
    lane: np.ndarray,
    hall: np.ndarray,
) -> bool:
    """`DatacenterEnv.to_controls` (`Actuator.value`) and `Simulation.step`'s clips of every
    copy h, into the compiled step's tables: ctl[h] = (supply air C, CHW C, cap share,
    routing index, economizer index) unclipped; lane and hall get the clipped setpoints, the
    routing's all-reduce s, the mode, and weather and carbon of interval k[h] (exo[h, k, :3]:
    dry bulb, wet bulb, carbon). limits: min cap share, then the CRAH and CHW ranges.
    False when a choice entry is NaN (the caller names it). Plain loops: numba compiles them
    (`contract.compiled`), the interpreter runs them in tests (bitwise equal)."""
    for h in range(acts.shape[0]):
        for j in range(5):
            a = min(max(float(acts[h, j]), -1.0), 1.0)
            if j < 3:
                ctl[h, j] = low[j] + (a + 1.0) * 0.5 * span[j]
            else:
                if math.isnan(a):
                    return False
                n = n_choice[j - 3]
                ctl[h, j] = min(math.floor((a + 1.0) * 0.5 * n), n - 1)
        kh = k[h]
        lane[h, L_CAP] = min(max(ctl[h, 2], limits[0]), 1.0)
        lane[h, L_COMM_S] = comm_s[h, int(ctl[h, 3])]
        lane[h, L_CI] = exo[h, kh, 2]
        hall[h, I_SA] = min(max(ctl[h, 0], limits[1]), limits[2])
        hall[h, I_CHW] = min(max(ctl[h, 1], limits[3]), limits[4])
        hall[h, I_MODE] = econ_codes[int(ctl[h, 4])]
        hall[h, I_WB] = exo[h, kh, 1]
        hall[h, I_DB] = exo[h, kh, 0]
    return True


def _outputs(
    ctl: np.ndarray,
    lane: np.ndarray,
    hall: np.ndarray,
    thr_min: np.ndarray,
    k: np.ndarray,
    exo: np.ndarray,
    phase: np.ndarray,
    price: np.ndarray,
    c: np.ndarray,
    cols: np.ndarray,
    x: np.ndarray,
    terms: np.ndarray,
) -> np.ndarray:
    """`DatacenterEnv.interval_usd`, `reward_terms` and `_obs` of every copy h after its
    interval k[h]: terms[:, h] = (energy, carbon, throughput, violation, electricity USD),
    the reward returned; x[h] the physical observation in feature order (columns `cols`, see
    `DatacenterVectorEnv._kernel`) at the interval's end: exo[h, k + 1, 3:] the carbon
    forecasts, phase[k + 1] the hour's (sin, cos); c = (USD per kg CO2, unit USD, reference tokens/s, weights (4), recommended
    inlet max C, job on). Same operations in the same order as the scalar env."""
    n_h = lane.shape[0]
    reward = np.empty(n_h)
    job = c[8] != 0.0
    for h in range(n_h):
        kh = k[h]
        fac_kwh = lane[h, L_FAC_KWH]
        elec = fac_kwh * price[h]
        carbon_usd = lane[h, L_CARBON_KG] * c[0]
        tokens = lane[h, L_TOKENS] if job else 0.0
        st = lane[h, L_STEP] if job else 0.0
        ex = lane[h, L_EXPOSED] if job else 0.0
        inlet_max = hall[h, O_INLET_MAX]
        e = c[3] * (-elec / c[1])
        cb = c[4] * (-carbon_usd / c[1])
        tp = c[5] * (tokens / max(c[2], 1e-9))
        v = c[6] * -lane[h, L_VIOL]
        terms[0, h], terms[1, h], terms[2, h], terms[3, h], terms[4, h] = e, cb, tp, v, elec
        reward[h] = e + cb + tp + v
        x[h, :] = 0.0
        x[h, cols[0]] = exo[h, kh, 0]
        x[h, cols[1]] = exo[h, kh, 1]
        x[h, cols[2]] = phase[kh + 1, 0]  # the observation's time: the interval's end
        x[h, cols[3]] = phase[kh + 1, 1]
        x[h, cols[4]] = exo[h, kh, 2]
        x[h, cols[5]] = lane[h, L_IT_W]
        x[h, cols[6]] = hall[h, O_COOLING]
        x[h, cols[7]] = inlet_max
        x[h, cols[8]] = inlet_max - c[7]
        x[h, cols[9]] = hall[h, I_SA]
        x[h, cols[10]] = ctl[h, 1]
        x[h, cols[11]] = lane[h, L_CAP]
        x[h, cols[12]] = lane[h, L_F]
        x[h, cols[13]] = thr_min[h]
        x[h, cols[14]] = tokens
        x[h, cols[15]] = lane[h, L_PUE]
        x[h, cols[16]] = exo[h, kh + 1, 3]
        x[h, cols[17]] = exo[h, kh + 1, 4]
        x[h, cols[18]] = ex / st if st != 0 else 0.0
        x[h, cols[19 + int(ctl[h, 3])]] = 1.0
        x[h, cols[cols.shape[0] - 3 + int(ctl[h, 4])]] = 1.0
    return reward


def _step(*args: Any) -> None:
    """Placeholder for `dcsim.sim_kernel.step_halls`, which `_step_calm` is compiled with
    (`DatacenterVectorEnv._kernel`; importing the kernel imports numba)."""
    raise NotImplementedError("_step_calm runs compiled, bound to sim_kernel.step_halls")


def _step_calm(
    acts: np.ndarray,
    low: np.ndarray,
    span: np.ndarray,
    n_choice: np.ndarray,
    limits: np.ndarray,
    k: np.ndarray,
    comm_s: np.ndarray,
    exo: np.ndarray,
    econ_codes: np.ndarray,
    ctl: np.ndarray,
    lane: np.ndarray,
    hall: np.ndarray,
    prm: np.ndarray,
    pat: np.ndarray,
    pat_len: np.ndarray,
    rack_pat: np.ndarray,
    host_sums: np.ndarray,
    active_racks: np.ndarray,
    active: np.ndarray,
    thr: np.ndarray,
    p: np.ndarray,
    srv: np.ndarray,
    plant_prm: np.ndarray,
    rk: np.ndarray,
    racks: np.ndarray,
    dt: float,
    ones: np.ndarray,
    phase: np.ndarray,
    price: np.ndarray,
    c: np.ndarray,
    cols: np.ndarray,
    x: np.ndarray,
    terms: np.ndarray,
    enc: np.ndarray,
    reward: np.ndarray,
    obs: np.ndarray,
) -> int:
    """The kernel path's step of copies none of which throttled in the last interval, as one
    compiled call: `_inputs`, the interval (`sim_kernel.step_halls`), `_outputs` and the
    encoding (`encode_into`), the functions of the multi-call path in its order, without a
    dispatch between them. The copies' steps k advance; the copies whose episode ended
    (k reached max steps) are returned, -2 when an action's choice entry is NaN (nothing
    ran) or -1 when an inlet exceeds its limit (after the interval: the caller throttles and
    finishes as the multi-call path does)."""
    if not _inputs(acts, low, span, n_choice, limits, k, comm_s, exo, econ_codes, ctl, lane,
                   hall):  # fmt: skip
        return -2
    _step(prm, pat, pat_len, rack_pat, host_sums, active_racks, active, lane, thr, p, srv,
          plant_prm, rk, racks, hall, dt)  # fmt: skip
    n_h = lane.shape[0]
    for h in range(n_h):
        if lane[h, L_HOT] != 0.0:
            return -1
    reward[:] = _outputs(ctl, lane, hall, ones, k, exo, phase, price, c, cols, x, terms)
    ended = 0
    for h in range(n_h):
        k[h] += 1
        if k[h] >= exo.shape[1] - 1:  # max steps: exo holds one interval more
            ended += 1
    encode_into(x, enc[0], enc[1], enc[2], enc[3], obs)
    return ended


# halls from which the lane-wise water side beats each hall's own ChilledWaterPlant: NumPy's
# per-call cost once per step against ~20 us per hall (measured for Cooling-v0, issue 17)
BATCH_WATER_MIN = 24


class DatacenterVectorEnv(BatchOfCopies):
    """`num_envs` copies of `dcsim/Datacenter-v0` with the same arguments, stepped as one batch.

    `reset(seed=s)` seeds copy i with s + i (or with seed[i] for a list), as
    `gymnasium.vector.SyncVectorEnv` does. `use_kernel = False` before the first step takes
    the NumPy path.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        n_env = int(num_envs)
        e0 = DatacenterEnv(**kwargs)
        # the copies share the parsed scenario (overrides already applied)
        rest = {k: v for k, v in kwargs.items() if k not in ("scenario", "overrides")}
        self._adopt([e0, *(DatacenterEnv(e0.loaded, **rest) for _ in range(n_env - 1))])
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
        self._cap_frac, self._supply_air_c = np.zeros(n_env), np.zeros(n_env)
        self.throttle = np.ones(shape)
        self.comm, self.left = np.zeros(n_env, dtype=bool), np.ones(n_env)
        self.p_chiller_prev = np.zeros(n_env)
        self._routing = np.zeros(n_env, dtype=np.int64)
        self._econ = np.zeros(n_env, dtype=np.int64)
        self._chw_c = np.zeros(n_env)
        n_t = self.max_steps + 1
        self.comm_s = np.zeros((n_env, len(self.routing_names)))
        self.db, self.wb = np.zeros((n_env, n_t)), np.zeros((n_env, n_t))
        self.ci = np.zeros((n_env, n_t))
        self.ci_fc = np.zeros((len(CARBON_FORECAST_H), n_env, n_t))
        self._seeds: list[int | None] = [None] * n_env
        # the compiled step's state and buffers (dcsim.sim_kernel, loaded on the first step):
        # job lanes, rack IT W, server scratch, air chain state, the plant's hall table
        self.use_kernel = True
        self._kern: Any = None
        self.lane = np.zeros((n_env, N_LANE))
        self.p = np.zeros(shape)
        self.srv = np.zeros((2, sim.n_servers))
        self.racks = np.zeros((4, *shape))
        self.hall = np.zeros((n_env, N_HALL))
        self._throttled = False  # a copy throttled in the last step (kernel path)
        # per copy and interval: dry bulb, wet bulb, carbon, its forecasts (kernel path)
        self.exo = np.zeros((n_env, n_t, 3 + len(CARBON_FORECAST_H)))
        hour = (self.times_arr / 3600.0 + sc.climate.weather.start_hour) % 24.0 / 24.0 * 2 * np.pi
        self.phase_tab = np.stack([np.sin(hour), np.cos(hour)], 1)  # DatacenterEnv._obs's
        acts = e0.actuators
        self._in_consts = (
            np.array([acts[j].low for j in range(3)]),
            np.array([acts[j].high - acts[j].low for j in range(3)]),
            np.array([float(len(acts[j].choices)) for j in (3, 4)]),
            np.array([sc.power.min_cap_frac, 10.0, 35.0, 4.0, 25.0]),  # Simulation.step's clips
        )
        w8 = e0.weights
        self._out_consts = np.array(
            [
                e0.prices.carbon_usd_per_kg,
                e0.unit_usd,
                sim.ref_tokens_per_s,
                *(w8[t] for t in ("energy", "carbon", "throughput", "violation")),
                sc.cooling.recommended_inlet_max_c,
                sim.n_active > 0,
            ]
        )
        col, onehot = self.feature_col, e0._onehot
        self._cols = np.array(
            [col[name] for name in OBS_ORDER]
            + [col[onehot[r]] for r in self.routing_names]
            + [col[onehot[m]] for m in ECONOMIZER_MODES],
            dtype=np.int64,
        )
        self._price = np.full(n_env, e0.prices.electricity_usd_per_kwh)
        self._ctl = np.zeros((n_env, 5))
        self._x = np.zeros((n_env, len(col)))
        self._terms = np.zeros((5, n_env))
        self._ones = np.ones(n_env)
        self._enc = e0._encode.stacked()
        self._metrics_np: dict[str, Any] | None = None  # the NumPy path's record
        self._metric_cols = (
            ("it_w", self.lane, L_IT_W),
            ("cooling_w", self.hall, O_COOLING),
            ("facility_w", self.lane, L_FAC_W),
            ("pue", self.lane, L_PUE),
            ("freq_frac", self.lane, L_F),
            ("inlet_max_c", self.hall, O_INLET_MAX),
            ("violation_c", self.lane, L_VIOL),
            ("water_l", self.hall, O_WATER_L),
            ("it_kwh", self.lane, L_IT_KWH),
            ("facility_kwh", self.lane, L_FAC_KWH),
            ("carbon_kg", self.lane, L_CARBON_KG),
        )

    def _kernel(self) -> Any:
        """(dcsim.sim_kernel, its constant arguments, `_inputs` and `_outputs` compiled) on
        the first step, or None: numba missing, DCSIM_NO_JIT=1, `use_kernel` off or a
        scenario the kernel does not cover; the same choice as each copy's
        `FastSimulation.kernel`, so both step the same compiled code."""
        if self._kern is None:
            self._kern = False
            if self.use_kernel:
                try:
                    mod = importlib.import_module("dcsim.sim_kernel")
                except ImportError:  # numba missing: the NumPy path
                    mod = None
                if mod is not None and mod.usable(self.sim0):
                    fns = (compiled(_inputs), compiled(_outputs), compiled(encode_into))
                    calm = compiled(
                        _step_calm,
                        _inputs=fns[0],
                        _outputs=fns[1],
                        _step=mod.step_halls,
                        encode_into=fns[2],
                    )
                    self._kern = (mod, mod.static_args(self.sim0), (*fns, calm))
        return self._kern or None

    def __getstate__(self) -> dict[str, Any]:
        """Picklable: the compiled code is left out and loaded again on the next step."""
        state = self.__dict__.copy()
        state["_kern"] = None
        return state

    # ------------------------------------------------------------ reset
    def _load(self, i: int) -> None:
        """Copy copy i's freshly reset state (its FastSimulation and plant) into the batch."""
        env = self.envs[i]
        sim = env.sim
        a, src = self.air, sim.plant.air
        a.t_in[i], a.t_rack[i], a.u[i], a.t_supply[i, 0] = src.t_in, src.t_rack, src.u, src.t_supply
        wp = sim.plant.water
        self.racks[:3, i] = src.t_in, src.t_rack, src.u
        self.hall[i, :3] = src.t_supply, wp.p_chiller_prev, wp.t_cond_prev
        self.lane[i, L_PH_COMM], self.lane[i, L_PH_LEFT] = sim.phase.comm, sim.phase.left
        self.throttle[i] = sim.throttle
        self.k[i], self._cap_frac[i], self._supply_air_c[i] = sim.k, sim.cap_frac, sim.supply_air_c
        self.comm[i], self.left[i] = sim.phase.comm, sim.phase.left
        self.p_chiller_prev[i] = sim.plant.water.p_chiller_prev
        self._routing[i] = self.routing_names.index(sim.routing)
        self._econ[i] = ECONOMIZER_MODES.index(env.economizer)
        self._chw_c[i] = env.chw_c
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
            self.exo[i] = np.stack([self.db[i], self.wb[i], self.ci[i], *self.ci_fc[:, i]], 1)

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
        if self._kernel() is not None:
            return self._step_kernel(actions)
        sim, sc, dt, n_env = self.sim0, self.sc, self.dt, self.num_envs
        rows = np.arange(n_env)
        sa, chw, cap, routing, econ = self._controls(actions)
        self._chw_c, self._econ, self._routing = chw, econ, routing
        # ---- Simulation.step: controls, clock, step time, the job's interval
        self._cap_frac = np.minimum(np.maximum(cap, sc.power.min_cap_frac), 1.0)
        self._supply_air_c = np.minimum(np.maximum(sa, 10.0), 35.0)
        chw_set = np.minimum(np.maximum(chw, 4.0), 25.0)
        pw = sim.power
        f = pw.freq_for_cap(self._cap_frac * sim.profile.tdp_w, sim.a_compute)
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
        self.air.advance_supply(self._supply_air_c[:, None], chw_sup[:, None], dt)
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
        reward, terms, elec_usd = self._reward(k, cast(Any, fac_kwh), carbon_kg, tokens, violation)
        self.k = k + 1
        st = step_time if active else np.zeros(n_env)
        ex = exposed if active else np.zeros(n_env)
        self._metrics_np = {
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
        obs = self._observe(
            db, wb, ci, it_w, cooling, inlet_max, f, thr.min(axis=-1), tokens, pue, st, ex
        )
        return self._finish(obs, reward, int(np.count_nonzero(self.k >= self.max_steps)))

    def _step_kernel(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """`step` through the compiled interval of every copy (`dcsim.sim_kernel.step_halls`,
        the code each copy's `FastSimulation.step` runs with one hall) and the compiled
        `_inputs` / `_outputs` wiring: one call (`_step_calm`) while no copy throttles."""
        mod, static, (inputs, outputs, encode, calm) = self._kern
        sim, dt, n_env = self.sim0, self.dt, self.num_envs
        lane, hall, racks, ctl = self.lane, self.hall, self.racks, self._ctl
        a = np.ascontiguousarray(actions, dtype=np.float64).reshape(n_env, 5)
        k = self.k
        price = self._price
        if sim.electricity_prices is not None:
            t_s = self.times_arr[k] - sim.t0
            price = price_at(sim.electricity_prices, t_s, sim.year_offset_s, dt)
        thr = self.throttle
        self._metrics_np = None
        if not self._throttled:
            obs = np.empty((n_env, self._x.shape[1]), dtype=np.float32)
            reward = np.empty(n_env)
            ended = calm(
                a, *self._in_consts, k, self.comm_s, self.exo, self.econ_codes, ctl, lane, hall,
                *static[:7], thr, self.p, self.srv, *static[7:], racks, dt, self._ones,
                self.phase_tab, price, self._out_consts, self._cols, self._x, self._terms,
                self._enc, reward, obs,
            )  # fmt: skip
            if ended >= 0:
                return self._finish(obs, reward, ended)
            if ended == -2:
                self._controls(a)  # raises naming the NaN choice
        else:
            if not inputs(a, *self._in_consts, k, self.comm_s, self.exo, self.econ_codes,
                          ctl, lane, hall):  # fmt: skip
                self._controls(a)  # raises naming the NaN choice
            mod.step_halls(*static[:7], lane, thr, self.p, self.srv, *static[7:], racks, hall, dt)
        # the thermal throttle of the halls with an inlet above its limit, hall by hall as a
        # lone FastSimulation does; exactly 1 elsewhere
        thr_min = self._ones
        if self._throttled or lane[:, L_HOT].any():
            thr[:] = 1.0
            thr_min = np.ones(n_env)
            clock = self.clock_for_power
            hot = np.flatnonzero(lane[:, L_HOT]).tolist()
            for i in hot:
                thr[i] = thermal_throttle(self.cfg, racks[0, i].copy(), None, clock)
                thr_min[i] = thr[i].min()
            self._throttled = bool(hot)
        x = self._x
        reward = outputs(
            ctl, lane, hall, thr_min, k, self.exo, self.phase_tab, price, self._out_consts,
            self._cols, x, self._terms,
        )  # fmt: skip
        k += 1
        enc = self._enc
        obs = np.empty((n_env, x.shape[1]), dtype=np.float32)
        encode(x, enc[0], enc[1], enc[2], enc[3], obs)
        return self._finish(obs, reward, int(np.count_nonzero(k >= self.max_steps)))

    @property
    def last_metrics(self) -> dict[str, np.ndarray]:
        """The last step's reward terms and main metrics per copy (DatacenterEnv's
        info["metrics"] of these): the NumPy path's record, or read from the compiled step's
        tables (a step's tables hold its results until the next step)."""
        if self._metrics_np is not None:
            return self._metrics_np
        terms = self._terms
        return {
            "reward_energy": terms[0].copy(),
            "reward_carbon": terms[1].copy(),
            "reward_throughput": terms[2].copy(),
            "reward_violation": terms[3].copy(),
            **{key: tab[:, j].copy() for key, tab, j in self._metric_cols},
            "tokens_per_s": self._x[:, self._cols[14]].copy(),
            "electricity_usd": terms[4].copy(),
        }

    def _reward(
        self,
        k: np.ndarray,
        fac_kwh: np.ndarray,
        carbon_kg: np.ndarray,
        tokens: np.ndarray,
        violation: np.ndarray,
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """`DatacenterEnv.interval_usd` and `reward_terms` on arrays: (reward, weighted
        terms, electricity USD)."""
        sim, e0 = self.sim0, self.envs[0]
        p = e0.prices
        price: Any = p.electricity_usd_per_kwh
        if sim.electricity_prices is not None:
            t_s = self.times_arr[k] - sim.t0
            price = price_at(sim.electricity_prices, t_s, sim.year_offset_s, self.dt)
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
        return reward, terms, elec_usd

    def _finish(
        self, obs: np.ndarray, reward: np.ndarray, ended: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Truncate the `ended` copies at their last step and reset them in the same step."""
        n_env = self.num_envs
        trunc = self.k >= self.max_steps if ended else np.zeros(n_env, dtype=bool)
        info: dict[str, Any] = {}
        if ended:
            info["final_obs"] = np.full(n_env, None, dtype=object)
            info["_final_obs"] = trunc.copy()
            for i in np.flatnonzero(trunc):
                info["final_obs"][i] = obs[i].copy()
                obs[i], _ = self.envs[i].reset()
                self._load(int(i))
        return obs, reward, np.zeros(n_env, dtype=bool), trunc, info

    def _rack_power(self, act_active: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Rack power for every copy as the kernel forms it: accelerator power once per
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
        throttle_min: np.ndarray,
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
            ("supply_air_c", self._supply_air_c),
            ("chw_supply_c", self._chw_c),
            ("cap_frac", self._cap_frac),
            ("freq_frac", f),
            ("throttle_min", throttle_min),
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
        x[rows, np.array([col[onehot[r]] for r in self.routing_names])[self._routing]] = 1.0
        x[rows, np.array([col[onehot[m]] for m in ECONOMIZER_MODES])[self._econ]] = 1.0
        return e0._encode(cast(Any, x))
