"""The plant step of many halls compiled into one kernel (numba), for the Cooling-v0 envs.

Why: a Cooling-v0 step is dozens of NumPy calls on ~64-element arrays plus the scalar Python
water side; per-call overhead, not arithmetic, sets its speed (issue 17). This module runs the
same chain as `CoolingPlant.step` — `AirChain.step`, `ChilledWaterPlant.step` (its `_option`
and `_cheapest` search, `Chiller.power`, the tower's fan and evaporation) and
`AirChain.advance_supply` — as one compiled loop over (halls, racks), plus the per-hall sums
the env reads (IT power, server fans, inlet mean/max, ASHRAE-band violation).

One source of truth: the component laws are `dcsim.cooling.equipment`'s own functions,
compiled as they are; this kernel only restates the composition that the classes spell out
with their configs, in the same operation order (NumPy's pairwise summation included). The
readable path stays `CoolingPlant.step`; tests/test_cooling_fast.py holds the kernel to it
(every output and state to a relative 1e-12: NumPy's SIMD exp and pow may differ from libm's
in the last bit, and the kernel writes u**3 as u*u*u) and to its own source run by the
interpreter (NUMBA_DISABLE_JIT=1, bitwise). The liquid loop (scalar, run before the kernel)
and the thermal throttle (only when an inlet exceeds its limit) stay on the readable path.

Importing this module imports numba (`ImportError` without it or with DCSIM_NO_JIT=1,
`dcsim.jit`); callers import it lazily on
the first step, so start-up does not pay for it, and fall back to the readable path when it
is missing. Compiled code is cached on disk (`cache=True`).
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from dcsim.cooling import equipment as eq
from dcsim.cooling.config import RHO_CP_WATER, RHO_WATER
from dcsim.cooling.plant import CoolingResult, thermal_throttle
from dcsim.cooling.water import ChilledWaterPlant
from dcsim.cooling.water_batch import MODE_CODES
from dcsim.jit import numba_module

numba = numba_module()
if not numba:  # the envs catch this and take the readable path
    raise ImportError("numba is not installed or DCSIM_NO_JIT=1 (dcsim.jit)")

if TYPE_CHECKING:  # pragma: no cover
    from dcsim.cooling.plant import CoolingPlant


def _jit(fn: Callable[..., Any]) -> Any:
    """numba.njit, cached on disk; uncached where numba finds no writable cache directory
    (a read-only install without a user cache: it compiles in each process instead)."""
    try:
        return numba.njit(cache=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(fn)


def _compiled(f: Callable[..., Any], **deps: Any) -> Any:
    """`f` compiled as written, its calls to other equipment laws bound to their compiled forms."""
    g = dict(f.__globals__)
    g.update(deps)
    fn = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)
    return _jit(fn)


_biquadratic = _compiled(eq.biquadratic)
_quadratic = _compiled(eq.quadratic)
_part_load = _compiled(eq.part_load)
_sat_w = _compiled(eq.saturation_humidity_ratio)
_enthalpy = _compiled(eq.moist_air_enthalpy)
_w_from_wb = _compiled(eq.humidity_ratio_from_wet_bulb, saturation_humidity_ratio=_sat_w)
_sat_t = _compiled(eq.saturated_temperature_at_enthalpy)
_slope = _compiled(eq.saturated_enthalpy_slope)
_hx_fan = _compiled(eq.heat_exchanger_fan)

MODE_OFF, MODE_AUTO, MODE_ON = 0, 1, 2  # dcsim.cooling.water_batch.MODE_CODES

# ---- parameter vector layout (plant_params)
(
    A_OFF,
    A_QD,
    A_RAMP,
    A_RSTART,
    A_LO,
    A_MARGIN,
    A_VCRAH,
    A_CMIN,
    A_CRATED,
    A_CC,
) = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)  # A_CC..A_CC+3: CRAH part-load curve
A_COIL, A_TAU, F_LIQ = 13, 14, 15
Q_CHW_D, MIN_FLOW, CHW_FD, CHW_PD, CHW_DP, PUMP_CURVE, PUMP_C = 16, 17, 18, 19, 20, 21, 22
PUMP_S, PUMP_EFF, CW_FD, CW_PD, CW_DP = 26, 27, 28, 29, 30
SLOPE_REF, MIN_LIFT, COND_MIN, CTRL_APP, HX = 31, 32, 33, 34, 35
RATED, RAPP, NEXP, SMIN, FAN_RATED, FAN_C = 36, 37, 38, 39, 40, 41
CW_DT, CAP_REF, CHW_LO, CHW_HI, COND_LO, COND_HI = 45, 46, 47, 48, 49, 50
CAPFT, EIRFT, EIRFPLR = 51, 57, 63
MIN_PLR, COP_REF, COP_MAX, MAX2ND, EVAP_APP, COND_APP, OOB_CARNOT = 66, 67, 68, 69, 70, 71, 72
AIR_KG_S, DRIFT, COC, INLET_LO, INLET_HI, STAGES, N_STAGES = 73, 74, 75, 76, 77, 78, 83
STAGE_POW = 83  # STAGE_POW + j: stage j's speed ** -airflow_exponent (the same libm pow)
N_PARAMS = 88

# columns of `hall` (halls, N_HALL): state, this step's inputs, this step's results
S_TSUP, S_PCH, S_TCOND = 0, 1, 2  # supply air C, previous chiller W, previous condenser water C
I_SA, I_CHW, I_MODE, I_WB, I_DB, I_OTHER, I_LIQ = 3, 4, 5, 6, 7, 8, 9  # I_LIQ..+3: liquid W
(
    O_COOLING, O_CHW_SUP, O_WATER_L, O_ECON, O_SUPPLY, O_P_SUM, O_FAN_SUM, O_INLET_SUM,
    O_INLET_MAX, O_VIOL_SUM, O_CRAH, O_CHILLER, O_HEAT_AIR, O_TOWER_FAN, O_CHW_PUMP,
    O_CW_PUMP, O_PLR, O_Q_CHILLER, O_Q_REJ, O_PHI, O_EVAP, O_DRIFT, O_BLOWDOWN, O_COND,
) = range(13, 37)  # fmt: skip
N_HALL = 37
# rows of `racks` (4, halls, racks): state (inlets, exhaust nodes, fan speed), server fan W
X_TIN, X_TRACK, X_U, X_FAN = 0, 1, 2, 3
# per-rack constants (rows of `rk`)
R_GAIN, R_VD, R_FAN_RATED, R_RHO_CP_V, R_HEAT_CAP = range(5)


def plant_params(plant: CoolingPlant) -> tuple[np.ndarray, np.ndarray]:
    """(parameter vector, per-rack constants (5, racks)) of a `CoolingPlant`'s sizing."""
    cfg, air, w = plant.cfg, plant.air, plant.water
    a, pu, ch, tw = cfg.air, w.pumps, w.chiller, w.tower
    prm = np.zeros(N_PARAMS)
    prm[[A_OFF, A_QD, A_RAMP, A_RSTART, A_LO]] = (
        a.supply_offset_k,
        air.q_air_design,
        a.server_fan_ramp_per_k,
        a.server_fan_ramp_start_c,
        a.server_fan_min_flow,
    )
    prm[[A_MARGIN, A_VCRAH, A_CMIN, A_CRATED]] = (
        a.crah_flow_margin,
        air.v_crah_design,
        a.crah_min_flow,
        air.crah_rated_w,
    )
    prm[A_CC : A_CC + 4] = air._crah_curve
    prm[[A_COIL, A_TAU, F_LIQ]] = a.coil_approach_k, a.supply_tau_s, plant.f_liq
    prm[[Q_CHW_D, MIN_FLOW]] = w.q_chw_design, pu.min_flow
    prm[[CHW_FD, CHW_PD, CHW_DP]] = (
        w.chw_pump.flow_design,
        w.chw_pump.power_design,
        w.chw_pump.dp_design,
    )
    prm[[CW_FD, CW_PD, CW_DP]] = w.cw_pump.flow_design, w.cw_pump.power_design, w.cw_pump.dp_design
    curve = w.chw_pump._curve  # one PumpsConfig: the CW pump has the same curve
    prm[PUMP_CURVE] = curve is not None
    if curve is not None:
        prm[PUMP_C : PUMP_C + 4] = curve
    prm[[PUMP_S, PUMP_EFF, CW_DT]] = pu.static_fraction, pu.efficiency, pu.cw_delta_t_k
    prm[[SLOPE_REF, MIN_LIFT, COND_MIN, CTRL_APP, HX]] = (
        tw.slope_ref,
        w.min_lift_k,
        w.cond_min_c,
        tw.cfg.control_approach_k,
        w.economizer.hx,
    )
    prm[[RATED, RAPP, NEXP, SMIN, FAN_RATED]] = (
        tw.rated_w,
        tw.cfg.rating_approach_k,
        tw.cfg.airflow_exponent,
        tw.cfg.min_fan_speed,
        tw.fan_rated_w,
    )
    prm[FAN_C : FAN_C + 4] = tw.fan_curve
    prm[[CAP_REF, CHW_LO, CHW_HI, COND_LO, COND_HI]] = (
        ch.cap_ref,
        ch._chw_lo,
        ch._chw_hi,
        ch._cond_lo,
        ch._cond_hi,
    )
    prm[CAPFT : CAPFT + 6] = ch._capft
    prm[EIRFT : EIRFT + 6] = ch._eirft
    prm[EIRFPLR : EIRFPLR + 3] = ch._eirfplr
    c = ch.cfg
    prm[[MIN_PLR, COP_REF, COP_MAX, MAX2ND, EVAP_APP, COND_APP, OOB_CARNOT]] = (
        c.min_plr,
        c.cop_ref,
        c.cop_max,
        c.max_second_law_efficiency,
        c.evaporator_approach_k,
        c.condenser_approach_k,
        c.out_of_bounds == "carnot",
    )
    prm[[AIR_KG_S, DRIFT, COC]] = (
        tw.air_kg_s_rated,
        tw.cfg.drift_fraction,
        tw.cfg.cycles_of_concentration,
    )
    prm[[INLET_LO, INLET_HI]] = cfg.recommended_inlet_min_c, cfg.recommended_inlet_max_c
    stages = ChilledWaterPlant._fan_stages
    if len(stages) != N_STAGES - STAGES:
        raise ValueError("the kernel's parameter layout holds 5 tower fan stages")
    prm[STAGES:N_STAGES] = stages
    n_exp = tw.cfg.airflow_exponent
    prm[STAGE_POW : STAGE_POW + len(stages)] = [st ** (-n_exp) for st in stages]
    rk = np.stack(
        [air.recirc_gain, air.v_design, air.fan_rated_w, air.rho_cp_v, air.heat_capacity]
    ).astype(float)
    return prm, np.ascontiguousarray(rk)


