"""Cooling-v0 as a batch: N halls stepped together (a `gymnasium.vector.VectorEnv`).

Each copy is a `CoolingEnv` (its weather, load and liquid loop; it resets itself); the batch
holds every hall's state and episode arrays stacked, shape (halls, ...), and steps all halls in
one call: the compiled plant kernel over (halls, racks) arrays (`dcsim.cooling.fast`, the same
code as a lone env's step) when numba is installed, else the NumPy path (`AirChain` on (halls,
racks) arrays and the lane-wise water side `ChilledWaterBatch`, equal per lane to
`ChilledWaterPlant.step`). Only the liquid loop (when present) and the thermal throttle of
halls above their inlet limit run hall by hall. Results are those of N separate `CoolingEnv`s,
bitwise (tests/test_vector_env.py); the wiring below follows `CoolingEnv.step`, which stays the
readable reference.

Episodes auto-reset in the same step (`AutoresetMode.SAME_STEP`): the returned observation is
the new episode's first one and `info["final_obs"]` (masked by `info["_final_obs"]`) the last
one of the finished episode. `sb3_vec_env` adapts it to Stable-Baselines3.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from dcsim.climate import DAY_S
from dcsim.cooling import AirChain, thermal_throttle
from dcsim.cooling.water_batch import MODE_CODES, ChilledWaterBatch
from dcsim.envs.contract import compiled, encode_into, encode_rows
from dcsim.envs.cooling import ECONOMIZER_MODES, CoolingEnv, bill_usd

# columns of the per-hall state/input/output table: the kernel's layout (dcsim.cooling.fast)
S_TSUP, S_PCH, S_TCOND = 0, 1, 2
I_SA, I_CHW, I_MODE, I_WB, I_DB, I_OTHER, I_LIQ = 3, 4, 5, 6, 7, 8, 9
(
    O_COOLING, O_CHW_SUP, O_WATER_L, O_ECON, O_SUPPLY, O_P_SUM, O_FAN_SUM, O_INLET_SUM,
    O_INLET_MAX, O_VIOL_SUM,
) = range(13, 23)  # fmt: skip
N_HALL = 37
N_EXO = 6  # dry bulb, wet bulb, the two wet-bulb forecasts, RH, carbon (CoolingEnv._exo)
LIQ_PARTS = ("cdu_pump_w", "fws_pump_w", "drycooler_fan_w", "trim_chiller_w")


def _setpoints(acts: np.ndarray, lo: np.ndarray, span: np.ndarray) -> np.ndarray:
    """`CoolingEnv._setpoints` of every hall, as columns (supply air C, CHW supply C,
    economizer MODE_* code = index into ECONOMIZER_MODES); same operations as the scalar."""
    a = np.minimum(np.maximum(acts.reshape(-1, 3), -1.0), 1.0)
    out = np.empty_like(a)
    out[:, 0] = lo[0] + (a[:, 0] + 1.0) * 0.5 * span[0]
    out[:, 1] = lo[1] + (a[:, 1] + 1.0) * 0.5 * span[1]
    a2 = a[:, 2]
    out[:, 2] = np.where(a2 < -1 / 3, 0.0, np.where(a2 > 1 / 3, 2.0, 1.0))
    return out


def _outcome(
    hall: np.ndarray,
    ci: np.ndarray,
    thr_mean: np.ndarray,
    usd: np.ndarray,
    w: np.ndarray,
    c: np.ndarray,
    last: np.ndarray,
) -> np.ndarray:
    """`CoolingEnv.step`'s reward terms, summed in their order, and its `_last` (into `last`)
    for every hall, from the plant's results in `hall`; usd = (electricity, water) USD per
    hall (`CoolingEnv.bill_usd`), w the weights in REWARD order, c = (design IT W, recommended
    inlet max C, racks, the cost term's unit USD). Array code: compiled by numba when
    available, NumPy otherwise (the same operations either way)."""
    design, hi, n, cost_unit = c[0], c[1], c[2], c[3]
    fan, cooling = hall[:, O_FAN_SUM], hall[:, O_COOLING]
    it = hall[:, O_P_SUM] + fan
    ctrl_w = cooling + fan
    viol = hall[:, O_VIOL_SUM] / n
    inlet_max = hall[:, O_INLET_MAX]
    hot = np.maximum(inlet_max - hi, 0.0)
    reward = (
        w[0] * (-ctrl_w / design)
        + w[1] * (-ctrl_w * ci / (design * 400.0))
        + w[2] * -viol
        + w[3] * -(1.0 - thr_mean)
        + w[4] * -hot
        + w[5] * (-(usd[0] + usd[1]) / cost_unit)
    )
    last[:, 0] = it
    last[:, 1] = hall[:, O_INLET_SUM] / n
    last[:, 2] = inlet_max
    last[:, 3] = hall[:, O_SUPPLY]
    last[:, 4] = hall[:, O_CHW_SUP]
    last[:, 5] = (it + cooling) / it  # PUE
    last[:, 6] = hall[:, O_ECON]
    return reward


def _obs_values(
    exo_k: np.ndarray, last: np.ndarray, phase: np.ndarray, hi: float, v: np.ndarray
) -> np.ndarray:
    """`CoolingEnv._obs_values` of every hall into v, from its exogenous entries, `_last`
    (the `last` table) and clock phases; hi is the recommended inlet maximum C."""
    v[:, :N_EXO] = exo_k
    v[:, N_EXO : N_EXO + 3] = last[:, :3]
    v[:, N_EXO + 3] = last[:, 2] - hi
    v[:, N_EXO + 4 : N_EXO + 9] = last[:, 3:8]
    v[:, N_EXO + 9 :] = phase
    return v


def _plant(prm: Any, rk: Any, racks: Any, hall: Any, p: Any, dt: float) -> None:
    """Placeholder for the plant kernel (`dcsim.cooling.fast.step_halls`), which `_step_calm`
    is compiled with (`_compiled_array_fns`)."""
    raise NotImplementedError("_step_calm runs compiled, bound to the plant kernel")


def _day_phases(t: Any, day_s: float, out: Any) -> None:
    """Placeholder for `dcsim.cooling.fast.day_phases` (bound as `_plant` is)."""
    raise NotImplementedError("_step_calm runs compiled, bound to fast.day_phases")


def _step_calm(
    acts: np.ndarray,
    lo: np.ndarray,
    span: np.ndarray,
    p_full: np.ndarray,
    exo: np.ndarray,
    k: np.ndarray,
    prm: np.ndarray,
    rk: np.ndarray,
    racks: np.ndarray,
    hall: np.ndarray,
    p: np.ndarray,
    consts: np.ndarray,
    w: np.ndarray,
    c: np.ndarray,
    ones: np.ndarray,
    last: np.ndarray,
    t0: np.ndarray,
    phase: np.ndarray,
    vals: np.ndarray,
    enc: np.ndarray,
    reward: np.ndarray,
    obs: np.ndarray,
) -> int:
    """`CoolingVectorEnv.step` of halls none of which throttles (or has a liquid loop), as
    one compiled call: the same functions in the same order as the step's multi-call path
    (`_setpoints`, the plant kernel, `bill_usd`, `_outcome`, the clock phases, `_obs_values`,
    `encode_rows` as its loop `encode_into`), without a dispatch and NumPy's per-call cost
    between them (~1.8x at 64 halls). consts = (dt s, inlet limit C, USD/kWh, USD/m3, max
    steps, seconds per day); enc = the encoder's (offset, scale, low, high). Returns the halls whose episode ended (k reached max steps),
    or -1 when a hall's inlet exceeds its limit after the plant step: the caller then
    throttles and finishes the step on the multi-call path (nothing after the plant ran)."""
    n_h = p.shape[0]
    dt, inlet_limit = consts[0], consts[1]
    exo_k = np.empty((n_h, N_EXO))
    for h in range(n_h):
        p[h] = p_full[h, k[h]]
        exo_k[h] = exo[h, k[h]]
    hall[:, I_SA : I_MODE + 1] = _setpoints(acts, lo, span)
    hall[:, I_WB] = exo_k[:, 1]
    hall[:, I_DB] = exo_k[:, 0]
    _plant(prm, rk, racks, hall, p, dt)
    for h in range(n_h):
        if not hall[h, O_INLET_MAX] <= inlet_limit:
            return -1
    usd = np.empty((2, n_h))
    usd[0], usd[1] = bill_usd(
        hall[:, O_COOLING] + hall[:, O_FAN_SUM], hall[:, O_WATER_L], dt, consts[2], consts[3]
    )
    reward[:] = _outcome(hall, exo_k[:, 5], ones, usd, w, c, last)
    last[:, 7] = 1.0  # every hall at full clock
    ended = 0
    for h in range(n_h):
        k[h] += 1
        if k[h] >= consts[4]:
            ended += 1
        exo_k[h] = exo[h, k[h]]
    _day_phases(t0 + k * dt, consts[5], phase)
    v = _obs_values(exo_k, last, phase, c[1], vals)
    encode_into(v, enc[0], enc[1], enc[2], enc[3], obs)
    return ended


def calm_constants(e: CoolingEnv) -> tuple[np.ndarray, ...]:
    """`_step_calm`'s constant arguments for halls like `e`: the setpoints' lows and spans
    (`_setpoints`), (dt s, inlet limit C, USD/kWh, USD/m3, max steps, seconds per day), the
    reward weights in REWARD order and `_outcome`'s constants, and the encoder's arrays."""
    (lo0, lo1), (hi0, hi1) = e._lo_hi
    return (
        np.array([lo0, lo1]),
        np.array([hi0 - lo0, hi1 - lo1]),
        np.array([e.dt, e.cfg.inlet_limit_c, e.usd_per_kwh, e.usd_per_m3, e.max_steps, DAY_S]),
        np.array([e.weights[t.name] for t in e.REWARD]),
        np.array([e.design_it_w, e._inlet_band[1], e.n_racks, e.cost_unit_usd]),
        e._encode.stacked(),
    )


class BatchOfCopies(VectorEnv):
    """Shared by the batched envs: `num_envs` copies of one env (`envs`) whose episodes are
    drawn by the copies' own `reset`, then loaded into the batch's arrays by `_load(i)`."""

    envs: list[Any]

    def _adopt(self, envs: list[Any]) -> None:
        """Take the copies and the single/batched spaces of the first."""
        self.num_envs = n_env = len(envs)
        self.envs = envs
        e = envs[0]
        self.single_action_space = e.action_space
        self.single_observation_space = e.observation_space
        self.action_space = batch_space(e.action_space, n_env)
        self.observation_space = batch_space(e.observation_space, n_env)

    def _load(self, i: int) -> None:
        raise NotImplementedError

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


class CoolingVectorEnv(BatchOfCopies):
    """`num_envs` copies of `dcsim/Cooling-v0` with the same arguments, stepped as one batch.

    `reset(seed=s)` seeds copy i with s + i (or with seed[i] for a list), as
    `gymnasium.vector.SyncVectorEnv` does. `info` is empty except on episode ends
    (`final_obs`, `_final_obs`); `last_metrics` holds some of the step's metrics as arrays.
    `use_fast = False` (before the first step) takes the NumPy path even with numba. The
    copies in `envs` draw each episode (weather, load) at their reset; while the batch steps,
    the state lives in its own arrays (`k`, `last`, `racks`, `hall`), not in the copies.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self._adopt([CoolingEnv(**kwargs) for _ in range(int(num_envs))])
        n_env, e = self.num_envs, self.envs[0]
        self.n_racks, self.dt, self.cfg = e.n_racks, e.dt, e.cfg
        n = e.n_racks
        self.max_steps = e.max_steps
        self.f_liq = e.plant.f_liq
        self.liquid_active = e.plant.liquid.active
        self._inlet_band = e._inlet_band
        self.use_fast = True
        self._fast: Any = None
        # every hall's state and episode, stacked
        self.racks = np.zeros((4, n_env, n))  # inlets, exhaust nodes, fan speeds, server fan W
        self.hall = np.zeros((n_env, N_HALL))
        self.p_full = np.zeros((n_env, e.max_steps + 1, n))
        self.exo = np.zeros((n_env, e.max_steps + 1, N_EXO))
        self.k = np.zeros(n_env, dtype=np.intp)
        self.t0 = np.zeros(n_env)
        self.throttle = np.ones((n_env, n))
        self.thr_min = np.ones(n_env)
        self._throttled = False  # any hall below full clock
        self._ones = np.ones(n_env)
        self._ones.flags.writeable = False
        self.last = np.zeros((n_env, 8))  # CoolingEnv._last, in _LAST order
        self._rows = np.arange(n_env)
        self._vals = np.empty((n_env, len(e.features)))
        self._phase = np.empty((n_env, 4))
        # the NumPy path: one air chain over (halls, racks), the lane-wise water side
        # (cast: AirChain's state annotations are one hall's)
        self.air: Any = cast(Any, AirChain(e.cfg.air, n, e.design_it_w, self.f_liq))
        self.water = ChilledWaterBatch(e.plant.water)
        if [MODE_CODES[m] for m in ECONOMIZER_MODES] != [0, 1, 2]:
            raise ValueError("the economizer's MODE_* codes must be ECONOMIZER_MODES' indices")
        self._lo, self._span, self._consts, self._w, self._c, self._enc = calm_constants(e)
        self._p = np.empty((n_env, n))  # _step_calm's rack power buffer
        self._array_fns: tuple[Any, ...] = (_setpoints, _outcome, _obs_values, encode_rows)

    _LAST = ("it", "inlet_mean", "inlet_max", "supply", "chw", "pue", "econ", "throttle")

    def _kernel(self) -> Any:
        """(dcsim.cooling.fast, parameters, per-rack constants), or None (NumPy path)."""
        if self._fast is None:
            self._fast = False
            if self.use_fast:
                try:
                    fast = importlib.import_module("dcsim.cooling.fast")
                    self._fast = (fast, *fast.plant_params(self.envs[0].plant))
                    self._array_fns = _compiled_array_fns(fast)
                except ImportError:  # numba missing
                    pass
        return self._fast or None

    def __getstate__(self) -> dict[str, Any]:
        """Picklable: the compiled code is left out and loaded again on the next step."""
        state = self.__dict__.copy()
        state["_fast"] = None
        state["_array_fns"] = (_setpoints, _outcome, _obs_values, encode_rows)
        return state

    # ------------------------------------------------------------ reset
    def _load(self, i: int) -> None:
        """Copy hall i's freshly reset state and episode into the batch."""
        env = self.envs[i]
        plant = env.plant
        self.racks[:3, i] = plant.air.t_in, plant.air.t_rack, plant.air.u
        self.hall[i, :3] = plant.air.t_supply, plant.water.p_chiller_prev, plant.water.t_cond_prev
        self.p_full[i] = env.p_full
        env.p_full = self.p_full[i]  # the env's copy is only read through the batch now
        self.exo[i] = env._exo_arr[0]  # (its `_exo` as an array: no per-tuple conversion)
        self.k[i], self.t0[i] = 0, env.t0
        self.throttle[i], self.thr_min[i] = 1.0, 1.0  # (_throttled may stay set: harmless)
        self.last[i] = [env._last[key] for key in self._LAST]

    # ------------------------------------------------------------ step
    def _rack_power(self, k: np.ndarray) -> np.ndarray:
        """`CoolingEnv._rack_power` of every hall: the full-clock power unless it throttles."""
        p = self.p_full[self._rows, k]
        if not self._throttled:
            return p
        for i in np.flatnonzero(self.thr_min != 1.0).tolist():
            env = self.envs[i]
            p[i] = env.rack_power.power_w(env.activity[k[i]], self.throttle[i])
        return p

    def _liquid(self, p: np.ndarray, db: np.ndarray) -> float | None:
        """The liquid loop hall by hall (its own scalar model) into the hall table; TCS C."""
        hall, tcs = self.hall, None
        for i, (env, q, d) in enumerate(
            zip(self.envs, (self.f_liq * p.sum(axis=-1)).tolist(), db.tolist(), strict=True)
        ):
            liq = env.plant.liquid.step(q, d, float(hall[i, S_TCOND]))
            hall[i, I_OTHER] = liq.to_tower_w
            hall[i, I_LIQ : I_LIQ + 4] = [getattr(liq, key) for key in LIQ_PARTS]
            tcs = liq.tcs_supply_c  # the same for every hall (one LiquidConfig)
        return tcs

    def _plant_numpy(self, p: np.ndarray) -> None:
        """The kernel's step on NumPy arrays (`CoolingPlant.step`'s wiring over halls)."""
        air, hall, racks = self.air, self.hall, self.racks
        air.t_in, air.t_rack, air.u = racks[0].copy(), racks[1].copy(), racks[2].copy()
        air.t_supply = hall[:, S_TSUP : S_TSUP + 1].copy()  # a column: broadcasts over racks
        res = air.step((1.0 - self.f_liq) * p, self.dt)
        water = self.water.step(
            hall[:, S_PCH].copy(),
            res.heat_to_air_w + res.crah_fan_w,
            hall[:, I_CHW],
            hall[:, I_MODE].astype(np.intp),
            hall[:, I_WB],
            hall[:, I_OTHER],
            self.dt,
            hall[:, I_DB],
        )
        air.advance_supply(hall[:, I_SA, None], water.chw_supply_c[:, None], self.dt)
        # cooling_breakdown's sum, in its order
        cooling = (
            res.crah_fan_w
            + water.chiller_w
            + water.tower_fan_w
            + water.chw_pump_w
            + water.cw_pump_w
        )
        for j in range(4) if self.liquid_active else ():  # + 0.0 changes nothing: skipped
            cooling = cooling + hall[:, I_LIQ + j]
        racks[0], racks[1], racks[2], racks[3] = air.t_in, air.t_rack, air.u, res.server_fan_w
        inlet = res.inlet_c
        lo, hi = self._inlet_band
        viol = np.maximum(inlet - hi, 0.0) + np.maximum(lo - inlet, 0.0)
        cols = (
            (S_TSUP, air.t_supply[:, 0]),
            (S_PCH, water.chiller_w),
            (S_TCOND, water.condenser_c),
            (O_COOLING, cooling),
            (O_CHW_SUP, water.chw_supply_c),
            (O_WATER_L, water.water_l),
            (O_ECON, water.economizer_fraction),
            (O_SUPPLY, air.t_supply[:, 0]),
            (O_P_SUM, p.sum(axis=-1)),
            (O_FAN_SUM, res.server_fan_w.sum(axis=-1)),
            (O_INLET_SUM, inlet.sum(axis=-1)),
            (O_INLET_MAX, inlet.max(axis=-1)),
            (O_VIOL_SUM, viol.sum(axis=-1)),
        )
        for col, v in cols:
            hall[:, col] = v

    def _throttle(self, tcs: float | None) -> np.ndarray:
        """`thermal_throttle` of the halls with an inlet (or the TCS supply) above its limit,
        hall by hall as a lone env does; exactly 1 elsewhere. The throttle penalty's mean."""
        cfg, n = self.cfg, self.n_racks
        calm = self.hall[:, O_INLET_MAX] <= cfg.inlet_limit_c
        if tcs is not None and not tcs <= cfg.liquid.tcs_limit_c:
            calm[:] = False
        if self._throttled:  # back to full clock first
            was = self.thr_min != 1.0
            self.throttle[was], self.thr_min[was] = 1.0, 1.0
            self._throttled = False
        if calm.all():
            return self._ones
        thr_mean = np.ones(self.num_envs)
        clock = self.envs[0].plant.clock_for_power
        for i in np.flatnonzero(~calm).tolist():
            thr = thermal_throttle(cfg, self.racks[0, i].copy(), tcs, clock)
            self.throttle[i] = thr
            self.thr_min[i] = t_min = float(thr.min())
            if t_min != 1.0:
                thr_mean[i] = float(thr.sum()) / n
                self._throttled = True
        return thr_mean

    @property
    def last_metrics(self) -> dict[str, np.ndarray]:
        """Some of the last step's metrics per hall (CoolingEnv's info["metrics"] of these),
        from the plant's results of that step (same operations as `CoolingEnv.step`)."""
        hall, n = self.hall, self.n_racks
        fan, cooling = hall[:, O_FAN_SUM].copy(), hall[:, O_COOLING].copy()
        it = hall[:, O_P_SUM] + fan
        return {
            "it_w": it,
            "server_fan_w": fan,
            "cooling_w": cooling,
            "pue": (it + cooling) / it,
            "water_l": hall[:, O_WATER_L].copy(),
            "violation_k": hall[:, O_VIOL_SUM] / n,
            "hottest_excess_k": np.maximum(hall[:, O_INLET_MAX] - self._inlet_band[1], 0.0),
        }

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        envs, n_env, hall = self.envs, self.num_envs, self.hall
        k = self.k
        kern = self._kernel()
        setpoints, outcome = self._array_fns[:2]
        acts = np.ascontiguousarray(actions, dtype=float)
        if kern is not None and not self._throttled and not self.liquid_active:
            _, prm, rk = kern
            obs = np.empty((n_env, self._vals.shape[1]), dtype=np.float32)
            reward = np.empty(n_env)
            ended = self._array_fns[4](
                acts, self._lo, self._span, self.p_full, self.exo, k, prm, rk, self.racks,
                hall, self._p, self._consts, self._w, self._c, self._ones, self.last, self.t0,
                self._phase, self._vals, self._enc, reward, obs,
            )  # fmt: skip
            if ended >= 0:
                return self._ended(obs, reward, ended)
            thr_mean = self._throttle(None)  # a hall throttles: finish as below
            ci = self.exo[self._rows, k, 5]
        else:
            p = self._rack_power(k)
            exo = self.exo[self._rows, k]
            db, ci = exo[:, 0], exo[:, 5]
            hall[:, I_SA : I_MODE + 1] = setpoints(acts, self._lo, self._span)
            hall[:, I_WB], hall[:, I_DB] = exo[:, 1], db
            tcs = self._liquid(p, db) if self.liquid_active else None
            if kern is not None:
                fast, prm, rk = kern
                fast.step_halls(prm, rk, self.racks, hall, p, self.dt)
            else:
                self._plant_numpy(p)
            thr_mean = self._throttle(tcs)
        # ---- rewards and observations (CoolingEnv.step)
        e0, last = envs[0], self.last
        usd = np.array(e0.bill_usd(hall[:, O_COOLING] + hall[:, O_FAN_SUM], hall[:, O_WATER_L]))
        reward = outcome(hall, ci, thr_mean, usd, self._w, self._c, last)
        last[:, 7] = self.thr_min
        k += 1
        return self._ended(self._observe(), reward, int(np.count_nonzero(k >= self.max_steps)))

    def _ended(
        self, obs: np.ndarray, reward: np.ndarray, ended: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """The step's return; the `ended` halls whose episode ended reset in the same step."""
        envs, n_env = self.envs, self.num_envs
        trunc = self.k >= self.max_steps if ended else np.zeros(n_env, dtype=bool)
        info: dict[str, Any] = {}
        if ended:
            info["final_obs"] = np.full(n_env, None, dtype=object)
            info["_final_obs"] = trunc.copy()
            for i in np.flatnonzero(trunc).tolist():
                info["final_obs"][i] = obs[i].copy()
                obs[i], _ = envs[i].reset()
                self._load(i)
        return obs, reward, np.zeros(n_env, dtype=bool), trunc, info

    def _observe(self) -> np.ndarray:
        """Every hall's observation (CoolingEnv._obs_values, encoded) as one batch."""
        t = self.t0 + self.k * self.dt
        kern = self._kernel()
        if kern is not None:  # the same libm calls, compiled (fast.day_phases)
            kern[0].day_phases(t, DAY_S, self._phase)
        else:  # the env's own libm calls, hall by hall
            ks = self.k.tolist()
            self._phase[:] = [e._phases(k) for e, k in zip(self.envs, ks, strict=True)]
        obs_values, encode = self._array_fns[2:4]
        enc = self.envs[0]._encode
        v = obs_values(self.exo[self._rows, self.k], self.last, self._phase, self._c[1], self._vals)
        return encode(v, enc.offset, enc.scale, enc.low, enc.high)


def sb3_vec_env(venv: VectorEnv) -> Any:
    """A Stable-Baselines3 `VecEnv` over a same-step auto-resetting gymnasium `VectorEnv`.

    SB3 also resets in the step that ends an episode and reads the last observation from
    `infos[i]["terminal_observation"]`; a truncation is flagged `TimeLimit.truncated`.
    Imports stable_baselines3 (and torch) only when called.
    """
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv

    class SB3VecEnv(VecEnv):
        def __init__(self, venv: VectorEnv) -> None:
            self.venv: Any = venv
            super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
            self._actions: np.ndarray | None = None

        def reset(self) -> np.ndarray:
            seeds = self._seeds if any(s is not None for s in self._seeds) else None
            obs, _ = self.venv.reset(seed=seeds)
            self._reset_seeds()
            self._reset_options()
            return obs

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = actions

        def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
            obs, reward, term, trunc, info = self.venv.step(self._actions)
            done = term | trunc
            infos: list[dict] = [{} for _ in range(self.num_envs)]
            for i in np.flatnonzero(done):
                infos[i]["terminal_observation"] = info["final_obs"][i]
                infos[i]["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
            return obs, reward.astype(np.float32), done, infos

        def close(self) -> None:
            self.venv.close()

        def _targets(self, indices: Any) -> list[Any]:
            envs = getattr(self.venv, "envs", [])
            return [envs[i] for i in self._get_indices(indices)]

        def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
            return [getattr(e, attr_name) for e in self._targets(indices)]

        def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
            for e in self._targets(indices):
                setattr(e, attr_name, value)

        def env_method(
            self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any
        ) -> list[Any]:
            return [getattr(e, method_name)(*args, **kwargs) for e in self._targets(indices)]

        def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
            return [False for _ in self._get_indices(indices)]

    return SB3VecEnv(venv)


def _compiled_array_fns(fast: Any) -> tuple[Any, ...]:
    """`_setpoints`, `_outcome`, `_obs_values`, `encode_rows` and `_step_calm` (bound to the
    others and to the plant kernel module `fast`) compiled by numba (cached on disk): the same
    array code, without NumPy's per-call cost on (halls,) arrays."""
    fns = tuple(compiled(f) for f in (_setpoints, _outcome, _obs_values, encode_rows))
    setpoints, outcome, obs_values, encode = fns
    calm = compiled(
        _step_calm,
        _setpoints=setpoints,
        _outcome=outcome,
        _obs_values=obs_values,
        encode_into=compiled(encode_into),
        bill_usd=compiled(bill_usd),
        _plant=fast.step_halls,
        _day_phases=fast.day_phases,
    )
    return (*fns, calm)
