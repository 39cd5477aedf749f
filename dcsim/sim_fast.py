"""The Simulation's fast path for Datacenter-v0: server power once per kind of server, memoized
weather and carbon.

`FastSimulation` is a `dcsim.sim.Simulation` (the same job phases, `dcsim.workload.PhaseClock`)
that computes server power once per kind of server (active, idle) and sums each rack's pattern
of kinds as `dcsim.power.rack_wall_power_w` sums its servers (accelerators and hosts in server
order, then the PSUs), and looks the episode's weather and carbon up at reset (`at_many`,
bitwise equal to `at`). Same numbers as `Simulation` (tests/test_sim_fast.py). Datacenter-v0
and its batched vector env (`dcsim.envs.datacenter_vector`) step this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from dcsim.climate import WeatherSample
from dcsim.config import LoadedScenario
from dcsim.power import PHASE_ACTIVITY, host_power_w, server_wall_power_w
from dcsim.sim import Simulation

MEMO_MAX = 1 << 20  # cached lookups per series before the cache starts over (memory bound)


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
    """`Simulation` with server power once per kind of server and weather and carbon lookups
    memoized; the same numbers (tests/test_sim_fast.py)."""

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
        rack's servers in order as a pattern of kinds, summed as `rack_wall_power_w` sums them
        (`np.bincount`: 0.0 + the first server + the next ...)."""
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

    def _server_power(self, act_active: float, f: float) -> tuple[np.ndarray, float, float]:
        """`Simulation._server_power` computed once per kind of server: the same numbers."""
        idle = PHASE_ACTIVITY["idle"]
        pw, n = self.power, self.acc_per_server
        accel2 = [pw.power_w_scalar(act_active, f) * n, pw.power_w_scalar(idle, 1.0) * n]
        acc_sums = np.array([pattern_sum(p, accel2) for p in self._patterns])
        wall = server_wall_power_w(acc_sums, self._host_sums, self.psu_eff)
        rack_w = wall[self._rack_pattern] + self.switch_w / self.n_racks
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
