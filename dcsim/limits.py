"""Physical limits a design must respect before it is simulated: rack power and accelerator memory.

Rack power (electrical provisioning, not cooling: the air kW/rack density check lives in
dcsim.cooling.air). A rack's peak draw is its servers' nameplate power (the profile's
`server.rated_power_w`, else the TDP-based wall peak the simulation uses), compared with
`cluster.rack_power_limit_kw` or, unset, a default by hall type (RACK_LIMIT_KW). A PDU's
continuous rating is sqrt(3) x V_line x I x 0.8 for a three-phase feed (NFPA 70 / NEC
210.19(A)(1) and 215.2: continuous loads at 80% of the breaker rating), e.g. 415 V 60 A ->
34.5 kW.

Accelerator memory (model states after Rajbhandari et al., "ZeRO: Memory Optimizations Toward
Training Trillion Parameter Models", SC'20, Sec. 3 and 5; activations after Korthikanti et al.,
"Reducing Activation Recomputation in Large Transformer Models", arXiv 2205.05198, Table 2).
With Psi = N / TP parameters per accelerator and DP data-parallel replicas, mixed-precision
Adam keeps 2 bytes of BF16 weights, `gradient_bytes_per_param` of gradients and
`optimizer_bytes_per_param` (12: FP32 master weights + two FP32 moments) per parameter:

    stage 0: (2 + g + K) Psi          stage 2: 2 Psi + (g + K) Psi / DP
    stage 1: (2 + g) Psi + K Psi / DP stage 3: (2 + g + K) Psi / DP

Activations of L layers at sequence s, micro-batch b, hidden h, TP degree t (BF16; Table 2):

    selective recompute, sequence parallel: 34 s b h L / t
    selective recompute, no SP:             s b h L (10 + 24 / t)
    full recompute:                         2 s b h L (/ t with SP)      (layer inputs only)
    no recompute:                           s b h L (34 + 5 a s / h) / t with SP,
                                            s b h L (10 + 24 / t + 5 a s / (h t)) without

Pipeline parallelism is not modelled (PP = 1): with a 1F1B schedule the first stage holds p
micro-batches of L/p layers, the same L-layer total (Korthikanti et al., Sec. 4.2). Framework
buffers (CUDA context, NCCL, allocator fragmentation: typically a few GB) are not counted, so a
fit within a few GB of HBM is optimistic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from dcsim.errors import InputError
from dcsim.schema import Sourced

if TYPE_CHECKING:  # pragma: no cover
    from dcsim.config import Scenario
    from dcsim.hardware import HardwareProfile
    from dcsim.workload import TrainingConfig

# BF16 weights (Micikevicius et al. 2018 mixed precision; ZeRO Sec. 3.1 counts 2 Psi).
WEIGHT_BYTES_PER_PARAM = 2.0
# Head dimension when a head count is needed (no-recompute formula): 128 in GPT-3 175B
# (12288 / 96, Brown et al. 2020) and Llama 2/3 (8192 / 64).
HEAD_DIM = 128
# Aspect ratio h / L when workload.hidden_size is unset: GPT-3 175B has 12288 / 96 = 128;
# Kaplan et al. 2020 (arXiv 2001.08361, Fig. 5) find loss nearly flat for h/L in 50..200.
ASPECT_RATIO = 128.0


def pdu_kw(voltage_v: float, current_a: float, phases: int = 3, derating: float = 0.8) -> float:
    """Continuous kW of one PDU: sqrt(3) V I (three-phase, line-to-line V) or V I, x derating."""
    va = math.sqrt(3.0) * voltage_v * current_a if phases == 3 else voltage_v * current_a
    return va * derating / 1e3


# Default rack power budget by hall type (kW), used when cluster.rack_power_limit_kw is unset.
RACK_LIMIT_KW: dict[str, Sourced] = {
    "air": Sourced(
        value=round(2 * pdu_kw(415, 60), 1),
        unit="kW",
        source="three 415 V 3-phase 60 A rack PDUs (34.5 kW each at the NEC 80% continuous "
        "rating), N+1: 69 kW; NVIDIA DGX SuperPOD B300 reference architecture (2025): four DGX "
        "B300 per standard rack at ~56 kW on three 2U rack PDUs",
        confidence="medium",
    ),
    "liquid": Sourced(
        value=132.0,
        unit="kW",
        source="NVIDIA GB200 NVL72 liquid-cooled rack: ~120 kW typical, ~132 kW maximum "
        "(NVIDIA GB200 NVL72 product page 2024; SemiAnalysis 2024), busbar-fed power shelves",
        confidence="medium",
    ),
}


# ----------------------------------------------------------------------------- rack power
@dataclass(frozen=True)
class RackPower:
    """Peak electrical draw of the fullest rack against its budget."""

    rack_kw: float
    limit_kw: float
    limit_source: str
    server_kw: float
    server_kw_source: str
    servers_per_rack: int

    @property
    def fits(self) -> bool:
        return self.rack_kw <= self.limit_kw * (1 + 1e-9)


def server_nameplate_w(
    profile: HardwareProfile, acc_per_server: int, tdp_peak_w: float
) -> tuple[float, str]:
    """A server's nameplate W (profile rated_power_w scaled to its accelerators) or the TDP peak."""
    rated = profile.server.rated_power_w
    if rated is None:
        return tdp_peak_w, "TDP-based wall peak (accelerators x TDP + host, / PSU efficiency)"
    scale = acc_per_server / profile.server.accelerators
    return rated.value * scale, f"server.rated_power_w of {profile.name} ({rated.source})"


