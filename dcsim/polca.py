"""Row-level power oversubscription of LLM inference servers (POLCA, arXiv 2308.12908).

Structure follows POLCA's own evaluation (Sec. 6): characterise one inference server's power
and latency at each GPU clock, then simulate a row of servers against a fixed power budget
with a row-level controller acting through slow out-of-band commands and a fast power brake.

1. ``characterize``: for every (load, clock) cell, the continuous-batching DES of
   ``dcsim.inference`` serves a Gamma/Zipf conversation workload on one DGX-class server
   (one tensor-parallel replica over all its GPUs) and records mean GPU power, its 1-s
   fluctuation and the end-to-end latency of every request (common random numbers across clocks).
2. ``RowSimulation``: per-server arrivals are a Gamma renewal process (Splitwise fit) whose
   rate follows a row-wide burst process (log-rate Ornstein-Uhlenbeck fitted to the per-minute
   rate of the Azure 2023 conversation trace: sigma 0.21, tau 390 s); load = arrivals smoothed
   over a request lifetime / saturation throughput. Server wall power = GPUs (table) + host
   (load-dependent) + fans (cube law) through a load-dependent Titanium PSU curve. The physics
   ticks every second (a block of ticks per NumPy call until the brake changes state, or
   per compiled call once numba is loaded: ``dcsim.polca_kernel``, the same numbers), a
   controller samples row power every control period (SimPy orders its instants and the
   ticks), clock commands land after a random out-of-band delay (<= 40 s), and a power brake
   drops every GPU to the brake clock within <= 5 s when the row exceeds its budget.
3. High-priority latency impact = weighted percentiles of per-request latency over the run
   versus the same run with no control (same seeds). Steady-state cells are an approximation:
   queues built while capped are not carried across cells.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import simpy
from pydantic import Field, model_validator

from dcsim import jit
from dcsim.errors import InputError
from dcsim.hardware import get_profile
from dcsim.inference import (
    CONV_GAMMA_SCALE_S,
    CONV_GAMMA_SHAPE,
    RooflineCost,
    ServingConfig,
    gamma_zipf_requests,
    get_llm,
    simulate_serving,
)
from dcsim.power import TITANIUM_230V_REDUNDANT, host_power_w, server_wall_power_w
from dcsim.schema import StrictModel
from dcsim.stochastic import ar1

# POLCA's A100 clock levels (MHz); the A100 maximum is 1410 MHz. For other hardware the same
# fractions of f_max are used.
A100_F_MAX_MHZ = 1410.0
POLCA_A100_MHZ = {"lp_level1": 1275.0, "lp_level2": 1110.0, "hp_level2": 1305.0, "brake": 288.0}
POLCA_PAPER = {
    "extra_servers_pct": 30.0,
    "inference_row_peak_pct": 79.0,
    "training_row_peak_pct": 97.0,
    "source": "POLCA arXiv 2308.12908: +30% servers, <1% high-priority P50 impact (A100)",
}


def polca_fraction(level: str) -> float:
    """POLCA clock level as a fraction of f_max (A100 MHz / 1410)."""
    return POLCA_A100_MHZ[level] / A100_F_MAX_MHZ


def action_to_clock(action: np.ndarray | float, lo: float) -> Any:
    """Map actions in [-1, 1] linearly to clock fractions in [lo, 1] (an array, or a float
    without NumPy's per-call cost: the same operations, so the same numbers)."""
    if isinstance(action, float):
        a: Any = min(max(action, -1.0), 1.0)
    else:
        a = np.minimum(np.maximum(np.asarray(action, dtype=float), -1.0), 1.0)  # np.clip
    return lo + (1.0 - lo) * (a + 1.0) / 2.0


def clock_to_action(freq_frac: np.ndarray, lo: float) -> np.ndarray:
    """Inverse of ``action_to_clock``."""
    f = np.clip(np.asarray(freq_frac, dtype=float), lo, 1.0)
    return 2.0 * (f - lo) / (1.0 - lo) - 1.0


DEFAULT_CLOCK_FRACS = tuple(
    sorted(
        {1.0, *(polca_fraction(k) for k in POLCA_A100_MHZ), 0.50, 0.35},
        reverse=True,
    )
)


MAX_ROW_CELLS = 10_000_000  # servers x simulated seconds a row may hold (memory)
TICK_BLOCK = 64  # ticks per physics call at most (a brake transition re-evaluates the rest)
_KERNELS: Any = None  # dcsim.polca_kernel once imported, False when numba is unavailable


def kernels(load: bool = False) -> Any:
    """`dcsim.polca_kernel` (the row's compiled loops, the NumPy path's numbers) or None.

    Imported once numba is loaded, or now when `load` asks for it: loading numba costs
    ~0.5 CPU-s, worth it for a run or an episode's steps, not for building a row (a reset
    stays on the NumPy path until something loads numba). None without numba or with
    DCSIM_NO_JIT=1."""
    global _KERNELS
    if _KERNELS is None:
        if not (load or jit.numba_loaded()):
            return None
        _KERNELS = False  # numba missing or off: the NumPy path
        if jit.numba_module():
            import dcsim.polca_kernel

            _KERNELS = dcsim.polca_kernel
    return _KERNELS or None


class RowConfig(StrictModel):
    """A row of inference servers under one power budget."""

    hardware: str = "A100-80G"
    model: str = "llama2-70b"
    n_servers: int = Field(40, gt=0)
    baseline_servers: int = Field(
        40, gt=0, description="servers the budget was provisioned for at nameplate power"
    )
    budget_w: float | None = Field(None, gt=0, description="row budget; default baseline x rated")
    high_priority_fraction: float = Field(0.5, ge=0, le=1)
    mean_load: float = Field(
        0.6, gt=0, le=1.2, description="mean request rate / saturation throughput at peak hours"
    )
    burst_sigma: float = Field(0.21, ge=0, description="std of row log-rate (conv trace, 1-min)")
    burst_tau_s: float = Field(390.0, gt=0, description="correlation time (conv trace lag-1 0.858)")
    smoothing_s: float = Field(10.0, gt=0, description="request lifetime smoothing of load")
    horizon_s: float = Field(4 * 3600.0, gt=0, description="simulated peak-hours window")
    control_period_s: float = Field(2.0, gt=0)
    cap_delay_max_s: float = Field(40.0, ge=0, description="out-of-band command latency, <= 40 s")
    brake_threshold: float = Field(1.0, gt=0, description="share of budget that trips the brake")
    brake_delay_max_s: float = Field(5.0, ge=0, description="brake takes effect within 5 s")
    brake_hold_s: float = Field(10.0, ge=0, description="minimum time the brake stays on")
    brake_release_hysteresis: float = Field(0.05, ge=0, lt=1)
    host_idle_fraction: float = Field(0.5, ge=0, le=1)
    fan_max_w: float = Field(
        600.0, ge=0, description="server fans at full speed (estimate, confidence low)"
    )
    fan_min_speed: float = Field(0.3, ge=0, le=1)
    psu_rated_w: float = Field(18000.0, gt=0, description="DGX A100: 6 x 3 kW PSUs share the load")
    seed: int = 0

    @model_validator(mode="after")
    def _fits_in_memory(self) -> RowConfig:
        # the row holds ~8 (seconds x servers) arrays of 8 bytes: 10 M cells ~ 0.6 GB
        cells = math.ceil(self.horizon_s) * self.n_servers
        if cells > MAX_ROW_CELLS:
            raise InputError(  # not a ValueError: names n_servers, not the model's root
                f"n_servers x horizon_s = {self.n_servers:,} x {self.horizon_s:,.0f} s = "
                f"{cells:,} server-seconds; limit {MAX_ROW_CELLS:,} (memory): use fewer "
                "servers or a shorter horizon",
                field="n_servers",
            )
        return self


@dataclass
class ServingTable:
    """Characterised server: GPU power and request latency per (load, clock) cell."""

    rho_grid: np.ndarray
    f_grid: np.ndarray  # descending clock fractions
    gpu_power_w: np.ndarray  # (n_rho, n_f) mean over the measurement window
    gpu_power_std_w: np.ndarray  # (n_rho, n_f) std of 1-s mean power
    e2e_samples: list[list[np.ndarray]]  # [rho][f] per-request end-to-end latency (s)
    lambda_sat: float  # saturation throughput at f_max (requests/s)
    n_gpus: int
    host_w: float
    rated_w: float

    @cached_property
    def p50_slowdown(self) -> np.ndarray:
        """(n_rho, n_f) median latency relative to f_max at the same load (1 where no request).

        A table of medians, so controllers can be scored at any (load, clock) by `bilinear`
        interpolation instead of the nearest characterised clock, which let a clock just above
        the midpoint of two table clocks draw the lower clock's power (interpolated) and pay
        the higher clock's latency.
        """
        p50 = np.array(
            [[float(np.median(s)) if s.size else 0.0 for s in row] for row in self.e2e_samples]
        )
        ref = p50[:, :1]  # f_grid is descending: column 0 is f_max
        return np.where(ref > 0, p50 / np.where(ref > 0, ref, 1.0), 1.0)


DEFAULT_RHO_GRID = tuple(float(x) for x in np.round(np.arange(0.0, 1.21, 0.1), 2))


@lru_cache(maxsize=8)
def characterize(
    hardware: str = "A100-80G",
    model: str = "llama2-70b",
    rho_grid: tuple[float, ...] = DEFAULT_RHO_GRID,
    f_grid: tuple[float, ...] = DEFAULT_CLOCK_FRACS,
    sim_s: float = 150.0,
    warmup_s: float = 30.0,
    seed: int = 0,
) -> ServingTable:
    """`characterize_fresh`, served from the shipped tables (`dcsim.serving_tables`, tested
    bit-identical to a fresh run) when the call and the data it reads match one."""
    from dcsim import serving_tables

    kw = full_args(hardware, model, rho_grid, f_grid, sim_s, warmup_s, seed)
    shipped = serving_tables.load(serving_tables.call_args(kw))
    return shipped if shipped is not None else characterize_fresh(**kw)


def full_args(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """`characterize`'s arguments by name, its defaults filled in (read from its signature)."""
    bound = inspect.signature(characterize).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def characterize_fresh(
    hardware: str,
    model: str,
    rho_grid: tuple[float, ...],
    f_grid: tuple[float, ...],
    sim_s: float,
    warmup_s: float,
    seed: int,
) -> ServingTable:
    """Run the serving DES over a (load, clock) grid; common random numbers across clocks.
    Arguments as `characterize` (defaults: `full_args`)."""
    prof = get_profile(hardware)
    llm = get_llm(model)
    cfg = ServingConfig(tp=prof.server.accelerators)
    cost = RooflineCost(prof, llm, cfg)
    # Saturation throughput at f_max: overload the server and count completions after warmup.
    over = gamma_zipf_requests(sim_s, seed=seed + 999, rate_factor=4.0)
    r = simulate_serving(over, cost, 1.0, horizon_s=sim_s)
    fin = r.arrival_s + r.e2e_s
    lam_sat = float(np.sum(r.completed & (fin >= warmup_s))) / (sim_s - warmup_s)
    if lam_sat <= 0:
        raise InputError(f"{model} on {hardware}: no request completes", field="model")
    base_rate = 1.0 / (CONV_GAMMA_SHAPE * CONV_GAMMA_SCALE_S)
    f_arr = np.asarray(f_grid, dtype=float)
    rho_arr = np.asarray(rho_grid, dtype=float)
    pw = np.zeros((rho_arr.size, f_arr.size))
    sd = np.zeros_like(pw)
    lat: list[list[np.ndarray]] = []
    measure_end = sim_s - 0.2 * sim_s
    for i, rho in enumerate(rho_arr):
        row: list[np.ndarray] = []
        if rho <= 0:
            pw[i, :] = cost.power.idle_w * cfg.tp
            row = [np.zeros(0) for _ in f_arr]
            lat.append(row)
            continue
        tr = gamma_zipf_requests(sim_s, seed=seed + i, rate_factor=rho * lam_sat / base_rate)
        for j, f in enumerate(f_arr):
            res = simulate_serving(tr, cost, float(f), horizon_s=sim_s)
            _, ps = res.power_series(1.0)
            win = ps[int(warmup_s) : int(measure_end)]
            pw[i, j] = win.mean()
            sd[i, j] = win.std()
            m = (res.arrival_s >= warmup_s) & (res.arrival_s < measure_end)
            e2e = np.where(res.completed, res.e2e_s, sim_s - res.arrival_s)  # censored at horizon
            row.append(np.sort(e2e[m]))
        lat.append(row)
    return ServingTable(
        rho_grid=rho_arr,
        f_grid=f_arr,
        gpu_power_w=pw,
        gpu_power_std_w=sd,
        e2e_samples=lat,
        lambda_sat=lam_sat,
        n_gpus=cfg.tp,
        host_w=prof.server.host_power_w.value,
        rated_w=prof.server.rated_power_w.value if prof.server.rated_power_w else float("nan"),
    )


def _interp_rows(grid: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower index and weight for linear interpolation on an ascending grid (clipped)."""
    xc = np.minimum(np.maximum(x, grid[0]), grid[-1])
    k = np.searchsorted(grid[1:-1], xc, side="right")  # the segment, at most grid.size - 2
    g0 = grid.take(k)
    w = (xc - g0) / (grid.take(k + 1) - g0)
    return k, w


def bilinear(table: ServingTable, z: np.ndarray, rho: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a (rho, f) table z at loads rho and clocks f (vectorized)."""
    i, wi = _interp_rows(table.rho_grid, np.asarray(rho, dtype=float))
    j, wj = _interp_rows(table.f_grid[::-1], np.asarray(f, dtype=float))
    nf = table.f_grid.size
    return _bilinear_cells(_cell_pairs(z), nf, i * nf, wi, j, wj)


def _cell_pairs(z: np.ndarray) -> np.ndarray:
    """A (rho, f) table as (2, cells): row 0 the table with f ascending, flat (cell (i, j)
    at i * n_f + j), row 1 the next cell's value (i, j + 1), so one take fetches both."""
    za = z[:, ::-1].ravel()
    return np.stack([za, np.append(za[1:], 0.0)])


def _bilinear_cells(
    z2: np.ndarray, nf: int, inf: np.ndarray, wi: np.ndarray, j: np.ndarray, wj: np.ndarray
) -> np.ndarray:
    """`bilinear` from its cells: z2 the table's `_cell_pairs`, (i, wi) and (j, wj) the
    `_interp_rows` of the loads and the clocks, inf = i * n_f."""
    k = inf + j
    vj = 1 - wj
    z00, z01 = z2.take(k, axis=1)
    z10, z11 = z2.take(k + nf, axis=1)
    lo = vj * z00 + wj * z01
    hi = vj * z10 + wj * z11
    return (1 - wi) * lo + wi * hi


def gpu_power_lookup(table: ServingTable, rho: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Mean GPU power of servers at load rho and clock fraction f."""
    return bilinear(table, table.gpu_power_w, rho, f)


def nearest_cells(table: ServingTable, rho: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Flat (rho, f) cell index of the nearest characterised cell."""
    i = np.abs(table.rho_grid[None, :] - np.asarray(rho).reshape(-1, 1)).argmin(1)
    j = np.abs(table.f_grid[None, :] - np.asarray(f).reshape(-1, 1)).argmin(1)
    return i * table.f_grid.size + j


def _median(x: np.ndarray) -> float:
    """`np.median` of a 1-D float array without NaNs (same value: the middle of the sorted
    values, or the mean of the two middle ones), at a fraction of its per-call cost."""
    s = x.copy()
    s.sort()
    return float((s[(x.size - 1) // 2] + s[x.size // 2]) / 2.0)


def _median_of(x: np.ndarray, idx: np.ndarray) -> float:
    """`_median` of x at the indices idx (`polca_kernel.median_of` compiled)."""
    return _median(x[idx])


def weighted_percentiles(
    table: ServingTable, cell_weights: np.ndarray, qs: tuple[float, ...]
) -> list[float]:
    """Percentiles of the latency mixture where cell c carries weight cell_weights[c]."""
    vals: list[np.ndarray] = []
    wts: list[np.ndarray] = []
    nf = table.f_grid.size
    for c in np.flatnonzero(cell_weights > 0):
        s = table.e2e_samples[c // nf][c % nf]
        if s.size:
            vals.append(s)
            wts.append(np.full(s.size, cell_weights[c] / s.size))
    if not vals:
        return [float("nan")] * len(qs)
    v = np.concatenate(vals)
    w = np.concatenate(wts)
    o = np.argsort(v, kind="stable")
    v, cw = v[o], np.cumsum(w[o])
    cw /= cw[-1]
    return [float(v[min(int(np.searchsorted(cw, q / 100.0)), v.size - 1)]) for q in qs]


@dataclass
class RowObservation:
    """What a row controller sees at a control instant."""

    t_s: float
    row_power_frac: float  # last 1-s row power / budget
    row_power_frac_avg: float  # mean over the last control period
    brake_active: bool
    lp_clock_frac: float  # currently applied (majority) clocks
    hp_clock_frac: float


Controller = Callable[[RowObservation], "tuple[float, float] | None"]


@dataclass
class PeriodPower:
    """The row's 1-s power over a span of ticks against its budget (all 0 for no tick)."""

    peak_frac: float  # max of P / budget
    mean_frac: float  # mean of P / budget
    over_frac: float  # mean of max(0, P / budget - 1)
    over_w: float  # sum of max(0, P - budget): W x 1 s
    energy_j: float  # sum of P: W x 1 s
    braked_s: int  # ticks with the brake on


@dataclass
class RowResult:
    n_servers: int
    budget_w: float
    row_power_w: np.ndarray  # (T,)
    cap_events: int
    brake_events: int
    brake_seconds: int
    capped_seconds: int
    hp_cell_weights: np.ndarray
    lp_cell_weights: np.ndarray
    f_eff: np.ndarray = field(repr=False)  # (T, N) applied clocks
    brake_onsets_s: list[float] = field(default_factory=list)
    brake_triggers_s: list[float] = field(default_factory=list)

    @property
    def peak_frac(self) -> float:
        return float(self.row_power_w.max() / self.budget_w)

    @property
    def avg_frac(self) -> float:
        return float(self.row_power_w.mean() / self.budget_w)

    @property
    def energy_j(self) -> float:
        return float(self.row_power_w.sum())  # 1-s ticks: sum of W x 1 s


class RowSimulation:
    """A row of inference servers, a budget, a controller and a power brake (NumPy, 1-s ticks).

    Its per-tick physics, command bookkeeping and per-step reductions run as compiled loops
    (`dcsim.polca_kernel`, via `kernels`) once numba is loaded, with the numbers of the
    readable NumPy path (tests/test_polca_kernel.py); `compiled = False` keeps that path.
    """

    compiled = True

    def __init__(self, cfg: RowConfig, table: ServingTable | None = None):
        self.cfg = cfg
        prof = get_profile(cfg.hardware)
        self.profile = prof
        self.table = table if table is not None else characterize(cfg.hardware, cfg.model)
        rated = prof.server.rated_power_w.value if prof.server.rated_power_w else None
        if cfg.budget_w is not None:
            self.budget_w = float(cfg.budget_w)
        elif rated is not None:
            self.budget_w = float(cfg.baseline_servers * rated)
        else:
            raise InputError(
                f"{cfg.hardware} has no rated server power; give budget_w", field="budget_w"
            )
        self.f_min = prof.power.f_min_mhz.value / prof.power.f_max_mhz.value
        self.brake_f = max(self.f_min, polca_fraction("brake"))
        self._build_load()

    # ------------------------------------------------------------------ workload
    def _build_load(self) -> None:
        c = self.cfg
        rng = np.random.default_rng(c.seed)
        T = int(np.ceil(c.horizon_s))
        N = c.n_servers
        lam_sat = self.table.lambda_sat
        # Row-wide burst process: AR(1) on log-rate (discretised OU), stationary start.
        phi = np.exp(-1.0 / c.burst_tau_s)
        eps = rng.standard_normal(T) * c.burst_sigma * np.sqrt(1 - phi**2)
        x0 = rng.standard_normal() * c.burst_sigma
        x = ar1(eps, phi, 1.0, phi * x0)
        lam = c.mean_load * lam_sat * np.exp(x - 0.5 * c.burst_sigma**2)  # requests/s per server
        Lam = np.concatenate([[0.0], np.cumsum(lam)])  # operational time at second edges
        # Gamma renewal in operational time (mean gap 1), one stream per server.
        n_arr = int(Lam[-1] * 1.2 + 10 * np.sqrt(Lam[-1]) + 50)
        gaps = rng.gamma(CONV_GAMMA_SHAPE, 1.0 / CONV_GAMMA_SHAPE, size=(N, n_arr))
        counts = np.empty((T, N), dtype=np.int32)
        fast = self._kernels()
        if fast:
            fast.renewal_counts(gaps, Lam, counts)
        else:
            s = np.cumsum(gaps, axis=1)
            for i in range(N):
                counts[:, i] = np.diff(np.searchsorted(s[i], Lam))
        self.counts = counts
        a = 1.0 - np.exp(-1.0 / c.smoothing_s)
        zi = (1 - a) * c.mean_load * lam_sat * np.ones(N)
        self._counts_f = counts.astype(float)  # arrivals as weights
        sm = ar1(self._counts_f, 1 - a, a, zi)
        self.rho = sm / lam_sat
        # what depends on the load only, once for every tick: its place in the tables
        # (row offset i * n_f and weight) and the host's power
        tab = self.table
        if fast:
            ri, self._rw = np.empty((T, N), dtype=np.intp), np.empty((T, N))
            fast.interp_rows_into(tab.rho_grid, self.rho, ri, self._rw)
        else:
            ri, self._rw = _interp_rows(tab.rho_grid, self.rho)
        self._fa = tab.f_grid[::-1].copy()
        self._ri_nf = ri.astype(np.intp) * self._fa.size
        self._host_w = host_power_w(tab.host_w, self.rho, c.host_idle_fraction)
        # the tables as `_cell_pairs`: median-latency slowdown (`bilinear`'s form), and mean
        # GPU power and its 1-s std at each cell then their steps to the next clock (lerp form)
        self._p50_a = _cell_pairs(tab.p50_slowdown)
        pw_sd = np.stack([_cell_pairs(tab.gpu_power_w), _cell_pairs(tab.gpu_power_std_w)])
        self._pw_sd = np.concatenate([pw_sd[:, 0], pw_sd[:, 1] - pw_sd[:, 0]])
        self.noise = rng.standard_normal((T, N))
        self.priority_high = np.zeros(N, dtype=bool)
        n_hp = int(round(c.high_priority_fraction * N))
        self.priority_high[rng.permutation(N)[:n_hp]] = True
        self.hp_servers = np.flatnonzero(self.priority_high)  # indices
        self.lp_servers = np.flatnonzero(~self.priority_high)
        self.T, self.N = T, N
        # per-server command delays are drawn when commands are issued
        self._rng = np.random.default_rng(c.seed + 1)
        # the compiled tick's constants, in `polca_kernel.tick_block`'s order, and PSU curve
        psu_x, psu_loss, psu_slope = TITANIUM_230V_REDUNDANT.loss_points()
        self._psu = (psu_x, psu_loss)
        self._prm = np.array(
            [
                self.brake_f,
                tab.n_gpus * self.profile.idle_w,
                tab.rated_w,
                c.fan_max_w,
                c.fan_min_speed,
                c.psu_rated_w,
                psu_slope,
            ]
        )
        self._changed = np.empty(N, dtype=np.intp)  # `command`'s changed servers (compiled)

    def _kernels(self) -> Any:
        """`kernels()` unless this row keeps the readable NumPy path (`compiled` off)."""
        return kernels() if self.compiled else None

    # ------------------------------------------------------------------ physics
    def server_wall_w(self, t: int | slice | np.ndarray, f: np.ndarray) -> np.ndarray:
        """Wall power of every server at tick(s) t with clocks f."""
        return self._wall_w(t, *_interp_rows(self._fa, np.asarray(f, dtype=float)))

    def _wall_w(self, t: int | slice | np.ndarray, j: np.ndarray, wj: np.ndarray) -> np.ndarray:
        """`server_wall_w` with its clocks already located in the table (`_interp_rows`)."""
        c, tab = self.cfg, self.table
        nf = self._fa.size
        k = self._ri_nf[t] + j  # cell (i, j) of the flat tables
        wi = self._rw[t]
        # mean power and its 1-s std, interpolated together: (z, z(j + 1) - z) at both rows
        c0 = self._pw_sd.take(k, axis=1)
        c1 = self._pw_sd.take(k + nf, axis=1)
        lo = c0[:2] + wj * c0[2:]
        hi = c1[:2] + wj * c1[2:]
        mean, std = lo + wi * (hi - lo)
        gpu = np.maximum(mean + std * self.noise[t], tab.n_gpus * self.profile.idle_w)
        host = self._host_w[t]
        heat_frac = np.minimum(np.maximum((gpu + host) / tab.rated_w, 0.0), 1.0)
        fans = c.fan_max_w * np.maximum(c.fan_min_speed, heat_frac) ** 3
        return server_wall_power_w(
            gpu, host, TITANIUM_230V_REDUNDANT, psu_rated_w=c.psu_rated_w, fan_w=fans
        )

    # ------------------------------------------------------------------ run
    def start(self, brake: bool = True) -> None:
        """Reset the row to t = 0; controllers then call command/advance (or `run`)."""
        self.brake_enabled = brake
        self.now = 0.0  # simulated time, s; tick t covers [t, t + 1)
        N, T = self.N, self.T
        self.f_cmd = np.ones(N)  # applied commanded clocks
        self.pend_val = np.ones(N)
        self.pend_t = np.full(N, np.inf)
        self.brake_active = False
        self.brake_pending_t = np.inf
        self.brake_start = -np.inf
        self.row_w = np.zeros(T)
        self.f_eff = np.ones((T, N), dtype=np.float32)
        # each server-second's median-latency slowdown at its load and f_eff, as it ticks
        self.p50_slowdown_s = np.ones((T, N))
        self.brake_on = np.zeros(T, dtype=bool)
        self.cap_events = 0
        self.brake_events = 0
        self.brake_onsets: list[float] = []
        self.brake_triggers: list[float] = []
        self._last_lp = 1.0
        self._last_hp = 1.0
        self.t_idx = 0
        self._tick_s = np.arange(T, dtype=float)  # tick times
        c = self.cfg
        self._brake_w = c.brake_threshold * self.budget_w  # trips above
        self._release_w = (c.brake_threshold - c.brake_release_hysteresis) * self.budget_w

    def _run_ticks(self, end: int) -> None:
        """The 1-s ticks t_idx <= t < end, a block of them per physics call.

        At tick t, commands due by t land, then a pending brake engages; the servers draw
        `server_wall_w` at the resulting clocks; then the row power may trigger or release
        the brake (`_brake_after`). Commands are only issued between calls, so the clocks of
        every tick are known up front until the brake changes state: the block is evaluated
        at once (`_block`, or compiled `polca_kernel.tick_block`) and, unless it is quiet,
        its ticks walked through the brake logic in order (`_walk`); at a brake onset or
        release the rest is re-evaluated from the first tick whose clocks it changes. The
        numbers are those of one tick at a time (tests/test_polca_speed.py).
        """
        fast = self._kernels()
        t = self.t_idx
        while t < end:
            stop = min(end, t + TICK_BLOCK)
            active = self.brake_active or self.brake_pending_t <= t
            quiet = not active and not np.isfinite(self.brake_pending_t)
            trip_w = self._brake_w if self.brake_enabled else np.inf
            if fast:
                n = fast.tick_block(
                    t, stop, active, quiet, trip_w, self._prm, self._fa,
                    self.pend_t, self.pend_val, self.f_cmd,
                    self._ri_nf, self._rw, self.noise, self._host_w, self._pw_sd, self._p50_a,
                    *self._psu, self.row_w, self.f_eff, self.p50_slowdown_s, self.brake_on,
                )  # fmt: skip
            else:
                n = self._block(t, stop, active, quiet, trip_w)
            if n == 0:
                n = self._walk(t, stop, active)
                self._land(float(t + n - 1))
            t = self.t_idx = t + n

    def _block(self, t: int, stop: int, active: bool, quiet: bool, trip_w: float) -> int:
        """Ticks t..stop-1 at the clocks of the commands due by each tick (the brake clock at
        most when `active`): row power, applied clocks, brake flag and median-latency scores
        written for the block. Returns stop - t, the commands due by its last tick landed, if
        the block is `quiet` (no brake on or pending) and no tick's row power exceeds trip_w;
        else 0 (the brake logic walks it, `_walk`, and the ticks after that are redone)."""
        due = self.pend_t <= self._tick_s[t:stop, None]
        f = np.where(due, self.pend_val, self.f_cmd)
        if active:
            f = np.minimum(f, self.brake_f)
        # the clocks as power sees them, then as f_eff records them (float32) for latency
        both = np.empty((2, *f.shape))
        both[0], both[1] = f, f.astype(np.float32)
        j, wj = _interp_rows(self._fa, both)
        p = self._wall_w(slice(t, stop), j[0], wj[0]).sum(axis=1)
        self.f_eff[t:stop] = f
        self.brake_on[t:stop] = active
        self.row_w[t:stop] = p
        self.p50_slowdown_s[t:stop] = _bilinear_cells(
            self._p50_a, self._fa.size, self._ri_nf[t:stop], self._rw[t:stop], j[1], wj[1]
        )
        if not quiet or float(p.max()) > trip_w:
            return 0
        self._land(float(stop - 1))
        return stop - t

    def _walk(self, t: int, stop: int, active: bool) -> int:
        """The brake logic tick by tick over a block's row power (`_block`); returns the ticks
        kept: up to a brake onset inside the block or a release (the next clocks differ)."""
        n = 0
        for k in range(t, stop):
            now = float(k)
            if not self.brake_active and self.brake_pending_t <= now:
                self._brake_onset(now)
                if not active:  # engaged inside the block: clocks from here on differ
                    break
            self._brake_after(now, float(self.row_w[k]))
            n = k + 1 - t
            if self.brake_active != active:  # released: the next tick's clocks differ
                break
        return n

    def _land(self, now: float) -> None:
        """Commands due by time `now` become the applied clocks."""
        landed = self.pend_t <= now
        np.copyto(self.f_cmd, self.pend_val, where=landed)
        np.copyto(self.pend_t, np.inf, where=landed)

    def _brake_onset(self, now: float) -> None:
        self.brake_active = True
        self.brake_start = now
        self.brake_pending_t = np.inf
        self.brake_events += 1
        self.brake_onsets.append(now)

    def _brake_after(self, now: float, p: float) -> None:
        """The brake logic after a tick's row power p: trigger (lands within its delay, on a
        later tick) or release (held at least `brake_hold_s`, under the hysteresis)."""
        c = self.cfg
        if (
            self.brake_enabled
            and p > self._brake_w
            and not self.brake_active
            and not np.isfinite(self.brake_pending_t)
        ):
            delay = self._rng.uniform(0.0, c.brake_delay_max_s)
            self.brake_pending_t = now + max(1.0, np.ceil(delay))  # next tick(s), <= 5 s
            self.brake_triggers.append(now)
        if self.brake_active and now - self.brake_start >= c.brake_hold_s and p < self._release_w:
            self.brake_active = False

    def observe(self) -> RowObservation:
        t = max(self.t_idx - 1, 0)
        k = max(1, int(round(self.cfg.control_period_s)))
        lo = max(0, self.t_idx - k)
        n = self.t_idx - lo
        avg = np.add.reduce(self.row_w[lo : self.t_idx]) / n if n > 0 else 0.0
        fast = self._kernels()
        median = fast.median_of if fast else _median_of
        return RowObservation(
            t_s=float(self.now),
            row_power_frac=float(self.row_w[t] / self.budget_w),
            row_power_frac_avg=float(avg / self.budget_w),
            brake_active=self.brake_active,
            lp_clock_frac=median(self.f_cmd, self.lp_servers) if self.lp_servers.size else 1.0,
            hp_clock_frac=median(self.f_cmd, self.hp_servers) if self.hp_servers.size else 1.0,
        )

    def period_power(self, t0: int, t1: int) -> PeriodPower:
        """`PeriodPower` of ticks t0..t1 (compiled: `polca_kernel.period_power`)."""
        if t1 <= t0:
            return PeriodPower(0.0, 0.0, 0.0, 0.0, 0.0, 0)
        fast = self._kernels()
        if fast:
            return PeriodPower(*fast.period_power(self.row_w, self.brake_on, t0, t1, self.budget_w))
        row_w = self.row_w[t0:t1]
        frac = row_w / self.budget_w
        n = frac.size  # 1-D .max() / .mean() / .sum() without their Python wrappers:
        return PeriodPower(
            peak_frac=float(np.maximum.reduce(frac)),
            mean_frac=float(np.add.reduce(frac) / n),
            over_frac=float(np.add.reduce(np.maximum(frac - 1.0, 0.0)) / n),
            over_w=float(np.add.reduce(np.maximum(row_w - self.budget_w, 0.0))),
            energy_j=float(np.add.reduce(row_w)),
            braked_s=int(np.count_nonzero(self.brake_on[t0:t1])),
        )

    def slowdown(self, t0: int, t1: int, mask: np.ndarray) -> float:
        """Arrival-weighted median-latency slowdown of the masked servers over ticks [t0, t1).

        Each server-second is scored at its own load and applied clock, interpolated
        bilinearly in the characterised table (`ServingTable.p50_slowdown`), like its power.
        """
        if t1 <= t0 or not mask.any():
            return 1.0
        s = bilinear(self.table, self.table.p50_slowdown, self.rho[t0:t1], self.f_eff[t0:t1])
        return self._weigh(s, t0, t1, mask)

    def slowdowns(self, t0: int, t1: int, *masks: np.ndarray) -> list[float]:
        """`slowdown` of server groups over ticks that have run, from the scores recorded as
        they ticked (`p50_slowdown_s`; same numbers, tests/test_polca_speed.py)."""
        if t1 > self.t_idx:
            raise ValueError(f"ticks up to {t1} asked, {self.t_idx} run")
        if t1 <= t0:
            return [1.0] * len(masks)
        fast = self._kernels()
        if fast:
            return [fast.weigh(self.p50_slowdown_s, self._counts_f, t0, t1, m) for m in masks]
        s = self.p50_slowdown_s[t0:t1]
        return [self._weigh(s, t0, t1, m) if m.any() else 1.0 for m in masks]

    def _weigh(self, s: np.ndarray, t0: int, t1: int, mask: np.ndarray) -> float:
        """Arrival-weighted mean of the masked servers' scores s (ticks t0..t1, all servers)."""
        s = s[:, mask].ravel()
        w = self._counts_f[t0:t1][:, mask].ravel()
        tot = np.add.reduce(w)  # x.sum() of a 1-D array without its Python wrapper
        return float(np.add.reduce(s * w) / tot) if tot > 0 else float(s.mean())

    def command(self, lp_f: float, hp_f: float) -> None:
        """Ask low/high-priority servers for clock fractions; lands after a random OOB delay."""
        lp_f = min(max(float(lp_f), self.f_min), 1.0)
        hp_f = min(max(float(hp_f), self.f_min), 1.0)
        if lp_f < self._last_lp - 1e-9 or hp_f < self._last_hp - 1e-9:
            self.cap_events += 1
        fast = self._kernels()
        if fast:
            high, idx = self.priority_high, self._changed
            m = fast.changed_servers(high, hp_f, lp_f, self.pend_t, self.pend_val, self.f_cmd, idx)
            if m:
                delay = self._rng.uniform(0.0, self.cfg.cap_delay_max_s, m)
                fast.set_pending(idx, high, hp_f, lp_f, self.now, delay, self.pend_val, self.pend_t)
        else:
            target = np.where(self.priority_high, hp_f, lp_f)
            changed = target != np.where(np.isfinite(self.pend_t), self.pend_val, self.f_cmd)
            if changed.any():
                delay = self._rng.uniform(0.0, self.cfg.cap_delay_max_s, np.count_nonzero(changed))
                self.pend_val[changed] = target[changed]
                self.pend_t[changed] = self.now + delay  # uniform on [0, max): never negative
        self._last_lp, self._last_hp = lp_f, hp_f

    def advance(self, dt: float) -> None:
        """Run the ticks in [now, now + dt) (up to the horizon) and move the clock there."""
        until = min(self.now + dt, float(self.T))
        if until > self.now:
            self.now += until - self.now  # a timed event's clock: now + delay
            self._run_ticks(min(self.T, math.ceil(self.now)))

    @property
    def done(self) -> bool:
        return self.now >= self.T - 1e-9

    def run(self, controller: Controller | None = None, brake: bool = True) -> RowResult:
        """Simulate the whole horizon with an optional controller (None = no capping).

        The controller acts every control period from `period + 0.5` s. SimPy orders its
        instants against the 1-s ticks (a tick process that only counts); the ticks before
        an instant run as blocks (`_run_ticks`) when the controller needs the row.
        """
        kernels(load=True)  # a whole horizon: worth loading numba for the compiled ticks
        self.start(brake=brake)
        if controller is None and not brake:
            # Nothing acts: clocks stay at f_max, so the whole horizon is one vectorized call.
            self.row_w[:] = self.server_wall_w(slice(None), np.ones((self.T, self.N))).sum(axis=1)
            self.t_idx = self.T
            return self.result()
        env = simpy.Environment()
        reached = [0]  # ticks SimPy has reached

        def ticks() -> simpy.events.ProcessGenerator:
            for t in range(self.T):
                reached[0] = t + 1
                yield env.timeout(1.0)

        env.process(ticks())
        if controller is not None:
            period = self.cfg.control_period_s

            def ctl() -> simpy.events.ProcessGenerator:
                yield env.timeout(period + 0.5)  # after the first ticks
                while True:
                    self._run_ticks(reached[0])
                    self.now = env.now
                    act = controller(self.observe())
                    if act is not None:
                        self.command(*act)
                    yield env.timeout(period)

            env.process(ctl())
        env.run(until=float(self.T))
        self._run_ticks(self.T)
        self.now = float(env.now)
        return self.result()

    def result(self) -> RowResult:
        tab = self.table
        nc = tab.rho_grid.size * tab.f_grid.size
        T = self.t_idx
        w = self.counts[:T].astype(float)
        fj = (
            np.abs(tab.f_grid[None, :] - self.f_eff[:T].reshape(-1, 1)).argmin(1).reshape(T, self.N)
        )
        ri = (
            np.abs(tab.rho_grid[None, :] - self.rho[:T].reshape(-1, 1)).argmin(1).reshape(T, self.N)
        )
        cells = ri * tab.f_grid.size + fj
        hp = self.priority_high
        hpw = np.bincount(cells[:, hp].ravel(), weights=w[:, hp].ravel(), minlength=nc)
        lpw = np.bincount(cells[:, ~hp].ravel(), weights=w[:, ~hp].ravel(), minlength=nc)
        capped = (self.f_eff[:T] < 1.0 - 1e-6).any(axis=1)
        braked = self.brake_on[:T]
        return RowResult(
            n_servers=self.N,
            budget_w=self.budget_w,
            row_power_w=self.row_w[:T].copy(),
            cap_events=self.cap_events,
            brake_events=self.brake_events,
            brake_seconds=int(braked.sum()),
            capped_seconds=int(capped.sum()),
            hp_cell_weights=hpw,
            lp_cell_weights=lpw,
            f_eff=self.f_eff[:T],
            brake_onsets_s=list(self.brake_onsets),
            brake_triggers_s=list(self.brake_triggers),
        )


# ---------------------------------------------------------------------------- reproduction
@dataclass
class SweepRow:
    n_servers: int
    extra_pct: float
    peak_pct: float
    avg_pct: float
    uncapped_peak_pct: float
    cap_events: int
    capped_time_pct: float
    brake_events: int
    hp_p50_impact_pct: float
    hp_p99_impact_pct: float
    lp_p50_impact_pct: float

    @property
    def ok(self) -> bool:
        return self.brake_events == 0 and self.hp_p50_impact_pct < 1.0


@dataclass
class PolcaReport:
    """Outcome of the POLCA sweep; ``to_dict`` is the --json payload."""

    summary: dict
    rows: list[SweepRow]
    series: dict[int, np.ndarray] = field(repr=False, default_factory=dict)  # n -> row frac (1 s)

    def to_dict(self) -> dict:
        return self.summary | {"rows": [r.__dict__ | {"ok": r.ok} for r in self.rows]}


def verdict(summary: dict) -> str:
    """Honest comparison with the paper: the uncapped baseline next to POLCA's frontier and its costs.

    A ``--quick`` run (short window, coarse sweep and characterisation) is a smoke test: it
    states that and headlines no frontier.
    """
    if summary.get("smoke_test"):
        return (
            "Smoke test (--quick: short window, coarse sweep and serving characterisation): it checks "
            "that the pipeline runs and is not a frontier; run without --quick to compare with the "
            f"paper's +{POLCA_PAPER['extra_servers_pct']:.0f}%."
        )
    ours = summary["best_extra_pct"]
    paper = POLCA_PAPER["extra_servers_pct"]
    base_peak = summary["baseline_peak_pct"]
    uncapped = summary["uncapped_safe_extra_pct"]
    diff = ours - paper
    rel = "matches" if abs(diff) <= 5 else ("exceeds" if diff > 0 else "falls short of")
    bound = "at least " if summary.get("frontier_at_sweep_end") else ""
    return (
        f"Without any capping the row already admits +{uncapped:.0f}% servers (uncapped peak under the "
        f"brake threshold); POLCA admits {bound}+{ours:.0f}% with zero brakes and high-priority P50 impact "
        f"< 1%, so capping itself adds {ours - uncapped:+.0f} points, at a cost at its frontier of "
        f"{summary['frontier_lp_p50_impact_pct']:+.1f}% low-priority median latency and "
        f"{summary['frontier_hp_p99_impact_pct']:+.1f}% high-priority P99. POLCA's frontier {rel} the "
        f"paper's +{paper:.0f}%. Our unoversubscribed row peaks at {base_peak:.0f}% of provisioned power "
        f"(paper: ~{POLCA_PAPER['inference_row_peak_pct']:.0f}% for inference rows); rescaled to the "
        f"paper's baseline peak, our frontier is {bound}+{summary['extra_pct_at_paper_peak']:.0f}%. The gap "
        "comes from modelled server power (calibrated roofline serving, assumed host and fan power) and "
        "from the synthetic load process, not from production telemetry."
    )


def reproduce(
    controller_factory: Callable[[], Controller],
    base: RowConfig | None = None,
    extra_pcts: tuple[float, ...] | None = None,
    table: ServingTable | None = None,
    smoke_test: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> PolcaReport:
    """Sweep server count in a fixed budget; report power, events and latency impact per count.

    ``on_step(k)`` is called after the k-th server count (progress).

    ``smoke_test`` marks a shortened run (``--quick``): its verdict headlines no frontier.
    """
    base = base or RowConfig()
    if extra_pcts is None:
        extra_pcts = tuple(range(0, SWEEP_MAX_EXTRA_PCT + 1, SWEEP_STEP_PCT))
    table = table if table is not None else characterize(base.hardware, base.model)
    rows: list[SweepRow] = []
    series: dict[int, np.ndarray] = {}
    for pct in extra_pcts:
        n = int(round(base.baseline_servers * (1 + pct / 100.0)))
        cfg = base.model_copy(update={"n_servers": n})
        sim = RowSimulation(cfg, table)
        ref = sim.run(None, brake=False)
        res = sim.run(controller_factory(), brake=True)
        series[n] = res.row_power_w / res.budget_w
        p_ref = weighted_percentiles(table, ref.hp_cell_weights, (50, 99))
        p_res = weighted_percentiles(table, res.hp_cell_weights, (50, 99))
        l_ref = weighted_percentiles(table, ref.lp_cell_weights, (50,))
        l_res = weighted_percentiles(table, res.lp_cell_weights, (50,))

        def impact(a: float, b: float) -> float:
            return 100.0 * (a / b - 1.0) if b > 0 and np.isfinite(a) and np.isfinite(b) else 0.0

        rows.append(
            SweepRow(
                n_servers=n,
                extra_pct=round(100.0 * (n / base.baseline_servers - 1.0), 6),
                peak_pct=100 * res.peak_frac,
                avg_pct=100 * res.avg_frac,
                uncapped_peak_pct=100 * ref.peak_frac,
                cap_events=res.cap_events,
                capped_time_pct=100.0 * res.capped_seconds / max(1, res.row_power_w.size),
                brake_events=res.brake_events,
                hp_p50_impact_pct=impact(p_res[0], p_ref[0]),
                hp_p99_impact_pct=impact(p_res[1], p_ref[1]),
                lp_p50_impact_pct=impact(l_res[0], l_ref[0]),
            )
        )
        if on_step:
            on_step(len(rows))
    ok = [r for r in rows if r.ok]
    # largest count such that it and every smaller count pass (monotone frontier)
    best = None
    for r in rows:
        if not r.ok:
            break
        best = r
    safe_uncapped = [r for r in rows if r.uncapped_peak_pct <= 100.0 * base.brake_threshold]
    summary: dict[str, Any] = {
        "config": base.model_dump(),
        "budget_w": float(base.budget_w or base.baseline_servers * table.rated_w),
        "lambda_sat_rps": table.lambda_sat,
        "best_n_servers": best.n_servers if best else None,
        "best_extra_pct": best.extra_pct if best else 0.0,
        "any_ok_extra_pct": max((r.extra_pct for r in ok), default=0.0),
        "uncapped_safe_extra_pct": max((r.extra_pct for r in safe_uncapped), default=0.0),
        "baseline_peak_pct": rows[0].uncapped_peak_pct if rows else float("nan"),
        # costs of capping at POLCA's frontier (vs the same count without control)
        "frontier_lp_p50_impact_pct": best.lp_p50_impact_pct if best else 0.0,
        "frontier_hp_p99_impact_pct": best.hp_p99_impact_pct if best else 0.0,
        "smoke_test": smoke_test,
        "paper": POLCA_PAPER,
    }
    summary["polca_gain_pct"] = summary["best_extra_pct"] - summary["uncapped_safe_extra_pct"]
    summary["frontier_at_sweep_end"] = bool(rows and best is rows[-1])
    # Same frontier power if servers drew as much as the paper's rows: (1 + x) * ours / paper - 1.
    summary["extra_pct_at_paper_peak"] = 100.0 * (
        (1 + summary["best_extra_pct"] / 100.0)
        * summary["baseline_peak_pct"]
        / POLCA_PAPER["inference_row_peak_pct"]
        - 1.0
    )
    summary["verdict"] = verdict(summary)
    return PolcaReport(summary=summary, rows=rows, series=series)


SWEEP_MAX_EXTRA_PCT = 80  # largest oversubscription swept by default, % of servers (paper: +30 %);
# beyond our +60 % frontier, so the default run finds it instead of stopping at the sweep end
SWEEP_STEP_PCT = 5  # default sweep step, % of servers
QUICK_HOURS = 1.0  # --quick: at most a 1-hour window ...
QUICK_STEP_PCT = 10  # ... and at least a 10 % step
_ROW = RowConfig()


def reproduce_paper(
    hardware: str = _ROW.hardware,
    model: str = _ROW.model,
    servers: int = _ROW.baseline_servers,
    hours: float = _ROW.horizon_s / 3600.0,
    mean_load: float = _ROW.mean_load,
    hp_fraction: float = _ROW.high_priority_fraction,
    cap_delay: float = _ROW.cap_delay_max_s,
    max_extra: int = SWEEP_MAX_EXTRA_PCT,
    step: int = SWEEP_STEP_PCT,
    seed: int = _ROW.seed,
    quick: bool = False,
    on_start: Callable[[str, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> PolcaReport:
    """`dcsim reproduce polca`: the POLCA controller over 0..max_extra % more servers.

    ``quick`` shortens the window, coarsens the sweep and the serving characterisation (smoke
    tests). The row's budget is provisioned for ``servers`` at nameplate power.
    """
    from dcsim.agents.polca import PolcaController
    from dcsim.inference import get_llm
    from dcsim.schema import validate_model

    if quick:
        hours, step = min(hours, QUICK_HOURS), max(step, QUICK_STEP_PCT)
    get_profile(hardware), get_llm(model)  # unknown names -> InputError (exit 2)
    base = validate_model(
        RowConfig,
        {
            "hardware": hardware,
            "model": model,
            "baseline_servers": servers,
            "n_servers": servers,
            "seed": seed,
            "horizon_s": hours * 3600.0,
            "mean_load": mean_load,
            "high_priority_fraction": hp_fraction,
            "cap_delay_max_s": cap_delay,
        },
    )
    table = characterize(
        base.hardware,
        base.model,
        sim_s=90.0 if quick else 150.0,
        warmup_s=20.0 if quick else 30.0,
        seed=seed,
    )
    pcts = tuple(range(0, max_extra + 1, step))
    if on_start:
        on_start(f"simulating {len(pcts)} server counts x {hours:g} h", len(pcts))
    return reproduce(PolcaController, base, pcts, table, smoke_test=quick, on_step=on_step)
