"""One Datacenter-v0 interval of many halls compiled into one kernel (numba).

Why: a `Simulation.step` is ~100 small NumPy and Python calls (clock under the cap and
throttle, step time, the job's phases, server and rack power, the cooling plant, facility
power) whose per-call cost, not arithmetic, bounds Datacenter-v0 (issue 17). `step_halls`
runs that chain for every hall (copy) h in one call: the single env steps one hall
(`dcsim.sim_fast.FastSimulation`), the batched env (`dcsim.envs.datacenter_vector`) all of
them, through the same compiled code, so a batch equals N separate envs bitwise.

One source of truth: the job's phases are `dcsim.workload.book_phases` and the cooling plant
is `dcsim.cooling.fast.step_halls` (the compiled `CoolingPlant.step`), both compiled as
written; the kernel restates only the scalar laws `Simulation.step` composes, in the same
operation order: `DevicePowerModel.freq_for_cap_scalar` / `power_w_scalar` /
`time_scale_scalar`, `throttled_clock`, `training_step_time`, `interval_activity`,
`server_wall_power_w` once per kind of server (racks summed per pattern of kinds,
`FastSimulation._server_kinds`, as the engine sums servers), `facility_power_w` and
`interval_energy`. Sums over servers and racks are
NumPy's pairwise sums (`fast._pairwise`), so they equal `ndarray.sum()` bitwise.
tests/test_sim_kernel.py holds the kernel to `Simulation` (every record field to a relative
1e-12: libm's sinh/asinh/exp against NumPy's SIMD ones, and the plant kernel's u*u*u) and to
its own source run by the interpreter (bitwise). The thermal throttle (only when an inlet
exceeds its limit) and the liquid loop stay on the readable path (a scenario with a liquid
loop steps `Simulation.step`).

Importing this module imports numba (`ImportError` without it or with DCSIM_NO_JIT=1);
callers import it on the first step. Compiled code is cached on disk.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from dcsim.cooling import fast
from dcsim.cooling.fast import _jit, _pairwise
from dcsim.power import PHASE_ACTIVITY
from dcsim.sim_fast import (  # the tables' layout (numba-free, for the envs)
    L_ACCEL_W,
    L_ACTIVITY,
    L_CAP,
    L_CARBON_KG,
    L_CI,
    L_COMM_S,
    L_COMPLETED,
    L_EXPOSED,
    L_F,
    L_FAC_KWH,
    L_FAC_W,
    L_HOT,
    L_INLET_MEAN,
    L_IT_KWH,
    L_IT_W,
    L_ITERS,
    L_PH_COMM,
    L_PH_LEFT,
    L_PUE,
    L_STEP,
    L_TOKENS,
    L_VIOL,
    N_PARAMS,
    P_ACC,
    P_ACOMM,
    P_ACOMP,
    P_ACTIVE,
    P_AIDLE,
    P_COMPUTE_BASE,
    P_DESIGN,
    P_DYN_W,
    P_FIXED,
    P_FMIN,
    P_GBT,
    P_IDLE_SRV_W,
    P_IDLE_W,
    P_INLET_LIM,
    P_INLET_REC,
    P_MB,
    P_OVERLAP,
    P_PSU,
    P_SL,
    P_SW_RACK,
    P_TDP,
    P_UPS_NL,
    P_UPS_PL,
    P_UPS_SIZE,
    P_UPS_SQ,
    P_VF,
)
from dcsim.workload import book_phases, step_flops

if TYPE_CHECKING:  # pragma: no cover
    from dcsim.sim import Simulation
    from dcsim.sim_fast import FastSimulation

_book_phases = fast._compiled(book_phases)
_plant = fast.step_halls


def usable(sim: Simulation) -> bool:
    """Whether `step_halls` covers this scenario: no liquid loop (its scalar model runs
    between the racks' power and the water side) and a leakage share > 0 (the cubic branch
    of `freq_for_scale`)."""
    return not sim.plant.liquid.active and sim.power.leak_share > 0.0


def params(sim: Simulation) -> np.ndarray:
    """The scenario constants `step_halls` reads, from a built `Simulation`."""
    sc, pw = sim.sc, sim.power
    w, fac = sc.workload, sc.power
    prm = np.zeros(N_PARAMS)
    n_acc = max(sim.n_active * sim.acc_per_server, 1)
    prm[[P_TDP, P_ACOMP, P_ACOMM, P_AIDLE]] = (
        sim.profile.tdp_w,
        sim.a_compute,
        sim.a_comm,
        PHASE_ACTIVITY["idle"],
    )
    prm[[P_FMIN, P_SL, P_VF, P_IDLE_W, P_DYN_W, P_MB]] = (
        pw.f_min_frac,
        pw.leak_share,
        pw.v_floor_frac,
        pw.idle_w,
        pw.dynamic_w,
        w.memory_bound_fraction,
    )
    # training_step_time's step_flops / (n * peak * mfu), evaluated as it does
    prm[P_COMPUTE_BASE] = step_flops(w) / (n_acc * sim.profile.peak_flops * sim.mfu)
    prm[[P_OVERLAP, P_ACTIVE, P_ACC]] = w.overlap, sim.n_active > 0, sim.acc_per_server
    prm[P_IDLE_SRV_W] = pw.power_w_scalar(PHASE_ACTIVITY["idle"], 1.0) * sim.acc_per_server
    prm[[P_PSU, P_SW_RACK, P_DESIGN]] = sim.psu_eff, sim.switch_w / sim.n_racks, sim.design_it_w
    prm[[P_UPS_SIZE, P_UPS_NL, P_UPS_PL, P_UPS_SQ, P_FIXED]] = (
        fac.ups_sizing_factor,
        fac.ups_no_load_loss,
        fac.ups_proportional_loss,
        fac.ups_square_loss,
        fac.fixed_load_w_per_kw,
    )
    prm[[P_GBT, P_INLET_REC, P_INLET_LIM]] = (
        w.global_batch_tokens,
        sc.cooling.recommended_inlet_max_c,
        sc.cooling.inlet_limit_c,
    )
    return prm


def static_args(sim: FastSimulation) -> tuple[np.ndarray, ...]:
    """`step_halls`' constant arguments of a scenario (every hall the same): params, server
    kind patterns (pat, pat_len, rack_pat, host_sums), the job's racks and servers, and the
    plant's parameters and per-rack constants (`dcsim.cooling.fast.plant_params`)."""
    pats = sim._patterns
    pat = np.zeros((len(pats), max(len(q) for q in pats)), dtype=np.int64)
    for j, q in enumerate(pats):
        pat[j, : len(q)] = q
    pat_len = np.array([len(q) for q in pats], dtype=np.int64)
    active_racks = np.unique(sim.server_rack[sim.active]).astype(np.int64)
    plant_prm, rk = fast.plant_params(sim.plant)
    return (
        params(sim),
        pat,
        pat_len,
        sim._rack_pattern.astype(np.int64),
        np.asarray(sim._host_sums, dtype=float),
        active_racks,
        sim.active.astype(float),
        plant_prm,
        rk,
    )


