"""The tenants: training jobs (a trace file or a seeded generator) and inference services.

Training jobs. A job-trace file (YAML with a `jobs:` list, or CSV with a header) gives per job
`arrival_s, accelerators, model_params, iterations` and optionally `tokens_per_accelerator,
tensor_parallel, algorithm, deferrable, deadline_s`; rows are validated by `JobSpec` (errors name the
file and row). `generate_specs` draws the same fields from `dcsim.jobs.generate_jobs` (size
mix after Philly/PAI, heavy-tailed durations after Philly/Helios; see `dcsim.jobs`) and marks a
share of jobs deferrable with a 24-h deadline (Google's carbon-intelligent computing shifts
"flexible" batch work within a day: Radovanovic et al., IEEE Trans. Power Syst. 2022;
the 30 % share is an estimate, confidence low). Tokens per rank per optimizer step are drawn
log-uniform in 4k-64k (gradient accumulation varies by job; estimate): with data-parallel
all-reduce time and 6ND compute both linear in N, this ratio alone decides whether a job
is communication-bound, so the draw gives a mix of both classes.

Iteration time is `dcsim.workload.training_step_time` at clock fraction f: compute stretches
by `DevicePowerModel.time_scale` (its compute-bound share by 1/f, its memory-bound share,
`TrainingConfig.memory_bound_fraction` after Zeus, not at all; as in `dcsim run`), the
all-reduce does not; exposed communication = comm - overlap * compute.
The job class is `comm` when its exposed communication is > 0 where it runs, else `compute`.

Inference services. Each service occupies whole servers (one tensor-parallel replica per
server, as in `dcsim.polca`). Its load rho(t) (requests / saturation throughput at f_max) is
a daily cycle (DynamoLLM, arXiv 2408.00741: diurnal Azure LLM traffic; mean/swing as in
`dcsim.rack_load`, estimates) times a log-normal burst process fitted to the Azure 2023
conversation trace (`dcsim.polca.RowConfig`: sigma 0.21, tau 390 s). Per-server GPU power and
end-to-end latency at (rho, f) come from `dcsim.polca.characterize` (the serving DES); SLO
attainment is the share of requests within `slo_s` in the characterised latency samples,
interpolated bilinearly in (rho, f).
"""

from __future__ import annotations

import bisect
import csv
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import Field, model_validator

from dcsim.errors import InputError
from dcsim.inference import CONV_OUTPUT_ZIPF
from dcsim.jobs import JobMixConfig, generate_jobs
from dcsim.polca import RowConfig, ServingTable, characterize
from dcsim.power import PHASE_ACTIVITY, DevicePowerModel
from dcsim.schema import StrictModel, validate_model
from dcsim.workload import (
    AllReduceAlgorithm,
    PhaseClock,
    StepTime,
    TrainingConfig,
    comm_activity,
    compute_activity,
    gradient_bytes_per_rank,
    training_step_time,
)

DAY_S = 86400.0
DEFERRABLE_DEADLINE_S = DAY_S  # CICS: flexible work within a day


class JobSpec(StrictModel):
    """One training job of a trace."""

    arrival_s: float = Field(ge=0)
    accelerators: int = Field(ge=1, le=65536)
    model_params: float = Field(gt=0)
    iterations: int = Field(ge=1)
    tokens_per_accelerator: float = Field(4096.0, gt=0, description="tokens per rank per iteration")
    tensor_parallel: int = Field(1, ge=1, le=64, description="within a server (NVLink)")
    algorithm: AllReduceAlgorithm = Field(
        "ring",
        description="DP all-reduce algorithm (as workload.algorithm of dcsim run); the contention "
        "between jobs is solved on their ring flows whatever the algorithm",
    )
    mfu: float = Field(0.4, gt=0, le=1)
    overlap: float = Field(0.5, ge=0, le=1)
    deferrable: bool = False
    deadline_s: float | None = Field(None, gt=0, description="latest finish, s (deferrable jobs)")

    @model_validator(mode="after")
    def _tp(self) -> JobSpec:
        if self.accelerators % self.tensor_parallel:
            raise ValueError("accelerators must be a multiple of tensor_parallel")
        if self.deadline_s is not None and self.deadline_s <= self.arrival_s:
            raise ValueError("deadline_s must be after arrival_s")
        return self


class JobTrace(StrictModel):
    jobs: list[JobSpec] = Field(min_length=1)


