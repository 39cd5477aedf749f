"""Scenario: the validated, fully resolved input of one simulation run.

YAML -> Scenario (pydantic, unknown fields rejected) -> Simulation. Paths inside
a scenario (topology, weather and carbon files) resolve against the scenario's
own folder first, then the project's bundled topologies/ and scenarios/.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationInfo, field_validator, model_validator

from dcsim.climate import ClimateConfig
from dcsim.cooling import CoolingConfig
from dcsim.cost import CostConfig
from dcsim.errors import InputError
from dcsim.power import FacilityConfig
from dcsim.resources import bundled_dir
from dcsim.schema import MAX_SEED, M, StrictModel, read_yaml, validate_model
from dcsim.validate import refuse_wrong_kind
from dcsim.workload import TrainingConfig

TOPOLOGY_DIR = bundled_dir("topologies")
SCENARIO_DIR = bundled_dir("scenarios")
DEFAULT_SCENARIO = SCENARIO_DIR / "default.yaml"


# `dcsim run` and every sweep point stream their time series to disk (~CSV_BYTES_PER_STEP per
# step, measured on the default scenario) and keep running totals, so memory does not grow with
# a run's length (a remote Dask worker sends the same CSV text back). A million steps (~2 years
# at 60 s) is the cap that needs time.allow_long_runs.
MAX_STEPS = 1_000_000
CSV_BYTES_PER_STEP = 300


def long_run_message(steps: int) -> str:
    """Why a run this long is refused, with the disk and memory it would use."""
    return (
        f"{steps:,} steps would write ~{steps * CSV_BYTES_PER_STEP / 1e9:.1f} GB of time series "
        f"per run; limit {MAX_STEPS:,} steps: use a longer dt_s, split the run, or set "
        "time.allow_long_runs: true"
    )


class TimeConfig(StrictModel):
    dt_s: float = Field(60.0, gt=0, le=3600, description="control interval")
    steps: int = Field(1440, gt=0, le=10_000_000, description="control intervals per episode")
    allow_long_runs: bool = Field(
        False, description=f"allow runs longer than {MAX_STEPS:,} steps (disk)"
    )
    # The calendar start (day of year, hour) lives in climate.weather: t = 0 is that instant.

    @model_validator(mode="after")
    def _memory(self) -> TimeConfig:
        v = self.steps
        if v > MAX_STEPS and not self.allow_long_runs:
            raise ValueError(f"steps: {long_run_message(v)}")
        return self


class ClusterConfig(StrictModel):
    hardware: str = Field("H100-SXM", description="profile name from `dcsim hardware list`")
    servers: int = Field(32, gt=0, le=1_000_000)
    servers_per_rack: int = Field(4, gt=0, le=64)
    accelerators_per_server: int | None = Field(
        None,
        gt=0,
        le=64,
        description="override the profile's server size (e.g. 1 for a PCIe single-card box)",
    )
    topology: str | dict[str, Any] = Field(
        "leaf_spine_256.yaml", description="topology YAML path, or an inline topology mapping"
    )
    rack_power_limit_kw: float | None = Field(
        None,
        gt=0,
        le=10_000,
        description="provisioned power per rack; unset: 69 kW air (3 x 415 V 60 A PDUs, N+1), "
        "132 kW liquid (GB200 NVL72 class) (dcsim.limits.RACK_LIMIT_KW)",
    )
    allow_over_power: bool = Field(
        False, description="run even if a rack's nameplate power exceeds its limit"
    )

    @field_validator("hardware")
    @classmethod
    def _known_hardware(cls, v: str) -> str:
        from dcsim.hardware import canonical_hardware

        return canonical_hardware(v)


class PowerConfig(FacilityConfig):
    """Power caps and the facility's UPS and fixed loads (`FacilityConfig`)."""

    cap_frac: float = Field(
        1.0, gt=0, le=1, description="initial per-accelerator power cap, share of TDP"
    )
    min_cap_frac: float = Field(
        0.5, gt=0, le=1, description="lowest cap an agent may set, share of TDP"
    )

    @field_validator("min_cap_frac")
    @classmethod
    def _cap_reachable(cls, v: float, info: ValidationInfo) -> float:
        cap = info.data.get("cap_frac")
        if cap is not None and cap < v:  # else agents could never hold the scenario's cap
            raise ValueError(f"must be at most power.cap_frac ({cap})")
        return v


class RewardConfig(StrictModel):
    """Weights of the reward terms; reward = sum(weight * term)."""

    energy: float = Field(1.0, ge=0, description="per facility kWh, normalized by design load")
    carbon: float = Field(0.0, ge=0, description="per kg CO2, normalized by design load")
    throughput: float = Field(1.0, ge=0, description="tokens/s relative to uncapped full-speed")
    violation: float = Field(
        2.0, ge=0, description="per degree C of the hottest inlet above the limit"
    )