@_jit
def freq_for_cap(prm: np.ndarray, cap_w: float, activity: float) -> float:
    """`DevicePowerModel.freq_for_cap_scalar` with libm's sinh/asinh."""
    f_min, s_l, vf = prm[P_FMIN], prm[P_SL], prm[P_VF]
    idle_w, dyn = prm[P_IDLE_W], prm[P_DYN_W]
    a = min(max(activity, 0.0), 1.0)
    head = max(cap_w - idle_w, 0.0)
    denom = dyn * a
    y = min(head / denom if denom > 0 else 1.0, 1.0)
    f_lin = (y - s_l * vf) / ((1.0 - s_l) * vf * vf)
    # s_l > 0 (alpha < 3; `usable` sends a pure-switching device to the readable path)
    p = s_l / (1.0 - s_l)
    q = -y / (1.0 - s_l)
    r = 2.0 * math.sqrt(p / 3.0)
    f_cub = -r * math.sinh(math.asinh(3.0 * q / (p * r)) / 3.0)
    f = min(max(f_cub if f_cub >= vf else f_lin, f_min), 1.0)
    v = max(vf, f_min)
    p_min = idle_w + dyn * a * (1.0 - s_l * (1.0 - v) - (1.0 - s_l) * (1.0 - v * v * f_min))
    if cap_w < p_min:
        f = f_min
    return min(max(f, f_min), 1.0)


@_jit
def power_w(prm: np.ndarray, activity: float, freq_frac: float) -> float:
    """`DevicePowerModel.power_w_scalar`."""
    a = min(max(activity, 0.0), 1.0)
    f = min(max(freq_frac, prm[P_FMIN]), 1.0)
    v = max(prm[P_VF], f)
    s_l = prm[P_SL]
    scale = 1.0 - s_l * (1.0 - v) - (1.0 - s_l) * (1.0 - v * v * f)
    return prm[P_IDLE_W] + prm[P_DYN_W] * a * scale


