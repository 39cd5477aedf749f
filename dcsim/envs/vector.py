"""Cooling-v0 as a batch: N halls stepped together (a `gymnasium.vector.VectorEnv`).

Each copy is a `CoolingEnv` (its weather, load, liquid loop and water side); the per-rack chain
(rack power, the `AirChain` of rack thermal mass, server and CRAH fans, supply air, thermal
throttle) runs once on (N, racks) arrays instead of N times on (racks,) arrays, and the water
side of all halls is one lane-wise pass (`ChilledWaterBatch`, equal per lane to
`ChilledWaterPlant.step`); only the liquid loop, when present, is stepped hall by hall. Results
are those of N separate
`CoolingEnv`s, bitwise (tests/test_vector_env.py); the wiring below follows
`CoolingPlant.step` and `CoolingEnv.step`, which stay the readable reference.

Episodes auto-reset in the same step (`AutoresetMode.SAME_STEP`): the returned observation is
the new episode's first one and `info["final_obs"]` (masked by `info["_final_obs"]`) the last
one of the finished episode. `SB3VecEnv` adapts it to Stable-Baselines3.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from dcsim.cooling import AirChain, thermal_throttle
from dcsim.cooling.plant import cooling_breakdown
from dcsim.cooling.water_batch import MODE_CODES, ChilledWaterBatch
from dcsim.envs.cooling import ECONOMIZER_MODES, CoolingEnv

BATCH_WATER_MIN = 24  # halls from which the lane-wise water side is faster (measured)
ECONOMIZER_MODES_BY_CODE = {MODE_CODES[m]: m for m in ECONOMIZER_MODES}


class CoolingVectorEnv(VectorEnv):
    """`num_envs` copies of `dcsim/Cooling-v0` with the same arguments, stepped as one batch.

    `reset(seed=s)` seeds copy i with s + i (or with seed[i] for a list), as
    `gymnasium.vector.SyncVectorEnv` does. `info` is empty except on episode ends
    (`final_obs`, `_final_obs`); `last_metrics` holds some of the step's metrics as arrays.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        self.envs = [CoolingEnv(**kwargs) for _ in range(self.num_envs)]
        e = self.envs[0]
        self.single_action_space = e.action_space
        self.single_observation_space = e.observation_space
        self.action_space = batch_space(e.action_space, self.num_envs)
        self.observation_space = batch_space(e.observation_space, self.num_envs)
        self.n_racks, self.dt, self.cfg = e.n_racks, e.dt, e.cfg
        self.f_liq = e.plant.f_liq
        self.clock_for_power = e.plant.clock_for_power  # the device's DVFS law
        # one air chain holding every hall's state, shape (halls, racks); the copies' own
        # plant.air is only used to reset a hall, then copied in
        # (cast: AirChain's state annotations are one hall's)
        self.air: Any = cast(Any, AirChain(e.cfg.air, e.n_racks, e.design_it_w, self.f_liq))
        shape = (self.num_envs, e.n_racks)
        self.air.t_in, self.air.t_rack, self.air.u = (
            np.zeros(shape),
            np.zeros(shape),
            np.zeros(shape),
        )
        self.air.t_supply = np.zeros((self.num_envs, 1))  # a column: broadcasts over racks
        self.throttle = np.ones(shape)
        self._inlet_band = e._inlet_band
        self.water = ChilledWaterBatch(e.plant.water)
        # the lane-wise water side pays NumPy's per-call cost once per step, the hall-by-hall
        # one ~20 us per hall: measured crossover ~24 halls (benchmarks/RESULTS.md, issue 17)
        self.batch_water = self.num_envs >= BATCH_WATER_MIN
        self.batch_controls = self.num_envs >= 4  # actions to setpoints on arrays (measured)
        self.liquid_active = e.plant.liquid.active

    # ------------------------------------------------------------ reset
    def _load(self, i: int) -> None:
        """Copy hall i's freshly reset air state into the batch."""
        a, src = self.air, self.envs[i].plant.air
        a.t_in[i], a.t_rack[i], a.u[i], a.t_supply[i, 0] = src.t_in, src.t_rack, src.u, src.t_supply
        self.throttle[i] = self.envs[i].throttle

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
    def _setpoints(self, acts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`CoolingEnv.to_controls` then `CoolingPlant.setpoints` for every hall: (supply air
        C, CHW supply C, economizer MODE_* code). The action sets both setpoints, so the
        plant's CHW reset never applies; same operations in the same order as the scalar."""
        a = np.clip(np.asarray(acts, dtype=float).reshape(self.num_envs, 3), -1.0, 1.0)
        (lo0, lo1), (hi0, hi1) = self.envs[0]._lo_hi
        sa = lo0 + (a[:, 0] + 1.0) * 0.5 * (hi0 - lo0)
        chw = lo1 + (a[:, 1] + 1.0) * 0.5 * (hi1 - lo1)
        a2 = a[:, 2]
        idx = np.where(a2 < -1 / 3, 0, np.where(a2 > 1 / 3, 2, 1))
        codes = np.array([MODE_CODES[m] for m in ECONOMIZER_MODES])[idx]
        return sa, chw, codes

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        envs, n_env, n = self.envs, self.num_envs, self.n_racks
        acts = np.asarray(actions)
        p = np.empty((n_env, n))
        for i, env in enumerate(envs):
            p[i] = env._rack_power(env.k)
        if self.batch_controls:
            sa_set, chw_set, modes = self._setpoints(acts)
        else:  # few halls: the env's own mapping is cheaper than NumPy's per-call cost
            sp = [env.plant.setpoints(env.to_controls(acts[i])) for i, env in enumerate(envs)]
            sa_set, chw_set = np.array([x[0] for x in sp]), np.array([x[1] for x in sp])
            modes = np.array([MODE_CODES[x[2]] for x in sp])
        # ---- the per-rack chain, all halls at once (CoolingPlant.step)
        air = self.air.step((1.0 - self.f_liq) * p, self.dt)
        p_sum = p.sum(axis=-1)
        if self.batch_water:
            cooling, chw_sup, water_l, econ_frac, tcs = self._water_batch(
                air, p_sum, chw_set, modes
            )
        else:
            cooling, chw_sup, water_l, econ_frac, tcs = self._water_halls(
                air, p_sum, chw_set, modes
            )
        self.air.advance_supply(sa_set[:, None], chw_sup[:, None], self.dt)
        thr = thermal_throttle(self.cfg, air.inlet_c, tcs, self.clock_for_power)
        self.throttle = thr
        # ---- rewards and observations (CoolingEnv.step)
        fan = air.server_fan_w.sum(axis=-1)
        it = p_sum + fan
        ctrl_w = cooling + fan
        inlet = air.inlet_c
        lo, hi = self._inlet_band
        viol = (np.maximum(inlet - hi, 0.0) + np.maximum(lo - inlet, 0.0)).sum(axis=-1) / n
        thr_min = thr.min(axis=-1)
        thr_pen = 1.0 - np.where(thr_min == 1.0, 1.0, thr.sum(axis=-1) / n)
        e0 = envs[0]
        wt, design = e0.weights, e0.design_it_w
        inlet_max, inlet_mean = inlet.max(axis=-1), inlet.sum(axis=-1) / n
        hot = np.maximum(inlet_max - hi, 0.0)
        elec_usd, water_usd = e0.bill_usd(ctrl_w, water_l)
        terms: dict[str, np.ndarray] = {
            "energy": wt["energy"] * (-ctrl_w / design),
            "carbon": wt["carbon"]
            * (-ctrl_w * np.array([e._ci[e.k] for e in envs]) / (design * 400.0)),
            "violation": wt["violation"] * -viol,
            "throttle": wt["throttle"] * -thr_pen,
            "hottest": wt["hottest"] * -hot,
            "cost": wt["cost"] * (-(elec_usd + water_usd) / e0.cost_unit_usd),
        }
        reward = (
            terms["energy"]
            + terms["carbon"]
            + terms["violation"]
            + terms["throttle"]
            + terms["hottest"]
            + terms["cost"]
        )
        pue = (it + cooling) / it
        self.last_metrics = {  # this step's, per hall (CoolingEnv's info["metrics"] of these)
            "it_w": it,
            "server_fan_w": fan,
            "cooling_w": cooling,
            "pue": pue,
            "water_l": water_l,
            "violation_k": viol,
            "hottest_excess_k": hot,
        }
        sup = self.air.t_supply[:, 0]
        trunc = np.zeros(n_env, dtype=bool)
        final: list[int] = []
        cols = zip(
            envs,
            thr,
            *(
                x.tolist()
                for x in (thr_min, it, inlet_mean, inlet_max, sup, chw_sup, pue, econ_frac)
            ),
            strict=True,
        )
        for i, (env, thr_i, t_min, it_i, mean_i, max_i, sup_i, chw_i, pue_i, econ_i) in enumerate(
            cols
        ):
            env.throttle, env.throttle_min = thr_i, t_min
            env._last = dict(
                it=it_i,
                inlet_mean=mean_i,
                inlet_max=max_i,
                supply=sup_i,
                chw=chw_i,
                pue=pue_i,
                econ=econ_i,
                throttle=t_min,
            )
            env.k += 1
            trunc[i] = env.k >= env.max_steps
            if trunc[i]:
                final.append(i)
        obs = self._observe()
        info: dict[str, Any] = {}
        if final:
            info["final_obs"] = np.full(n_env, None, dtype=object)
            info["_final_obs"] = trunc.copy()
            for i in final:
                info["final_obs"][i] = obs[i].copy()
                obs[i], _ = envs[i].reset()
                self._load(i)
        return obs, reward, np.zeros(n_env, dtype=bool), trunc, info

    def _water_halls(
        self, air: Any, p_sum: np.ndarray, chw_set: np.ndarray, modes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float | None]:
        """Liquid loop and water side hall by hall (`CoolingPlant.step_water`): cheaper than
        the lane-wise pass below BATCH_WATER_MIN halls (NumPy's per-call cost).
        (cooling W, CHW supply C, water L, economizer share, TCS supply C or None)."""
        n_env = self.num_envs
        to_coils = (air.heat_to_air_w + air.crah_fan_w).tolist()
        crah = air.crah_fan_w.tolist()
        cooling, chw_sup = np.empty(n_env), np.empty(n_env)
        water_l, econ_frac = np.empty(n_env), np.empty(n_env)
        tcs = None
        chw, names = chw_set.tolist(), [ECONOMIZER_MODES_BY_CODE[m] for m in modes.tolist()]
        for i, env in enumerate(self.envs):
            plant, k = env.plant, env.k
            q_liq = self.f_liq * float(p_sum[i])
            liq, water = plant.step_water(
                to_coils[i], q_liq, chw[i], names[i], env._wb[k], env._db[k], self.dt
            )
            c = 0.0
            for w in cooling_breakdown(crah[i], water, liq).values():
                c += w
            cooling[i], chw_sup[i] = c, water.chw_supply_c
            water_l[i], econ_frac[i] = water.water_l, water.economizer_fraction
            if plant.liquid.active:
                tcs = liq.tcs_supply_c  # the same for every hall (one LiquidConfig)
        return cooling, chw_sup, water_l, econ_frac, tcs

    def _water_batch(
        self, air: Any, p_sum: np.ndarray, chw_set: np.ndarray, modes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float | None]:
        """The same as `_water_halls`, the water side of all halls in one lane-wise pass."""
        envs, n_env = self.envs, self.num_envs
        q_coils = air.heat_to_air_w + air.crah_fan_w
        db = np.array([env._db[env.k] for env in envs])
        wb = np.array([env._wb[env.k] for env in envs])
        waters = [env.plant.water for env in envs]
        q_liq = self.f_liq * p_sum
        tcs = None
        other = np.zeros(n_env)
        liq_w: list[np.ndarray] = []
        if self.liquid_active:  # the liquid loop, hall by hall (its own scalar model)
            liqs = [
                env.plant.liquid.step(float(q), d, wp.t_cond_prev)
                for env, q, d, wp in zip(envs, q_liq.tolist(), db.tolist(), waters, strict=True)
            ]
            tcs = liqs[0].tcs_supply_c  # the same for every hall (one LiquidConfig)
            other = np.array([lq.to_tower_w for lq in liqs])
            liq_w = [
                np.array([getattr(lq, k) for lq in liqs])
                for k in ("cdu_pump_w", "fws_pump_w", "drycooler_fan_w", "trim_chiller_w")
            ]
        # ---- the water side, all halls at once (ChilledWaterPlant.step, lane-wise)
        water = self.water.step(
            np.array([wp.p_chiller_prev for wp in waters]),
            q_coils,
            chw_set,
            modes,
            wb,
            other,
            self.dt,
            db,
        )
        for wp, pc, tc in zip(
            waters, water.chiller_w.tolist(), water.condenser_c.tolist(), strict=True
        ):
            wp.p_chiller_prev, wp.t_cond_prev = pc, tc
        # cooling_breakdown's sum, in its order
        cooling = (
            air.crah_fan_w
            + water.chiller_w
            + water.tower_fan_w
            + water.chw_pump_w
            + water.cw_pump_w
        )
        for x in liq_w if self.liquid_active else ():  # + 0.0 changes nothing: skipped
            cooling = cooling + x
        chw_sup, water_l = water.chw_supply_c, water.water_l
        econ_frac = water.economizer_fraction
        return cooling, chw_sup, water_l, econ_frac, tcs

    def _observe(self) -> np.ndarray:
        """Every hall's observation (CoolingEnv._obs), encoded as one batch."""
        return self.envs[0]._encode([env._obs_values(env.k) for env in self.envs])


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
