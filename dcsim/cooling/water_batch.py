"""The water side (`ChilledWaterPlant.step`) of many halls at once, over arrays of halls.

Why: the batched Cooling-v0 steps N halls; stepping their water sides one by one in Python is
most of its time. This is the same physics as `ChilledWaterPlant.step` (the readable reference,
which stays the single env's path), written lane-wise: every branch becomes a mask; every
operating option (mechanical, 'on', full free cooling, each fan stage) is evaluated in one
(options, lanes) pass and the scalar search order of `_cheapest` is replayed on the totals with
a per-lane stop mask; the Newton solve of the tower's saturated exit air iterates on the lanes
not yet converged (a lane stops where the scalar loop breaks). Each arithmetic expression keeps the
scalar code's operation order, and every transcendental (exp, pow) is evaluated per lane by the
same Python `math`/`**` calls as the scalar path, so each lane equals the scalar answer bitwise
(tests/test_water_batch.py) whatever SIMD math library NumPy was built with.

All halls share one `ChilledWaterPlant` sizing (one CoolingConfig and design load); each has
its own state (previous chiller power and condenser water), passed in and returned as arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dcsim.cooling.config import RHO_CP_WATER, RHO_WATER
from dcsim.cooling.equipment import P_ATM, Pump, part_load, saturated_enthalpy_slope
from dcsim.cooling.water import ChilledWaterPlant

MODE_OFF, MODE_AUTO, MODE_ON = 0, 1, 2
MODE_CODES = {"off": MODE_OFF, "auto": MODE_AUTO, "on": MODE_ON}

Arr = np.ndarray


def _lanes(f: Callable[[float], float], x: Arr) -> Arr:
    """f per lane with Python floats: bitwise the scalar path's libm result."""
    return np.array([f(v) for v in x.ravel().tolist()], dtype=float).reshape(x.shape)


def _exp(x: Arr) -> Arr:
    return _lanes(math.exp, x)


def _pow(x: Arr, e: float) -> Arr:
    return np.array([v**e for v in x.ravel().tolist()], dtype=float).reshape(x.shape)


def _sat_w(t: Arr) -> Arr:
    """`saturation_humidity_ratio` per lane."""
    es = 610.94 * _exp(17.625 * t / (t + 243.04))
    return 0.622 * es / (P_ATM - es)


def _pump_power(pump: Pump, flow: Arr) -> Arr:
    """`Pump.power` per lane."""
    q = flow / pump.flow_design if pump.flow_design > 0 else np.zeros_like(flow)
    if pump._curve is not None:
        return pump.power_design * part_load(pump._curve, q)
    pu = pump.cfg
    dp = pump.dp_design * (pu.static_fraction + (1.0 - pu.static_fraction) * q * q)
    return dp * flow / pu.efficiency


def _biquadratic(c: tuple[float, ...], x: Arr, y: Arr) -> Arr:
    return c[0] + c[1] * x + c[2] * x * x + c[3] * y + c[4] * y * y + c[5] * x * y


@dataclass(slots=True)
class WaterBatch:
    """`WaterStep` fields (those the envs use) per hall, plus the new state."""

    chiller_w: Arr
    tower_fan_w: Arr
    chw_pump_w: Arr
    cw_pump_w: Arr
    chw_supply_c: Arr
    economizer_fraction: Arr
    chiller_plr: Arr
    chiller_load_w: Arr
    condenser_c: Arr
    heat_rejected_w: Arr
    tower_fan_speed: Arr
    water_l: Arr
    evaporation_l: Arr
    drift_l: Arr
    blowdown_l: Arr


