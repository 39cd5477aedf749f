"""Accelerator, server, rack/row/PDU and switch power, vectorized over a cluster.

Device model (POLCA arXiv 2308.12908 Sec. 3; Zeus NSDI'23; DESIGN.md "Accelerator power"):

    P(a, f) = P_idle + (TDP - P_idle) * a * S(f),
    S(f) = s_L * v + (1 - s_L) * v**2 * f,   v = V(f) / V_max = max(v_floor, f)

with ``a`` in [0, 1] the phase activity (share of the dynamic range used at f_max, see
``PHASE_ACTIVITY``) and ``f`` the clock as a fraction of ``f_max``. ``P_idle`` is the measured
idle power (lowest P-state, cool die). The busy part above it splits into leakage at the rail
voltage, ``s_L * v`` (P_static = V N k I_leak, Butts & Sohi MICRO 2000; it scales with the
powered, ungated share of the chip and its temperature, i.e. with activity, as in AccelWattch
MICRO 2021), and switching ``C V^2 f``. Voltage tracks the clock down to a floor
(``V_FLOOR_FRAC``); below it only f falls, so power falls linearly in f. The leakage share is
not a free parameter: the profile's ``dvfs_alpha`` is the measured log-slope of busy power at
f_max (Zeus, POLCA: ~f^2..3), and d ln S / d ln f at f = 1 is s_L + 3 (1 - s_L), so
s_L = (3 - alpha) / 2 (0.3 for alpha 2.4). Near f_max the model is the f^alpha law it
replaces; below the voltage floor it saves much less (issue 16.2). A power cap picks the
highest clock whose power fits, which is what NVIDIA's power brake / `nvidia-smi -pl` do in
firmware (POLCA Sec. 5).

Runtime under DVFS (roofline view): the compute-bound share of a kernel stretches as 1/f,
the memory-bound share is set by HBM bandwidth and stays flat (HBM clock is not scaled by
SM DVFS), so time(f) = (1 - m)/f + m for memory-bound fraction m (Greener LLMs arXiv 2403.20306,
Zeus). All functions take and return NumPy arrays and broadcast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field, model_validator

from dcsim.errors import InputError
from dcsim.schema import StrictModel

if TYPE_CHECKING:  # pragma: no cover
    from dcsim.hardware import HardwareProfile

# Phase activity a in P = P_idle + (P_max(f) - P_idle) * a. Sources:
#  - training 0.93 (the compute phase of a training step; communication dips are their own
#    phase): an 8-GPU H100 node measured at up to 8.4 kW in LLM training (Latif et al., IEEE
#    Access 13, 2025, arXiv 2412.08602: 8.4 kW max of 10.2 kW rated, GPUs near full
#    utilization) and at ~76 % of 10.2 kW = 7.75 kW for compute-intensive training (Newkirk
#    et al., arXiv 2506.14551). With the H100 profile (idle 70 W, TDP 700 W, host 2 kW, PSU
#    0.95) and the cooling model's server fans (~0.35 kW), a = 0.93 gives 656 W per GPU and
#    ~8.0 kW per node, between the two measurements (-5 % of 8.4 kW); a = 1 would give 8.35 kW
#    but leaves no room below prefill. POLCA (arXiv 2308.12908) Figs. 4-5: training draws
#    close to TDP between communication dips, so caps below ~650 W cost H100 throughput.
#  - prefill 0.95: Splitwise (arXiv 2311.18677) Fig. 9, the prompt phase is compute-bound and
#    draws near TDP; POLCA Fig. 6 (BLOOM/Llama prompt phase at ~TDP).
#  - decode 0.35: Splitwise Fig. 9, token phase is memory-bound and draws well below TDP;
#    POLCA Fig. 6 (token generation ~ 0.3-0.5 of the dynamic range).
#  - communication 0.30: POLCA Fig. 5, all-reduce phases of training drop to ~ 1/3 of peak.
#  - idle 0.0: the model's P_idle itself (~0.1-0.15 TDP, POLCA Fig. 2).
PHASE_ACTIVITY: dict[str, float] = {
    "training": 0.93,
    "prefill": 0.95,
    "decode": 0.35,
    "communication": 0.30,
    "idle": 0.0,
}

PHASE_ACTIVITY_SOURCES: dict[str, str] = {
    "training": "8-GPU H100 node 8.4 kW max / 7.75 kW typical in LLM training (Latif et al. "
    "arXiv 2412.08602; Newkirk et al. arXiv 2506.14551); POLCA arXiv 2308.12908 Figs. 4-5",
    "prefill": "Splitwise arXiv 2311.18677 Fig. 9; POLCA Fig. 6 (prompt phase near TDP)",
    "decode": "Splitwise arXiv 2311.18677 Fig. 9; POLCA Fig. 6 (token phase well below TDP)",
    "communication": "POLCA arXiv 2308.12908 Fig. 5 (power dips at synchronisation)",
    "idle": "POLCA arXiv 2308.12908 Fig. 2 (idle ~0.1-0.15 TDP = P_idle)",
}


def phase_activity(phase: str) -> float:
    """Activity of a named phase; InputError lists the known phases."""
    try:
        return PHASE_ACTIVITY[phase]
    except KeyError:
        raise InputError(
            f"unknown phase '{phase}'; expected one of: {', '.join(PHASE_ACTIVITY)}", field="phase"
        ) from None


PHASES: tuple[str, ...] = tuple(PHASE_ACTIVITY)
_PHASE_TABLE = np.array([PHASE_ACTIVITY[p] for p in PHASES])


def phase_index(phases: ArrayLike) -> np.ndarray:
    """Names -> integer codes into ``PHASES`` (vectorized; InputError on unknown names)."""
    arr = np.asarray(phases)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() >= len(PHASES)):
            raise InputError(f"phase code out of range 0..{len(PHASES) - 1}", field="phase")
        return arr.astype(np.intp)
    names, inv = np.unique(arr, return_inverse=True)
    codes = np.array(
        [PHASES.index(n) if n in PHASES else -1 for n in names.tolist()], dtype=np.intp
    )
    if np.any(codes < 0):
        bad = names[codes < 0][0]
        raise InputError(
            f"unknown phase '{bad}'; expected one of: {', '.join(PHASES)}", field="phase"
        )
    return codes[inv].reshape(arr.shape)


def activity_of(phases: ArrayLike) -> np.ndarray:
    """Per-device activity from phase names or codes, e.g. for a whole cluster at once."""
    return _PHASE_TABLE[phase_index(phases)]


def training_activity(comm_fraction: ArrayLike, exposed: ArrayLike = 1.0) -> np.ndarray:
    """Time-averaged activity of a training step whose exposed communication share dips power.

    a = (1 - c) * a_train + c * a_comm with c = comm_fraction * exposed (POLCA Fig. 5 dips).
    """
    c = np.clip(np.asarray(comm_fraction, dtype=float) * np.asarray(exposed, dtype=float), 0, 1)
    return (1 - c) * PHASE_ACTIVITY["training"] + c * PHASE_ACTIVITY["communication"]


# Voltage floor of the V/F curve as a fraction of the voltage at f_max. Measured V/F points of
# NVIDIA boards (TechPowerUp voltage-frequency analyses): Ampere GA104 (RTX 3060 Ti) 0.668 V at
# the 210 MHz floor vs up to 1.081 V at 1965 MHz (0.62); Turing TU116 (GTX 1660 Ti) 0.656 V at
# 300 MHz vs up to 1.050 V at 1920 MHz (0.62). Datacenter parts publish no V/F table; the same
# ratio is assumed (confidence low). With V ~ f above the floor, the floor starts at 0.62 f_max.
V_FLOOR_FRAC = 0.62


@dataclass(frozen=True)
class DevicePowerModel:
    """Power of one accelerator type as a function of activity and clock (vectorized).

    ``alpha``: measured d ln P_busy / d ln f at f_max, in (1, 3]; it sets the leakage share
    (3 - alpha) / 2 of busy power at f_max. ``v_floor_frac``: V_min / V_max of the V/F curve.
    """

    tdp_w: float
    idle_w: float
    f_max_mhz: float
    f_min_mhz: float
    alpha: float = 2.4
    v_floor_frac: float = V_FLOOR_FRAC

    def __post_init__(self) -> None:
        if not (0 <= self.idle_w < self.tdp_w):
            raise InputError(
                f"need 0 <= idle_w < tdp_w, got {self.idle_w}, {self.tdp_w}", field="power"
            )
        if not (0 < self.f_min_mhz <= self.f_max_mhz):
            raise InputError(
                f"need 0 < f_min_mhz <= f_max_mhz, got {self.f_min_mhz}, {self.f_max_mhz}",
                field="power",
            )
        if not (1.0 < self.alpha <= 3.0):
            raise InputError(
                f"dvfs alpha must be in (1, 3] (log-slope of busy power at f_max; 3 = pure "
                f"switching with V ~ f, lower values mean a leakage share (3 - alpha) / 2), "
                f"got {self.alpha}",
                field="power.dvfs_alpha",
            )
        if not (0.0 < self.v_floor_frac <= 1.0):
            raise InputError(
                f"voltage floor must be in (0, 1] of V_max, got {self.v_floor_frac}",
                field="power.v_floor_frac",
            )

    @classmethod
    def from_profile(cls, profile: HardwareProfile) -> DevicePowerModel:
        p = profile.power
        return cls(
            tdp_w=p.tdp_w.value,
            idle_w=p.idle_w.value,
            f_max_mhz=p.f_max_mhz.value,
            f_min_mhz=p.f_min_mhz.value,
            alpha=p.dvfs_alpha.value,
        )

    # ---------------------------------------------------------------- basics
    @property
    def f_min_frac(self) -> float:
        return self.f_min_mhz / self.f_max_mhz

    @property
    def dynamic_w(self) -> float:
        """TDP - P_idle: the range activity and clock move through."""
        return self.tdp_w - self.idle_w

    @property
    def leak_share(self) -> float:
        """s_L: leakage share of busy power at f_max, (3 - alpha) / 2."""
        return (3.0 - self.alpha) / 2.0

    def mhz_to_frac(self, mhz: ArrayLike) -> np.ndarray:
        """Clock in MHz -> fraction of f_max, clipped to the supported range."""
        return np.clip(np.asarray(mhz, dtype=float) / self.f_max_mhz, self.f_min_frac, 1.0)

    def clip_freq(self, freq_frac: ArrayLike) -> np.ndarray:
        return np.clip(np.asarray(freq_frac, dtype=float), self.f_min_frac, 1.0)

    def voltage_frac(self, freq_frac: ArrayLike) -> np.ndarray:
        """V(f) / V_max = max(v_floor, f): voltage tracks the clock down to the floor."""
        return np.maximum(self.v_floor_frac, self.clip_freq(freq_frac))

    def clock_scale(self, freq_frac: ArrayLike) -> np.ndarray:
        """S(f) = s_L v + (1 - s_L) v^2 f, exactly 1 at f_max: busy power relative to f_max."""
        f = self.clip_freq(freq_frac)
        v = np.maximum(self.v_floor_frac, f)
        s_l = self.leak_share
        return 1.0 - s_l * (1.0 - v) - (1.0 - s_l) * (1.0 - v * v * f)

    def p_max_w(self, freq_frac: ArrayLike) -> np.ndarray:
        """Full-activity power at clock f: P_idle + (TDP - P_idle) S(f)."""
        return self.idle_w + self.dynamic_w * self.clock_scale(freq_frac)

    def power_w(self, activity: ArrayLike, freq_frac: ArrayLike = 1.0) -> np.ndarray:
        """P = P_idle + (TDP - P_idle) a S(f); activity clipped to [0, 1], f to [f_min, 1]."""
        a = np.clip(np.asarray(activity, dtype=float), 0.0, 1.0)
        return self.idle_w + self.dynamic_w * a * self.clock_scale(freq_frac)

    def power_w_scalar(self, activity: float, freq_frac: float) -> float:
        """`power_w` of one device without NumPy's per-call cost (the Simulation's fast path):
        the same operations in the same order, so bitwise equal (tests/test_sim_fast.py)."""
        a = min(max(activity, 0.0), 1.0)
        f = min(max(freq_frac, self.f_min_frac), 1.0)
        v = max(self.v_floor_frac, f)
        s_l = self.leak_share
        scale = 1.0 - s_l * (1.0 - v) - (1.0 - s_l) * (1.0 - v * v * f)
        return self.idle_w + self.dynamic_w * a * scale

    def freq_for_scale(self, scale: ArrayLike) -> np.ndarray:
        """Inverse of S on [f_min, 1]: the clock whose busy-power scale is ``scale`` (clipped).

        Below the floor S is linear in f; above it (1 - s_L) f^3 + s_L f = S, a depressed cubic
        with one real root (hyperbolic form of Cardano's formula, stable for any s_L > 0).
        """
        s_l, vf = self.leak_share, self.v_floor_frac
        y = np.asarray(scale, dtype=float)
        f_lin = (y - s_l * vf) / ((1.0 - s_l) * vf * vf)
        if s_l > 0.0:
            p = s_l / (1.0 - s_l)
            q = -y / (1.0 - s_l)
            r = 2.0 * np.sqrt(p / 3.0)
            f_cub = -r * np.sinh(np.arcsinh(3.0 * q / (p * r)) / 3.0)
        else:
            f_cub = np.cbrt(y)
        f = np.where(f_cub >= vf, f_cub, f_lin)
        return self.clip_freq(f)

    # ---------------------------------------------------------------- caps
    def freq_for_cap(self, cap_w: ArrayLike, activity: ArrayLike) -> np.ndarray:
        """Highest clock fraction in [f_min/f_max, 1] whose power fits under cap_w.

        Closed-form inverse of S(f) = (cap - P_idle) / ((TDP - P_idle) a) (``freq_for_scale``).
        If even f_min does not fit (cap below P(a, f_min)), returns f_min: the hardware cannot go
        lower and the cap is violated; ``cap_feasible`` tells which.
        """
        cap = np.asarray(cap_w, dtype=float)
        a = np.clip(np.asarray(activity, dtype=float), 0.0, 1.0)
        head = np.maximum(cap - self.idle_w, 0.0)
        denom = self.dynamic_w * a
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            y = np.where(denom > 0, head / np.where(denom > 0, denom, 1.0), 1.0)
        f = self.freq_for_scale(np.minimum(y, 1.0))
        f = np.where(cap < self.power_w(a, self.f_min_frac), self.f_min_frac, f)
        return np.clip(f, self.f_min_frac, 1.0)

    def freq_for_cap_scalar(self, cap_w: float, activity: float) -> float:
        """`freq_for_cap` for one cap and activity without NumPy's per-call cost on 0-d arrays
        (the Simulation's clock every interval): the same operations in the same order, and
        NumPy's own sinh/arcsinh (whose SIMD results can differ from libm's in the last bit),
        so bitwise equal (tests/test_sim_fast.py)."""
        f_min = self.f_min_frac
        s_l, vf = self.leak_share, self.v_floor_frac
        a = min(max(float(activity), 0.0), 1.0)
        head = max(cap_w - self.idle_w, 0.0)
        denom = self.dynamic_w * a
        y = min(head / denom if denom > 0 else 1.0, 1.0)
        f_lin = (y - s_l * vf) / ((1.0 - s_l) * vf * vf)
        if s_l > 0.0:
            p = s_l / (1.0 - s_l)
            q = -y / (1.0 - s_l)
            r = 2.0 * math.sqrt(p / 3.0)
            f_cub = -r * float(np.sinh(np.arcsinh(np.float64(3.0 * q / (p * r))) / 3.0))
        else:
            f_cub = float(np.cbrt(y))
        f = min(max(f_cub if f_cub >= vf else f_lin, f_min), 1.0)
        v = max(vf, f_min)  # power at f_min (clock_scale of the clipped f_min)
        p_min = self.idle_w + self.dynamic_w * a * (
            1.0 - s_l * (1.0 - v) - (1.0 - s_l) * (1.0 - v * v * f_min)
        )
        if cap_w < p_min:
            f = f_min
        return min(max(f, f_min), 1.0)

    def cap_feasible(self, cap_w: ArrayLike, activity: ArrayLike) -> np.ndarray:
        """True where the cap can be met at some supported clock."""
        return self.power_w(activity, self.f_min_frac) <= np.asarray(cap_w, dtype=float) + 1e-9

    def capped_power_w(self, cap_w: ArrayLike, activity: ArrayLike) -> np.ndarray:
        """Power after the cap has been applied (the cap's steady state)."""
        return self.power_w(activity, self.freq_for_cap(cap_w, activity))

    # ---------------------------------------------------------------- time
    @staticmethod
    def time_scale(freq_frac: ArrayLike, memory_bound_fraction: ArrayLike = 0.0) -> np.ndarray:
        """Runtime multiplier (>= 1 for f <= 1): compute-bound share ~ 1/f, memory-bound flat."""
        f = np.asarray(freq_frac, dtype=float)
        m = np.clip(np.asarray(memory_bound_fraction, dtype=float), 0.0, 1.0)
        return (1.0 - m) / f + m

    @staticmethod
    def time_scale_scalar(freq_frac: float, memory_bound_fraction: float = 0.0) -> float:
        """`time_scale` of one clock without NumPy's per-call cost; bitwise equal."""
        m = min(max(memory_bound_fraction, 0.0), 1.0)
        return (1.0 - m) / freq_frac + m

    def throttle(
        self, cap_w: ArrayLike, activity: ArrayLike, memory_bound_fraction: ArrayLike = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply a power cap: (clock fraction, power W, runtime multiplier) per device."""
        f = self.freq_for_cap(cap_w, activity)
        return f, self.power_w(activity, f), self.time_scale(f, memory_bound_fraction)

    def energy_j(
        self, activity: ArrayLike, freq_frac: ArrayLike, duration_s: ArrayLike
    ) -> np.ndarray:
        """Energy of a constant-power interval: P * t (the integral for piecewise-constant power)."""
        return self.power_w(activity, freq_frac) * np.asarray(duration_s, dtype=float)


# ------------------------------------------------------------------------------- PSU / server
@dataclass(frozen=True)
class PSUEfficiencyCurve:
    """Load-dependent PSU efficiency from certification points.

    Losses (not efficiency) are interpolated piecewise-linearly in load fraction; below the
    lowest point the loss stays constant (fixed losses dominate, so efficiency falls toward 0
    at no load, as real supplies do); above 100% the last segment is extrapolated.
    """

    load_frac: tuple[float, ...]
    efficiency: tuple[float, ...]
    source: str

    def loss_points(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(load fractions, loss at each as a fraction of rated output, slope past the last):
        what `loss_frac` interpolates, also for kernels that restate it on scalars."""
        x = np.asarray(self.load_frac)
        eta = np.asarray(self.efficiency)
        loss_pts = x / eta - x  # loss as a fraction of rated output
        return x, loss_pts, float((loss_pts[-1] - loss_pts[-2]) / (x[-1] - x[-2]))

    def loss_frac(self, load_frac: ArrayLike) -> np.ndarray:
        x, loss_pts, slope = self.loss_points()
        lf = np.maximum(np.asarray(load_frac, dtype=float), 0.0)
        out = np.interp(lf, x, loss_pts)
        return np.where(lf > x[-1], loss_pts[-1] + slope * (lf - x[-1]), out)

    def __call__(self, load_frac: ArrayLike) -> np.ndarray:
        """Efficiency (output / input) at the given load fraction of rated output."""
        lf = np.maximum(np.asarray(load_frac, dtype=float), 0.0)
        loss = self.loss_frac(lf)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(lf > 0, lf / (lf + loss), 0.0)

    def input_w(self, output_w: ArrayLike, rated_w: ArrayLike) -> np.ndarray:
        """AC input power for a DC output, PSU bank of total rating rated_w."""
        out = np.asarray(output_w, dtype=float)
        rated = np.asarray(rated_w, dtype=float)
        return out + self.loss_frac(out / rated) * rated


# 80 PLUS Titanium, 230 V internal redundant (data-center PSUs): 90/94/96/91 % at 10/20/50/100 %
# load. Source: CLEAResult 80 PLUS program requirements table (as reproduced by Tom's Hardware,
# "80 PLUS PSU efficiency", 2017).
TITANIUM_230V_REDUNDANT = PSUEfficiencyCurve(
    load_frac=(0.10, 0.20, 0.50, 1.00),
    efficiency=(0.90, 0.94, 0.96, 0.91),
    source="80 PLUS Titanium 230V internal redundant: 90/94/96/91% at 10/20/50/100% load",
)


# Host (CPUs, DRAM, NICs) idles at ~half its loaded power (Barroso et al., "The Datacenter as a
# Computer", 3rd ed., Fig. 5.x: servers idle at ~50 % of peak).
HOST_IDLE_FRAC = 0.5


def host_power_w(
    host_w: ArrayLike, busy: ArrayLike, idle_frac: float = HOST_IDLE_FRAC
) -> np.ndarray:
    """Host power at a busy share in [0, 1]: ``idle_frac`` of ``host_w`` at rest, all of it
    busy. The one host model of `dcsim run` (`dcsim.sim`) and the multi-tenant engine."""
    b = np.clip(np.asarray(busy, dtype=float), 0.0, 1.0)
    return np.asarray(host_w, dtype=float) * (idle_frac + (1.0 - idle_frac) * b)


# one job (float) or arrays of jobs lane by lane (np.ndarray)
Lanes = TypeVar("Lanes", float, np.ndarray)


def interval_activity(
    compute_s: Lanes,
    comm_s: Lanes,
    span_s: float,
    a_compute: float,
    a_comm: float,
    a_idle: float = PHASE_ACTIVITY["idle"],
) -> Lanes:
    """Mean activity of a training accelerator over ``span_s``: ``compute_s`` at ``a_compute``,
    ``comm_s`` stalled on exposed communication at ``a_comm`` (POLCA Fig. 5 dips), the rest idle.

    Power is linear in activity at a fixed clock (`DevicePowerModel.power_w`), so the power of
    this mean is the span's mean power: the one phase-power formation of `dcsim.sim` (phases
    booked by its DES) and the multi-tenant engine (phases of its fluid iterations)."""
    busy = (compute_s * a_compute + comm_s * a_comm) / span_s
    idle = 1.0 - (compute_s + comm_s) / span_s
    # arrays of jobs lane by lane (the batched Datacenter-v0), one job without NumPy's cost
    idle_share = np.maximum(0.0, idle) if isinstance(idle, np.ndarray) else max(0.0, idle)
    return busy + idle_share * a_idle


def throttled_clock(cap_f: Lanes, throttle_f: Lanes, f_min: float) -> Lanes:
    """Clock fraction of a synchronous job: its cap's clock, lowered by the thermal throttle of
    the slowest rack it runs on (the plant's previous interval), never below f_min. Arrays of
    jobs lane by lane (the batched Datacenter-v0)."""
    if isinstance(cap_f, np.ndarray):
        return np.maximum(np.minimum(cap_f, throttle_f), f_min)
    return max(min(cap_f, throttle_f), f_min)


def server_wall_power_w(
    accel_w_sum: ArrayLike,
    host_w: ArrayLike,
    psu_efficiency: float | PSUEfficiencyCurve = 0.95,
    *,
    psu_rated_w: ArrayLike | None = None,
    fan_w: ArrayLike = 0.0,
) -> np.ndarray:
    """Wall (AC) power of servers from DC loads: accelerators + host + fans through the PSUs.

    ``psu_efficiency`` is either a constant (e.g. the profile's 0.95) or a load-dependent curve
    such as ``TITANIUM_230V_REDUNDANT``; a curve needs ``psu_rated_w`` (total rating of the PSUs
    that share the load, e.g. DGX H100: 6 x 3.3 kW).
    """
    dc = (
        np.asarray(accel_w_sum, dtype=float)
        + np.asarray(host_w, dtype=float)
        + np.asarray(fan_w, dtype=float)
    )
    if isinstance(psu_efficiency, PSUEfficiencyCurve):
        if psu_rated_w is None:
            raise InputError("a PSU efficiency curve needs psu_rated_w", field="server.psu_rated_w")
        return psu_efficiency.input_w(dc, psu_rated_w)
    eta = float(psu_efficiency)
    if not (0 < eta <= 1):
        raise InputError(
            f"PSU efficiency must be in (0, 1], got {eta}", field="server.psu_efficiency"
        )
    return dc / eta


def rack_wall_power_w(
    accel_w: ArrayLike,
    host_w: ArrayLike,
    rack: ArrayLike,
    n_racks: int,
    psu_efficiency: float,
    switch_w: float = 0.0,
) -> np.ndarray:
    """Per-rack wall power from per-unit (server or accelerator) DC loads: each rack's
    accelerators and hosts through the PSUs (`server_wall_power_w`, a constant efficiency),
    plus an equal share of the fabric's switches. The one rack power of `dcsim run` (per
    server) and the multi-tenant engine (per accelerator)."""
    acc = np.bincount(rack, weights=np.asarray(accel_w, dtype=float), minlength=n_racks)
    host = np.bincount(rack, weights=np.asarray(host_w, dtype=float), minlength=n_racks)
    return server_wall_power_w(acc, host, psu_efficiency) + switch_w / n_racks


def server_power_from_profile(
    profile: HardwareProfile,
    activity: ArrayLike,
    freq_frac: ArrayLike = 1.0,
    host_activity: ArrayLike = 1.0,
    host_idle_frac: float = HOST_IDLE_FRAC,
    psu_curve: PSUEfficiencyCurve | None = None,
    psu_rated_w: float | None = None,
) -> np.ndarray:
    """Wall power per server from per-accelerator activity/clock arrays of shape (..., n_accel).

    Host power (CPUs, DRAM, NICs) moves from ``host_idle_frac`` of the profile's host power at
    rest to all of it at ``host_activity`` = 1 (Barroso et al., "The Datacenter as a Computer",
    3rd ed., Fig. 5.x: servers idle at ~50% of peak).
    """
    m = DevicePowerModel.from_profile(profile)
    acc = m.power_w(activity, freq_frac)
    acc_sum = acc.sum(axis=-1) if acc.ndim else acc * profile.server.accelerators
    host = host_power_w(profile.server.host_power_w.value, host_activity, host_idle_frac)
    if psu_curve is not None:
        rated = psu_rated_w or (
            profile.server.rated_power_w.value if profile.server.rated_power_w else None
        )
        return server_wall_power_w(acc_sum, host, psu_curve, psu_rated_w=rated)
    return server_wall_power_w(acc_sum, host, profile.server.psu_efficiency.value)


# ------------------------------------------------------------------------------- aggregation
def aggregate_w(power_w: ArrayLike, group: ArrayLike, n_groups: int | None = None) -> np.ndarray:
    """Sum power over groups (servers->racks, racks->rows, ...). power_w: (..., n); group: (n,)."""
    p = np.asarray(power_w, dtype=float)
    g = np.asarray(group, dtype=np.int64)
    if g.ndim != 1 or g.shape[0] != p.shape[-1]:
        raise InputError(f"group index needs shape ({p.shape[-1]},), got {g.shape}", field="group")
    n = int(n_groups if n_groups is not None else (g.max() + 1 if g.size else 0))
    if p.ndim == 1:
        return np.bincount(g, weights=p, minlength=n)
    onehot = np.zeros((p.shape[-1], n))
    onehot[np.arange(g.size), g] = 1.0
    return p @ onehot


def contiguous_groups(n_items: int, per_group: int) -> np.ndarray:
    """Group index for items placed in order, per_group to a group (servers into racks)."""
    if per_group <= 0:
        raise InputError(f"per_group must be > 0, got {per_group}", field="per_group")
    return np.arange(n_items) // per_group


def rack_power_w(server_w: ArrayLike, servers_per_rack: int) -> np.ndarray:
    """Rack IT power: servers placed in order, servers_per_rack to a rack."""
    p = np.asarray(server_w, dtype=float)
    return aggregate_w(p, contiguous_groups(p.shape[-1], servers_per_rack))


def row_power_w(rack_w: ArrayLike, racks_per_row: int) -> np.ndarray:
    return rack_power_w(rack_w, racks_per_row)


# PDU / UPS conversion losses. Sources: Barroso, Hoelzle, Ranganathan, "The Datacenter as a
# Computer" 3rd ed. (2019) Sec. 4.1: double-conversion UPS 94-97% (we take 0.96 at load), PDU
# transformers ~98.5-99% (we take 0.985).
UPS_EFFICIENCY = 0.96
PDU_EFFICIENCY = 0.985


def pdu_input_power_w(
    load_w: ArrayLike,
    pdu_efficiency: float = PDU_EFFICIENCY,
    ups_efficiency: float | None = UPS_EFFICIENCY,
) -> np.ndarray:
    """Power drawn upstream of a PDU (and optional UPS) for a given IT load."""
    for name, eta in (("pdu_efficiency", pdu_efficiency), ("ups_efficiency", ups_efficiency)):
        if eta is not None and not (0 < eta <= 1):
            raise InputError(f"{name} must be in (0, 1], got {eta}", field=name)
    out = np.asarray(load_w, dtype=float) / pdu_efficiency
    return out / ups_efficiency if ups_efficiency is not None else out


# ------------------------------------------------------------------------------- facility
# UPS losses vs load (issue 15.4): no-load (fixed, share of the UPS rating: transformers,
# capacitors, control, fans) + proportional (switching, share of the load) + square-law (I^2 R,
# share of the rating at full load, ~ load^2); the three-term model of Rasmussen, "Electrical
# Efficiency Modeling for Data Centers" (Schneider Electric/APC White Paper 113) and Avelar,
# "Making Large UPS Systems More Efficient" (White Paper 108). Defaults (PowerConfig) give
# 0.952 / 0.935 / 0.895 / 0.790 at 100 / 50 / 25 / 10 % load, inside the measured band of
# double-conversion UPSs in the LBNL/EPRI study (Ton & Fortenbury, "High Performance Buildings:
# Data Centers - Uninterruptible Power Supplies", LBNL/Ecos/EPRI Solutions, 2005: ~0.86-0.90 at
# 25 %, ~0.93-0.95 at 50-100 %) and Barroso et al.'s 94-97 % at load.


class FacilityConfig(StrictModel):
    """Facility power outside IT and cooling (`dcsim.power.facility_power_w`, issue 15.4).

    UPS loss = rating x (no_load + proportional x + square x^2), x = IT load / UPS rating
    (Rasmussen, Schneider Electric WP 113); the defaults give 0.952 / 0.935 / 0.895 / 0.790
    efficiency at 100 / 50 / 25 / 10 % load, the measured double-conversion band of the
    LBNL/EPRI UPS study (Ton & Fortenbury 2005)."""

    ups_no_load_loss: float = Field(
        0.025,
        ge=0,
        le=0.2,
        description="UPS no-load loss, share of its rating, drawn at any load (transformers, "
        "capacitors, logic, fans); double-conversion 2-4 % (Schneider Electric WP 108/113)",
    )
    ups_proportional_loss: float = Field(
        0.015, ge=0, le=0.2, description="UPS loss proportional to the load, share of the load"
    )
    ups_square_loss: float = Field(
        0.01,
        ge=0,
        le=0.2,
        description="UPS I^2R loss at full load, share of its rating (scales with load^2)",
    )
    ups_sizing_factor: float = Field(
        1.0,
        ge=1,
        le=4,
        description="UPS rating / design IT power: 1 for N, 2 for 2N (each side carries half); "
        "the no-load loss scales with the rating, so an oversized UPS loses more at light load",
    )
    fixed_load_w_per_kw: float = Field(
        10.0,
        ge=0,
        le=200,
        description="lighting, controls, security and office power per kW of design IT, "
        "constant whatever the IT load: 1 % of design IT (Rasmussen, Schneider Electric WP 113, "
        "counts lighting as a fixed loss of ~1 % of the IT rating; confidence medium: sites "
        "with large offices draw more)",
    )

    @model_validator(mode="before")
    @classmethod
    def _ups_efficiency_replaced(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ups_efficiency" in data:
            raise ValueError(
                "ups_efficiency (one constant) was replaced by a load-dependent UPS: "
                "set ups_no_load_loss, ups_proportional_loss, ups_square_loss and "
                "ups_sizing_factor (e.g. 0.04 loss at full load: ups_no_load_loss 0.0, "
                "ups_proportional_loss 0.04, ups_square_loss 0.0)"
            )
        return data


def ups_loss_w(load_w: float, rated_w: float, cfg: FacilityConfig) -> float:
    """UPS loss, W, at output load_w of a UPS rated rated_w:
    rated (no_load + proportional x + square x^2), x = load / rated."""
    x = load_w / rated_w
    return rated_w * (
        cfg.ups_no_load_loss + x * (cfg.ups_proportional_loss + cfg.ups_square_loss * x)
    )


def ups_efficiency(load_fraction: float, cfg: FacilityConfig) -> float:
    """Output / input of the scenario's UPS at load_fraction of its rating (0 at no load)."""
    return load_fraction / (load_fraction + ups_loss_w(load_fraction, 1.0, cfg))


def facility_power_w(
    it_w: float, cooling_w: float, design_it_w: float, cfg: FacilityConfig
) -> float:
    """Facility power, W: IT through the UPS (`ups_loss_w`, rated ups_sizing_factor x design
    IT) + cooling + fixed loads (lighting, controls, security, office: fixed_load_w_per_kw per
    design IT kW, whatever the IT load). The one place facility power is formed: `dcsim run`,
    sweeps and the envs all use it."""
    rated = cfg.ups_sizing_factor * design_it_w
    fixed = cfg.fixed_load_w_per_kw * design_it_w / 1000.0
    return it_w + ups_loss_w(it_w, rated, cfg) + cooling_w + fixed


@dataclass(frozen=True)
class IntervalEnergy:
    """One control interval's facility power and what it costs (powers are interval means)."""

    it_w: float  # rack wall power + server fans
    facility_w: float
    it_kwh: float
    facility_kwh: float
    carbon_kg: float
    cost_usd: float


def interval_energy(
    rack_w_sum: float,
    fan_w: float,
    cooling_w: float,
    design_it_w: float,
    cfg: FacilityConfig,
    dt_s: float,
    carbon_g_per_kwh: float,
    price_usd_per_mwh: float = 0.0,
) -> IntervalEnergy:
    """IT (racks + server fans) -> facility power (`facility_power_w`) -> energy, carbon and cost
    of one interval: the one accounting of `dcsim run` (`dcsim.sim`) and the engine."""
    it_w = float(rack_w_sum + fan_w)
    facility_w = facility_power_w(it_w, float(cooling_w), design_it_w, cfg)
    fac_kwh = facility_w * dt_s / 3.6e6
    return IntervalEnergy(
        it_w=it_w,
        facility_w=facility_w,
        it_kwh=it_w * dt_s / 3.6e6,
        facility_kwh=fac_kwh,
        carbon_kg=fac_kwh * carbon_g_per_kwh / 1000.0,
        cost_usd=fac_kwh / 1000.0 * price_usd_per_mwh,
    )


# ------------------------------------------------------------------------------- switches
# Switch power = chassis base + per-port (ASIC SerDes/forwarding share + pluggable optic), with
# a small traffic-dependent part. Sources:
#  - ASIC: 51.2 Tb/s switch ASICs (Broadcom Tomahawk 5, NVIDIA Spectrum-4/Quantum-2 class) draw
#    ~500 W => ~9.8 pJ/bit, i.e. ~3.9 W per 400G port (vendor announcements, confidence medium).
#  - Optics: 400G OSFP SR4 ~8.5 W, DR4 ~10 W (vendor datasheets, e.g. Ascent Optics 400G OSFP
#    table); passive DAC copper ~0.1 W.
#  - Load dependence: Mahadevan et al., "A power benchmarking framework for network devices"
#    (Networking 2009): traffic changes switch power by only a few percent => 90% is fixed.
SWITCH_ASIC_PJ_PER_BIT = 9.8
SWITCH_CHASSIS_W = 150.0  # CPU, fans, management for a 1U 64-port box (estimate, medium)
OPTIC_W_PER_400G = 10.0
SWITCH_IDLE_FRACTION = 0.9


def switch_power_w(
    n_ports: ArrayLike,
    port_gbps: ArrayLike = 400.0,
    utilization: ArrayLike = 0.0,
    *,
    optics: bool = True,
    pj_per_bit: float = SWITCH_ASIC_PJ_PER_BIT,
    optic_w_per_400g: float = OPTIC_W_PER_400G,
    chassis_w: float = SWITCH_CHASSIS_W,
    idle_fraction: float = SWITCH_IDLE_FRACTION,
) -> np.ndarray:
    """Power of network switches from port count and speed (vectorized).

    P = chassis + n * [ASIC(port) * (idle_frac + (1 - idle_frac) * util) + optic(port)],
    ASIC(port) = pj_per_bit * port_gbps * 1e9 * 1e-12, optic scaled linearly from 400G.
    A 64 x 400G box with optics comes to ~1.04 kW (chassis 150 + 64 x (3.9 + 10)).
    """
    n = np.asarray(n_ports, dtype=float)
    g = np.asarray(port_gbps, dtype=float)
    if np.any(n < 0) or np.any(g <= 0):
        raise InputError("switch needs n_ports >= 0 and port_gbps > 0", field="switch")
    u = np.clip(np.asarray(utilization, dtype=float), 0.0, 1.0)
    asic = pj_per_bit * g * 1e-3  # pJ/bit * Gb/s = mW; /1000 -> W
    optic = optic_w_per_400g * g / 400.0 if optics else 0.1
    return chassis_w + n * (asic * (idle_fraction + (1 - idle_fraction) * u) + optic)


def fabric_switch_power_w(ports: ArrayLike, port_gbps: ArrayLike) -> float:
    """Total power of a fabric's switches from their live ports and mean port speed
    (`dcsim.network.Fabric.switch_ports`); a switch whose every link failed still draws its
    chassis power (ports = 0). The one switch-power sum of `dcsim run` and the engine."""
    n = np.asarray(ports)
    return float(np.sum(switch_power_w(n, np.where(n > 0, port_gbps, 400.0))))


__all__ = [
    "PHASE_ACTIVITY",
    "PHASE_ACTIVITY_SOURCES",
    "DevicePowerModel",
    "PSUEfficiencyCurve",
    "TITANIUM_230V_REDUNDANT",
    "UPS_EFFICIENCY",
    "PDU_EFFICIENCY",
    "V_FLOOR_FRAC",
    "phase_activity",
    "PHASES",
    "phase_index",
    "activity_of",
    "training_activity",
    "server_wall_power_w",
    "server_power_from_profile",
    "rack_wall_power_w",
    "HOST_IDLE_FRAC",
    "host_power_w",
    "interval_activity",
    "throttled_clock",
    "aggregate_w",
    "contiguous_groups",
    "rack_power_w",
    "row_power_w",
    "pdu_input_power_w",
    "FacilityConfig",
    "facility_power_w",
    "IntervalEnergy",
    "interval_energy",
    "ups_efficiency",
    "ups_loss_w",
    "switch_power_w",
    "fabric_switch_power_w",
]

# HBM access energy incl. I/O: ~3.9 pJ/bit for HBM2 (O'Connor et al., "Fine-Grained DRAM:
# Energy-Efficient DRAM for Extreme Bandwidth Systems", MICRO 2017). Memory power follows the
# bytes moved, not the core clock (HBM is not scaled by SM DVFS).
HBM_PJ_PER_BIT = 3.9


def hbm_power_w(bytes_per_s: ArrayLike) -> np.ndarray:
    """Power of streaming HBM at bytes_per_s (per device)."""
    return np.asarray(bytes_per_s, dtype=float) * 8.0 * HBM_PJ_PER_BIT * 1e-12
