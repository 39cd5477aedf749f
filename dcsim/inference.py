"""LLM inference serving: request traces, a roofline cost model and a continuous-batching DES.

- Requests come from an Azure LLM inference trace 2023 CSV (TIMESTAMP, ContextTokens,
  GeneratedTokens; Patel et al., Splitwise, ISCA'24) or from a Gamma renewal process with
  bounded-Zipf lengths fitted to the conversation trace.
- Each engine iteration (Orca OSDI'22 / vLLM SOSP'23 iteration-level scheduling) runs the prompts
  of newly admitted requests (prefill) plus one token for every running request (decode). Its time
  is FLOPs / (peak eta_c f) + bytes / (BW eta_m) plus per-layer launch/sync overheads and the TP
  all-reduces (alpha-beta), calibrated once against published vLLM / TensorRT-LLM measurements
  (dcsim/inference_calibration.py): prefill is compute-bound and stretches as ~1/f under DVFS,
  decode streams the weights and KV cache and is memory-bound, so it barely moves with the clock
  ("Towards Greener LLMs", arXiv 2403.20306).
- Device power per iteration follows ``dcsim.power``: activity interpolates between the decode
  (memory-bound) and prefill (compute-bound) activities by the share of time the tensor cores are
  busy, so energy = sum of P * dt over iterations and idle gaps.

SimPy drives arrivals and iterations; the per-iteration cost is closed-form arithmetic.
"""

from __future__ import annotations

import csv
import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import simpy
from pydantic import Field

from dcsim.errors import InputError
from dcsim.hardware import HardwareProfile
from dcsim.power import PHASE_ACTIVITY, DevicePowerModel, hbm_power_w
from dcsim.schema import StrictModel

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


# ------------------------------------------------------------------------------------ traces
@dataclass(frozen=True)
class RequestTrace:
    """Requests sorted by arrival time (seconds from the first request)."""

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return int(self.arrival_s.size)

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) > 1 else 0.0

    @property
    def rate_per_s(self) -> float:
        return (len(self) - 1) / self.duration_s if self.duration_s > 0 else 0.0

    def window(self, t0: float, t1: float) -> RequestTrace:
        """Requests arriving in [t0, t1), times shifted to start at 0."""
        m = (self.arrival_s >= t0) & (self.arrival_s < t1)
        return RequestTrace(
            self.arrival_s[m] - t0, self.prompt_tokens[m], self.output_tokens[m], self.source
        )

    def time_scaled(self, rate_factor: float) -> RequestTrace:
        """Same requests, arrivals compressed so the rate is rate_factor times higher."""
        if rate_factor <= 0:
            raise InputError(f"rate factor must be > 0, got {rate_factor}", field="rate_factor")
        return RequestTrace(
            self.arrival_s / rate_factor, self.prompt_tokens, self.output_tokens, self.source
        )


