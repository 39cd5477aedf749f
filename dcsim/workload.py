"""Training workload: step time = compute + exposed data-parallel gradient all-reduce.

Compute uses the standard 6*N*tokens FLOPs per step for dense transformers
(Kaplan et al. 2020, arXiv 2001.08361; Narayanan et al. 2021, Megatron-LM) at a
model FLOPs utilization (MFU) of 0.35-0.45 typical for large runs (PaLM
arXiv 2204.02311 reports 46%, Llama 3 arXiv 2407.21783 reports 38-43%).
Tensor parallelism stays inside the scale-up domain (its cost is inside MFU);
gradients are all-reduced across data-parallel replicas over the scale-out
fabric, and a fraction of that communication overlaps backward compute
(PyTorch DDP bucketing / ZeRO overlap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from dcsim.schema import StrictModel


class TrainingConfig(StrictModel):
    """One data-parallel x tensor-parallel training job over the whole cluster."""

    kind: Literal["training"] = "training"
    model_params: float = Field(70e9, gt=0, description="dense parameters N")
    global_batch_tokens: float = Field(
        4 * 1024 * 1024, gt=0, description="tokens per optimizer step"
    )
    mfu: float = Field(0.40, gt=0, le=1, description="model FLOPs utilization at full clock")
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
    comm_activity: float = Field(
        0.35,
        ge=0,
        le=1,
        description="accelerator activity while stalled on exposed communication (POLCA arXiv 2308.12908 Fig. 3 dips)",
    )
    compute_activity: float = Field(
        0.85, ge=0, le=1, description="activity during compute (DESIGN: training ~0.85)"
    )
    algorithm: Literal["auto", "ring", "halving-doubling", "double-binary-tree", "hierarchical"] = (
        Field(
            "auto",
            description="DP all-reduce algorithm; auto: the faster of ring (NCCL multi-channel) "
            "and hierarchical (dcsim.network.collectives)",
        )
    )
    routing: str = Field("ecmp", description="ecmp | spray | split:K | colour")


@dataclass(frozen=True)
class StepTime:
    compute_s: float
    comm_s: float
    exposed_comm_s: float

    @property
    def total_s(self) -> float:
        return self.compute_s + self.exposed_comm_s


def step_flops(cfg: TrainingConfig) -> float:
    """6 N D FLOPs for one optimizer step (forward 2ND + backward 4ND)."""
    return 6.0 * cfg.model_params * cfg.global_batch_tokens


def gradient_bytes_per_rank(cfg: TrainingConfig) -> float:
    """Gradient shard each accelerator all-reduces with its data-parallel peers."""
    return cfg.model_params * cfg.gradient_bytes_per_param / cfg.tensor_parallel


def training_step_time(
    cfg: TrainingConfig,
    n_accelerators: int,
    peak_flops: float,
    time_scale: float,
    comm_s: float,
) -> StepTime:
    """Step time of the job on n_accelerators whose compute is slowed by time_scale (>= 1, DVFS/throttle)."""
    compute = step_flops(cfg) / (n_accelerators * peak_flops * cfg.mfu) * time_scale
    exposed = max(0.0, comm_s - cfg.overlap * compute)
    return StepTime(compute_s=compute, comm_s=comm_s, exposed_comm_s=exposed)