class Scenario(StrictModel):
    name: str = "scenario"
    description: str = ""
    seed: int = Field(0, ge=0, le=MAX_SEED)
    time: TimeConfig = TimeConfig()
    cluster: ClusterConfig = ClusterConfig()
    workload: TrainingConfig = TrainingConfig()
    power: PowerConfig = PowerConfig()
    cooling: CoolingConfig = CoolingConfig()
    climate: ClimateConfig = ClimateConfig()
    reward: RewardConfig = RewardConfig()
    cost: CostConfig = CostConfig()  # TCO and embodied carbon inputs (docs/cost.md)

    @property
    def n_accelerators(self) -> int:
        from dcsim.hardware import get_profile

        per = (
            self.cluster.accelerators_per_server
            or get_profile(self.cluster.hardware).server.accelerators
        )
        return self.cluster.servers * per

    def config_hash(self) -> str:
        return config_hash(self)


def config_hash(model: StrictModel) -> str:
    """Stable hash of a resolved config (sorted JSON), used for run ids and manifests."""
    blob = json.dumps(model.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class LoadedScenario:
    """A Scenario plus the folder its relative paths resolve against."""

    def __init__(self, scenario: Scenario, source: Path | None):
        self.scenario = scenario
        self.source = source
        self.base_dir = source.parent if source else SCENARIO_DIR


def resolve_path(name: str, base_dir: Path, fallback: Path | None = None) -> Path:
    """Find a file named in a scenario: absolute, next to the scenario, cwd, then fallback dir."""
    p = Path(name)
    candidates = [p] if p.is_absolute() else [base_dir / p, Path.cwd() / p]
    if fallback is not None and not p.is_absolute():
        candidates.append(fallback / p)
    for c in candidates:
        if c.is_file():
            return c
    return candidates[0]


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set data['a']['b'] for key 'a.b', creating mappings as needed."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise InputError(f"cannot set '{key}': '{part}' is not a mapping", field=key)
        node = nxt
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """'a.b=value' -> ('a.b', YAML-parsed value)."""
    if "=" not in text:
        raise InputError(f"override '{text}' must look like key.path=value", field="--set")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def load_scenario(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> LoadedScenario:
    """Read, override and validate a scenario; path None means the built-in default."""
    source = scenario_source(path)
    return LoadedScenario(read_overridden(source, Scenario, "scenario", overrides), source)


def scenario_source(path: str | Path | None) -> Path:
    """The file a scenario argument names: as given, else under the bundled scenarios/."""
    source = Path(path) if path else DEFAULT_SCENARIO
    if path and not source.is_file() and (SCENARIO_DIR / source).is_file():
        source = SCENARIO_DIR / source
    return source


def is_multitenant(path: str | Path | None) -> bool:
    """Whether a scenario argument names a `kind: multitenant` file (dcsim.tenancy.scenario)."""
    from dcsim.validate import guess_kind

    source = scenario_source(path) if path else None
    return (
        source is not None and source.is_file() and guess_kind(read_yaml(source)) == "multitenant"
    )


def read_overridden(
    source: Path, model: type[M], kind: str, overrides: dict[str, Any] | None = None
) -> M:
    """Read a YAML mapping of `kind`, apply dotted `--set` overrides, validate into `model`;
    an error caused by an override names the command line."""
    data = read_yaml(source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            f"expected a mapping at the top level, got {type(data).__name__}", file=str(source)
        )
    refuse_wrong_kind(data, source, kind)
    data = copy.deepcopy(data)
    overrides = overrides or {}
    try:
        for key, value in overrides.items():
            set_dotted(data, key, value)
        return validate_model(model, data, file=str(source))
    except InputError as exc:
        raise blame_override(exc, overrides) from None


def blame_override(exc: InputError, overrides: dict[str, Any]) -> InputError:
    """Point an error at the `--set` that caused it rather than at the scenario file."""
    field = exc.field or ""
    for key, value in overrides.items():
        if field == key or field.startswith(key + ".") or key.startswith(field + "."):
            exc.file = f"command line (--set {key}={value})"
            exc.field = field or key
            exc.args = (exc.render(),)
            break
    return exc


def scenario_from_dict(data: dict[str, Any], base_dir: Path | None = None) -> LoadedScenario:
    """Validate an in-memory scenario mapping (used by sweeps and tests)."""
    sc = validate_model(Scenario, data, file="<scenario>")
    loaded = LoadedScenario(sc, None)
    if base_dir is not None:
        loaded.base_dir = base_dir
    return loaded