def load_azure_trace(path: str | Path, max_requests: int | None = None) -> RequestTrace:
    """Read an Azure LLM inference trace 2023 CSV (TIMESTAMP, ContextTokens, GeneratedTokens)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("trace file not found", file=str(p))
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise InputError("empty trace file", file=str(p))
        header = [h.strip() for h in header]
        missing = [c for c in AZURE_COLUMNS if c not in header]
        if missing:
            raise InputError(
                f"missing column(s) {missing}; expected {list(AZURE_COLUMNS)}",
                file=str(p),
                field=missing[0],
            )
        idx = [header.index(c) for c in AZURE_COLUMNS]
        ts: list[str] = []
        ctx: list[str] = []
        gen: list[str] = []
        for row in reader:
            if not row:
                continue
            ts.append(row[idx[0]].strip())
            ctx.append(row[idx[1]])
            gen.append(row[idx[2]])
            if max_requests is not None and len(ts) >= max_requests:
                break
    if not ts:
        raise InputError("trace has no requests", file=str(p))
    try:
        t = np.array(ts, dtype="datetime64[ns]")
    except ValueError as exc:
        raise InputError(f"bad timestamp: {exc}", file=str(p), field="TIMESTAMP") from None
    try:
        prompt = np.array(ctx, dtype=np.int64)
        out = np.array(gen, dtype=np.int64)
    except ValueError as exc:
        raise InputError(f"token counts must be integers: {exc}", file=str(p)) from None
    for name, arr in (("ContextTokens", prompt), ("GeneratedTokens", out)):
        bad = np.flatnonzero(arr < 0)
        if bad.size:
            raise InputError(
                f"negative token count in data row {int(bad[0]) + 1}", file=str(p), field=name
            )
    secs = (t - t.min()) / np.timedelta64(1, "s")
    order = np.argsort(secs, kind="stable")
    # a request generates at least one token (the first one, produced by prefill)
    return RequestTrace(
        secs[order].astype(float),
        np.maximum(prompt[order], 1),
        np.maximum(out[order], 1),
        source=str(p),
    )


@dataclass(frozen=True)
class ZipfLength:
    """Bounded Zipf length distribution, P(k) ~ k^-s on [k_min, k_max] (sampled by inverse CDF)."""

    s: float
    k_min: int
    k_max: int

    def __post_init__(self) -> None:
        if not (1 <= self.k_min <= self.k_max):
            raise InputError(
                f"need 1 <= k_min <= k_max, got {self.k_min}, {self.k_max}", field="zipf"
            )

    def pmf(self) -> tuple[np.ndarray, np.ndarray]:
        k = np.arange(self.k_min, self.k_max + 1)
        w = k.astype(float) ** -self.s
        return k, w / w.sum()

    def mean(self) -> float:
        k, p = self.pmf()
        return float((k * p).sum())

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        k, p = self.pmf()
        c = np.cumsum(p)
        return k[np.minimum(np.searchsorted(c, rng.random(n)), k.size - 1)]


# MLE fits of a bounded Zipf to the Azure 2023 conversation trace, truncated at its P99
# (fit in this repo, see docs/models.md): prompts s=0.45 on [2, 4142], outputs s=0.44 on [7, 601].
# A bounded Zipf is a coarse fit (its median prompt ~1200 vs 1020 in the trace); use the trace
# itself when the shape matters.
CONV_PROMPT_ZIPF = ZipfLength(0.450, 2, 4142)
CONV_OUTPUT_ZIPF = ZipfLength(0.440, 7, 601)
# Splitwise (ISCA'24) fit of conversation inter-arrival times: Gamma(shape 0.84, scale 0.216 s).
CONV_GAMMA_SHAPE = 0.84
CONV_GAMMA_SCALE_S = 0.216


def gamma_zipf_requests(
    duration_s: float,
    seed: int = 0,
    rate_factor: float = 1.0,
    shape: float = CONV_GAMMA_SHAPE,
    scale_s: float = CONV_GAMMA_SCALE_S,
    prompt: ZipfLength = CONV_PROMPT_ZIPF,
    output: ZipfLength = CONV_OUTPUT_ZIPF,
) -> RequestTrace:
    """Gamma renewal arrivals (mean gap shape*scale/rate_factor) with bounded-Zipf lengths."""
    if duration_s <= 0 or rate_factor <= 0 or shape <= 0 or scale_s <= 0:
        raise InputError("duration, rate factor, shape and scale must be > 0", field="workload")
    rng = np.random.default_rng(seed)
    mean_gap = shape * scale_s / rate_factor
    n_guess = int(duration_s / mean_gap * 1.3) + 32
    gaps = rng.gamma(shape, scale_s / rate_factor, n_guess)
    t = np.cumsum(gaps)
    while t[-1] < duration_s:  # rare: extend
        t = np.concatenate([t, t[-1] + np.cumsum(rng.gamma(shape, scale_s / rate_factor, n_guess))])
    t = t[t < duration_s]
    n = t.size
    return RequestTrace(
        t, prompt.sample(rng, n), output.sample(rng, n), source=f"gamma({shape},{scale_s})/zipf"
    )


# ------------------------------------------------------------------------------------ models
@dataclass(frozen=True)
class LLMSpec:
    """Dense decoder-only transformer: enough shape to count FLOPs and bytes per token."""

    name: str
    n_params: float
    n_layers: int
    d_model: int
    n_kv_heads: int
    head_dim: int
    bytes_per_param: float = 2.0
    source: str = ""

    @property
    def weight_bytes(self) -> float:
        return self.n_params * self.bytes_per_param

    @property
    def kv_bytes_per_token(self) -> float:
        """K and V for every layer: 2 * layers * kv_heads * head_dim * bytes."""
        return 2.0 * self.n_layers * self.n_kv_heads * self.head_dim * self.bytes_per_param


LLMS: dict[str, LLMSpec] = {
    "llama2-70b": LLMSpec(
        "llama2-70b", 69e9, 80, 8192, 8, 128, source="Touvron et al. 2023 (Llama 2), GQA 8 KV heads"
    ),
    "llama2-13b": LLMSpec("llama2-13b", 13e9, 40, 5120, 40, 128, source="Touvron et al. 2023"),
    "bloom-176b": LLMSpec("bloom-176b", 176e9, 70, 14336, 112, 128, source="BigScience BLOOM 2022"),
    "llama2-7b": LLMSpec(
        "llama2-7b", 6.74e9, 32, 4096, 32, 128, source="Touvron et al. 2023 (Llama 2), MHA 32 heads"
    ),
    "llama3-8b": LLMSpec(
        "llama3-8b",
        8.03e9,
        32,
        4096,
        8,
        128,
        source="Meta Llama 3 model card (2024), GQA 8 KV heads",
    ),
    "llama3-70b": LLMSpec(
        "llama3-70b",
        70.6e9,
        80,
        8192,
        8,
        128,
        source="Meta Llama 3 model card (2024), GQA 8 KV heads",
    ),
}


def get_llm(name: str) -> LLMSpec:
    try:
        return LLMS[name.lower()]
    except KeyError:
        raise InputError(
            f"unknown model '{name}'; expected one of: {', '.join(LLMS)}", field="model"
        ) from None


PRECISIONS = ("bf16", "fp8")
BYTES_PER_VALUE = {"bf16": 2.0, "fp8": 1.0}

# Calibrated engine constants (fit once to the published points of
# dcsim/inference_calibration.py, see docs/models.md "Serving calibration"):
# - MEMORY_EFFICIENCY is set, not fit: decode GEMV/attention kernels reach ~0.6-0.8 of the
#   datasheet HBM bandwidth (vLLM Llama-3.1-8B batch-1 decode on A100: ~77 % of the roofline);
# - COMPUTE_EFFICIENCY per precision and LAYER_OVERHEAD_S are least-squares fits (log error);
#   FP8 reaches a smaller share of its 2x peak (quantize/dequantize and BF16 non-GEMM work).
MEMORY_EFFICIENCY = 0.8
COMPUTE_EFFICIENCY = {"bf16": 0.77, "fp8": 0.46}
LAYER_OVERHEAD_S = 70e-6  # kernel launches, non-GEMM ops and syncs per layer per iteration


class ServingConfig(StrictModel):
    """Engine settings for one model replica (tensor parallel over tp accelerators)."""

    tp: int = Field(8, gt=0, description="accelerators per replica (tensor parallel)")
    max_batch: int = Field(64, gt=0, description="max running requests (vLLM max_num_seqs-like)")
    max_prefill_tokens: int = Field(
        8192, gt=0, description="prompt tokens per iteration (vLLM budget)"
    )
    precision: Literal["bf16", "fp8"] = Field(
        "bf16", description="weights and KV cache precision: bf16 (2 bytes) or fp8 (1 byte)"
    )
    compute_efficiency: float | None = Field(
        None,
        gt=0,
        le=1,
        description="achieved share of peak FLOPs of the precision in GEMMs; "
        f"default calibrated {COMPUTE_EFFICIENCY}",
    )
    memory_efficiency: float = Field(
        MEMORY_EFFICIENCY, gt=0, le=1, description="achieved share of HBM bandwidth"
    )
    layer_overhead_s: float = Field(
        LAYER_OVERHEAD_S,
        ge=0,
        description="per-layer kernel launch/sync/non-GEMM time per iteration (calibrated)",
    )
    kv_memory_fraction: float = Field(0.9, gt=0, le=1, description="HBM left after weights for KV")
    ttft_slo_s: float = Field(2.5, gt=0, description="DistServe OSDI'24 chatbot SLO (OPT-66B)")
    tpot_slo_s: float = Field(0.15, gt=0, description="DistServe OSDI'24 chatbot SLO (OPT-66B)")

    @property
    def gemm_efficiency(self) -> float:
        """Compute efficiency in use: the explicit value or the calibrated one for the precision."""
        if self.compute_efficiency is not None:
            return self.compute_efficiency
        return COMPUTE_EFFICIENCY[self.precision]


def tp_allreduce_alpha_s() -> float:
    """Per-step latency of a scale-up all-reduce: NCCL's NVLink endpoint term plus two switch hops.

    The same constants time scale-up collectives in ``dcsim.network`` (one source of truth).
    """
    from dcsim.network.accelerator import SCALEUP_ENDPOINT_LATENCY_US, SCALEUP_HOP_LATENCY_US

    return (SCALEUP_ENDPOINT_LATENCY_US + 2 * SCALEUP_HOP_LATENCY_US) * 1e-6


class RooflineCost:
    """Closed-form iteration time and activity of a continuous-batching engine.

    Time of one iteration = t_c + t_m + L * tau + 2 L * AR(tokens) where t_c = FLOPs / (tp peak
    eta_c f) and t_m = bytes / (tp BW eta_m) add (kernels run one after another and each is
    either compute- or memory-bound; a max() overlap was 1.5-2x optimistic against the published
    points), tau is the per-layer launch/sync/non-GEMM overhead and AR is a ring all-reduce of
    the activations over the scale-up fabric, 2 per layer (Megatron TP), alpha-beta with the
    ``dcsim.network`` latency constants.
    """

    def __init__(self, profile: HardwareProfile, llm: LLMSpec, cfg: ServingConfig | None = None):
        self.profile = profile
        self.cfg = cfg = cfg or ServingConfig()
        self.llm = llm = replace(llm, bytes_per_param=BYTES_PER_VALUE[cfg.precision])
        self.power = DevicePowerModel.from_profile(profile)
        tp = cfg.tp
        if cfg.precision == "fp8":
            if profile.compute.fp8_dense_tflops is None:
                raise InputError(
                    f"{profile.name} has no FP8 peak (compute.fp8_dense_tflops)",
                    field="serving.precision",
                )
            peak = profile.compute.fp8_dense_tflops.value * 1e12
        else:
            peak = profile.peak_flops
        self.flops_rate = tp * peak * cfg.gemm_efficiency  # at f = 1
        self.bytes_rate = tp * profile.hbm_bytes_per_s * cfg.memory_efficiency
        # TP all-reduce of BF16 activations: 2 per layer, ring over scale-up
        link = (
            profile.interconnect.scaleup_effective_gBps or profile.interconnect.scaleup_gBps_per_dir
        )
        self.comm_rate = link.value * 1e9
        # Power split (issue 16.2): HBM power follows achieved bandwidth (clock-independent); the
        # decode activity keeps its measured total at f_max, minus that memory part, as core
        # (clock-scaled) power, so low clocks no longer scale the memory power down.
        self.mem_power_w = float(hbm_power_w(profile.hbm_bytes_per_s * cfg.memory_efficiency))
        self.core_activity_mem_bound = max(
            0.0, PHASE_ACTIVITY["decode"] - self.mem_power_w / self.power.dynamic_w
        )
        self.comm_bytes_per_token = (
            0.0 if tp == 1 else 2 * llm.n_layers * 2.0 * (tp - 1) / tp * llm.d_model * 2.0
        )
        n_ar = 0 if tp == 1 else 2 * llm.n_layers
        self.comm_latency_s = n_ar * 2 * (tp - 1) * tp_allreduce_alpha_s()
        # fixed time of every iteration: per-layer overheads and the all-reduce latencies
        self.step_overhead_s = llm.n_layers * cfg.layer_overhead_s + self.comm_latency_s
        hbm_total = tp * profile.memory.hbm_gb.value * 1e9
        free = hbm_total - llm.weight_bytes
        if free <= 0:
            raise InputError(
                f"{llm.name} weights ({llm.weight_bytes / 1e9:.0f} GB) do not fit in "
                f"{tp} x {profile.name} ({hbm_total / 1e9:.0f} GB)",
                field="serving.tp",
            )
        self.kv_capacity_tokens = int(free * cfg.kv_memory_fraction / llm.kv_bytes_per_token)

    def iteration(
        self,
        prefill_tokens: float | np.ndarray,
        prefill_sq_tokens: float | np.ndarray,
        decode_seqs: float | np.ndarray,
        decode_ctx_tokens: float | np.ndarray,
        freq_frac: float | np.ndarray = 1.0,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time s, compute time s, memory time s) of one engine iteration (vectorized).

        FLOPs = 2 N (P + D) + 4 L d (sum p^2 / 2 + ctx), bytes = weights + KV read (ctx) + KV write.
        """
        llm = self.llm
        p = np.asarray(prefill_tokens, dtype=float)
        d = np.asarray(decode_seqs, dtype=float)
        ctx = np.asarray(decode_ctx_tokens, dtype=float)
        flops = 2.0 * llm.n_params * (p + d) + 4.0 * llm.n_layers * llm.d_model * (
            0.5 * np.asarray(prefill_sq_tokens, dtype=float) + ctx
        )
        nbytes = llm.weight_bytes + llm.kv_bytes_per_token * (ctx + p + d)
        f = np.asarray(freq_frac, dtype=float)
        t_c = flops / (self.flops_rate * f)
        t_m = nbytes / self.bytes_rate
        t_comm = self.comm_bytes_per_token * (p + d) / self.comm_rate
        return t_c + t_m + self.step_overhead_s + t_comm, t_c, t_m

    def batch_latency(self, batch: int, prompt: int, output: int) -> tuple[float, float]:
        """(TTFT s, end-to-end s) of a static batch: one prefill of all prompts, then
        output - 1 decode steps (TensorRT-LLM gptSessionBenchmark, vLLM benchmark_latency)."""
        if batch < 1 or prompt < 1 or output < 1:
            raise InputError("batch, prompt and output must be >= 1", field="batch")
        t0 = float(self.iteration(batch * prompt, batch * float(prompt) ** 2, 0, 0)[0])
        j = np.arange(1, output)
        steps = self.iteration(0, 0, batch, batch * (prompt + j))[0]
        return t0, t0 + float(np.sum(steps))

    def activity(self, t: np.ndarray, t_c: np.ndarray) -> np.ndarray:
        """Core (clock-scaled) activity: the tensor-core busy share u = t_c / t moves it from the
        memory-bound decode value (without the HBM part) to the prefill value."""
        u = np.clip(t_c / np.maximum(t, 1e-15), 0.0, 1.0)
        a_m, a_c = self.core_activity_mem_bound, PHASE_ACTIVITY["prefill"]
        return a_m + (a_c - a_m) * u

    def device_power_w(
        self, t: np.ndarray, t_c: np.ndarray, t_m: np.ndarray, freq_frac: float | np.ndarray
    ) -> np.ndarray:
        """P = P_idle + P_HBM (t_m / t) + (TDP - P_idle) a_core S(f), per device
        (S: leakage + switching clock scale, ``DevicePowerModel.clock_scale``)."""
        share = np.clip(t_m / np.maximum(t, 1e-15), 0.0, 1.0)
        return self.power.power_w(self.activity(t, t_c), freq_frac) + self.mem_power_w * share


