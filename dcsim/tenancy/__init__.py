"""The multi-tenant datacenter engine: many jobs on one fabric, one power budget, one plant.

    workload  training jobs (trace file or seeded generator) and inference services
    fabric    every running job's all-reduce solved together on the shared fabric
    tank      chilled-water thermal storage with an exact energy balance
    grid      hourly grid carbon (EIA-930 2022, six US grids) and a price model
    engine    placement, power (job phases, POLCA budget brake), cooling, grid, per-job metrics

`dcsim/CoDesign-v0` (dcsim.envs.codesign) is an RL view of `Engine`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dcsim.tenancy.engine import (
        CLASSES,
        PLACEMENTS,
        Decisions,
        Engine,
        EngineConfig,
        StepResult,
    )
    from dcsim.tenancy.fabric import SharedFabric, Tenant
    from dcsim.tenancy.grid import REGIONS, GridSignal
    from dcsim.tenancy.tank import ChilledWaterTank, TankConfig
    from dcsim.tenancy.workload import (
        GeneratorConfig,
        InferenceConfig,
        JobSpec,
        generate_specs,
        load_job_trace,
    )

# name -> submodule, imported on first use (PEP 562): `dcsim.tenancy.grid` (every scenario's
# grid carbon) must not pull in the engine, the shared fabric and POLCA on the way
_WHERE = {
    **dict.fromkeys(
        ("CLASSES", "PLACEMENTS", "Decisions", "Engine", "EngineConfig", "StepResult"), "engine"
    ),
    **dict.fromkeys(("SharedFabric", "Tenant"), "fabric"),
    **dict.fromkeys(("REGIONS", "GridSignal"), "grid"),
    **dict.fromkeys(("ChilledWaterTank", "TankConfig"), "tank"),
    **dict.fromkeys(
        ("GeneratorConfig", "InferenceConfig", "JobSpec", "generate_specs", "load_job_trace"),
        "workload",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"dcsim.tenancy.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'dcsim.tenancy' has no attribute {name!r}")


__all__ = [
    "CLASSES",
    "PLACEMENTS",
    "REGIONS",
    "ChilledWaterTank",
    "Decisions",
    "Engine",
    "EngineConfig",
    "GeneratorConfig",
    "GridSignal",
    "InferenceConfig",
    "JobSpec",
    "SharedFabric",
    "StepResult",
    "TankConfig",
    "Tenant",
    "generate_specs",
    "load_job_trace",
]