# ------------------------------------------------------------------ summation
@_jit
def _pw_block(a: np.ndarray, row: int, lo: int, n: int) -> float:
    """NumPy's pairwise sum of a block a[row, lo:lo+n], n <= 128 (8 accumulators)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[row, i]
        return res
    r0, r1, r2, r3 = a[row, lo], a[row, lo + 1], a[row, lo + 2], a[row, lo + 3]
    r4, r5, r6, r7 = a[row, lo + 4], a[row, lo + 5], a[row, lo + 6], a[row, lo + 7]
    i = 8
    end = n - n % 8
    while i < end:
        j = lo + i
        r0 += a[row, j]
        r1 += a[row, j + 1]
        r2 += a[row, j + 2]
        r3 += a[row, j + 3]
        r4 += a[row, j + 4]
        r5 += a[row, j + 5]
        r6 += a[row, j + 6]
        r7 += a[row, j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[row, lo + i]
        i += 1
    return res


@_jit
def _pairwise(a: np.ndarray, row: int, n: int) -> float:
    """NumPy's pairwise sum of a[row, :n] (`np.add.reduce`: blocks of <= 128 summed with 8
    accumulators, halves split at a multiple of 8), so the kernel's totals equal
    `ndarray.sum()` bitwise. Its recursion runs on an explicit stack (numba's on-disk cache
    does not reload recursive functions)."""
    if n <= 128:
        return _pw_block(a, row, 0, n)
    lo_s = np.empty(64, np.int64)
    n_s = np.empty(64, np.int64)
    stage = np.zeros(64, np.int64)
    left = np.empty(64)
    sp = 0
    lo_s[0], n_s[0] = 0, n
    ret = 0.0
    while sp >= 0:
        lo, m = lo_s[sp], n_s[sp]
        if m <= 128:
            ret = _pw_block(a, row, lo, m)
            sp -= 1
            continue
        n2 = m // 2
        n2 -= n2 % 8
        if stage[sp] == 0:  # descend into the left half
            stage[sp] = 1
            sp += 1
            lo_s[sp], n_s[sp], stage[sp] = lo, n2, 0
        elif stage[sp] == 1:  # left half done: descend into the right half
            left[sp] = ret
            stage[sp] = 2
            sp += 1
            lo_s[sp], n_s[sp], stage[sp] = lo + n2, m - n2, 0
        else:
            ret = left[sp] + ret
            sp -= 1
    return ret


# ------------------------------------------------------------------ water side
@_jit
def _pump_power(prm: np.ndarray, flow_design: float, power_design: float, dp: float, flow: float):
    """`Pump.power`."""
    q = flow / flow_design if flow_design > 0 else 0.0
    if prm[PUMP_CURVE] != 0.0:
        c = (prm[PUMP_C], prm[PUMP_C + 1], prm[PUMP_C + 2], prm[PUMP_C + 3])
        return power_design * _part_load(c, q)
    s = prm[PUMP_S]
    return dp * (s + (1.0 - s) * q * q) * flow / prm[PUMP_EFF]


@_jit
def _c6(prm: np.ndarray, i: int) -> tuple[float, float, float, float, float, float]:
    """Six curve coefficients from prm[i:] as a tuple (no array view: no reference count)."""
    return prm[i], prm[i + 1], prm[i + 2], prm[i + 3], prm[i + 4], prm[i + 5]


@_jit
def _carnot_eir(prm: np.ndarray, t_chw: float, t_cond: float) -> float:
    """`Chiller.carnot_eir`."""
    t_e = t_chw - prm[EVAP_APP] + 273.15
    t_c = t_cond + prm[COND_APP] + 273.15
    return max(t_c - t_e, 1.0) / t_e


@_jit
def _capacity(prm: np.ndarray, t_chw: float, t_cond: float) -> float:
    """`Chiller.capacity`."""
    x = min(max(t_chw, prm[CHW_LO]), prm[CHW_HI])
    y = min(max(t_cond, prm[COND_LO]), prm[COND_HI])
    return prm[CAP_REF] * max(_biquadratic(_c6(prm, CAPFT), x, y), 0.05)


@_jit
def _chiller_power(prm: np.ndarray, q: float, t_chw: float, t_cond: float):
    """`Chiller.power`: (power W, PLR, capacity W)."""
    if q <= 0.0:
        return 0.0, 0.0, prm[CAP_REF]
    x = min(max(t_chw, prm[CHW_LO]), prm[CHW_HI])
    y = min(max(t_cond, prm[COND_LO]), prm[COND_HI])
    cap = prm[CAP_REF] * max(_biquadratic(_c6(prm, CAPFT), x, y), 0.05)
    plr = q / cap
    pmin = prm[MIN_PLR]
    plr_eval = min(max(plr, pmin), 1.0)
    cycling = min(1.0, plr / pmin)
    eir_t = _biquadratic(_c6(prm, EIRFT), x, y)
    carnot = _carnot_eir(prm, t_chw, t_cond)
    if prm[OOB_CARNOT] != 0.0 and (x != t_chw or y != t_cond):
        eir_t *= carnot / _carnot_eir(prm, x, y)
    eir = eir_t * max(
        _quadratic((prm[EIRFPLR], prm[EIRFPLR + 1], prm[EIRFPLR + 2]), plr_eval), 0.01
    )
    power = cap / prm[COP_REF] * eir * cycling
    qq = min(q, cap)
    floor = qq * max(carnot / prm[MAX2ND], 1.0 / prm[COP_MAX])
    return max(power, floor), plr, cap


@_jit
def _fan_power(prm: np.ndarray, phi: float) -> float:
    """`CoolingTower.fan_power`."""
    c = (prm[FAN_C], prm[FAN_C + 1], prm[FAN_C + 2], prm[FAN_C + 3])
    return prm[FAN_RATED] * _part_load(c, phi)


@_jit
def _tower_fan(prm: np.ndarray, q: float, target: float, wb: float, wbf: float):
    """`CoolingTower.fan`."""
    return _hx_fan(q, prm[RATED], prm[RAPP], prm[NEXP], target, wb, prm[SMIN], wbf)


@_jit
def _option(prm, q_chw, chw_set, chw_return, chw_flow, mode, phi, t_cw):
    """`ChilledWaterPlant._option` (with `Economizer.share`)."""
    econ_frac, t_act = 0.0, chw_set
    if mode != MODE_OFF:
        t_hx = t_cw + prm[HX]
        if mode == MODE_ON:
            econ_frac, t_act = 1.0, max(chw_set, t_hx)
        elif chw_return > chw_set:
            frac = (chw_return - t_hx) / (chw_return - chw_set)
            econ_frac = min(max(frac, 0.0), 1.0)
    t_cond = max(t_cw, prm[COND_MIN], chw_set + prm[MIN_LIFT])
    q_chiller = (1.0 - econ_frac) * q_chw
    p_ch, plr, cap = _chiller_power(prm, q_chiller, chw_set, t_cond)
    if q_chiller > cap:  # capacity shortfall: CHW supply floats up
        t_act = chw_set + (q_chiller - cap) / (RHO_CP_WATER * max(chw_flow, 1e-9))
        p_ch, plr, _ = _chiller_power(prm, cap, chw_set, t_cond)
    cw_flow = max(
        (q_chiller + p_ch + econ_frac * q_chw) / (RHO_CP_WATER * prm[CW_DT]),
        prm[MIN_FLOW] * prm[CW_FD],
    )
    cw_pump_w = _pump_power(prm, prm[CW_FD], prm[CW_PD], prm[CW_DP], cw_flow)
    total = p_ch + _fan_power(prm, phi) + cw_pump_w
    return total, phi, econ_frac, t_act, q_chiller, p_ch, plr, t_cond, cw_pump_w, cw_flow


@_jit
def _cheapest(prm, q_chw, chw_set, chw_return, chw_flow, q_rej, wb, wbf, phi_mech, t_mech):
    """`ChilledWaterPlant._cheapest`."""
    target = max(chw_set - prm[HX], 2.0)
    phi_free, t_free = _tower_fan(prm, q_rej, target, wb, wbf)
    best = _option(prm, q_chw, chw_set, chw_return, chw_flow, MODE_AUTO, phi_free, t_free)
    for s in range(STAGES, N_STAGES):
        phi = prm[s]
        if phi < prm[SMIN]:
            continue
        if (best[2] >= 1.0 and phi >= best[1]) or _fan_power(prm, phi) >= best[0]:
            break
        a1 = prm[RAPP] * wbf * max(q_rej, 0.0) / prm[RATED]  # CoolingTower.leaving_c
        t = wb + a1 * prm[STAGE_POW + s - STAGES]  # phi ** (-airflow_exponent)
        opt = _option(prm, q_chw, chw_set, chw_return, chw_flow, MODE_AUTO, phi, t)
        if opt[0] < best[0]:
            best = opt
    t_cond = max(t_mech, prm[COND_MIN], chw_set + prm[MIN_LIFT])
    lower = min(q_chw, _capacity(prm, chw_set, t_cond)) / prm[COP_MAX]
    if lower < best[0]:
        mech = _option(prm, q_chw, chw_set, chw_return, chw_flow, MODE_OFF, phi_mech, t_mech)
        if mech[0] <= best[0]:
            best = mech
    return best


@_jit
def _water(prm, hall, h, q_coils, chw_set, mode, wb, other, dt, db):
    """`ChilledWaterPlant.step` of hall h (state and results in hall[h])."""
    if prm[Q_CHW_D] > 0:
        flow_frac = max(q_coils / prm[Q_CHW_D], prm[MIN_FLOW])
    else:
        flow_frac = 0.0
    chw_flow = flow_frac * prm[CHW_FD]
    chw_pump_w = _pump_power(prm, prm[CHW_FD], prm[CHW_PD], prm[CHW_DP], chw_flow)
    q_chw = max(q_coils + chw_pump_w, 0.0)
    slope = _slope(wb)
    wbf = min(prm[SLOPE_REF] / slope, 4.0)
    q_rej_est = q_chw + hall[h, S_PCH] + other
    chw_return = chw_set + (q_chw / (RHO_CP_WATER * chw_flow) if chw_flow > 0 else 0.0)
    floor_c = chw_set + prm[MIN_LIFT]
    mech_target = max(max(prm[COND_MIN], wb + prm[CTRL_APP]), floor_c)
    if mode == MODE_ON:
        phi_t, t_cw = _tower_fan(prm, q_rej_est, max(chw_set - prm[HX], 2.0), wb, wbf)
        best = _option(prm, q_chw, chw_set, chw_return, chw_flow, MODE_ON, phi_t, t_cw)
    else:
        phi_m, t_m = _tower_fan(prm, q_rej_est, mech_target, wb, wbf)
        coldest = wb + prm[RAPP] * wbf * q_rej_est / prm[RATED]
        if mode == MODE_AUTO and coldest + prm[HX] < chw_return:
            best = _cheapest(
                prm, q_chw, chw_set, chw_return, chw_flow, q_rej_est, wb, wbf, phi_m, t_m
            )
        else:
            best = _option(prm, q_chw, chw_set, chw_return, chw_flow, MODE_OFF, phi_m, t_m)
    _, phi_t, econ_frac, t_act, q_chiller, p_ch, plr, t_cond, cw_pump_w, cw_flow = best
    hall[h, S_PCH] = p_ch
    hall[h, S_TCOND] = t_cond
    q_rej = q_chw + p_ch + cw_pump_w + other
    # CoolingTower.water_parts_kg / evaporation_kg_s
    m_a = prm[AIR_KG_S] * max(phi_t, 1e-6)
    db = max(db, wb)
    w_in = _w_from_wb(db, wb)
    qp = max(q_rej, 0.0)
    h_out = _enthalpy(db, w_in) + qp / m_a
    guess = wb + qp / m_a / slope
    t_out = _sat_t(h_out, guess)
    evap = m_a * max(_sat_w(t_out) - w_in, 0.0) * dt
    drift = prm[DRIFT] * (cw_flow * RHO_WATER) * dt
    blowdown = max(evap / (prm[COC] - 1.0) - drift, 0.0)
    hall[h, O_CHILLER] = p_ch
    hall[h, O_TOWER_FAN] = _fan_power(prm, phi_t)
    hall[h, O_CHW_PUMP] = chw_pump_w
    hall[h, O_CW_PUMP] = cw_pump_w
    hall[h, O_CHW_SUP] = t_act
    hall[h, O_ECON] = econ_frac
    hall[h, O_PLR] = plr
    hall[h, O_Q_CHILLER] = q_chiller
    hall[h, O_COND] = t_cond
    hall[h, O_Q_REJ] = q_rej
    hall[h, O_PHI] = phi_t
    hall[h, O_WATER_L] = evap + drift + blowdown
    hall[h, O_EVAP] = evap
    hall[h, O_DRIFT] = drift
    hall[h, O_BLOWDOWN] = blowdown


# ------------------------------------------------------------------ the step
@_jit
def step_halls(prm, rk, racks, hall, p, dt):
    """`CoolingPlant.step` for every hall h, over dt seconds.

    racks (4, halls, racks): X_TIN, X_TRACK, X_U the air chain's state, updated in place;
    X_FAN receives the server fan W. p (halls, racks): rack IT W. hall[h]: the state
    (S_*, updated), this step's inputs (I_*: supply air and CHW setpoints, MODE_*, wet and dry
    bulb, other tower W, the liquid loop's CDU pump, FWS pump, dry-cooler fan and trim chiller
    W) and its results (O_*)."""
    n_h, n = p.shape
    # per rack: q_air, stored energy, v*u, violation K (for the sums), t_ss, decay (rows of
    # 2-D arrays are indexed in place: a row view costs a reference count per hall)
    B_Q, B_STORED, B_VU, B_VIOL, B_TSS, B_DECAY = 0, 1, 2, 3, 4, 5
    buf = np.empty((6, n))
    f_air = 1.0 - prm[F_LIQ]
    a_cc = (prm[A_CC], prm[A_CC + 1], prm[A_CC + 2], prm[A_CC + 3])
    lo_i, hi_i = prm[INLET_LO], prm[INLET_HI]
    off, qd, ramp_k, ramp_c, lo = prm[A_OFF], prm[A_QD], prm[A_RAMP], prm[A_RSTART], prm[A_LO]
    neg_dt = -dt
    t_in, t_rack, u, fan = racks[X_TIN], racks[X_TRACK], racks[X_U], racks[X_FAN]
    for h in range(n_h):
        # ---- AirChain.step (inlets from the previous step's exhaust), in passes so that the
        # ones without libm calls can vectorize
        ts_off = hall[h, S_TSUP] + off
        for r in range(n):
            q_it = f_air * p[h, r]
            ti = ts_off + rk[R_GAIN, r] * (t_rack[h, r] - t_in[h, r])
            load = q_it / qd if qd > 0 else 0.0
            ramp = 1.0 + ramp_k * max(ti - ramp_c, 0.0)
            uu = min(max(max(load, lo) * ramp, lo), 1.0)
            # u**3 as two products: libm's pow costs as much as the rest of the rack (within
            # 2 ulp of NumPy's u**3, which is itself not libm's)
            fw = rk[R_FAN_RATED, r] * (uu * uu * uu)
            q_air = q_it + fw
            mcp = rk[R_RHO_CP_V, r] * uu
            buf[B_TSS, r] = ti + q_air / mcp
            buf[B_DECAY, r] = neg_dt * mcp / rk[R_HEAT_CAP, r]
            buf[B_Q, r] = q_air
            buf[B_VU, r] = rk[R_VD, r] * uu
            buf[B_VIOL, r] = max(ti - hi_i, 0.0) + max(lo_i - ti, 0.0)
            t_in[h, r] = ti
            u[h, r] = uu
            fan[h, r] = fw
        for r in range(n):
            buf[B_DECAY, r] = math.exp(buf[B_DECAY, r])
        inlet_max = -np.inf
        for r in range(n):
            tr = t_rack[h, r]
            t_ss = buf[B_TSS, r]
            t_new = t_ss + (tr - t_ss) * buf[B_DECAY, r]
            buf[B_STORED, r] = rk[R_HEAT_CAP, r] * (t_new - tr)
            t_rack[h, r] = t_new
            if t_in[h, r] > inlet_max:
                inlet_max = t_in[h, r]
        heat_to_air = _pairwise(buf, B_Q, n) - _pairwise(buf, B_STORED, n) / dt
        x = prm[A_MARGIN] * _pairwise(buf, B_VU, n) / prm[A_VCRAH]
        x = max(x, prm[A_CMIN])
        crah_w = prm[A_CRATED] * _part_load(a_cc, x)
        # ---- ChilledWaterPlant.step
        _water(
            prm,
            hall,
            h,
            heat_to_air + crah_w,
            hall[h, I_CHW],
            int(hall[h, I_MODE]),
            hall[h, I_WB],
            hall[h, I_OTHER],
            dt,
            hall[h, I_DB],
        )
        # ---- AirChain.advance_supply
        target = max(hall[h, I_SA], hall[h, O_CHW_SUP] + prm[A_COIL])
        hall[h, S_TSUP] = target + (hall[h, S_TSUP] - target) * math.exp(-dt / prm[A_TAU])
        # ---- cooling_breakdown's sum, in its order
        c = 0.0
        c += crah_w
        c += hall[h, O_CHILLER]
        c += hall[h, O_TOWER_FAN]
        c += hall[h, O_CHW_PUMP]
        c += hall[h, O_CW_PUMP]
        for j in range(4):
            c += hall[h, I_LIQ + j]
        hall[h, O_COOLING] = c
        hall[h, O_SUPPLY] = hall[h, S_TSUP]
        hall[h, O_CRAH] = crah_w
        hall[h, O_HEAT_AIR] = heat_to_air
        hall[h, O_P_SUM] = _pairwise(p, h, n)
        hall[h, O_FAN_SUM] = _pairwise(fan, h, n)
        hall[h, O_INLET_SUM] = _pairwise(t_in, h, n)
        hall[h, O_INLET_MAX] = inlet_max
        hall[h, O_VIOL_SUM] = _pairwise(buf, B_VIOL, n)


# ------------------------------------------------------------------ observation clock
@_jit
def day_phases(t: np.ndarray, day_s: float, out: np.ndarray) -> None:
    """out[i] = (sin, cos) of the hour-of-day and day-of-year phases at times t[i] s, by the
    same libm calls and operations as `CoolingEnv._phases` (NumPy's SIMD sin is not
    libm's), for the batched env's observations."""
    for i in range(t.shape[0]):
        h = 2 * np.pi * (t[i] / 3600.0 % 24.0) / 24.0
        d = 2 * np.pi * (t[i] / day_s % 365.0) / 365.0
        out[i, 0] = math.sin(h)
        out[i, 1] = math.cos(h)
        out[i, 2] = math.sin(d)
        out[i, 3] = math.cos(d)


# ------------------------------------------------------------------ one plant
def hold_air_state(air: Any, racks: np.ndarray) -> None:
    """Make a one-hall air chain's state (inlets, exhaust nodes, fan speeds) views of the
    kernel's `racks` buffer (X_TIN, X_TRACK, X_U of hall 0), copying it in first when a reset
    or a readable step has replaced it; a no-op while it already lives there."""
    if air.t_in.base is not racks:
        racks[:3, 0] = air.t_in, air.t_rack, air.u
        air.t_in, air.t_rack, air.u = racks[0, 0], racks[1, 0], racks[2, 0]


class FastPlant:
    """`CoolingPlant.step` of one air-cooled plant through `step_halls` (one hall), returning
    the readable step's `CoolingResult` (every field to a relative 1e-12,
    tests/test_cooling_fast.py): for the engines that step a plant in Python (the multi-tenant
    `dcsim.tenancy.Engine`), where the readable step costs ~160 us at 64 racks. The plant's
    air state lives in this kernel's buffer (`air.t_in` and the rest become views of it, as
    in `CoolingEnv`); a plant with an active liquid loop steps on the readable path."""

    def __init__(self, plant: CoolingPlant):
        self.plant = plant
        self.prm, self.rk = plant_params(plant)
        n = plant.air.n
        self.racks = np.zeros((4, 1, n))
        self.hall = np.zeros((1, N_HALL))
        self.no_throttle = np.ones(n)  # thermal_throttle's answer without excess, shared
        self.no_throttle.flags.writeable = False

    def step(
        self, rack_it_w: np.ndarray, weather: Any, dt_s: float, controls: Any = None
    ) -> CoolingResult:
        plant = self.plant
        if plant.liquid.active:
            return plant.step(rack_it_w, weather, dt_s, controls)
        p = np.asarray(rack_it_w, dtype=float)
        sa_set, chw_set, econ_mode = plant.setpoints(controls)
        air, water = plant.air, plant.water
        racks, hall = self.racks, self.hall
        hold_air_state(air, racks)
        hall[0, :8] = (air.t_supply, water.p_chiller_prev, water.t_cond_prev, sa_set, chw_set,
                       MODE_CODES[econ_mode], float(weather.wet_bulb_c),
                       float(weather.dry_bulb_c))  # fmt: skip
        step_halls(self.prm, self.rk, racks, hall, p[None], dt_s)
        o = hall[0].tolist()
        air.t_supply, water.p_chiller_prev, water.t_cond_prev = o[:3]
        inlet = racks[0, 0].copy()
        cfg = plant.cfg
        if o[O_INLET_MAX] <= cfg.inlet_limit_c:
            throttle = self.no_throttle
        else:
            throttle = thermal_throttle(cfg, inlet, None, plant.clock_for_power)
        p_ch = o[O_CHILLER]
        return CoolingResult(
            inlet_c=inlet,
            outlet_c=racks[1, 0].copy(),
            server_fan_w=racks[3, 0].copy(),
            cooling_w=o[O_COOLING],
            breakdown={  # cooling_breakdown's keys, in its order
                "crah_fan_w": o[O_CRAH],
                "chiller_w": p_ch,
                "tower_fan_w": o[O_TOWER_FAN],
                "chw_pump_w": o[O_CHW_PUMP],
                "cw_pump_w": o[O_CW_PUMP],
                "cdu_pump_w": 0.0,
                "fws_pump_w": 0.0,
                "drycooler_fan_w": 0.0,
                "trim_chiller_w": 0.0,
            },
            heat_removed_w=o[O_HEAT_AIR] + 0.0,
            water_l=o[O_WATER_L],
            throttle=throttle,
            economizer_on=o[O_ECON] > 0.0,
            it_heat_w=o[O_P_SUM] + o[O_FAN_SUM],
            stored_energy_j=plant.stored_energy_j,
            supply_air_c=o[O_SUPPLY],
            chw_supply_c=o[O_CHW_SUP],
            economizer_fraction=o[O_ECON],
            chiller_plr=o[O_PLR],
            chiller_cop=(o[O_Q_CHILLER] / p_ch) if p_ch > 0 else 0.0,
            extra={
                "trim_load_w": 0.0,
                "heat_rejected_w": o[O_Q_REJ],
                "condenser_c": o[O_COND],
                "tower_fan_speed": o[O_PHI],
                "evaporation_l": o[O_EVAP],
                "drift_l": o[O_DRIFT],
                "blowdown_l": o[O_BLOWDOWN],
            },
        )