@_jit
def step_halls(
    prm, pat, pat_len, rack_pat, host_sums, active_racks, active,
    lane, thr, p, srv, plant_prm, rk, racks, hall, dt,
):  # fmt: skip
    """`Simulation.step` (as `FastSimulation`) of every hall h over dt seconds, after the
    controls: lane[h, :L_F] the inputs (clipped cap share, the routing's all-reduce s, the
    phase clock (updated), carbon g/kWh), lane[h, L_F:] the results; thr (halls, racks) the
    thermal throttle of the previous interval; p (halls, racks) receives rack IT W; srv (2,
    servers) scratch; plant_prm, rk, racks, hall as `dcsim.cooling.fast.step_halls` (hall
    holds the setpoints, mode and weather). Rack power per pattern of kinds of server: pat
    (patterns, servers) kinds 0 (active) / 1 (idle) of pat_len entries, rack_pat (racks,) a
    rack's pattern, host_sums (patterns,) its hosts' W; active (servers,) 1.0 where active."""
    n_h, n_r = p.shape
    n_srv = active.shape[0]
    n_pat = pat.shape[0]
    acc_sums = np.empty(n_pat)
    job = prm[P_ACTIVE] != 0.0
    for h in range(n_h):
        # ---- the clock: the cap's, lowered by the slowest throttled rack of the job
        f = freq_for_cap(prm, lane[h, L_CAP] * prm[P_TDP], prm[P_ACOMP])
        if job:
            f_th = np.inf
            for r in active_racks:
                if thr[h, r] < f_th:
                    f_th = thr[h, r]
            f = max(min(f, f_th), prm[P_FMIN])  # throttled_clock
        # ---- training_step_time at this clock and the job's phases (PhaseClock.advance)
        m = min(max(prm[P_MB], 0.0), 1.0)  # time_scale_scalar
        compute = prm[P_COMPUTE_BASE] * ((1.0 - m) / f + m)
        exposed = max(0.0, lane[h, L_COMM_S] - prm[P_OVERLAP] * compute)
        total = compute + exposed
        if job:
            cs, es, iters, completed, comm, left = _book_phases(
                lane[h, L_PH_COMM] != 0.0, lane[h, L_PH_LEFT], compute, exposed, total, dt
            )
            lane[h, L_PH_COMM] = 1.0 if comm else 0.0
            lane[h, L_PH_LEFT] = left
        else:
            cs, es, iters, completed = 0.0, 0.0, 0.0, 0
        # ---- interval_activity, then power once per kind of server (active, idle)
        busy = (cs * prm[P_ACOMP] + es * prm[P_ACOMM]) / dt
        idle = 1.0 - (cs + es) / dt
        act = busy + max(0.0, idle) * prm[P_AIDLE]
        a0 = power_w(prm, act, f) * prm[P_ACC]
        a1 = prm[P_IDLE_SRV_W]
        for j in range(n_pat):
            s = 0.0
            for i in range(pat_len[j]):
                s += a0 if pat[j, i] == 0 else a1
            acc_sums[j] = s
        for r in range(n_r):  # server_wall_power_w, then the rack's share of the switches
            j = rack_pat[r]
            p[h, r] = (acc_sums[j] + host_sums[j] + 0.0) / prm[P_PSU] + prm[P_SW_RACK]
        for i in range(n_srv):
            on = active[i] != 0.0
            srv[0, i] = act if on else prm[P_AIDLE]
            srv[1, i] = a0 if on else a1
        lane[h, L_F] = f
        lane[h, L_STEP] = total
        lane[h, L_EXPOSED] = exposed
        lane[h, L_ITERS] = iters
        lane[h, L_COMPLETED] = completed
        lane[h, L_ACTIVITY] = _pairwise(srv, 0, n_srv) / n_srv
        lane[h, L_ACCEL_W] = _pairwise(srv, 1, n_srv)
        lane[h, L_TOKENS] = iters * prm[P_GBT] / dt
    # ---- the cooling plant of every hall (CoolingPlant.step, compiled)
    _plant(plant_prm, rk, racks, hall, p, dt)
    design = prm[P_DESIGN]
    for h in range(n_h):
        # ---- interval_energy / facility_power_w
        it_w = hall[h, fast.O_P_SUM] + hall[h, fast.O_FAN_SUM]
        rated = prm[P_UPS_SIZE] * design
        fixed = prm[P_FIXED] * design / 1000.0
        x = it_w / rated
        ups = rated * (prm[P_UPS_NL] + x * (prm[P_UPS_PL] + prm[P_UPS_SQ] * x))
        fac_w = it_w + ups + hall[h, fast.O_COOLING] + fixed
        fac_kwh = fac_w * dt / 3.6e6
        inlet_max = hall[h, fast.O_INLET_MAX]
        lane[h, L_IT_W] = it_w
        lane[h, L_FAC_W] = fac_w
        lane[h, L_IT_KWH] = it_w * dt / 3.6e6
        lane[h, L_FAC_KWH] = fac_kwh
        lane[h, L_CARBON_KG] = fac_kwh * lane[h, L_CI] / 1000.0
        lane[h, L_PUE] = fac_w / it_w
        lane[h, L_INLET_MEAN] = hall[h, fast.O_INLET_SUM] / n_r
        lane[h, L_VIOL] = max(0.0, inlet_max - prm[P_INLET_REC])
        lane[h, L_HOT] = 1.0 if inlet_max > prm[P_INLET_LIM] else 0.0  # thermal_throttle's test