def rack_power(
    sc: Scenario, profile: HardwareProfile, acc_per_server: int, tdp_peak_w: float
) -> RackPower:
    """The fullest rack's nameplate kW and the budget it must fit in."""
    per_rack = min(sc.cluster.servers_per_rack, sc.cluster.servers)
    server_w, server_src = server_nameplate_w(profile, acc_per_server, tdp_peak_w)
    if sc.cluster.rack_power_limit_kw is not None:
        limit, src = sc.cluster.rack_power_limit_kw, "scenario (cluster.rack_power_limit_kw)"
    else:
        d = RACK_LIMIT_KW[sc.cooling.type]
        limit, src = d.value, f"default for {sc.cooling.type}-cooled halls: {d.source}"
    return RackPower(per_rack * server_w / 1e3, limit, src, server_w / 1e3, server_src, per_rack)


def check_rack_power(rp: RackPower, allowed: bool, file: str | None) -> None:
    """InputError (exit 2) when the fullest rack draws more than its budget, unless allowed."""
    if rp.fits or allowed:
        return
    raise InputError(
        f"{rp.servers_per_rack} servers x {rp.server_kw:.1f} kW = {rp.rack_kw:.1f} kW per rack "
        f"exceeds the rack power limit of {rp.limit_kw:.1f} kW ({rp.limit_source}); use fewer "
        "cluster.servers_per_rack, set cluster.rack_power_limit_kw to your racks' provisioned "
        "power, or set cluster.allow_over_power: true",
        file=file,
        field="cluster.servers_per_rack",
    )