# ------------------------------------------------------------------------------------ DES
@dataclass
class ServingResult:
    """Per-request latencies and the replica power timeline of one serving run."""

    arrival_s: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    completed: np.ndarray  # bool per request
    seg_start_s: np.ndarray  # power timeline: piecewise-constant segments (all replicas summed)
    seg_dur_s: np.ndarray
    seg_power_w: np.ndarray
    horizon_s: float
    n_replicas: int
    devices_per_replica: int
    iterations: int
    output_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Busy time only (finished iterations): energy, seconds and tokens produced (first tokens +
    # decode tokens). Energy per token over busy time does not depend on the horizon's idle tail.
    busy_energy_j: float = 0.0
    busy_s: float = 0.0
    busy_tokens: int = 0
    cfg: ServingConfig = field(default_factory=ServingConfig)

    @property
    def energy_j(self) -> float:
        """Accelerator energy of all replicas: sum of P * dt over the timeline."""
        return float(np.sum(self.seg_power_w * self.seg_dur_s))

    @property
    def avg_power_w(self) -> float:
        return self.energy_j / self.horizon_s if self.horizon_s > 0 else 0.0

    def power_series(self, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Exact mean power per bin of width dt: integrates the (overlapping) segments."""
        n = max(1, int(math.ceil(self.horizon_s / dt - 1e-9)))
        edges = np.arange(n + 1) * dt
        t_ev = np.concatenate([self.seg_start_s, self.seg_start_s + self.seg_dur_s])
        d_ev = np.concatenate([self.seg_power_w, -self.seg_power_w])
        order = np.argsort(t_ev, kind="stable")
        t_ev, d_ev = t_ev[order], d_ev[order]
        level = np.cumsum(d_ev)  # total power just after each event
        cum_e = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(t_ev))])
        e = np.interp(edges, t_ev, cum_e, left=0.0, right=cum_e[-1] if cum_e.size else 0.0)
        return edges[:-1], np.diff(e) / dt

    def summary(self) -> dict[str, float]:
        done = self.completed
        tt, tp = self.ttft_s[done], self.tpot_s[done]
        tp_valid = tp[np.isfinite(tp)]
        n = int(done.sum())

        def pct(x: np.ndarray, q: float) -> float:
            return float(np.percentile(x, q)) if x.size else float("nan")

        slo_ok = (tt <= self.cfg.ttft_slo_s) & (np.nan_to_num(tp, nan=0.0) <= self.cfg.tpot_slo_s)
        return {
            "requests": float(self.arrival_s.size),
            "completed": float(n),
            "ttft_p50_s": pct(tt, 50),
            "ttft_p99_s": pct(tt, 99),
            "tpot_p50_s": pct(tp_valid, 50),
            "tpot_p99_s": pct(tp_valid, 99),
            "e2e_p50_s": pct(self.e2e_s[done], 50),
            "e2e_p99_s": pct(self.e2e_s[done], 99),
            "slo_attainment": float(slo_ok.mean()) if n else float("nan"),
            "throughput_rps": n / self.horizon_s if self.horizon_s > 0 else 0.0,
            "energy_j": self.energy_j,
            "avg_power_w": self.avg_power_w,
            "energy_per_token_j": self.energy_j / max(1.0, self.tokens_generated),
            "busy_s": self.busy_s,
            "busy_energy_per_token_j": self.busy_energy_j / max(1, self.busy_tokens),
        }

    @property
    def tokens_generated(self) -> float:
        """Output tokens of completed requests."""
        if self.output_tokens.size != self.completed.size:
            return 0.0
        return float(np.sum(self.output_tokens[self.completed]))


def simulate_serving(
    trace: RequestTrace,
    cost: RooflineCost,
    freq_frac: float | Callable[[float], float] = 1.0,
    n_replicas: int = 1,
    horizon_s: float | None = None,
) -> ServingResult:
    """Continuous-batching serving of a trace on n_replicas replicas (SimPy discrete events).

    Requests are dispatched to the replica with the fewest outstanding requests (join the
    shortest queue). Each iteration admits waiting requests FIFO while the batch, the prompt
    budget and the KV cache (reserving prompt + output tokens, Orca-style) allow, prefills them
    (their first token appears at the end of that iteration = TTFT) and decodes one token for
    every running request. ``freq_frac`` may be a function of time (a DVFS schedule).
    """
    if n_replicas <= 0:
        raise InputError(f"n_replicas must be > 0, got {n_replicas}", field="n_replicas")
    cfg = cost.cfg
    n = len(trace)
    arr = trace.arrival_s
    prompt = trace.prompt_tokens.astype(np.int64)
    out = trace.output_tokens.astype(np.int64)
    too_big = np.flatnonzero(prompt + out > cost.kv_capacity_tokens)
    if too_big.size:
        raise InputError(
            f"request {int(too_big[0])} needs {int(prompt[too_big[0]] + out[too_big[0]])} KV tokens, "
            f"more than the replica holds ({cost.kv_capacity_tokens})",
            field="trace",
        )
    horizon = float(horizon_s if horizon_s is not None else (arr[-1] if n else 0.0))
    first_tok = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    const_f = 0.0 if callable(freq_frac) else float(freq_frac)
    freq_fn: Callable[[float], float] = freq_frac if callable(freq_frac) else (lambda _t: const_f)
    idle_w = cost.power.idle_w * cfg.tp

    env = simpy.Environment()
    queues: list[deque[int]] = [deque() for _ in range(n_replicas)]
    outstanding = [0] * n_replicas
    wake: list[simpy.Event] = [env.event() for _ in range(n_replicas)]
    segs: list[tuple[float, float, float]] = []
    cur: list[tuple[float, float]] = [(0.0, idle_w)] * n_replicas  # open segment per replica
    iters = [0]
    busy = [0.0, 0.0, 0]  # energy J, seconds, tokens of finished iterations

    # Constants hoisted out of the hot loop (plain floats are faster than NumPy scalars here).
    llm = cost.llm
    two_n = 2.0 * llm.n_params
    attn = 4.0 * llm.n_layers * llm.d_model
    wbytes = llm.weight_bytes
    kvb = llm.kv_bytes_per_token
    frate, brate = cost.flops_rate, cost.bytes_rate
    comm = cost.comm_bytes_per_token / cost.comm_rate
    step0 = cost.step_overhead_s
    pm = cost.power
    a_m, a_c = cost.core_activity_mem_bound, PHASE_ACTIVITY["prefill"]
    p_mem = cost.mem_power_w
    f_lo = pm.f_min_frac
    scale_of = {1.0: 1.0}  # S(f) per clock seen (schedules use a few clocks)

    def arrivals() -> simpy.events.ProcessGenerator:
        for i in range(n):
            dt = arr[i] - env.now
            if dt > 0:
                yield env.timeout(dt)
            r = min(range(n_replicas), key=outstanding.__getitem__)
            queues[r].append(i)
            outstanding[r] += 1
            if not wake[r].triggered:
                wake[r].succeed()

    def replica(r: int) -> simpy.events.ProcessGenerator:
        q = queues[r]
        running_finish: list[tuple[int, int]] = []  # heap of (finish iteration, request)
        k = 0  # iteration counter of this replica
        n_run = 0
        sum_prompt = 0  # sum of prompts of running requests
        sum_kadm = 0  # sum of admission iterations of running requests
        kv_used = 0
        while True:
            if not q and n_run == 0:
                t0 = env.now
                cur[r] = (t0, idle_w)
                wake[r] = env.event()
                yield wake[r]
                if env.now > t0:
                    segs.append((t0, env.now - t0, idle_w))
                continue
            # decode work of the requests already running (one token each)
            d = n_run
            ctx = sum_prompt + d * k - sum_kadm
            # admit new requests FIFO
            p_tok = 0
            p_sq = 0.0
            admitted: list[int] = []
            while q and n_run + len(admitted) < cfg.max_batch:
                i = q[0]
                need = int(prompt[i] + out[i])
                if kv_used + need > cost.kv_capacity_tokens:
                    break
                if admitted and p_tok + prompt[i] > cfg.max_prefill_tokens:
                    break
                q.popleft()
                admitted.append(i)
                p_tok += int(prompt[i])
                p_sq += float(prompt[i]) ** 2
                kv_used += need
            f = min(1.0, max(f_lo, freq_fn(env.now)))
            flops = two_n * (p_tok + d) + attn * (0.5 * p_sq + ctx)
            t_c = flops / (frate * f)
            t_m = (wbytes + kvb * (ctx + p_tok + d)) / brate
            t = t_c + t_m + step0 + comm * (p_tok + d)
            u = t_c / t
            act = a_m + (a_c - a_m) * u
            sf = scale_of.get(f)
            if sf is None:
                sf = scale_of[f] = float(pm.clock_scale(f))
            pw = cfg.tp * (pm.idle_w + p_mem * t_m / t + pm.dynamic_w * act * sf)
            cur[r] = (env.now, pw)
            yield env.timeout(t)
            segs.append((env.now - t, t, pw))
            now = env.now
            # decoded tokens: requests whose last token was this iteration leave
            while running_finish and running_finish[0][0] <= k:
                _, i = heapq.heappop(running_finish)
                finish[i] = now
                n_run -= 1
                sum_prompt -= int(prompt[i])
                sum_kadm -= int(adm_iter[i])
                kv_used -= int(prompt[i] + out[i])
                outstanding[r] -= 1
            # admitted requests got their first token
            for i in admitted:
                first_tok[i] = now
                if out[i] <= 1:
                    finish[i] = now
                    kv_used -= int(prompt[i] + out[i])
                    outstanding[r] -= 1
                    continue
                # it decodes at iterations k+1 .. k+out-1 with context prompt + (j - k)
                adm_iter[i] = k
                heapq.heappush(running_finish, (k + int(out[i]) - 1, i))
                n_run += 1
                sum_prompt += int(prompt[i])
                sum_kadm += k
            k += 1
            iters[0] += 1
            busy[0] += pw * t
            busy[1] += t
            busy[2] += len(admitted) + d

    adm_iter = np.zeros(n, dtype=np.int64)
    env.process(arrivals())
    for r in range(n_replicas):
        env.process(replica(r))
    env.run(until=horizon if horizon > 0 else None)

    for r in range(n_replicas):  # close each replica's open segment at the horizon
        t0, pw_open = cur[r]
        if horizon > t0:
            segs.append((t0, horizon - t0, pw_open))
    s_arr = np.array(segs, dtype=float).reshape(-1, 3)
    start, dur, pw = s_arr[:, 0], s_arr[:, 1], s_arr[:, 2]
    keep = start < horizon
    start, dur, pw = start[keep], (np.minimum(start + dur, horizon) - start)[keep], pw[keep]
    order = np.argsort(start, kind="stable")
    done = np.isfinite(finish)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(out > 1, (finish - first_tok) / np.maximum(out - 1, 1), np.nan)
    return ServingResult(
        arrival_s=arr.copy(),
        ttft_s=first_tok - arr,
        tpot_s=tpot,
        e2e_s=finish - arr,
        completed=done,
        seg_start_s=start[order],
        seg_dur_s=dur[order],
        seg_power_w=pw[order],
        horizon_s=horizon,
        n_replicas=n_replicas,
        devices_per_replica=cfg.tp,
        iterations=iters[0],
        busy_energy_j=float(busy[0]),
        busy_s=float(busy[1]),
        busy_tokens=int(busy[2]),
        output_tokens=out.copy(),
        cfg=cfg,
    )
