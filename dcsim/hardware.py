"""Accelerator hardware profiles: a pydantic schema over YAML files in dcsim/data/hardware.

Every number carries its source and a confidence, so a profile never passes a
guess off as a datasheet value.
"""

from __future__ import annotations

import math
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dcsim.errors import InputError
from dcsim.schema import Sourced, StrictModel, load_model

HARDWARE_DIR = Path(__file__).parent / "data" / "hardware"


class ComputeSpec(StrictModel):
    bf16_dense_tflops: Sourced
    fp8_dense_tflops: Sourced | None = None


class MemorySpec(StrictModel):
    hbm_gb: Sourced
    hbm_tbps: Sourced
    sram_mib: Sourced | None = None
    ddr_gb: Sourced | None = None


class PowerSpec(StrictModel):
    tdp_w: Sourced
    idle_w: Sourced
    f_max_mhz: Sourced
    f_min_mhz: Sourced
    dvfs_alpha: Sourced = Field(
        description="log-slope of busy power at f_max (P ~ f^alpha there), in (1, 3]; sets the "
        "leakage share (3 - alpha) / 2 of dcsim.power's leakage + switching split"
    )


def _check_mfu(v: Sourced) -> Sourced:
    if not 0 < v.value <= 1:
        raise ValueError(f"mfu must be in (0, 1], got {v.value}")
    return v


class MfuPoint(StrictModel):
    """One published measurement: MFU of dense training of a model of `params` parameters."""

    params: float = Field(gt=0, le=1e16, description="parameters N of the measured model")
    mfu: Sourced

    _fraction = field_validator("mfu")(_check_mfu)


class TrainingSpec(StrictModel):
    """What the chip achieves in practice on dense LLM training (BF16).

    Model FLOPs utilization = 6 N D FLOPs per step / (step time x peak BF16), the measure of
    PaLM (arXiv 2204.02311) and Llama 3 (arXiv 2407.21783). It lumps kernel efficiency,
    tensor/pipeline-parallel overheads and the software stack, so it differs between chips
    of equal peak; it also depends on model size (small models run small GEMMs, Megatron-Core
    weak scaling and Korthikanti et al. 2022), so a chip with per-size measurements lists them
    in `mfu_by_size`; a chip on the same die as one that has them (`mfu_size_curve_of`) takes
    that curve scaled by the ratio of their `mfu`. The scenario's `workload.mfu` overrides all.
    """

    mfu: Sourced = Field(
        description="model FLOPs utilization of large dense LLM training; used as is when the "
        "chip has no per-size data"
    )
    mfu_by_size: list[MfuPoint] | None = Field(
        None,
        min_length=2,
        description="published (params, MFU) points of one software stack, increasing params; "
        "interpolated linearly in ln(params), clamped to the end points",
    )
    mfu_size_curve_of: str | None = Field(
        None,
        description="profile on the same die whose mfu_by_size applies here, times mfu / its mfu",
    )

    _fraction = field_validator("mfu")(_check_mfu)

    @model_validator(mode="after")
    def _one_curve(self) -> TrainingSpec:
        if self.mfu_by_size is not None:
            if self.mfu_size_curve_of is not None:
                raise ValueError("give mfu_by_size or mfu_size_curve_of, not both")
            ps = [p.params for p in self.mfu_by_size]
            if any(b <= a for a, b in zip(ps, ps[1:], strict=False)):
                raise ValueError(f"mfu_by_size params must increase strictly, got {ps}")
        return self


def size_label(params: float) -> str:
    """Model size as people write it: 22B, 1T."""
    return f"{params / 1e12:.3g}T" if params >= 1e12 else f"{params / 1e9:.3g}B"


def interpolate_mfu(points: list[MfuPoint], params: float) -> tuple[float, str]:
    """(MFU, how) at `params`: linear in ln(params) between the bracketing published points,
    the end point's value outside them (no extrapolation beyond what was measured)."""
    if params <= points[0].params:
        p = points[0]
        how = "measured" if params == p.params else "clamped to smallest measured"
        return p.mfu.value, f"{how} {size_label(p.params)}"
    if params >= points[-1].params:
        p = points[-1]
        how = "measured" if params == p.params else "clamped to largest measured"
        return p.mfu.value, f"{how} {size_label(p.params)}"
    for lo, hi in zip(points, points[1:], strict=False):
        if params == hi.params:
            return hi.mfu.value, f"measured {size_label(hi.params)}"
        if lo.params < params < hi.params:
            w = math.log(params / lo.params) / math.log(hi.params / lo.params)
            v = lo.mfu.value + w * (hi.mfu.value - lo.mfu.value)
            return v, f"ln(N)-interpolated {size_label(lo.params)}-{size_label(hi.params)}"
    raise AssertionError("unreachable: points are sorted")  # pragma: no cover


class InterconnectSpec(StrictModel):
    scaleup_gBps_per_dir: Sourced = Field(description="scale-up bandwidth per direction, GB/s")
    scaleup_effective_gBps: Sourced | None = None
    scaleup_domain: Sourced
    scaleup_technology: str
    nic_gbps: Sourced = Field(description="scale-out NIC line rate per accelerator, Gb/s")
    nics_per_server: Sourced | None = Field(
        None, description="scale-out (compute fabric) NICs per server; default one per accelerator"
    )


