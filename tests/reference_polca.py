"""The POLCA row and PowerCap-v0 step dcsim ran before issue 17, kept only as the test reference.

A SimPy process ticks the row one second at a time (one `server_wall_w` call on N servers
per tick), and the env scores each priority class with its own bilinear interpolation.
Its cost is a dozen NumPy calls per tick plus SimPy's event loop, which is why dcsim
replaced it with blocks of ticks (`RowSimulation.advance`); its numbers are the ones the
new row and env must reproduce bit for bit (tests/test_polca_speed.py).
"""

from __future__ import annotations

import numpy as np
import simpy

from dcsim.polca import (
    TITANIUM_230V_REDUNDANT,
    RowObservation,
    RowSimulation,
    ServingTable,
    server_wall_power_w,
)


def _interp_rows(grid: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xc = np.minimum(np.maximum(x, grid[0]), grid[-1])
    k = np.minimum(np.searchsorted(grid, xc, side="right") - 1, grid.size - 2)
    w = (xc - grid[k]) / (grid[k + 1] - grid[k])
    return k, w


def bilinear(table: ServingTable, z: np.ndarray, rho: np.ndarray, f: np.ndarray) -> np.ndarray:
    za = z[:, ::-1]  # f ascending
    i, wi = _interp_rows(table.rho_grid, np.asarray(rho, dtype=float))
    j, wj = _interp_rows(table.f_grid[::-1], np.asarray(f, dtype=float))
    lo = (1 - wj) * za[i, j] + wj * za[i, j + 1]
    hi = (1 - wj) * za[i + 1, j] + wj * za[i + 1, j + 1]
    return (1 - wi) * lo + wi * hi


class ReferenceRow(RowSimulation):
    """`RowSimulation` with the per-tick SimPy process and per-mask slowdown of before."""

    def server_wall_w(self, t, f):  # type: ignore[no-untyped-def]
        c, tab = self.cfg, self.table
        rho = self.rho[t]
        i, wi = _interp_rows(tab.rho_grid, self.rho[t])
        j, wj = _interp_rows(self._fa, np.asarray(f, dtype=float))
        pw_a = tab.gpu_power_w[:, ::-1]
        sd_a = tab.gpu_power_std_w[:, ::-1]

        def lerp2(za: np.ndarray) -> np.ndarray:
            lo = za[i, j] + wj * (za[i, j + 1] - za[i, j])
            hi = za[i + 1, j] + wj * (za[i + 1, j + 1] - za[i + 1, j])
            return lo + wi * (hi - lo)

        gpu = np.maximum(
            lerp2(pw_a) + lerp2(sd_a) * self.noise[t], tab.n_gpus * self.profile.idle_w
        )
        load = np.clip(rho, 0.0, 1.0)
        host = tab.host_w * (c.host_idle_fraction + (1 - c.host_idle_fraction) * load)
        heat_frac = np.clip((gpu + host) / tab.rated_w, 0.0, 1.0)
        fans = c.fan_max_w * np.maximum(c.fan_min_speed, heat_frac) ** 3
        return server_wall_power_w(
            gpu, host, TITANIUM_230V_REDUNDANT, psu_rated_w=c.psu_rated_w, fan_w=fans
        )

    def start(self, brake: bool = True) -> None:
        super().start(brake)
        self.env = simpy.Environment()
        self.env.process(self._tick())

    def _tick(self):  # type: ignore[no-untyped-def]
        c = self.cfg
        thr = c.brake_threshold * self.budget_w
        rel = (c.brake_threshold - c.brake_release_hysteresis) * self.budget_w
        for t in range(self.T):
            now = float(t)
            due = self.pend_t <= now
            if due.any():
                self.f_cmd[due] = self.pend_val[due]
                self.pend_t[due] = np.inf
            if not self.brake_active and self.brake_pending_t <= now:
                self.brake_active = True
                self.brake_start = now
                self.brake_pending_t = np.inf
                self.brake_events += 1
                self.brake_onsets.append(now)
            f = np.minimum(self.f_cmd, self.brake_f) if self.brake_active else self.f_cmd
            self.f_eff[t] = f
            self.brake_on[t] = self.brake_active
            p = float(self.server_wall_w(t, f).sum())
            self.row_w[t] = p
            self.t_idx = t + 1
            if (
                self.brake_enabled
                and p > thr
                and not self.brake_active
                and not np.isfinite(self.brake_pending_t)
            ):
                delay = self._rng.uniform(0.0, c.brake_delay_max_s)
                self.brake_pending_t = now + max(1.0, np.ceil(delay))
                self.brake_triggers.append(now)
            if self.brake_active and now - self.brake_start >= c.brake_hold_s and p < rel:
                self.brake_active = False
            yield self.env.timeout(1.0)

    @property
    def now(self) -> float:  # type: ignore[override]
        return float(self.env.now)

    @now.setter
    def now(self, value: float) -> None:  # start() sets it; SimPy's clock is the reference's
        pass

    def advance(self, dt: float) -> None:
        self.env.run(until=min(self.env.now + dt, float(self.T)))

    def observe(self) -> RowObservation:
        t = max(self.t_idx - 1, 0)
        k = max(1, int(round(self.cfg.control_period_s)))
        lo = max(0, self.t_idx - k)
        avg = self.row_w[lo : self.t_idx].mean() if self.t_idx > lo else 0.0
        hp = self.priority_high
        return RowObservation(
            t_s=float(self.env.now),
            row_power_frac=float(self.row_w[t] / self.budget_w),
            row_power_frac_avg=float(avg / self.budget_w),
            brake_active=self.brake_active,
            lp_clock_frac=float(np.median(self.f_cmd[~hp])) if (~hp).any() else 1.0,
            hp_clock_frac=float(np.median(self.f_cmd[hp])) if hp.any() else 1.0,
        )

    def slowdown(self, t0: int, t1: int, mask: np.ndarray) -> float:
        if t1 <= t0 or not mask.any():
            return 1.0
        rho = self.rho[t0:t1][:, mask].ravel()
        f = self.f_eff[t0:t1][:, mask].ravel()
        s = bilinear(self.table, self.table.p50_slowdown, rho, f)
        w = self.counts[t0:t1][:, mask].ravel().astype(float)
        tot = w.sum()
        return float((s * w).sum() / tot) if tot > 0 else float(s.mean())

    def command(self, lp_f: float, hp_f: float) -> None:
        lp_f = float(np.clip(lp_f, self.f_min, 1.0))
        hp_f = float(np.clip(hp_f, self.f_min, 1.0))
        if lp_f < self._last_lp - 1e-9 or hp_f < self._last_hp - 1e-9:
            self.cap_events += 1
        target = np.where(self.priority_high, hp_f, lp_f)
        changed = target != np.where(np.isfinite(self.pend_t), self.pend_val, self.f_cmd)
        if changed.any():
            delay = self._rng.uniform(0.0, self.cfg.cap_delay_max_s, changed.sum())
            self.pend_val[changed] = target[changed]
            self.pend_t[changed] = self.env.now + np.maximum(delay, 0.0)
        self._last_lp, self._last_hp = lp_f, hp_f

    def run(self, controller=None, brake: bool = True):  # type: ignore[no-untyped-def]
        self.start(brake=brake)
        if controller is None and not brake:
            self.row_w[:] = self.server_wall_w(slice(None), np.ones((self.T, self.N))).sum(axis=1)
            self.t_idx = self.T
            return self.result()
        if controller is not None:
            period = self.cfg.control_period_s

            def ctl():  # type: ignore[no-untyped-def]
                yield self.env.timeout(period + 0.5)
                while True:
                    act = controller(self.observe())
                    if act is not None:
                        self.command(*act)
                    yield self.env.timeout(period)

            self.env.process(ctl())
        self.env.run(until=float(self.T))
        return self.result()


# ---------------------------------------------------------------------------- PowerCap-v0
def reference_power_cap_env(**kwargs):  # type: ignore[no-untyped-def]
    """PowerCap-v0 with the step, observation and metrics code of before, on `ReferenceRow`."""
    from dcsim.envs.contract import weigh
    from dcsim.envs.power_cap import PowerCapEnv
    from dcsim.polca import action_to_clock

    class ReferencePowerCapEnv(PowerCapEnv):
        def _obs(self, o: RowObservation) -> np.ndarray:
            sim = self.sim
            t = max(sim.t_idx - 1, 0)
            vals = {
                "row_power_frac": o.row_power_frac,
                "row_power_frac_avg": o.row_power_frac_avg,
                "row_load": float(sim.rho[t].mean()),
                "brake_active": 1.0 if o.brake_active else 0.0,
                "lp_clock_frac": o.lp_clock_frac,
                "hp_clock_frac": o.hp_clock_frac,
                "time_frac": self._steps / self.max_steps,
                "servers": sim.N,
            }
            return self._encode.named(vals)

        def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
            super(PowerCapEnv, self).reset(seed=seed)
            sub_seed = int(self.np_random.integers(0, 2**31 - 1))
            cfg = self.row_cfg.model_copy(update={"seed": sub_seed})
            self.sim = ReferenceRow(cfg, self.table)
            self.sim.start(brake=True)
            self.sim.advance(1.0)
            self._steps = 0
            self._brakes = self.sim.brake_events
            o = self.sim.observe()
            return self._obs(o), {"metrics": self._metrics(0, self.sim.t_idx, o)}

        def _metrics(self, t0: int, t1: int, o: RowObservation) -> dict[str, float]:
            sim = self.sim
            frac = sim.row_w[t0:t1] / sim.budget_w if t1 > t0 else np.zeros(1)
            hp = sim.priority_high
            return {
                "row_power_frac_peak": float(frac.max()),
                "row_power_frac_mean": float(frac.mean()),
                "brake_events_total": float(sim.brake_events),
                "brake_active": float(sim.brake_active),
                "lp_clock_frac": o.lp_clock_frac if (~hp).any() else float("nan"),
                "hp_clock_frac": o.hp_clock_frac if hp.any() else float("nan"),
                "electricity_usd": float(sim.row_w[t0:t1].sum()) / 3.6e6 * self.usd_per_kwh,
            }

        def step(self, action):  # type: ignore[no-untyped-def]
            sim = self.sim
            lp, hp = action_to_clock(np.asarray(action, dtype=float).reshape(2), self.clock_lo)
            sim.command(float(lp), float(hp))
            t0 = sim.t_idx
            sim.advance(self.period)
            t1 = sim.t_idx
            self._steps += 1
            frac = sim.row_w[t0:t1] / sim.budget_w
            braked = float(sim.brake_on[t0:t1].sum())
            hp_mask = sim.priority_high
            brakes = sim.brake_events - self._brakes
            self._brakes = sim.brake_events
            raw = {
                "over_budget": -float(np.maximum(frac - 1.0, 0.0).mean() * 100.0)
                if t1 > t0
                else 0.0,
                "brake": -braked / self.period,
                "brake_event": -float(brakes),
                "hp_latency": -(sim.slowdown(t0, t1, hp_mask) - 1.0) * 100.0,
                "lp_latency": -(sim.slowdown(t0, t1, ~hp_mask) - 1.0) * 100.0,
                "cost": -float(frac.mean()) if t1 > t0 else 0.0,
            }
            terms = weigh(self.weights, raw)
            reward = float(sum(terms.values()))
            truncated = bool(self._steps >= self.max_steps or sim.done)
            o = sim.observe()
            over_w = np.maximum(sim.row_w[t0:t1] - sim.budget_w, 0.0)
            cost = {
                "brakes": float(brakes),
                "brake_s": braked,
                "over_budget_kw_min": float(over_w.sum()) / 1000.0 / 60.0,
            }
            info = {"reward_terms": terms, "metrics": self._metrics(t0, t1, o), "cost": cost}
            return self._obs(o), reward, False, truncated, info

    return ReferencePowerCapEnv(**kwargs)
