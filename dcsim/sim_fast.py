"""The Simulation's fast path: the training job's SimPy process in closed form, memoized lookups.

`dcsim.sim.Simulation` runs the job as a SimPy process (compute, then the exposed all-reduce,
each phase re-timed at the interval's clock; `Simulation._job`), which is the readable model.
Within one control interval the step time is constant, so where the job stands at the end of
the interval follows in closed form from where it stood at its start: finish the phase in
progress, run whole iterations, then part of one. `job_interval` (one job) and
`job_interval_batch` (arrays of jobs, the same operations in the same order, so each lane
equals the scalar answer bitwise) give the time booked to each phase, the iterations and the
completed steps, and the phase and share of it left, as the SimPy process books them
(`tests/test_sim_fast.py`: the same completed steps and phase times to 1e-9 s, SimPy's own
rounding of its absolute clock, over random intervals, zero-length phases and phases ending
exactly at the interval's end included). `FastSimulation` is a `Simulation` that uses it,
computes server power once per kind of server (active, idle), and looks the episode's weather
and carbon up at reset (`at_many`, bitwise equal to `at`). Datacenter-v0 and its batched
vector env step this; `dcsim run` keeps the SimPy process.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

from dcsim.climate import WeatherSample
from dcsim.config import LoadedScenario
from dcsim.power import PHASE_ACTIVITY, server_wall_power_w
from dcsim.sim import JobAccounting, Simulation

# A phase with at most this share of its work left counts as done (as `Simulation._job`).
LEFT_EPS = 1e-9
MEMO_MAX = 1 << 20  # cached lookups per series before the cache starts over (memory bound)


def job_interval(
    comm: bool, left: float, compute_s: float, exposed_s: float, dt: float
) -> tuple[float, float, float, int, bool, float]:
    """One interval of dt s at a constant step time (compute_s, then exposed_s, per iteration),
    starting in the comm phase if `comm` with `left` (0, 1] of that phase's work to do.

    Returns (compute s, comm s, iterations, completed steps, comm, left) as `Simulation._job`
    books them. A phase that ends exactly at the interval's end is closed by the interval's
    interrupt, so a zero-length phase after it waits for the next interval, as in SimPy.
    """
    total = compute_s + exposed_s
    cs = es = 0.0
    done = 0
    r = (exposed_s if comm else compute_s) * left  # the rest of the phase in progress, s
    if r >= dt:  # it lasts to the interval's end (or past it): interrupted there
        phase, dur, spent, left_in = comm, r, dt, left
    else:  # it ends inside the interval, then whole iterations, then part of one
        if comm:
            es += r
            done += 1
        else:
            cs += r
        rest = dt - r
        m = math.floor(rest / total)
        rest = max(rest - m * total, 0.0)  # rounding of m * total: the cycle ended at dt
        cs += m * compute_s
        es += m * exposed_s
        done += m
        first = not comm
        l1 = exposed_s if first else compute_s
        if m > 0 and rest == 0.0 and (exposed_s if comm else compute_s) == 0.0:
            # the last iteration's phase before a zero-length one ended exactly at dt: the
            # interrupt closed it, the zero-length phase waits for the next interval
            done -= 1 if comm else 0
            phase, dur, spent, left_in = comm, 0.0, 0.0, 1.0
        elif rest > l1:  # the next phase ends before dt, then part of the one after
            if first:
                es += l1
                done += 1
            else:
                cs += l1
            phase, dur, spent, left_in = comm, exposed_s if comm else compute_s, rest - l1, 1.0
        else:
            phase, dur, spent, left_in = first, l1, rest, 1.0
    frac = min(spent / dur, 1.0) if dur > 0 else 0.0
    left = left_in * (1.0 - frac)
    if phase:
        es += spent
    else:
        cs += spent
    if left <= LEFT_EPS:
        if phase:
            done += 1
        phase, left = not phase, 1.0
    return cs, es, dt / total, done, phase, left


def job_interval_batch(
    comm: np.ndarray, left: np.ndarray, compute_s: np.ndarray, exposed_s: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`job_interval` lane by lane over arrays of jobs: the same operations in the same order
    (each branch a mask), so every lane equals the scalar answer bitwise."""
    total = compute_s + exposed_s
    r = np.where(comm, exposed_s, compute_s) * left
    a = r >= dt  # lanes whose phase in progress outlasts the interval
    # branch B (the phase in progress ends inside the interval)
    es = np.where(comm, r, 0.0)
    cs = np.where(comm, 0.0, r)
    done = comm.astype(np.int64)
    rest = dt - r
    m = np.floor(rest / total)
    rest = np.maximum(rest - m * total, 0.0)
    cs = cs + m * compute_s
    es = es + m * exposed_s
    done = done + m.astype(np.int64)
    first = ~comm
    l1 = np.where(first, exposed_s, compute_s)
    two = rest > l1
    es = np.where(two & first, es + l1, es)
    cs = np.where(two & ~first, cs + l1, cs)
    done = done + (two & first)
    phase = np.where(two, comm, first)
    dur = np.where(two, np.where(comm, exposed_s, compute_s), l1)
    spent = np.where(two, rest - l1, rest)
    left_in = np.ones_like(left)
    pend = (m > 0) & (rest == 0.0) & (np.where(comm, exposed_s, compute_s) == 0.0)
    done = done - (pend & comm)
    phase = np.where(pend, comm, phase)
    dur = np.where(pend, 0.0, dur)
    spent = np.where(pend, 0.0, spent)
    # branch A
    phase = np.where(a, comm, phase)
    dur = np.where(a, r, dur)
    spent = np.where(a, dt, spent)
    left_in = np.where(a, left, left_in)
    cs = np.where(a, 0.0, cs)
    es = np.where(a, 0.0, es)
    done = np.where(a, 0, done)
    # the partial phase at the interval's end
    pos = dur > 0
    frac = np.where(pos, np.minimum(spent / np.where(pos, dur, 1.0), 1.0), 0.0)
    left = left_in * (1.0 - frac)
    es = np.where(phase, es + spent, es)
    cs = np.where(phase, cs, cs + spent)
    sw = left <= LEFT_EPS
    done = done + (sw & phase)
    phase = np.where(sw, ~phase, phase)
    left = np.where(sw, 1.0, left)
    return cs, es, dt / total, done, phase, left


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