class ServerSpec(StrictModel):
    accelerators: int = Field(gt=0)
    host_power_w: Sourced = Field(description="CPUs, DRAM, NICs, storage, at load (fans excluded)")
    psu_efficiency: Sourced
    rated_power_w: Sourced | None = None


class HardwareProfile(StrictModel):
    name: str
    kind: Literal["gpu", "npu", "rdu"]
    vendor: str
    description: str = ""
    compute: ComputeSpec
    memory: MemorySpec
    power: PowerSpec
    training: TrainingSpec
    interconnect: InterconnectSpec
    server: ServerSpec

    # Convenience accessors in SI units for the models.
    @property
    def peak_flops(self) -> float:
        return self.compute.bf16_dense_tflops.value * 1e12

    @property
    def hbm_bytes_per_s(self) -> float:
        return self.memory.hbm_tbps.value * 1e12

    @property
    def mfu(self) -> float:
        """Achievable training MFU of large dense models (profile `training.mfu`)."""
        return self.training.mfu.value

    def mfu_at(self, params: float) -> tuple[float, str]:
        """(MFU, where it came from) for dense training of a `params`-parameter model."""
        t = self.training
        if t.mfu_by_size is not None:
            v, how = interpolate_mfu(t.mfu_by_size, params)
            return v, f"hardware profile: {how}"
        if t.mfu_size_curve_of is not None:
            known = t.mfu_size_curve_of in profile_files()
            ref = _load_profile(t.mfu_size_curve_of) if known else None
            if ref is None or ref.training.mfu_by_size is None:
                raise InputError(
                    f"{self.name}: training.mfu_size_curve_of '{t.mfu_size_curve_of}' must name "
                    "a bundled profile with training.mfu_by_size",
                    field="training.mfu_size_curve_of",
                )
            v, how = interpolate_mfu(ref.training.mfu_by_size, params)
            k = self.mfu / ref.mfu
            return v * k, f"hardware profile: {ref.name} curve ({how}) x {k:.3g} same die"
        return self.mfu, "hardware profile: one value (no per-size data for this chip)"

    @property
    def tdp_w(self) -> float:
        return self.power.tdp_w.value

    @property
    def idle_w(self) -> float:
        return self.power.idle_w.value

    def low_confidence_fields(self) -> list[str]:
        """Dotted paths of every value marked confidence: low."""
        out: list[str] = []

        def walk(obj: StrictModel, prefix: str) -> None:
            for name in type(obj).model_fields:
                val = getattr(obj, name)
                path = f"{prefix}{name}"
                if isinstance(val, Sourced):
                    if val.confidence == "low":
                        out.append(path)
                elif isinstance(val, StrictModel):
                    walk(val, path + ".")

        walk(self, "")
        return out


# A run needs one profile, not ten: names come from each file's top-level `name:` line (no
# YAML parse) and a profile is read on first use (~1 ms each with libyaml). The line read
# and the validated name must agree (checked on load; tests/test_hardware.py checks all).
_NAME_LINE = re.compile(r"^name:[ \t]*(['\"]?)([^'\"#\n]*?)\1[ \t]*(?:#.*)?$", re.MULTILINE)


@lru_cache(maxsize=1)
def profile_files() -> dict[str, Path]:
    """Bundled profile name -> its file, in file order (the order `catalog()` lists)."""
    out: dict[str, Path] = {}
    for path in sorted(HARDWARE_DIR.glob("*.yaml")):
        m = _NAME_LINE.search(path.read_text(encoding="utf-8"))
        if m is None:
            raise InputError("no top-level 'name:' line", file=str(path), field="name")
        out[m.group(2)] = path
    return out


def canonical_hardware(name: str) -> str:
    """A bundled profile's own spelling of `name` (case-insensitive), for config validators:
    ValueError naming the choices, so the error carries the field's path."""
    names = {n.lower(): n for n in profile_files()}
    if name.lower() not in names:
        raise ValueError(f"unknown hardware; expected one of: {', '.join(profile_files())}")
    return names[name.lower()]


@cache
def _load_profile(name: str) -> HardwareProfile:
    path = profile_files()[name]
    prof = load_model(HardwareProfile, path)
    if prof.name != name:
        raise InputError(
            f"the 'name:' line reads {name!r} but the profile's name is {prof.name!r}",
            file=str(path),
            field="name",
        )
    return prof


def catalog() -> dict[str, HardwareProfile]:
    """All bundled profiles by name."""
    return {name: _load_profile(name) for name in profile_files()}


def get_profile(name: str) -> HardwareProfile:
    """Look up a profile by name (case-insensitive); InputError lists the known names."""
    names = profile_files()
    for key in names:
        if key.lower() == name.lower():
            return _load_profile(key)
    raise InputError(
        f"unknown hardware '{name}'; expected one of: {', '.join(names)}", field="hardware"
    )