class ChilledWaterBatch:
    """`ChilledWaterPlant.step` over arrays of halls sized like `plant`."""

    def __init__(self, plant: ChilledWaterPlant):
        self.w = plant
        ch = plant.chiller
        self.ch = ch
        self._chw_lo, self._chw_hi = ch._chw_lo, ch._chw_hi
        self._cond_lo, self._cond_hi = ch._cond_lo, ch._cond_hi
        tw = plant.tower
        self._min_speed_pow = tw.cfg.min_fan_speed ** (-tw.cfg.airflow_exponent)

    # ---------------------------------------------------------------- components
    def _carnot_eir(self, t_chw: Arr, t_cond: Arr) -> Arr:
        ch = self.ch.cfg
        t_e = t_chw - ch.evaporator_approach_k + 273.15
        t_c = t_cond + ch.condenser_approach_k + 273.15
        return np.maximum(t_c - t_e, 1.0) / t_e

    def _capacity(self, t_chw: Arr, t_cond: Arr) -> Arr:
        x = np.minimum(np.maximum(t_chw, self._chw_lo), self._chw_hi)
        y = np.minimum(np.maximum(t_cond, self._cond_lo), self._cond_hi)
        return self.ch.cap_ref * np.maximum(_biquadratic(self.ch._capft, x, y), 0.05)

    def _chiller_power(self, q: Arr, t_chw: Arr, t_cond: Arr) -> tuple[Arr, Arr, Arr]:
        """`Chiller.power` per lane."""
        chl = self.ch
        ch = chl.cfg
        x = np.minimum(np.maximum(t_chw, self._chw_lo), self._chw_hi)
        y = np.minimum(np.maximum(t_cond, self._cond_lo), self._cond_hi)
        cap = chl.cap_ref * np.maximum(_biquadratic(chl._capft, x, y), 0.05)
        plr = q / cap
        pmin = ch.min_plr
        plr_eval = np.minimum(np.maximum(plr, pmin), 1.0)
        cycling = np.minimum(1.0, plr / pmin)
        eir_t = _biquadratic(chl._eirft, x, y)
        carnot = self._carnot_eir(t_chw, t_cond)
        if ch.out_of_bounds == "carnot":
            oob = (x != t_chw) | (y != t_cond)
            eir_t = np.where(oob, eir_t * (carnot / self._carnot_eir(x, y)), eir_t)
        c = chl._eirfplr
        eir = eir_t * np.maximum(c[0] + c[1] * plr_eval + c[2] * plr_eval * plr_eval, 0.01)
        power = cap / ch.cop_ref * eir * cycling
        floor = np.minimum(q, cap) * np.maximum(
            carnot / ch.max_second_law_efficiency, 1.0 / ch.cop_max
        )
        zero = q <= 0.0
        return (
            np.where(zero, 0.0, np.maximum(power, floor)),
            np.where(zero, 0.0, plr),
            np.where(zero, chl.cap_ref, cap),
        )

    def _fan(self, q: Arr, target: Arr, wb: Arr, wbf: Arr) -> tuple[Arr, Arr]:
        """`CoolingTower.fan` (`heat_exchanger_fan`) per lane."""
        tw = self.w.tower
        n, smin = tw.cfg.airflow_exponent, tw.cfg.min_fan_speed
        a1 = tw.cfg.rating_approach_k * wbf * np.maximum(q, 0.0) / tw.rated_w
        room = target - wb
        idle = a1 <= 0.0
        full = ~idle & (room <= a1)
        mid = ~idle & ~full
        ratio = np.where(mid, a1 / np.where(mid, room, 1.0), 1.0)
        phi = _pow(ratio, 1.0 / n)
        slow = mid & (phi < smin)
        phi_out = np.where(idle | slow, smin, np.where(full, 1.0, phi))
        t_out = np.where(
            idle,
            np.maximum(target, wb),
            np.where(full, wb + a1, np.where(slow, wb + a1 * self._min_speed_pow, target)),
        )
        return phi_out, t_out

    def _fan_power(self, phi: Arr) -> Arr:
        """`CoolingTower.fan_power` per lane."""
        tower = self.w.tower
        return tower.fan_rated_w * part_load(tower.fan_curve, phi)

    def _options(
        self,
        q_chw: Arr,
        chw_set: Arr,
        chw_flow: Arr,
        econ: Arr,
        t_act: Arr,
        phi: Arr,
        t_cw: Arr,
        fan_w: Arr,
    ) -> list[Arr]:
        """`ChilledWaterPlant._option` on (options, lanes) arrays, given each option's
        economizer share and CHW supply (`Economizer.share`) and fan power at phi."""
        w = self.w
        pu = w.pumps
        t_cond = np.maximum(np.maximum(t_cw, w.cond_min_c), chw_set + w.min_lift_k)
        q_ch = (1.0 - econ) * q_chw
        p_ch, plr, cap = self._chiller_power(q_ch, chw_set, t_cond)
        short = q_ch > cap
        if short.any():
            t_act = np.where(
                short, chw_set + (q_ch - cap) / (RHO_CP_WATER * np.maximum(chw_flow, 1e-9)), t_act
            )
            p2, plr2, _ = self._chiller_power(cap, chw_set, t_cond)
            p_ch, plr = np.where(short, p2, p_ch), np.where(short, plr2, plr)
        cw_flow = np.maximum(
            (q_ch + p_ch + econ * q_chw) / (RHO_CP_WATER * pu.cw_delta_t_k),
            pu.min_flow * w.cw_pump.flow_design,
        )
        cw_pump_w = _pump_power(w.cw_pump, cw_flow)
        total = p_ch + fan_w + cw_pump_w
        return [total, phi, econ, t_act, q_ch, p_ch, plr, t_cond, cw_pump_w, cw_flow]

    def _search(
        self, opts: list[Arr], first: int, stages: list[float], q_chw: Arr, chw_set: Arr
    ) -> Arr:
        """`ChilledWaterPlant._cheapest`'s choice per lane among the option rows: full free
        cooling (row first), each fan stage (rows first+1...), then mechanical (row 0),
        replaying the scalar order: stop once a faster fan cannot win, a stage must be strictly
        cheaper, mechanical no dearer (tried only if its exact lower bound beats the best)."""
        w = self.w
        tower = w.tower
        tot, phi_all, econ, t_cond = opts[0], opts[1], opts[2], opts[7]
        n = tot.shape[1]
        row = np.full(n, first, dtype=np.intp)
        b_tot, b_phi, b_econ = tot[first], phi_all[first], econ[first]
        going = np.ones(n, dtype=bool)
        for i, phi in enumerate(stages, start=first + 1):
            # a faster fan than one that already gives full free cooling only costs more
            going &= ~(((b_econ >= 1.0) & (phi >= b_phi)) | (tower.fan_power(phi) >= b_tot))
            take = going & (tot[i] < b_tot)
            row = np.where(take, i, row)
            b_tot = np.where(take, tot[i], b_tot)
            b_phi = np.where(take, phi, b_phi)
            b_econ = np.where(take, econ[i], b_econ)
        # mechanical: the chiller alone draws >= min(load, capacity) / cop_max; its condenser
        # water (row 0's) = max(tower water, condenser minimum, chiller floor) as in the scalar
        lower = np.minimum(q_chw, self._capacity(chw_set, t_cond[0])) / w.chiller.cfg.cop_max
        return np.where((lower < b_tot) & (tot[0] <= b_tot), 0, row)

    def _evaporation_kg_s(self, q: Arr, wb: Arr, db: Arr, phi: Arr, slope: Arr) -> Arr:
        """`CoolingTower.evaporation_kg_s` per lane (Newton on all lanes until each converged)."""
        m_a = self.w.tower.air_kg_s_rated * np.maximum(phi, 1e-6)
        db = np.maximum(db, wb)
        ts = np.minimum(wb, db)
        ws = _sat_w(ts)
        w_in = np.maximum(
            ((2501.0 - 2.326 * ts) * ws - 1.006 * (db - ts)) / (2501.0 + 1.86 * db - 4.186 * ts),
            0.0,
        )
        qp = np.maximum(q, 0.0)
        h = 1006.0 * db + w_in * (2.501e6 + 1860.0 * db) + qp / m_a
        t = wb + qp / m_a / slope
        # saturated_temperature_at_enthalpy on the lanes still iterating (a lane stops where
        # the scalar loop breaks); the libm calls of one iteration in one pass per lane
        idx = np.arange(t.shape[0])
        tt, hh = t, h
        for _ in range(20):
            terms = np.array(
                [
                    (e, (v + 243.04) ** 2, (P_ATM - e) ** 2)
                    for v in tt.tolist()
                    for e in (610.94 * math.exp(17.625 * v / (v + 243.04)),)
                ]
            ).reshape(-1, 3)
            es, sq_t, sq_p = terms[:, 0], terms[:, 1], terms[:, 2]
            wsat = 0.622 * es / (P_ATM - es)
            des = es * 17.625 * 243.04 / sq_t
            dw = 0.622 * P_ATM / sq_p * des
            lat = 2.501e6 + 1860.0 * tt
            step = (1006.0 * tt + wsat * lat - hh) / (1006.0 + dw * lat + 1860.0 * wsat)
            tt = tt - step
            t[idx] = tt
            going = ~(np.abs(step) < 1e-9)
            if not going.any():
                break
            idx, tt, hh = idx[going], tt[going], hh[going]
        return m_a * np.maximum(_sat_w(t) - w_in, 0.0)

    # ---------------------------------------------------------------- step
    def step(
        self,
        p_chiller_prev: Arr,
        q_coils_w: Arr,
        chw_setpoint_c: Arr,
        mode: Arr,
        wet_bulb_c: Arr,
        other_tower_w: Arr,
        dt_s: float,
        dry_bulb_c: Arr,
    ) -> WaterBatch:
        """`ChilledWaterPlant.step` for every lane; mode holds MODE_* codes. The new state is
        (chiller_w, condenser_c) of the result."""
        w = self.w
        pu, tower = w.pumps, w.tower
        chw_set, wb = chw_setpoint_c, wet_bulb_c
        if w.q_chw_design > 0:
            flow_frac = np.maximum(q_coils_w / w.q_chw_design, pu.min_flow)
        else:
            flow_frac = np.zeros_like(q_coils_w)
        chw_flow = flow_frac * w.chw_pump.flow_design
        chw_pump_w = _pump_power(w.chw_pump, chw_flow)
        q_chw = np.maximum(q_coils_w + chw_pump_w, 0.0)
        slope = _lanes(saturated_enthalpy_slope, wb)
        wbf = np.minimum(tower.slope_ref / slope, 4.0)
        q_rej_est = q_chw + p_chiller_prev + other_tower_w
        pos = chw_flow > 0
        chw_return = chw_set + np.where(
            pos, q_chw / (RHO_CP_WATER * np.where(pos, chw_flow, 1.0)), 0.0
        )
        floor_c = chw_set + w.min_lift_k
        setp = np.maximum(tower.cfg.condenser_min_c, wb + tower.cfg.control_approach_k)
        mech_target = np.maximum(setp, floor_c)
        # the tower's fan for mechanical cooling (condenser reset) and for the coldest useful
        # water (the economizer's target: 'on', and full free cooling in 'auto'), one pass
        targets = np.array([mech_target, np.maximum(chw_set - w.economizer.hx, 2.0)])
        phis, t_tw = self._fan(q_rej_est, targets, wb, wbf)
        # option rows: 0 mechanical ('off'), 1 'on', 2 full free cooling, 3... fan stages
        a1 = tower.cfg.rating_approach_k * wbf * np.maximum(q_rej_est, 0.0) / tower.rated_w
        stages = [phi for phi in w._fan_stages if phi >= tower.cfg.min_fan_speed]
        n_exp = tower.cfg.airflow_exponent
        ones = np.ones_like(q_chw)
        phi = np.array([phis[0], phis[1], phis[1]] + [ones * st for st in stages])
        t_cw = np.array([t_tw[0], t_tw[1], t_tw[1]] + [wb + a1 * st ** (-n_exp) for st in stages])
        fan2 = self._fan_power(phis.ravel()).reshape(2, -1)
        fan_w = np.array(
            [fan2[0], fan2[1], fan2[1]] + [ones * tower.fan_power(st) for st in stages]
        )
        # Economizer.share: 'off' none; 'on' everything, CHW floats at what the HX delivers;
        # 'auto' pre-cools the return from chw_return toward tower water + approach
        hx = w.economizer.hx
        t_hx = t_cw[2:] + hx
        above = chw_return > chw_set
        frac = (chw_return - t_hx) / np.where(above, chw_return - chw_set, 1.0)
        econ_auto = np.where(above, np.minimum(np.maximum(frac, 0.0), 1.0), 0.0)
        econ = np.concatenate([[ones * 0.0, ones], econ_auto])
        t_act = np.broadcast_to(chw_set, phi.shape).copy()
        t_act[1] = np.maximum(chw_set, t_cw[1] + hx)
        opts = self._options(q_chw, chw_set, chw_flow, econ, t_act, phi, t_cw, fan_w)
        coldest = wb + tower.cfg.rating_approach_k * wbf * q_rej_est / tower.rated_w
        engaged = (mode == MODE_AUTO) & (coldest + hx < chw_return)
        pick = np.zeros(q_chw.shape[0], dtype=np.intp)
        if engaged.any():
            pick = np.where(engaged, self._search(opts, 2, stages, q_chw, chw_set), 0)
        pick = np.where(mode == MODE_ON, 1, pick)
        lanes = np.arange(q_chw.shape[0])
        best = [x[pick, lanes] for x in opts]
        _, phi_t, econ, t_act, q_ch, p_ch, plr, t_cond, cw_pump_w, cw_flow = best
        q_rej = q_chw + p_ch + cw_pump_w + other_tower_w
        tc = tower.cfg
        evap = self._evaporation_kg_s(q_rej, wb, dry_bulb_c, phi_t, slope) * dt_s
        drift = tc.drift_fraction * (cw_flow * RHO_WATER) * dt_s
        blowdown = np.maximum(evap / (tc.cycles_of_concentration - 1.0) - drift, 0.0)
        return WaterBatch(
            chiller_w=p_ch,
            tower_fan_w=self._fan_power(phi_t),
            chw_pump_w=chw_pump_w,
            cw_pump_w=cw_pump_w,
            chw_supply_c=np.array(t_act, dtype=float),
            economizer_fraction=econ,
            chiller_plr=plr,
            chiller_load_w=q_ch,
            condenser_c=t_cond,
            heat_rejected_w=q_rej,
            tower_fan_speed=phi_t,
            water_l=evap + drift + blowdown,
            evaporation_l=evap,
            drift_l=drift,
            blowdown_l=blowdown,
        )