class FastSimulation(Simulation):
    """`Simulation` with the job in closed form (`job_interval`) instead of its SimPy process,
    and weather and carbon lookups memoized; the same numbers (tests/test_sim_fast.py)."""

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
        rack's servers in order as a pattern of kinds, summed like `np.bincount` sums them."""
        kind = np.where(self.active, 0, 1)
        patterns: dict[tuple[int, ...], int] = {}
        rack_pattern = np.empty(self.n_racks, dtype=np.int64)
        for r in range(self.n_racks):
            key = tuple(kind[self.server_rack == r].tolist())
            rack_pattern[r] = patterns.setdefault(key, len(patterns))
        self._patterns = list(patterns)
        self._rack_pattern = rack_pattern
        self._host2 = self.host_w * np.array([1.0, self.host_idle_frac])

    def _server_power(self, act_active: float, f: float) -> tuple[np.ndarray, float, float]:
        """`Simulation._server_power` computed once per kind of server: the same numbers."""
        idle = PHASE_ACTIVITY["idle"]
        pw, n = self.power, self.acc_per_server
        accel2 = np.array([pw.power_w_scalar(act_active, f) * n, pw.power_w_scalar(idle, 1.0) * n])
        wall = server_wall_power_w(accel2, self._host2, self.psu_eff).tolist()
        sums = []
        for pattern in self._patterns:
            acc = 0.0
            for kind in pattern:
                acc += wall[kind]
            sums.append(acc)
        rack_w = np.array(sums)[self._rack_pattern] + self.switch_w / self.n_racks
        activity = np.where(self.active, act_active, idle)
        accel_w = np.where(self.active, accel2[0], accel2[1])
        return rack_w, float(activity.sum() / activity.size), float(accel_w.sum())

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
        self._comm, self._left = False, 1.0  # the job starts its first compute phase
        self.prefill(self.prefill_steps or self.sc.time.steps, self.carbon_leads_s)

    def prefill(self, n_steps: int, carbon_leads_s: tuple[float, ...] = ()) -> None:
        """Look up the weather and carbon of intervals 0..n_steps at once (their midpoints, t0,
        and t + each lead for carbon forecasts), so steps read them from the memo."""
        ts = interval_starts(self.t0, self.dt, n_steps)
        mids = [t + 0.5 * self.dt for t in ts]
        weather, carbon = cast(_Memo, self.weather), cast(_Memo, self.carbon)
        weather.fill([ts[0], *mids])
        carbon.fill([ts[0], *mids, *(t + lead for lead in carbon_leads_s for t in ts)])

    def _run_job(self, t_end: float) -> JobAccounting:
        acc = self.acct
        acc.reset()
        if self._proc is not None:
            st = self._cur_step
            cs, es, it, done, self._comm, self._left = job_interval(
                self._comm, self._left, st.compute_s, st.exposed_comm_s, self.dt
            )
            acc.compute_s, acc.comm_s, acc.iterations, acc.completed = cs, es, it, done
        return acc


__all__ = ["FastSimulation", "interval_starts", "job_interval", "job_interval_batch"]
