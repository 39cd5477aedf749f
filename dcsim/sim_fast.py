"""The Simulation's fast path for Datacenter-v0: the interval compiled, server power once per
kind of server, memoized weather and carbon.

`FastSimulation` is a `dcsim.sim.Simulation` (whose step is the multi-tenant engine's with one
job) that looks the episode's weather and carbon up at reset (`at_many`, bitwise equal to
`at`) and, with numba, runs the interval compiled (`dcsim.sim_kernel`, loaded on the first
step). The kernel computes server power once per kind of server (active, idle) and sums each
rack's pattern of kinds (`_server_kinds`) as the engine sums servers (bitwise the same sums,
tests/test_sim_fast.py): the same numbers to a relative 1e-12 (tests/test_sim_kernel.py).
Without numba (or for a scenario outside the kernel) its step is `Simulation.step`. This module also holds the kernel's table layout, so
the envs can use it without importing numba. Datacenter-v0 and its batched vector env
(`dcsim.envs.datacenter_vector`) step this.
"""

from __future__ import annotations

import importlib
import operator
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from dcsim.climate import WeatherSample
from dcsim.config import LoadedScenario
from dcsim.cooling import CoolingControls, thermal_throttle
from dcsim.cooling.water_batch import MODE_CODES
from dcsim.power import host_power_w
from dcsim.sim import Controls, Simulation, StepRecord
from dcsim.workload import PhaseClock

MEMO_MAX = 1 << 20  # cached lookups per series before the cache starts over (memory bound)


# The compiled step's tables (dcsim.sim_kernel.step_halls), here so that the envs can hold
# them without importing numba.
# scenario constants (sim_kernel.params)
(
    P_TDP, P_ACOMP, P_ACOMM, P_AIDLE, P_FMIN, P_SL, P_VF, P_IDLE_W, P_DYN_W, P_MB,
    P_COMPUTE_BASE, P_OVERLAP, P_ACTIVE, P_ACC, P_IDLE_SRV_W, P_PSU, P_SW_RACK, P_DESIGN,
    P_UPS_SIZE, P_UPS_NL, P_UPS_PL, P_UPS_SQ, P_FIXED, P_GBT, P_INLET_REC, P_INLET_LIM,
) = range(26)  # fmt: skip
N_PARAMS = 26
# columns of `lane` (halls, N_LANE): this step's inputs, then its results
L_CAP, L_COMM_S, L_PH_COMM, L_PH_LEFT, L_CI = range(5)  # cap share, all-reduce s, phase, carbon
(
    L_F, L_STEP, L_EXPOSED, L_ITERS, L_COMPLETED, L_ACTIVITY, L_ACCEL_W, L_IT_W, L_FAC_W,
    L_IT_KWH, L_FAC_KWH, L_CARBON_KG, L_PUE, L_INLET_MEAN, L_VIOL, L_TOKENS, L_HOT,
) = range(5, 22)  # fmt: skip
N_LANE = 22


class _Memo:
    """A series' `at(t)`, cached per t; `fill` computes many at once with `at_many`, which is
    the same interpolation element by element (bitwise equal, tests/test_sim_fast.py)."""

    def __init__(self, series: Any) -> None:
        self.series = series
        self.cache: dict[float, Any] = {}

    def at(self, t_s: float) -> Any:
        v = self.cache.get(t_s)
        if v is None:
            if len(self.cache) >= MEMO_MAX:
                self.cache.clear()
            v = self.cache[t_s] = self.series.at(t_s)
        return v

    def fill(self, times: list[float]) -> None:
        """Cache `at(t)` for every t in times (one vectorized lookup)."""
        if not times or (times[0] in self.cache and times[-1] in self.cache):
            return
        if len(self.cache) + len(times) > MEMO_MAX:
            self.cache.clear()
        v = self.series.at_many(np.asarray(times, dtype=float))
        if isinstance(v, WeatherSample):
            cols = (np.asarray(x).tolist() for x in (v.dry_bulb_c, v.wet_bulb_c, v.rh))
            rows = zip(*cols, strict=True)
            self.cache.update(zip(times, (WeatherSample(*r) for r in rows), strict=True))
        else:
            self.cache.update(zip(times, np.asarray(v, dtype=float).tolist(), strict=True))

    def __getattr__(self, name: str) -> Any:  # the series' other attributes and methods
        if name.startswith("__") or name in ("series", "cache"):  # copy/pickle: not set yet
            raise AttributeError(name)
        return getattr(self.series, name)