def load_job_trace(path: str | Path) -> list[JobSpec]:
    """Jobs from a YAML (`jobs:` list) or CSV trace, sorted by arrival."""
    p = Path(path)
    if not p.is_file():
        raise InputError("job trace file not found", file=str(p))
    if p.suffix.lower() == ".csv":
        with p.open(encoding="utf-8") as fh:
            rows: list[dict[str, Any]] = [
                {k: v for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(fh)
            ]
        data: Any = {"jobs": rows}
    else:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    trace = validate_model(JobTrace, data, file=str(p))
    return sorted(trace.jobs, key=lambda j: j.arrival_s)


class TrainingMix(JobMixConfig):
    """`dcsim.jobs.JobMixConfig` with a datacenter's defaults: multi-node jobs of 1-30 B
    models for hours (partial overrides keep the other defaults)."""

    load: float = Field(0.7, gt=0, le=2, description="offered GPU-time / training capacity")
    iterations_median: float = Field(
        5000.0,
        gt=0,
        description="median iterations (hours-long jobs hold most GPU time in Philly; estimate)",
    )
    job_sizes: dict[int, float] = Field(
        default_factory=lambda: {8: 0.3, 16: 0.3, 32: 0.2, 64: 0.15, 128: 0.05},
        description="accelerators -> probability (Philly/PAI shape, whole servers)",
    )
    params_min: float = Field(1e9, gt=0)
    params_max: float = Field(3e10, gt=0)
    params_grid: float = Field(1e9, gt=0)


class GeneratorConfig(StrictModel):
    """Seeded training workload: `TrainingMix` plus tokens per step and deferrable share."""

    mix: TrainingMix = Field(default_factory=TrainingMix)
    tokens_range: tuple[float, float] = Field(
        (4096.0, 65536.0),
        description="tokens per rank per optimizer step, log-uniform (gradient accumulation)",
    )
    deferrable_share: float = Field(0.3, ge=0, le=1)
    horizon_s: float = Field(2 * DAY_S, gt=0, description="jobs arrive within this window")


def generate_specs(
    cfg: GeneratorConfig, n_accelerators: int, peak_flops: float, rng: np.random.Generator
) -> list[JobSpec]:
    """Jobs arriving within `cfg.horizon_s` (drawn in batches from `dcsim.jobs.generate_jobs`)."""
    lo, hi = cfg.tokens_range
    # offered load uses the mean tokens of the log-uniform draw below
    mix = cfg.mix.model_copy(update={"tokens_per_gpu": (hi - lo) / math.log(hi / lo)})
    n = 64
    while True:
        jobs = generate_jobs(mix, n, n_accelerators, peak_flops, rng)
        if jobs[-1].arrival_s > cfg.horizon_s or n >= 4096:
            break
        n *= 2
    defer = rng.random(len(jobs)) < cfg.deferrable_share
    tokens = np.round(np.exp(rng.uniform(math.log(lo), math.log(hi), len(jobs))) / 1024) * 1024
    return [
        JobSpec(
            arrival_s=j.arrival_s,
            accelerators=j.gpus,
            model_params=j.params,
            iterations=j.iterations,
            tokens_per_accelerator=float(max(tokens[i], 1024.0)),
            mfu=cfg.mix.mfu,
            overlap=cfg.mix.overlap,
            deferrable=bool(defer[i]),
            deadline_s=j.arrival_s + DEFERRABLE_DEADLINE_S if defer[i] else None,
        )
        for i, j in enumerate(jobs)
        if j.arrival_s <= cfg.horizon_s
    ]


@dataclass
class TrainingJob:
    """A training job's state in the engine."""

    id: int
    spec: JobSpec
    workload: TrainingConfig
    peak_flops: float
    done_iters: float = 0.0
    start_s: float | None = None
    end_s: float | None = None
    hosts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    comm_s: float = 0.0  # all-reduce time where it runs (alone time x contention)
    phase: PhaseClock = field(default_factory=PhaseClock)  # where it is in its iteration
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_spec(cls, i: int, spec: JobSpec, peak_flops: float) -> TrainingJob:
        w = TrainingConfig(
            model_params=spec.model_params,
            global_batch_tokens=spec.tokens_per_accelerator * spec.accelerators,
            mfu=spec.mfu,
            tensor_parallel=spec.tensor_parallel,
            overlap=spec.overlap,
            algorithm=spec.algorithm,
            compute_activity=PHASE_ACTIVITY["training"],
            comm_activity=PHASE_ACTIVITY["communication"],
        )
        return cls(i, spec, w, peak_flops)

    @classmethod
    def of_workload(
        cls, i: int, w: TrainingConfig, accelerators: int, peak_flops: float, mfu: float
    ) -> TrainingJob:
        """`dcsim run`'s job: the scenario's workload as it is (activities, memory-bound share,
        batch) on `accelerators`, at the resolved `mfu`, arriving at 0 and never finishing."""
        spec = JobSpec.model_construct(
            arrival_s=0.0,
            accelerators=accelerators,
            model_params=w.model_params,
            iterations=1 << 62,
            tokens_per_accelerator=w.global_batch_tokens / accelerators,
            tensor_parallel=w.tensor_parallel,
            algorithm=w.algorithm,
            mfu=mfu,
            overlap=w.overlap,
            deferrable=False,
            deadline_s=None,
        )
        return cls(i, spec, w.model_copy(update={"mfu": mfu}), peak_flops)

    @property
    def grad_bytes(self) -> float:
        """Bytes each data-parallel rank all-reduces per iteration (its TP shard;
        `dcsim.workload.gradient_bytes_per_rank`, as `dcsim run`)."""
        return gradient_bytes_per_rank(self.workload)

    def step(self, freq: float = 1.0, comm_s: float | None = None) -> StepTime:
        """Iteration time at clock fraction freq with an all-reduce of comm_s (default: where
        it runs); memoised, as the engine asks the same few (clock, comm) pairs every step."""
        c = self.comm_s if comm_s is None else comm_s
        key = (freq, c)
        got = self._memo.get(key)
        if got is None:
            if len(self._memo) > 256:
                self._memo.clear()
            w = self.workload
            scale = float(DevicePowerModel.time_scale(freq, w.memory_bound_fraction))
            got = self._memo[key] = training_step_time(
                w, self.spec.accelerators, self.peak_flops, scale, c
            )
        return got

    @cached_property
    def ideal_compute_s(self) -> float:
        """Compute time of one iteration at f_max (the ideal work an iteration does)."""
        return self.step(1.0, 0.0).compute_s

    @cached_property
    def a_compute(self) -> float:
        """Activity while computing (`dcsim.workload.compute_activity`, as in `dcsim.sim`)."""
        return compute_activity(self.workload)

    @cached_property
    def a_comm(self) -> float:
        """Activity while stalled on exposed communication (`dcsim.workload.comm_activity`)."""
        return comm_activity(self.workload)

    def is_comm_bound(self) -> bool:
        return self.step().exposed_comm_s > 0.0

    def ideal_runtime_s(self, comm_s: float = 0.0) -> float:
        return self.spec.iterations * self.step(1.0, comm_s).total_s

    @property
    def remaining(self) -> float:
        return self.spec.iterations - self.done_iters


class InferenceConfig(StrictModel):
    """Inference services: servers, model, daily load and SLO."""

    servers: int = Field(8, ge=0, description="servers serving (one replica per server)")
    model: str = "llama2-70b"
    # Provisioned for the burst: the serving DES meets the SLO up to rho ~1.0 (H100, Llama-2-70B)
    # and the Azure-fitted burst (log-normal, sigma 0.21) has its 99.9th percentile at
    # exp(3.09 sigma - sigma^2/2) = 1.86 x the base rate, so a fleet that keeps the SLO at its
    # daily peak needs a base peak rho <= 1/1.86 = 0.54 (0.35 + 0.15 = 0.5 here). A fleet sized
    # for a base peak of 0.8 is overloaded in ~12 % of peak-hour steps, SLO violations no
    # control can avoid (estimate; provisioning for peak as in DynamoLLM and Splitwise).
    mean_load: float = Field(0.35, gt=0, le=1.2, description="daily mean rho")
    amplitude: float = Field(0.15, ge=0, le=1, description="half the daily swing of rho")
    peak_hour: float = Field(14.0, ge=0, lt=24)
    slo_s: float = Field(
        20.0,
        gt=0,
        description="end-to-end latency SLO, s: ~2x the unloaded p99 (9.3 s, Llama-2-70B on H100 "
        "at rho 0.1 in the serving DES); SLOs as multiples of unloaded latency follow DynamoLLM "
        "and Splitwise; the factor 2 is an estimate",
    )

    @model_validator(mode="after")
    def _swing(self) -> InferenceConfig:
        if self.amplitude > self.mean_load:
            raise ValueError("amplitude must not exceed mean_load (rho >= 0)")
        return self


def _row(grid: list[float], x: float) -> tuple[int, float]:
    """`dcsim.polca._interp_rows` of one point: lower index and weight on an ascending grid."""
    xc = min(max(x, grid[0]), grid[-1])
    k = bisect.bisect_right(grid, xc, 1, len(grid) - 1) - 1
    g0 = grid[k]
    return k, (xc - g0) / (grid[k + 1] - g0)


@dataclass(frozen=True)
class ServingModel:
    """Per-server GPU power, SLO attainment and token throughput vs (rho, f) (from the DES)."""

    table: ServingTable
    slo_frac: np.ndarray  # (n_rho, n_f)
    tokens_per_request: float
    # the grids and tables as Python floats, f ascending (`__post_init__`), for `_lookup`
    _rho: list[float] = field(init=False, repr=False, compare=False)
    _f: list[float] = field(init=False, repr=False, compare=False)
    _power: list[list[float]] = field(init=False, repr=False, compare=False)
    _slo: list[list[float]] = field(init=False, repr=False, compare=False)

    @classmethod
    def build(cls, hardware: str, model: str, slo_s: float) -> ServingModel:
        t = characterize(hardware, model)
        frac = np.ones((len(t.rho_grid), len(t.f_grid)))
        for i, row in enumerate(t.e2e_samples):
            for j, s in enumerate(row):
                if len(s):
                    frac[i, j] = float(np.mean(s <= slo_s))
        return cls(t, frac, float(CONV_OUTPUT_ZIPF.mean()))

    def __post_init__(self) -> None:
        t = self.table
        object.__setattr__(self, "_rho", t.rho_grid.tolist())
        object.__setattr__(self, "_f", t.f_grid[::-1].tolist())
        object.__setattr__(self, "_power", t.gpu_power_w[:, ::-1].tolist())
        object.__setattr__(self, "_slo", self.slo_frac[:, ::-1].tolist())

    def _lookup(self, z: list[list[float]], rho: float, f: float) -> float:
        """`dcsim.polca.bilinear` of one point on Python floats: the same operations in the
        same order, so the same float (tests/test_tenancy.py), without NumPy's per-call cost."""
        i, wi = _row(self._rho, rho)
        j, wj = _row(self._f, f)
        vj = 1 - wj
        lo = vj * z[i][j] + wj * z[i][j + 1]
        hi = vj * z[i + 1][j] + wj * z[i + 1][j + 1]
        return (1 - wi) * lo + wi * hi

    def gpu_power_w(self, rho: float, f: float) -> float:
        """Mean GPU power of one server (all its GPUs), W."""
        return self._lookup(self._power, float(rho), float(f))

    def slo_attainment(self, rho: float, f: float) -> float:
        return self._lookup(self._slo, float(rho), float(f))

    def tokens_per_s(self, rho: float) -> float:
        """Output tokens per second of one server at load rho (offered = served below 1.2)."""
        return (
            min(rho, float(self.table.rho_grid[-1]))
            * self.table.lambda_sat
            * self.tokens_per_request
        )


def inference_load(
    cfg: InferenceConfig, t_s: np.ndarray, dt_s: float, rng: np.random.Generator
) -> np.ndarray:
    """rho at times t_s (local s): daily cycle x Azure-fitted log-normal burst (OU in log)."""
    row = RowConfig()
    t = np.asarray(t_s, dtype=float)
    hour = np.mod(t / 3600.0, 24.0)
    base = cfg.mean_load + cfg.amplitude * np.cos(2 * math.pi * (hour - cfg.peak_hour) / 24.0)
    phi = math.exp(-dt_s / row.burst_tau_s)
    x = np.empty(len(t))
    prev = rng.standard_normal() * row.burst_sigma
    eps = rng.standard_normal(len(t)) * row.burst_sigma * math.sqrt(1 - phi * phi)
    for i in range(len(t)):
        prev = phi * prev + eps[i]
        x[i] = prev
    return np.maximum(base * np.exp(x - 0.5 * row.burst_sigma**2), 0.0)


__all__ = [
    "GeneratorConfig",
    "InferenceConfig",
    "JobSpec",
    "ServingModel",
    "TrainingJob",
    "generate_specs",
    "inference_load",
    "load_job_trace",
]
