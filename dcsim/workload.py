"""Training workload: step time = compute + exposed data-parallel gradient all-reduce.

Compute uses the standard 6*N*tokens FLOPs per step for dense transformers
(Kaplan et al. 2020, arXiv 2001.08361; Narayanan et al. 2021, Megatron-LM) at the
model FLOPs utilization (MFU) the chip achieves in practice at this model size: the hardware
profile's sourced per-size points (`training.mfu_by_size`, e.g. H100 from the Megatron-Core
weak-scaling table, A100 from Korthikanti et al., arXiv 2205.05198) or its one `training.mfu`,
unless the scenario sets `workload.mfu`.
Accelerator activity in the compute and communication phases comes from
`dcsim.power.PHASE_ACTIVITY` unless the scenario sets it.
Tensor parallelism stays inside the scale-up domain (its cost is inside MFU);
gradients are all-reduced across data-parallel replicas over the scale-out
fabric, and a fraction of that communication overlaps backward compute
(PyTorch DDP bucketing / ZeRO overlap).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np
from pydantic import Field

from dcsim.errors import InputError
from dcsim.power import PHASE_ACTIVITY
from dcsim.schema import StrictModel

if TYPE_CHECKING:  # pragma: no cover
    from dcsim.hardware import HardwareProfile


AllReduceAlgorithm = Literal[
    "auto", "ring", "halving-doubling", "double-binary-tree", "hierarchical"
]


class TrainingConfig(StrictModel):
    """One data-parallel x tensor-parallel training job over the whole cluster."""

    kind: Literal["training"] = "training"
    model_params: float = Field(70e9, gt=0, le=1e16, description="dense parameters N")
    global_batch_tokens: float = Field(
        4 * 1024 * 1024, gt=0, description="tokens per optimizer step"
    )
    mfu: float | None = Field(
        None,
        gt=0,
        le=1,
        description="model FLOPs utilization at full clock; unset: the hardware profile's "
        "training.mfu at this model_params (sourced per chip and size class)",
    )
    tensor_parallel: int = Field(8, ge=1, description="TP degree, inside the scale-up domain")
    gradient_bytes_per_param: float = Field(2.0, gt=0, description="BF16 gradients")
    overlap: float = Field(
        0.5, ge=0, le=1, description="fraction of compute time that can hide communication"
    )
    memory_bound_fraction: float = Field(
        0.15,
        ge=0,
        le=1,
        description="share of step time in memory-bound kernels (norms, elementwise), flat in clock; "
        "estimate from Zeus (NSDI'23) training power/clock sweeps, confidence low",
    )
    active_fraction: float = Field(
        1.0, ge=0, le=1, description="share of servers running the job; rest idle"
    )
    comm_activity: float | None = Field(
        None,
        ge=0,
        le=1,
        description="accelerator activity while stalled on exposed communication; unset: "
        "dcsim.power.PHASE_ACTIVITY['communication'] (POLCA arXiv 2308.12908 Fig. 5 dips)",
    )
    compute_activity: float | None = Field(
        None,
        ge=0,
        le=1,
        description="accelerator activity during compute; unset: "
        "dcsim.power.PHASE_ACTIVITY['training'] (calibrated to DGX H100 measurements)",
    )
    algorithm: AllReduceAlgorithm = Field(
        "auto",
        description="DP all-reduce algorithm; auto: the faster of ring (NCCL multi-channel) "
        "and hierarchical (dcsim.network.collectives)",
    )
    routing: str = Field("ecmp", description="ecmp | spray | split:K | colour")
    # Memory footprint per accelerator (dcsim.limits): checked against HBM at build time.
    zero_stage: Literal[0, 1, 2, 3] = Field(
        1,
        description="ZeRO stage sharding model states over DP (Rajbhandari et al., SC'20); 1 = "
        "Megatron-LM's distributed optimizer; 3 also all-gathers weights (1.5x DP traffic)",
    )
    optimizer_bytes_per_param: float = Field(
        12.0,
        gt=0,
        description="Adam, mixed precision: FP32 master weights + 2 FP32 moments (ZeRO K=12)",
    )
    seq_len: int = Field(
        4096, ge=1, le=10_000_000, description="tokens per sequence (Llama 2: 4096)"
    )
    micro_batch_size: int = Field(
        1, ge=1, le=65536, description="sequences per micro-batch per DP rank"
    )
    hidden_size: int | None = Field(
        None,
        ge=1,
        description="model width h (layers L = N / 12 h^2); unset: h/L = 128 as in GPT-3 175B",
    )
    sequence_parallel: bool = Field(
        True, description="Megatron sequence parallelism shards norm/dropout activations over TP"
    )
    recompute: Literal["selective", "full", "none"] = Field(
        "selective", description="activation recomputation (Korthikanti et al. 2022)"
    )
    allow_memory_overflow: bool = Field(
        False, description="run even if weights, gradients, optimizer and activations exceed HBM"
    )


def resolve_mfu(cfg: TrainingConfig, profile: HardwareProfile) -> tuple[float, str]:
    """(MFU, where it came from): the scenario's `workload.mfu` if set, else the profile's
    value for this model size (`HardwareProfile.mfu_at`)."""
    if cfg.mfu is not None:
        return cfg.mfu, "scenario"
    return profile.mfu_at(cfg.model_params)


def compute_activity(cfg: TrainingConfig) -> float:
    """Activity during compute: the scenario's value or PHASE_ACTIVITY['training']."""
    return PHASE_ACTIVITY["training"] if cfg.compute_activity is None else cfg.compute_activity