def interval_starts(t0: float, dt: float, n: int) -> list[float]:
    """t at the start of intervals 0..n, accumulated as `Simulation.step` does (t += dt)."""
    ts, t = [], t0
    for _ in range(n + 1):
        ts.append(t)
        t = t + dt
    return ts


# StepRecord.extra's keys in `Simulation.step`'s order (sorted) and the plant kernel's
# columns they come from (None: the liquid loop's parts, 0.0 on the kernel's scenarios)
_EXTRA = (
    ("cooling_cdu_pump_w", None),
    ("cooling_chiller_w", "O_CHILLER"),
    ("cooling_chw_pump_w", "O_CHW_PUMP"),
    ("cooling_crah_fan_w", "O_CRAH"),
    ("cooling_cw_pump_w", "O_CW_PUMP"),
    ("cooling_drycooler_fan_w", None),
    ("cooling_fws_pump_w", None),
    ("cooling_tower_fan_w", "O_TOWER_FAN"),
    ("cooling_trim_chiller_w", None),
)

_EXTRA_KEYS = tuple(k for k, _ in _EXTRA)


class FastSimulation(Simulation):
    """`Simulation` with weather and carbon lookups memoized (the same numbers,
    tests/test_sim_fast.py). With numba installed its step runs compiled (`dcsim.sim_kernel`,
    the same numbers to a relative 1e-12, tests/test_sim_kernel.py); `use_kernel = False` (or
    DCSIM_NO_JIT=1) keeps `Simulation.step`."""

    use_kernel = True

    def __init__(
        self,
        loaded: LoadedScenario,
        seed: int | None = None,
        *,
        steps: int | None = None,
        carbon_leads_s: tuple[float, ...] = (),
    ) -> None:
        """`steps`: intervals per episode to look up at reset (default the scenario's);
        `carbon_leads_s`: the leads of carbon forecasts read at t + lead (Datacenter-v0's)."""
        self.prefill_steps = steps
        self.carbon_leads_s = tuple(carbon_leads_s)
        super().__init__(loaded, seed)

    def _server_kinds(self) -> None:
        """Servers are of two kinds, active (the job's activity and clock) and idle: each
        rack's servers in order as a pattern of kinds, for the kernel and the batched env to
        sum as `rack_wall_power_w` sums servers (`np.bincount`: 0.0 + the first server + ...)."""
        kind = np.where(self.active, 0, 1)
        patterns: dict[tuple[int, ...], int] = {}
        rack_pattern = np.empty(self.n_racks, dtype=np.int64)
        for r in range(self.n_racks):
            key = tuple(kind[self.server_rack == r].tolist())
            rack_pattern[r] = patterns.setdefault(key, len(patterns))
        self._patterns = list(patterns)
        self._rack_pattern = rack_pattern
        host2 = host_power_w(self.host_w, np.array([1.0, 0.0])).tolist()  # active, idle
        self._host_sums = np.array([pattern_sum(p, host2) for p in self._patterns])

    # ------------------------------------------------------------ compiled step
    def kernel(self) -> Any:
        """(dcsim.sim_kernel, its constant arguments, this sim's buffers) loaded on the first
        step (numba costs ~0.3 s to import), or None: numba missing, DCSIM_NO_JIT=1,
        `use_kernel` off, or a scenario the kernel does not cover (`sim_kernel.usable`)."""
        kern = self.__dict__.get("_kern")
        if kern is None:
            kern = False
            if self.use_kernel:
                try:
                    mod = importlib.import_module("dcsim.sim_kernel")
                except ImportError:  # numba missing: Simulation.step
                    mod = None
                if mod is not None and mod.usable(self):
                    from dcsim.cooling import fast

                    n = self.n_racks
                    bufs = (
                        np.zeros((1, N_LANE)),
                        np.ones((1, n)),
                        np.zeros((1, n)),
                        np.zeros((2, self.n_servers)),
                        np.zeros((4, 1, n)),
                        np.zeros((1, fast.N_HALL)),
                    )
                    # the extra columns of the hall table; -1 reads the 0.0 appended to it
                    cols = [getattr(fast, c) if c else -1 for _, c in _EXTRA]
                    no_throttle = np.ones(n)  # shared by the steps without a hot inlet
                    no_throttle.flags.writeable = False
                    self._thr_in: np.ndarray | None = None  # the throttle last copied to thr
                    static = mod.static_args(self)
                    # the step's argument runs around the buffers, and the two tables' rows
                    kern = (mod, (static[:7], static[7:], bufs[0][0], bufs[5][0]), bufs,
                            operator.itemgetter(*cols), no_throttle)  # fmt: skip
            self._kern = kern
        return kern or None

    def __getstate__(self) -> dict[str, Any]:
        """Picklable and deep-copyable: the compiled code is left out and loaded again on the
        next step (the plant, `throttle` and `phase` hold the state)."""
        state = self.__dict__.copy()
        state.pop("_kern", None)
        return state

    def step(self, controls: Controls | None = None) -> StepRecord:
        kern = self.__dict__.get("_kern") or self.kernel()
        if kern is None:
            return super().step(controls)
        (mod, (static_a, static_b, lane0, hall0), (lane, thr, p, srv, racks, hall), extra_of,
         no_throttle) = kern  # fmt: skip
        c = controls or Controls()
        if c.economizer is not None and c.economizer not in MODE_CODES:
            return super().step(c)  # a mode without a kernel code: the readable path's answer
        sc = self.sc
        # the controls as Simulation.step takes them (its min(max(x, lo), hi) clamps as
        # conditionals: the same values, NaN kept, without two builtin calls each)
        if c.cap_frac is not None:
            x, lo = float(c.cap_frac), sc.power.min_cap_frac
            self.cap_frac = lo if x < lo else (1.0 if x > 1.0 else x)
        if c.routing is not None:
            self.routing = c.routing
        if c.supply_air_c is not None:
            x = float(c.supply_air_c)
            self.supply_air_c = 10.0 if x < 10.0 else (35.0 if x > 35.0 else x)
        chw = None
        if c.chw_supply_c is not None:
            x = float(c.chw_supply_c)
            chw = 4.0 if x < 4.0 else (25.0 if x > 25.0 else x)
        plant = self.plant
        if chw is None or c.economizer is None:  # the plant's own CHW reset and mode
            _, chw_set, econ = plant.setpoints(
                CoolingControls(self.supply_air_c, chw, cast(Any, c.economizer))
            )
        else:
            chw_set, econ = chw, c.economizer
        air, water = plant.air, plant.water
        if air.t_in.base is not racks:  # a reset or a readable step replaced the state
            mod.fast.hold_air_state(air, racks)
        e, job = self.engine, self.job  # the engine's state, read and written directly
        if e.throttle is not no_throttle or self._thr_in is not no_throttle:
            thr[0] = e.throttle  # (the kernel's copy already holds the shared ones)
            self._thr_in = e.throttle
        t_start = e.t
        t_mid = t_start + 0.5 * self.dt
        ws = self.weather.at(t_mid)
        ci = float(self.carbon.at(t_mid))
        db, wb = float(ws.dry_bulb_c), float(ws.wet_bulb_c)
        ph = job.phase if job is not None else PhaseClock()
        lane0[:5] = self.cap_frac, self.comm_time(self.routing), ph.comm, ph.left, ci
        hall0[:8] = (air.t_supply, water.p_chiller_prev, water.t_cond_prev, self.supply_air_c,
                     chw_set, MODE_CODES[econ], wb, db)  # fmt: skip
        mod.step_halls(*static_a, lane, thr, p, srv, *static_b, racks, hall, self.dt)
        o, ln = hall0.tolist(), lane0.tolist()
        air.t_supply, water.p_chiller_prev, water.t_cond_prev = o[:3]
        active = self.n_active > 0
        if active:
            assert job is not None
            job.phase = PhaseClock(ln[L_PH_COMM] != 0.0, ln[L_PH_LEFT])
            self.total_iterations += int(ln[L_COMPLETED])
        if ln[L_HOT] == 0.0:
            e.throttle, throttle_min = no_throttle, 1.0
        else:
            thr_new = thermal_throttle(sc.cooling, racks[0, 0].copy(), None, plant.clock_for_power)
            e.throttle = np.asarray(thr_new, dtype=float)
            throttle_min = float(e.throttle.min())
        fo = mod.fast
        # positional, in StepRecord's field order (its keywords cost ~3x as much)
        rec = StepRecord(
            t_start - self.t0,  # t_s
            db,  # outdoor_c
            wb,  # wetbulb_c
            ci,  # carbon_g_per_kwh
            self.supply_air_c,
            self.cap_frac,
            ln[L_F],  # freq_frac
            throttle_min,
            ln[L_ACTIVITY],
            ln[L_IT_W],
            ln[L_ACCEL_W],
            o[fo.O_COOLING],
            ln[L_FAC_W],
            ln[L_PUE],
            o[fo.O_INLET_MAX],
            ln[L_INLET_MEAN],
            ln[L_VIOL],  # violation_c
            ln[L_STEP] if active else 0.0,  # step_time_s
            ln[L_EXPOSED] if active else 0.0,  # exposed_comm_s
            ln[L_TOKENS] if active else 0.0,  # tokens_per_s
            ln[L_ITERS],
            ln[L_IT_KWH],
            ln[L_FAC_KWH],
            ln[L_CARBON_KG],
            o[fo.O_WATER_L],
            dict(zip(_EXTRA_KEYS, extra_of(o + [0.0]), strict=True)),  # extra
        )
        e.t = t_start + self.dt
        e.k += 1
        self.last = rec
        return rec

    def reset(self, seed: int | None = None) -> None:
        if not hasattr(self, "_patterns"):
            self._server_kinds()
        memos = {}
        for name in ("weather", "carbon"):  # the base reset rebuilds them for a new seed
            v = getattr(self, name, None)
            if isinstance(v, _Memo):
                memos[name] = v
                setattr(self, name, v.series)
        super().reset(seed)
        for name in ("weather", "carbon"):  # the same series keeps its memo across episodes
            series, memo = getattr(self, name), memos.get(name)
            setattr(
                self, name, memo if memo is not None and memo.series is series else _Memo(series)
            )
        self.prefill(self.prefill_steps or self.sc.time.steps, self.carbon_leads_s)

    def prefill(self, n_steps: int, carbon_leads_s: tuple[float, ...] = ()) -> None:
        """Look up the weather and carbon of intervals 0..n_steps at once (their midpoints, t0,
        and t + each lead for carbon forecasts), so steps read them from the memo."""
        ts = interval_starts(self.t0, self.dt, n_steps)
        mids = [t + 0.5 * self.dt for t in ts]
        weather, carbon = cast(_Memo, self.weather), cast(_Memo, self.carbon)
        weather.fill([ts[0], *mids])
        carbon.fill([ts[0], *mids, *(t + lead for lead in carbon_leads_s for t in ts)])


def pattern_sum(pattern: tuple[int, ...], per_kind: Sequence[Any]) -> Any:
    """A rack's sum over its servers' kinds in order, as `np.bincount` adds them (floats, or
    arrays of copies lane by lane)."""
    acc = 0.0
    for kind in pattern:
        acc += per_kind[kind]
    return acc


__all__ = ["FastSimulation", "interval_starts", "pattern_sum"]