# ----------------------------------------------------------------------------- memory
@dataclass(frozen=True)
class MemoryFootprint:
    """Bytes per accelerator of a training job, by what holds them."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    hbm: float
    data_parallel: int
    hidden_size: int
    layers: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations

    @property
    def fits(self) -> bool:
        return self.total <= self.hbm

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["total"] = self.total
        return d


def model_shape(cfg: TrainingConfig) -> tuple[int, float]:
    """(hidden size h, layers L) with N = 12 L h^2 (Kaplan et al. 2020, Eq. 2.1 without embeddings)."""
    h = cfg.hidden_size
    if h is None:  # N = 12 h^3 / ASPECT_RATIO, rounded to a multiple of 128
        h = max(
            HEAD_DIM, int(round((ASPECT_RATIO * cfg.model_params / 12.0) ** (1 / 3) / 128)) * 128
        )
    return h, max(cfg.model_params / (12.0 * h * h), 1.0)


def activation_bytes(cfg: TrainingConfig) -> float:
    """Activation memory per accelerator (Korthikanti et al. 2022, Table 2; BF16)."""
    h, layers = model_shape(cfg)
    s, b, t = cfg.seq_len, cfg.micro_batch_size, cfg.tensor_parallel
    sbhl = s * b * h * layers
    sp = cfg.sequence_parallel
    if cfg.recompute == "full":
        return 2.0 * sbhl / (t if sp else 1)
    attn = 0.0 if cfg.recompute == "selective" else 5.0 * (h / HEAD_DIM) * s / h
    if sp:
        return sbhl * (34.0 + attn) / t
    return sbhl * (10.0 + 24.0 / t + attn / t)


def memory_footprint(cfg: TrainingConfig, n_accelerators: int, hbm_gb: float) -> MemoryFootprint:
    """Model states (ZeRO stage) and activations per accelerator for TP x DP on n accelerators."""
    t = cfg.tensor_parallel
    dp = max(n_accelerators // t, 1)
    psi = cfg.model_params / t
    g, k, z = cfg.gradient_bytes_per_param, cfg.optimizer_bytes_per_param, cfg.zero_stage
    h, layers = model_shape(cfg)
    return MemoryFootprint(
        weights=WEIGHT_BYTES_PER_PARAM * psi / (dp if z >= 3 else 1),
        gradients=g * psi / (dp if z >= 2 else 1),
        optimizer=k * psi / (dp if z >= 1 else 1),
        activations=activation_bytes(cfg),
        hbm=hbm_gb * 1e9,
        data_parallel=dp,
        hidden_size=h,
        layers=layers,
    )


def check_memory(mem: MemoryFootprint, allowed: bool, file: str | None) -> None:
    """InputError (exit 2) when the job's per-accelerator memory exceeds HBM, unless allowed."""
    if mem.fits or allowed:
        return
    gb = 1e9
    raise InputError(
        f"the model needs {mem.total / gb:.1f} GB per accelerator (weights {mem.weights / gb:.1f}, "
        f"gradients {mem.gradients / gb:.1f}, optimizer {mem.optimizer / gb:.1f}, activations "
        f"{mem.activations / gb:.1f}; data-parallel {mem.data_parallel}) but the accelerator has "
        f"{mem.hbm / gb:.0f} GB HBM; raise workload.tensor_parallel or workload.zero_stage, "
        "add servers, lower workload.micro_batch_size, or set workload.allow_memory_overflow: true",
        file=file,
        field="workload.model_params",
    )


@dataclass(frozen=True)
class Limits:
    """Both checks of one built system (for reports and manifests)."""

    rack: RackPower
    memory: MemoryFootprint | None  # None when no server runs the job

    def as_dict(self) -> dict[str, Any]:
        r = self.rack
        out: dict[str, Any] = {
            "rack_kw": r.rack_kw,
            "rack_power_limit_kw": r.limit_kw,
            "rack_power_limit_source": r.limit_source,
            "rack_power_fits": r.fits,
        }
        if self.memory is not None:
            m = self.memory
            out.update(
                {
                    "memory_gb_per_accelerator": m.total / 1e9,
                    "hbm_gb": m.hbm / 1e9,
                    "memory_fits": m.fits,
                    "memory_breakdown_gb": {
                        k: getattr(m, k) / 1e9
                        for k in ("weights", "gradients", "optimizer", "activations")
                    },
                }
            )
        return out


def check_limits(
    sc: Scenario,
    profile: HardwareProfile,
    acc_per_server: int,
    n_active_accelerators: int,
    tdp_peak_w: float,
    file: str | None,
) -> Limits:
    """Check rack power and memory (InputError unless allowed); return both for reporting."""
    rp = rack_power(sc, profile, acc_per_server, tdp_peak_w)
    check_rack_power(rp, sc.cluster.allow_over_power, file)
    mem = None
    if n_active_accelerators > 0:
        mem = memory_footprint(sc.workload, n_active_accelerators, profile.memory.hbm_gb.value)
        check_memory(mem, sc.workload.allow_memory_overflow, file)
    return Limits(rp, mem)


__all__ = [
    "RACK_LIMIT_KW",
    "Limits",
    "MemoryFootprint",
    "RackPower",
    "activation_bytes",
    "check_limits",
    "check_memory",
    "check_rack_power",
    "memory_footprint",
    "model_shape",
    "pdu_kw",
    "rack_power",
]