def comm_activity(cfg: TrainingConfig) -> float:
    """Activity while stalled on communication: scenario value or PHASE_ACTIVITY['communication']."""
    return PHASE_ACTIVITY["communication"] if cfg.comm_activity is None else cfg.comm_activity


class StepTime(NamedTuple):
    """One iteration's compute, all-reduce and exposed (not overlapped) all-reduce time, s.
    Step time, phase booking and phase clock are named tuples: the engine makes a few per
    running job per step, and a tuple is built ~3x faster than a frozen dataclass."""

    compute_s: float
    comm_s: float
    exposed_comm_s: float

    @property
    def total_s(self) -> float:
        return self.compute_s + self.exposed_comm_s


class PhaseBooking(NamedTuple):
    """Time a synchronous job spent in each phase during one interval, and its progress."""

    compute_s: float
    comm_s: float
    iterations: float  # fractional: active time / step time
    completed: int  # iterations whose communication phase ended in the interval


class PhaseClock(NamedTuple):
    """Where a synchronous training job is in its iteration: the phase (compute, then exposed
    communication) and the fraction of that phase's work left.

    `advance` books one interval in closed form, as a discrete-event run of the iterations
    would (the model of `dcsim run` and of the multi-tenant engine): the interval's step time
    re-times the rest of the current phase (a clock change mid-phase stretches only the work
    left), phases then follow back to back, and the phase running at the interval's end keeps
    the fraction it has not done. A phase with at most 1e-9 of its work left counts as done."""

    comm: bool = False  # False: computing; True: stalled on exposed communication
    left: float = 1.0

    def advance(self, st: StepTime, span_s: float) -> tuple[PhaseBooking, PhaseClock]:
        """Book `span_s` seconds at step time `st`: (booking, clock at the interval's end).
        A phase ending exactly at the interval's end is done; the next one starts in the next
        interval (even a zero-length one)."""
        compute, comm_s, iters, completed, comm, left = book_phases(
            self.comm, self.left, st.compute_s, st.exposed_comm_s, st.total_s, span_s
        )
        return PhaseBooking(compute, comm_s, iters, completed), PhaseClock(comm, left)


def book_phases(
    comm: bool, left: float, compute_s: float, exposed_s: float, total_s: float, span_s: float
) -> tuple[float, float, float, int, bool, float]:
    """`PhaseClock.advance` on plain scalars (phase, share left, the step time's compute,
    exposed communication and total s): (compute s, comm s, iterations, completed, phase,
    share left) booked over `span_s`. Plain Python that numba compiles as written for the
    compiled Datacenter-v0 step (`dcsim.sim_kernel`)."""
    t = compute = comm_t = iters = 0.0
    completed = 0
    while t < span_s:
        if not comm and left == 1.0:  # whole iterations ending before the interval's end
            n = math.ceil((span_s - t) / total_s) - 1
            if n > 0:
                t += n * total_s
                compute += n * compute_s
                comm_t += n * exposed_s
                iters += n
                completed += n
                continue
        dur = (exposed_s if comm else compute_s) * left
        if t + dur <= span_s:  # the phase ends inside the interval
            spent, done = dur, 1.0
        else:
            spent = span_s - t
            done = min(spent / dur, 1.0)
        if comm:
            comm_t += spent
        else:
            compute += spent
        iters += spent / total_s
        t += spent
        left *= 1.0 - done
        if left <= 1e-9:
            completed += comm
            comm, left = not comm, 1.0
        if done < 1.0:
            break
    return compute, comm_t, iters, completed, comm, left


