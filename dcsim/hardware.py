"""Accelerator hardware profiles: a pydantic schema over YAML files in dcsim/data/hardware.

Every number carries its source and a confidence, so a profile never passes a
guess off as a datasheet value.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

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


class TrainingSpec(StrictModel):
    """What the chip achieves in practice on large dense LLM training (BF16).

    Model FLOPs utilization = 6 N D FLOPs per step / (step time x peak BF16), the measure of
    PaLM (arXiv 2204.02311) and Llama 3 (arXiv 2407.21783). It lumps kernel efficiency,
    tensor/pipeline-parallel overheads and the software stack, so it differs between chips
    of equal peak; the scenario's `workload.mfu` overrides it.
    """

    mfu: Sourced = Field(description="model FLOPs utilization of large dense LLM training")

    @field_validator("mfu")
    @classmethod
    def _fraction(cls, v: Sourced) -> Sourced:
        if not 0 < v.value <= 1:
            raise ValueError(f"mfu must be in (0, 1], got {v.value}")
        return v


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
        """Achievable training MFU (profile `training.mfu`)."""
        return self.training.mfu.value

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


@lru_cache(maxsize=1)
def catalog() -> dict[str, HardwareProfile]:
    """All bundled profiles by name."""
    profiles: dict[str, HardwareProfile] = {}
    for path in sorted(HARDWARE_DIR.glob("*.yaml")):
        prof = load_model(HardwareProfile, path)
        profiles[prof.name] = prof
    return profiles


def get_profile(name: str) -> HardwareProfile:
    """Look up a profile by name (case-insensitive); InputError lists the known names."""
    cat = catalog()
    for key, prof in cat.items():
        if key.lower() == name.lower():
            return prof
    raise InputError(
        f"unknown hardware '{name}'; expected one of: {', '.join(cat)}", field="hardware"
    )