def advance_phase_clocks(
    comm: np.ndarray,
    left: np.ndarray,
    compute_s: np.ndarray,
    exposed_s: np.ndarray,
    span_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`PhaseClock.advance` lane by lane over arrays of jobs (phase `comm`, share `left` of it
    to do, step time `compute_s` + `exposed_s`), all booking the same `span_s`: the same
    operations in the same order, one round of the loop per lane at a time (masked) until every
    lane has left it, so each lane equals `PhaseClock.advance` bitwise (tests/test_phase_clock.py).
    Returns (compute s, comm s, iterations, completed, comm, left) per lane. Batched copies of
    Datacenter-v0 (`dcsim.envs.datacenter_vector`) book their jobs with it."""
    comm = np.array(comm, dtype=bool)  # copies: updated in place below
    left = np.array(left, dtype=float)
    compute_s = np.asarray(compute_s, dtype=float)
    exposed_s = np.asarray(exposed_s, dtype=float)
    t = np.zeros(left.shape)
    compute, comm_t, iters = np.zeros(left.shape), np.zeros(left.shape), np.zeros(left.shape)
    completed = np.zeros(left.shape)  # whole numbers, exact as floats; ints on return
    total = compute_s + exposed_s
    live = t < span_s
    # In-place updates under `where=` masks equal np.where(mask, x + y, x) bit for bit, in
    # fewer NumPy calls. Masked lanes may divide by zero or overflow: their results are unused.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while live.any():
            # whole iterations ending before the interval's end (then the loop's `continue`)
            ncomm = ~comm
            skip = live & ncomm & (left == 1.0)
            if skip.any():
                n = np.ceil((span_s - t) / total) - 1.0
                skip &= n > 0
                np.add(t, n * total, out=t, where=skip)
                np.add(compute, n * compute_s, out=compute, where=skip)
                np.add(comm_t, n * exposed_s, out=comm_t, where=skip)
                np.add(iters, n, out=iters, where=skip)
                np.add(completed, n, out=completed, where=skip)
                run = live & ~skip
            else:
                run = live
            # the phase in progress, on the lanes that did not skip
            dur = np.where(comm, exposed_s, compute_s) * left
            inside = t + dur <= span_s  # the phase ends inside the interval
            spent = np.where(inside, dur, span_s - t)
            done = np.where(inside, 1.0, np.minimum(spent / dur, 1.0))
            run_comm = run & comm
            np.add(comm_t, spent, out=comm_t, where=run_comm)
            np.add(compute, spent, out=compute, where=run & ncomm)
            np.add(iters, spent / total, out=iters, where=run)
            np.add(t, spent, out=t, where=run)
            rest = left * (1.0 - done)
            np.copyto(left, rest, where=run)
            over = run & (rest <= 1e-9)
            np.add(completed, 1.0, out=completed, where=over & run_comm)
            np.copyto(left, 1.0, where=over)
            np.logical_not(comm, out=comm, where=over)
            live &= ~(run & (done < 1.0))
            live &= t < span_s
    return compute, comm_t, iters, completed.astype(np.int64), comm, left


def step_flops(cfg: TrainingConfig) -> float:
    """6 N D FLOPs for one optimizer step (forward 2ND + backward 4ND)."""
    return 6.0 * cfg.model_params * cfg.global_batch_tokens


def gradient_bytes_per_rank(cfg: TrainingConfig) -> float:
    """Gradient shard each accelerator all-reduces with its data-parallel peers.

    ZeRO stages 1-2 move the same bytes as an all-reduce (reduce-scatter + all-gather); stage 3
    also all-gathers the weights for backward: 1.5x (Rajbhandari et al., SC'20, Sec. 7).
    """
    zero3 = 1.5 if cfg.zero_stage == 3 else 1.0
    return zero3 * cfg.model_params * cfg.gradient_bytes_per_param / cfg.tensor_parallel


def training_step_time(
    cfg: TrainingConfig,
    n_accelerators: int,
    peak_flops: float,
    time_scale: float,
    comm_s: float,
    mfu: float | None = None,
) -> StepTime:
    """Step time of the job on n_accelerators whose compute is slowed by time_scale (>= 1, DVFS/throttle).

    ``mfu`` (e.g. from ``resolve_mfu``) replaces ``cfg.mfu``; one of them must be set.
    """
    m = cfg.mfu if mfu is None else mfu
    if m is None:
        raise InputError(
            "no MFU: set workload.mfu or use a hardware profile's training.mfu",
            field="workload.mfu",
        )
    compute = step_flops(cfg) / (n_accelerators * peak_flops * m) * time_scale
    exposed = max(0.0, comm_s - cfg.overlap * compute)
    return StepTime(compute_s=compute, comm_s=comm_s, exposed_comm_s=exposed)
