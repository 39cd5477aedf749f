"""YAML sweeps: expand a design space into runs, execute them serially, on local processes or
on a Dask cluster, and keep an index of results that survives interruption.

Flow: sweep YAML (+ command-line overrides) -> `SweepSpec` -> `plan_sweep` builds and validates
every run's Scenario BEFORE anything runs (a bad parameter path or value is an InputError naming
the sweep file and parameter) -> `run_sweep` executes the missing runs with the chosen executor.

Layout of a sweep directory `<out>/<sweep name>/`:
    sweep.json               the resolved plan (parameters, runs and their values)
    index.csv                one row per run; finished runs append their row, compacted at the end
    runs/<run_id>/           config.resolved.yaml, manifest.json, summary.json, timeseries.csv
                             (+ jobs.csv for a multitenant base)

Design for determinism and resume (issue 8): workers only compute; the parent process writes
every file (atomically, via RunWriter), so a killed sweep leaves complete runs or none, and
workers need no shared filesystem. A run's id hashes its resolved config, seed, agent and steps
(the same id `dcsim run` gives the same config), so `--resume` reuses exactly the runs that are
complete, and serial/local/Dask give byte-identical summary.json for the same id.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import itertools
import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import Field, RootModel, field_validator, model_validator

from dcsim.config import (
    DEFAULT_SCENARIO,
    SCENARIO_DIR,
    LoadedScenario,
    Scenario,
    config_hash,
    set_dotted,
)
from dcsim.errors import InputError
from dcsim.inputs import input_digests
from dcsim.procs import die_with_parent
from dcsim.resources import install_hint
from dcsim.results import (
    CsvStream,
    RowSample,
    RunWriter,
    atomic_write_text,
    contained,
    csv_text,
    dumps_json,
    is_complete,
    output_error,
    remove_stale_partials,
    run_id,
    safe_name,
    spool_dir,
)
from dcsim.runner import progress_line, simulate
from dcsim.schema import MAX_SEED, StrictModel, read_yaml, validate_model
from dcsim.validate import refuse_wrong_kind

EXECUTORS = ("serial", "local", "dask")

# Summary fields copied into index.csv (all produced by dcsim.sim.summarize).
HEADLINE = (
    "facility_energy_kwh",
    "it_energy_kwh",
    "cooling_energy_kwh",
    "pue",
    "carbon_kg",
    "wue_l_per_kwh",
    "mean_step_time_s",
    "mean_tokens_per_s",
    "energy_per_token_j",
    "peak_facility_kw",
    "max_inlet_c",
    "violation_steps",
    "violation_degree_hours",
    # what set the step time: MFU and its source, routing, NIC line rate, exposed comm share
    "mfu",
    "mfu_source",
    "routing",
    "nic_gbps",
    "exposed_comm_share",
    # TCO and embodied carbon (dcsim.cost)
    "cost_usd_per_accel_hour",
    "cost_usd_per_million_tokens",
    "cost_usd_per_training_run",
    "embodied_carbon_share",
    # multitenant runs (dcsim.tenancy.scenario.simulate)
    "useful_work",
    "cost_usd",
    "thermal_k_min",
    "over_budget_kw_min",
    "brakes",
    "slo_violation_min",
    "slo_attainment",
    "jobs_finished",
    "jct_mean_h",
)

# Sweep-level fields a command-line override `KEY=VALUE` may set (anything else is a parameter).
SWEEP_KEYS = ("seeds", "steps", "agent", "samples", "sample_seed", "method", "name")


# ----------------------------------------------------------------------------- spec model
class ParameterSpec(StrictModel):
    """One swept scenario field: explicit `values`, or a range `min`..`max`.

    Ranges: grid/zip take `num` evenly spaced points (geometric with scale: log);
    random draws uniformly (log-uniformly) per sample. Integer bounds give integers.
    """

    values: list[Any] | None = Field(None, min_length=1)
    min: int | float | None = None
    max: int | float | None = None
    num: int | None = Field(None, ge=1, le=100_000)
    scale: Literal["linear", "log"] = "linear"

    @model_validator(mode="after")
    def _one_form(self) -> ParameterSpec:
        has_range = self.min is not None or self.max is not None
        if self.values is not None and has_range:
            raise ValueError("give either values or min/max, not both")
        if self.values is None and not has_range:
            raise ValueError("give values: [..] or min: and max:")
        if has_range:
            if self.min is None or self.max is None:
                raise ValueError("a range needs both min and max")
            if self.min > self.max:
                raise ValueError(f"min ({self.min:g}) is larger than max ({self.max:g})")
            if self.scale == "log" and self.min <= 0:
                raise ValueError("scale: log needs min > 0")
        return self

    @property
    def integer(self) -> bool:
        """Both bounds written as integers (e.g. servers: {min: 8, max: 64}) -> integer values."""
        return isinstance(self.min, int) and isinstance(self.max, int)


def _shorthand_params(v: Any) -> Any:
    """`key: [a, b]` means `key: {values: [a, b]}`; a scalar means one value."""
    if not isinstance(v, dict):
        return v
    out = {}
    for k, p in v.items():
        if isinstance(p, list):
            p = {"values": p}
        elif not isinstance(p, dict):
            p = {"values": [p]}
        out[str(k)] = p
    return out


def _check_keys(v: dict[str, ParameterSpec]) -> None:
    for k in v:
        parts = k.split(".")
        if not k or any(not p.strip() for p in parts):
            raise ValueError(
                f"parameter '{k}' must be a dotted scenario path like cluster.hardware"
            )


class LinkedGroup(RootModel[dict[str, ParameterSpec]]):
    """Parameters that vary together: the i-th values of all of them form the group's i-th point."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        return _shorthand_params(v)

    @model_validator(mode="after")
    def _equal_lengths(self) -> LinkedGroup:
        g = self.root
        _check_keys(g)
        if len(g) < 2:
            raise ValueError(
                "a linked group needs at least two parameters (one alone goes under parameters:)"
            )
        for k, p in g.items():
            if p.values is None and p.num is None:
                raise ValueError(f"{k}: a min/max range in a linked group needs num: N")
        lens = {k: len(_axis_values(p)) for k, p in g.items()}
        if len(set(lens.values())) > 1:
            detail = ", ".join(f"{k} has {n}" for k, n in lens.items())
            raise ValueError(
                f"linked parameters vary together and need equally many values; {detail}"
            )
        return self

    def points(self) -> list[dict[str, Any]]:
        """The i-th value of every parameter together."""
        cols = {k: _axis_values(p) for k, p in self.root.items()}
        return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


class SweepSpec(StrictModel):
    """A sweep file. `parameters` maps dotted scenario paths (e.g. cluster.hardware) to values.

    `linked` lists groups of parameters that vary together as ONE axis: the i-th value of each
    parameter in a group goes with the i-th value of the others, e.g.

        linked:
          - cluster.hardware: [B200, H200]
            cooling.type: [air, liquid]
            cluster.servers_per_rack: [4, 8]

    is one axis of two points (B200/air/4 and H200/liquid/8) that a grid crosses with every
    other parameter (and zip walks alongside them; random draws one point of the group per
    sample). A group's parameters must have equally many values (checked before planning, the
    error names `linked.<i>`), and a parameter appears in one place only.
    """

    name: str | None = Field(None, description="sweep name (default: the file's stem)")
    description: str = ""
    base: str | None = Field(
        None, description="scenario YAML, relative to the sweep file; default scenario if absent"
    )
    method: Literal["grid", "zip", "random"] = "grid"
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    linked: list[LinkedGroup] = Field(
        default_factory=list,
        description="groups of parameters that vary together as one axis (i-th values together)",
    )
    samples: int | None = Field(None, ge=1, le=1_000_000, description="random: number of samples")
    sample_seed: int = Field(
        0, ge=0, le=MAX_SEED, description="random: seed of the parameter sampler"
    )
    seeds: list[int] | int | None = Field(
        None,
        description="simulation seeds per point: a list, or a count n meaning 0..n-1 (default: base seed)",
    )
    agent: str = "fixed"
    steps: int | None = Field(
        None, gt=0, le=10_000_000, description="control intervals per run (default: base)"
    )
    plot_runs: bool = Field(False, description="also draw each run's timeseries.png (slower)")

    @field_validator("parameters", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        return _shorthand_params(v)

    @field_validator("parameters")
    @classmethod
    def _keys(cls, v: dict[str, ParameterSpec]) -> dict[str, ParameterSpec]:
        _check_keys(v)
        return v

    @field_validator("linked")
    @classmethod
    def _once(cls, v: list[LinkedGroup]) -> list[LinkedGroup]:
        seen: set[str] = set()
        for i, g in enumerate(v):
            for k in g.root:
                if k in seen:
                    raise ValueError(f"{i}.{k}: parameter in two linked groups")
                seen.add(k)
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int] | int | None) -> list[int] | int | None:
        if isinstance(v, int) and not 1 <= v <= 100_000:
            raise ValueError("a seed count must be between 1 and 100000")
        if isinstance(v, list):
            if not v:
                raise ValueError("seeds must not be empty")
            if any(not 0 <= s <= MAX_SEED for s in v):
                raise ValueError(f"seeds must be between 0 and {MAX_SEED} (2**32 - 1)")
        return v

    @model_validator(mode="after")
    def _method(self) -> SweepSpec:
        self._check_linked()
        if self.method == "random":
            if self.samples is None:
                raise ValueError("method random needs samples: N")
        else:
            for k, p in self.parameters.items():
                if p.values is None and p.num is None:
                    raise ValueError(
                        f"parameter '{k}': a min/max range in a {self.method} sweep needs num: N"
                    )
            if self.method == "zip" and (self.parameters or self.linked):
                lens = {k: len(_axis_values(p)) for k, p in self.parameters.items()}
                lens |= {f"linked.{i}": len(g.points()) for i, g in enumerate(self.linked)}
                if len(set(lens.values())) > 1:
                    raise ValueError(f"zip needs equally long parameters, got {lens}")
        return self

    def _check_linked(self) -> None:
        """A parameter is either independent or in one linked group."""
        for i, g in enumerate(self.linked):
            for k in g.root:
                if k in self.parameters:
                    raise ValueError(
                        f"linked.{i}.{k}: also under parameters; a parameter goes in one place"
                    )

    def keys(self) -> list[str]:
        """Every swept scenario path: parameters first, then each linked group's."""
        return list(self.parameters) + [k for g in self.linked for k in g.root]

    def seed_list(self, default: int) -> list[int]:
        if self.seeds is None:
            return [default]
        if isinstance(self.seeds, int):
            return list(range(self.seeds))
        return list(dict.fromkeys(self.seeds))


def _tidy(x: float) -> float:
    """6 significant digits: readable labels and ids that do not hinge on float noise."""
    return float(f"{x:.6g}")


def _axis_values(p: ParameterSpec) -> list[Any]:
    """Values of one grid/zip axis."""
    if p.values is not None:
        return list(p.values)
    assert p.min is not None and p.max is not None and p.num is not None
    if p.scale == "log":
        pts = np.geomspace(p.min, p.max, p.num)
    else:
        pts = np.linspace(p.min, p.max, p.num)
    if p.integer:
        return list(dict.fromkeys(int(round(x)) for x in pts))
    return [_tidy(x) for x in pts]


def _sample(p: ParameterSpec, rng: np.random.Generator) -> Any:
    """One random draw (uniform over values, or over the range)."""
    if p.values is not None:
        return p.values[int(rng.integers(len(p.values)))]
    assert p.min is not None and p.max is not None
    if p.scale == "log":
        x = math.exp(rng.uniform(math.log(p.min), math.log(p.max)))
    else:
        x = rng.uniform(p.min, p.max)
    return int(round(x)) if p.integer else _tidy(x)


# Runs a sweep may plan (each is validated, planned and indexed in memory); larger
# studies are split into several sweeps or raise the cap explicitly (issue 14.5).
MAX_SWEEP_RUNS = 100_000


def _axis_len(p: ParameterSpec) -> int:
    if p.values is not None:
        return len(p.values)
    assert p.num is not None
    return p.num


def count_points(spec: SweepSpec) -> int:
    """Parameter combinations the sweep expands to, computed without expanding."""
    if spec.method == "random":  # ranges have no num: samples points are drawn
        return spec.samples or 0
    lens = [_axis_len(p) for p in spec.parameters.values()]
    lens += [len(g.points()) for g in spec.linked]
    if not lens:
        return 1
    if spec.method == "grid":
        return math.prod(lens)
    if spec.method == "zip":
        return min(lens)
    return spec.samples or 0


def expand_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Parameter combinations (without seeds), in a stable order.

    Each parameter is an axis of one-key points and each linked group an axis of multi-key
    points; grid crosses the axes, zip walks them together, random draws one point per axis.
    """
    order = spec.keys()
    if spec.method == "random":
        rng = np.random.default_rng(spec.sample_seed)
        assert spec.samples is not None
        out = []
        for _ in range(spec.samples):
            point = {k: _sample(p, rng) for k, p in spec.parameters.items()}
            for g in spec.linked:
                pts = g.points()
                point.update(pts[int(rng.integers(len(pts)))])
            out.append({k: point[k] for k in order})
        return out
    axes = [[{k: v} for v in _axis_values(p)] for k, p in spec.parameters.items()]
    axes += [g.points() for g in spec.linked]
    if not axes:
        return [{}]

    def merged(parts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for part in parts:
            d.update(part)
        return {k: d[k] for k in order}

    if spec.method == "grid":
        return [merged(combo) for combo in itertools.product(*axes)]
    return [merged(combo) for combo in zip(*axes, strict=True)]


# ----------------------------------------------------------------------------- overrides
def _parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_sweep_override(text: str) -> tuple[str, Any]:
    """'key=a,b' -> (key, [a, b]); 'key=[a,b]' is a YAML list; values are YAML-typed."""
    if "=" not in text:
        raise InputError(
            f"override '{text}' must look like key.path=value1,value2", field="overrides"
        )
    key, raw = (s.strip() for s in text.split("=", 1))
    if not key:
        raise InputError(f"override '{text}' has no key", field="overrides")
    if raw.startswith("["):
        value = _parse_scalar(raw)
        if not isinstance(value, list):
            raise InputError(f"override '{text}': could not read the list", field=key)
        return key, value
    return key, [_parse_scalar(v.strip()) for v in raw.split(",")]


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Command-line `KEY=V1,V2` overrides: sweep fields (seeds, steps, ...) or parameters."""
    data = copy.deepcopy(data)
    for text in overrides or []:
        key, values = parse_sweep_override(text)
        if key in SWEEP_KEYS:
            data[key] = values if key == "seeds" else (values[0] if len(values) == 1 else values)
        else:
            group = next(
                (g for g in data.get("linked") or [] if isinstance(g, dict) and key in g), None
            )
            if group is not None:  # a linked parameter keeps its group (lengths re-checked)
                group[key] = {"values": values}
                continue
            params = data.get("parameters")
            if params is None:
                params = data["parameters"] = {}
            if not isinstance(params, dict):
                raise InputError("parameters must be a mapping", field="parameters")
            params[key] = {"values": values}
    return data


def override_source(field: str, overrides: list[str] | None) -> str | None:
    """`command line (KEY=V1,V2)` when `field` is about a command-line override, else None."""
    for text in overrides or []:
        key = text.split("=", 1)[0].strip()
        if "=" not in text or not key:
            if field == "overrides":  # the syntax of this override
                return f"command line ({text})"
            continue
        linked = re.fullmatch(rf"linked\.\d+\.{re.escape(key)}(\..*)?", field)
        if linked or any(
            field == p or field.startswith(p + ".") for p in (key, f"parameters.{key}")
        ):
            return f"command line ({text})"
    return None


def blame_overrides(exc: InputError, file: str, overrides: list[str] | None) -> InputError:
    """Point an error about the sweep file at the command-line override that caused it."""
    src = override_source(exc.field or "", overrides) if exc.file in (None, file) else None
    if src:
        exc.file = src
        exc.args = (exc.render(),)
    return exc


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> SweepSpec:
    """Read and validate a sweep YAML (with optional overrides); errors name file and field."""
    p = Path(path)
    data = read_yaml(p)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            f"expected a mapping at the top level, got {type(data).__name__}", file=str(p)
        )
    if not set(data) <= set(SweepSpec.model_fields):
        refuse_wrong_kind(data, p, "sweep")
    try:
        data = apply_overrides(data, overrides)
        spec = validate_model(SweepSpec, data, file=str(p))
    except InputError as exc:
        if exc.file is None:
            exc.file = str(p)
            exc.args = (exc.render(),)
        raise blame_overrides(exc, str(p), overrides) from None
    if spec.name is None:
        spec.name = p.stem
    return spec


# ----------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to compute one run (picklable, no open files)."""

    run_id: str
    params: dict[str, Any]
    seed: int
    config: dict[str, Any]  # the fully resolved Scenario (run id, config.resolved.yaml)
    inputs: dict[str, Any]  # the validated input mapping the worker rebuilds the Scenario from
    config_hash: str
    base_dir: str
    source: str | None
    agent: str
    steps: int


@dataclass
class SweepPlan:
    name: str
    file: Path
    base: Path
    spec: SweepSpec
    runs: list[RunSpec]
    duplicates: int = 0

    @property
    def parameters(self) -> list[str]:
        """Every swept path (linked groups' after the independent ones)."""
        return self.spec.keys()

    @property
    def linked(self) -> list[list[str]]:
        return [list(g.root) for g in self.spec.linked]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.spec.description,
            "file": str(self.file),
            "base": str(self.base),
            "method": self.spec.method,
            "parameters": self.parameters,
            "linked": self.linked,
            "agent": self.spec.agent,
            "n_runs": len(self.runs),
            "duplicates_merged": self.duplicates,
            "runs": [
                {"run_id": r.run_id, "seed": r.seed, "steps": r.steps, "params": r.params}
                for r in self.runs
            ],
        }


def _resolve_base(spec: SweepSpec, sweep_file: Path) -> Path:
    if spec.base is None:
        return DEFAULT_SCENARIO
    b = Path(spec.base)
    cands = [b] if b.is_absolute() else [sweep_file.parent / b, Path.cwd() / b, SCENARIO_DIR / b]
    for c in cands:
        if c.is_file():
            return c.resolve()
    raise InputError(
        f"base scenario '{spec.base}' not found (looked next to the sweep file, in the "
        "current directory and in scenarios/)",
        file=str(sweep_file),
        field="base",
    )


def _check_agent(agent: str, sweep_file: Path) -> None:
    """Reject an unknown agent before any run starts (same rules as agents.make_agent)."""
    from dcsim.agents import HEURISTICS, SB3_ALGOS

    if ":" in agent and agent.split(":", 1)[0].lower() in SB3_ALGOS:
        model = Path(agent.split(":", 1)[1])
        if not model.is_file():
            raise InputError(f"model file '{model}' not found", file=str(sweep_file), field="agent")
        return
    names = HEURISTICS.get("DatacenterEnv", {})
    if agent not in names:
        raise InputError(
            f"unknown agent '{agent}'; expected one of: {', '.join(sorted(names))} or ALGO:model.zip",
            file=str(sweep_file),
            field="agent",
        )


def _point_error(
    exc: InputError, i: int, point: dict[str, Any], sweep_file: Path, linked: dict[str, str]
) -> InputError:
    """A point's scenario error, told against the sweep file: which point, which field."""
    where = ", ".join(f"{k}={v!r}" for k, v in point.items())
    inner = f"{exc.file}: " if exc.file and exc.file != str(sweep_file) else ""
    return InputError(
        f"{inner}{exc.message} (point {i}: {where})",
        file=str(sweep_file),
        field=_blame(exc, point, linked),
    )


def _blame(exc: InputError, params: dict[str, Any], where: dict[str, str] | None = None) -> str:
    """The sweep field an error in a run's scenario belongs to (`where`: linked.<i>.<key>)."""
    f = exc.field or ""
    if (
        not f and exc.file
    ):  # a builder error about a file (e.g. a topology) named by a parameter value
        for k, v in params.items():
            if isinstance(v, str) and v and Path(v).name in str(exc.file):
                return (where or {}).get(k, f"parameters.{k}")
    for k in params:
        if f == k or f.startswith(k + ".") or (f and k.startswith(f + ".")):
            return (where or {}).get(k, f"parameters.{k}")
    if f in ("time.steps",):
        return "steps"
    return f"base.{f}" if f else "base"


def plan_sweep(
    path: str | Path,
    overrides: list[str] | None = None,
    check_build: bool = True,
    max_runs: int = MAX_SWEEP_RUNS,
    on_start: Callable[[str, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> SweepPlan:
    """Expand a sweep and validate every run's Scenario before anything runs.

    With check_build, each distinct configuration is also built into a Simulation (resolves
    hardware, topology, weather files and checks the fabric fits), so a bad value fails here.
    An error caused by a command-line override names the command line, not the sweep file.
    `on_start(label, n_points)` and `on_step(k)` count the points checked (progress).
    """
    try:
        return _plan_sweep(Path(path), overrides, check_build, max_runs, on_start, on_step)
    except InputError as exc:
        raise blame_overrides(exc, str(Path(path)), overrides) from None


def _plan_sweep(
    sweep_file: Path,
    overrides: list[str] | None,
    check_build: bool,
    max_runs: int,
    on_start: Callable[[str, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> SweepPlan:
    from dcsim.config import is_multitenant, load_scenario
    from dcsim.cooling import AirDensityError
    from dcsim.sim import Simulation

    spec = load_sweep(sweep_file, overrides)
    base = _resolve_base(spec, sweep_file)
    if is_multitenant(base):
        return _plan_multitenant(spec, sweep_file, base, max_runs)
    base_loaded = load_scenario(base)  # errors in the base name the base file
    base_data = read_yaml(base) or {}
    _check_agent(spec.agent, sweep_file)
    seeds = spec.seed_list(base_loaded.scenario.seed)
    steps = spec.steps or base_loaded.scenario.time.steps
    n_runs = count_points(spec) * len(seeds)
    if n_runs > max_runs:
        raise InputError(
            f"the sweep expands to {n_runs:,} runs, more than the limit of {max_runs:,}; "
            "split it into smaller sweeps (or raise the limit deliberately)",
            file=str(sweep_file),
            field="parameters",
        )
    linked_field = {k: f"linked.{i}.{k}" for i, g in enumerate(spec.linked) for k in g.root}
    runs: list[RunSpec] = []
    seen: set[str] = set()
    built: set[str] = set()
    duplicates = 0
    if on_start:
        on_start(f"{spec.name}: checking", count_points(spec))
    for i, point in enumerate(expand_points(spec)):
        if on_step and i:
            on_step(i)
        data = copy.deepcopy(base_data)
        try:
            for k, v in point.items():
                set_dotted(data, k, v)
            set_dotted(data, "time.steps", steps)
            sc = validate_model(Scenario, data, file=str(sweep_file))
            loaded = LoadedScenario(sc, base)
            digests = input_digests(loaded, spec.agent)
            if check_build:
                key = sc.config_hash()
                if key not in built:
                    Simulation(loaded)
                    built.add(key)
        except AirDensityError:
            pass  # a design over a physical limit is a failed row when it runs, not a bad sweep
        except InputError as exc:
            raise _point_error(exc, i, point, sweep_file, linked_field) from None
        for seed in seeds:
            sc_seed = sc.model_copy(update={"seed": seed})
            cfg = sc_seed.model_dump(mode="json")
            rid = run_id(cfg, seed, {"agent": spec.agent, "steps": steps, "inputs": digests})
            if rid in seen:
                duplicates += 1
                continue
            seen.add(rid)
            inputs = copy.deepcopy(data)
            inputs["seed"] = seed
            runs.append(
                RunSpec(
                    rid,
                    dict(point),
                    seed,
                    cfg,
                    inputs,
                    sc_seed.config_hash(),
                    str(loaded.base_dir),
                    str(base),
                    spec.agent,
                    steps,
                )
            )
    if on_step:
        on_step(count_points(spec))
    assert spec.name is not None
    return SweepPlan(spec.name, sweep_file, base, spec, runs, duplicates)


def _plan_multitenant(spec: SweepSpec, sweep_file: Path, base: Path, max_runs: int) -> SweepPlan:
    """Plan a sweep over a `kind: multitenant` base (`dcsim.tenancy.scenario`): each point is
    validated as a MultitenantScenario; its duration is the `hours` field (sweep it as a
    parameter), its agent the sweep's `agent` if the sweep file sets one, else the base's."""
    from dcsim.agents import check_agent_name
    from dcsim.tenancy.scenario import MultitenantScenario, load_multitenant

    base_sc = load_multitenant(base).scenario  # errors in the base name the base file
    agent = spec.agent if "agent" in spec.model_fields_set else base_sc.agent
    spec = spec.model_copy(update={"agent": agent})  # sweep.json names the agent that ran
    if spec.steps is not None:
        raise InputError(
            "a multitenant sweep's duration is the scenario's `hours` (sweep it as a parameter)",
            file=str(sweep_file),
            field="steps",
        )
    try:
        check_agent_name(agent, "CoDesignEnv")
    except ValueError as exc:
        raise InputError(str(exc), file=str(sweep_file), field="agent") from None
    base_data = read_yaml(base) or {}
    seeds = spec.seed_list(int(base_data.get("seed", 0)))
    n_runs = count_points(spec) * len(seeds)
    if n_runs > max_runs:
        raise InputError(
            f"the sweep expands to {n_runs:,} runs, more than the limit of {max_runs:,}",
            file=str(sweep_file),
            field="parameters",
        )
    linked_field = {k: f"linked.{i}.{k}" for i, g in enumerate(spec.linked) for k in g.root}
    runs: list[RunSpec] = []
    seen: set[str] = set()
    duplicates = 0
    for i, point in enumerate(expand_points(spec)):
        data = copy.deepcopy(base_data)
        try:
            for k, v in point.items():
                set_dotted(data, k, v)
            data["agent"] = agent
            sc = validate_model(MultitenantScenario, data, file=str(sweep_file))
        except InputError as exc:
            raise _point_error(exc, i, point, sweep_file, linked_field) from None
        for seed in seeds:
            sc_seed = sc.model_copy(update={"seed": seed})
            cfg = sc_seed.model_dump(mode="json")
            rid = run_id(cfg, seed, {"agent": agent, "steps": sc.steps, "inputs": {}})
            if rid in seen:
                duplicates += 1
                continue
            seen.add(rid)
            inputs = {**copy.deepcopy(data), "seed": seed}
            runs.append(
                RunSpec(
                    rid,
                    dict(point),
                    seed,
                    cfg,
                    inputs,
                    config_hash(sc_seed),
                    str(base.parent),
                    str(base),
                    agent,
                    sc.steps,
                )
            )
    assert spec.name is not None
    return SweepPlan(spec.name, sweep_file, base, spec, runs, duplicates)


# ----------------------------------------------------------------------------- one run
@dataclass
class RunOutput:
    """What a worker sends back: the run's totals and where its time series is, or its error.

    The time series is `spool/timeseries.csv` when the worker shares the parent's disk (serial,
    local, a Dask LocalCluster), streamed there step by step; else (a remote Dask worker) it
    travels back as CSV text in `series_csv`. `plot_rows`: at most 20,000 evenly spaced rows
    for the run's figure, only when one is drawn."""

    run_id: str
    status: Literal["complete", "failed"]
    wall_s: float
    summary: dict[str, Any] = field(default_factory=dict)
    system: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    spool: str = ""
    series_csv: str = ""
    plot_rows: list[dict[str, float]] = field(default_factory=list)
    jobs_csv: str = ""  # a multitenant run's jobs.csv, when not written to the spool


def execute(spec: RunSpec, spool: str | None = None, plot: bool = False) -> RunOutput:
    """Compute one run (in any process); never raises for a failing simulation.

    spool: a folder on the parent's disk (the sweep's `runs/`): the time series is streamed
    to a temp folder there, so a run's memory does not grow with its length; None keeps it
    as CSV text for the parent."""
    from dcsim.config import scenario_from_dict

    t0 = time.perf_counter()
    folder: Path | None = None
    jobs_text = ""
    try:
        multitenant = spec.inputs.get("kind") == "multitenant"
        if not multitenant:
            loaded = scenario_from_dict(spec.inputs, Path(spec.base_dir))
            loaded.source = Path(spec.source) if spec.source else None
        sample = RowSample(spec.steps) if plot else None
        if spool is not None:
            folder = spool_dir(Path(spool), spec.run_id)
        buf = io.StringIO()
        with (
            open(folder / "timeseries.csv", "w", newline="", encoding="utf-8")
            if folder is not None
            else contextlib.nullcontext(buf)
        ) as fh:
            series = CsvStream(fh)

            def on_row(row: dict[str, float]) -> None:
                series.write(row)
                if sample is not None:
                    sample.add(row)

            if multitenant:
                from dcsim.tenancy.scenario import jobs_csv, multitenant_from_dict
                from dcsim.tenancy.scenario import simulate as mt_simulate

                mt = multitenant_from_dict(spec.inputs, Path(spec.base_dir))
                summary, system, jobs = mt_simulate(mt, spec.agent, spec.seed, on_row=on_row)
                jobs_text = jobs_csv(jobs)
                if folder is not None:
                    (folder / "jobs.csv").write_text(jobs_text, encoding="utf-8")
                    jobs_text = ""
            else:
                summary, system = simulate(loaded, spec.agent, spec.steps, spec.seed, on_row=on_row)
        return RunOutput(
            spec.run_id,
            "complete",
            time.perf_counter() - t0,
            summary,
            system,
            spool=str(folder) if folder is not None else "",
            series_csv=buf.getvalue(),
            plot_rows=sample.rows if sample is not None else [],
            jobs_csv=jobs_text,
        )
    except BaseException as exc:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        if not isinstance(exc, Exception):
            raise  # Ctrl-C, SystemExit: not a failed run
        # a failing run is a row, not a crash of the sweep
        msg = exc.render() if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
        return RunOutput(spec.run_id, "failed", time.perf_counter() - t0, error=msg)


def write_run(
    spec: RunSpec, out: RunOutput, run_dir: Path, sweep_name: str, plot: bool = False
) -> str:
    """Write a complete run directory atomically; returns the air-density note."""
    from dcsim.viz.timeseries import inlet_limit_c

    note = out.system.get("air_density_note", "")
    with RunWriter(run_dir, adopt=Path(out.spool) if out.spool else None) as writer:
        if not out.spool:
            writer.write_text("timeseries.csv", out.series_csv)
            if out.jobs_csv:
                writer.write_text("jobs.csv", out.jobs_csv)
        writer.write_sim_run(
            spec.config,
            None,
            out.summary,
            {
                "run_id": spec.run_id,
                "sweep": sweep_name,
                "scenario": spec.config.get("name"),
                "source": spec.source,
                "params": spec.params,
                "seed": spec.seed,
                "agent": spec.agent,
                "steps": spec.steps,
                "config_hash": spec.config_hash,
                "wall_time_s": out.wall_s,
                "note": note,
                "system": out.system,
            },
            run_title(spec, out.system) if plot else None,
            inlet_limit_c(spec.config),
            plot_rows=out.plot_rows,
        )
    return note


def run_title(spec: RunSpec, system: dict[str, Any]) -> str:
    what = ", ".join(f"{k.split('.')[-1]}={short(v)}" for k, v in spec.params.items())
    return f"{system.get('accelerators', '?')} x {system.get('hardware', '?')}: {what} (seed {spec.seed})"


def short(v: Any) -> str:
    """Compact label of a parameter value (file names lose folders and .yaml)."""
    if isinstance(v, float):
        return f"{v:g}"
    s = str(v)
    if s.endswith((".yaml", ".yml")):
        s = Path(s).stem
    return s


def link_columns(
    meta: dict[str, Any],
    rows: list[dict[str, str]],
    params: list[str],
    order: dict[str, list[str]],
) -> tuple[list[str], dict[str, list[str]]]:
    """For plots: each linked group of sweep.json as one column `hardware + type + ...` whose
    values read `B200 / air / 4`, in plan order, in place of the group's own columns."""
    for group in meta.get("linked") or []:
        group = [k for k in group if k in params]
        if len(group) < 2:
            continue
        key = " + ".join(k.split(".")[-1] for k in group)
        by_id = {}
        for r in rows:
            r[key] = " / ".join(short(r.get(k, "")) for k in group)
            by_id[r.get("run_id")] = r[key]
        planned = [
            by_id.get(run.get("run_id"))
            or " / ".join(short(run.get("params", {}).get(k)) for k in group)
            for run in meta.get("runs", [])
        ]
        order[key] = list(dict.fromkeys(planned))
        at = params.index(group[0])
        params = [p for p in params if p not in group]
        params.insert(min(at, len(params)), key)
    return params, order


# ----------------------------------------------------------------------------- index
@dataclass
class RunOutcome:
    """One index row."""

    spec: RunSpec
    status: Literal["complete", "failed", "pending"] = "pending"
    reused: bool = False
    wall_s: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    error: str = ""

    def row(self, params: list[str]) -> dict[str, Any]:
        r: dict[str, Any] = {
            "run_id": self.spec.run_id,
            "status": self.status,
            "reused": int(self.reused),
            "seed": self.spec.seed,
        }
        for k in params:
            v = self.spec.params.get(k)
            r[k] = json.dumps(v) if isinstance(v, dict | list) else v
        r["wall_s"] = round(self.wall_s, 3) if self.wall_s is not None else ""
        for k in HEADLINE:
            r[k] = self.summary.get(k, "")
        r["note"] = self.note
        r["error"] = self.error
        return r


def index_text(outcomes: list[RunOutcome], params: list[str]) -> str:
    rows = [o.row(params) for o in outcomes]
    if rows:
        return csv_text(rows)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["run_id", "status", "reused", "seed", *params])
    return buf.getvalue()


def append_index_row(path: Path, outcome: RunOutcome, params: list[str]) -> None:
    """Append one finished run's row with a single O_APPEND write (O(1) per run, not O(n)).

    The header and column order come from the same `RunOutcome.row` the full index uses.
    """
    line = csv_text([outcome.row(params)]).split("\n", 1)[1]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_index(sweep_dir: Path) -> list[dict[str, str]]:
    """index.csv rows as dicts of strings, one per run (a later row of a run id wins)."""
    p = Path(sweep_dir) / "index.csv"
    if not p.is_file():
        raise InputError("no index.csv here; is this a sweep directory?", file=str(sweep_dir))
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        latest = {r.get("run_id"): r for r in rows}  # dict keeps first-seen order
        return list(latest.values())
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"index.csv is not a readable CSV ({exc})", file=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read index.csv: {exc.strerror or exc}", file=str(p)) from None


# ----------------------------------------------------------------------------- executors
@contextlib.contextmanager
def _sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """One sweep per directory at a time (advisory flock; released even on SIGKILL)."""
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, sweep_dir) from None
    try:
        import fcntl
    except ImportError:  # non-POSIX: no lock
        yield
        return
    fh = (sweep_dir / ".lock").open("w")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(
                "another sweep is running in this directory", file=str(sweep_dir)
            ) from None
        yield
    finally:
        fh.close()


def _serial(
    specs: list[RunSpec], spool: str | None = None, plot: bool = False, **_: Any
) -> Generator[RunOutput, None, None]:
    for s in specs:
        yield execute(s, spool, plot)


KILL_RUN_ENV = "DCSIM_TEST_KILL_RUN"  # test hook: a worker given this run id kills itself


def _execute_in_worker(spec: RunSpec, spool: str | None, plot: bool) -> RunOutput:
    import signal

    if os.environ.get(KILL_RUN_ENV) == spec.run_id:
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(spec, spool, plot)


def _local(
    specs: list[RunSpec],
    workers: int | None = None,
    spool: str | None = None,
    plot: bool = False,
    **_: Any,
) -> Generator[RunOutput, None, None]:
    """Spawned worker processes (no fork: safe with threads, same on every OS).

    At most `workers` runs are in flight. If a worker dies (killed, out of memory), the pool
    breaks and every in-flight run fails with it; those runs are then retried each in a pool
    of its own, so only the run that kills its worker again is recorded as failed, and the
    rest of the sweep continues in a fresh pool. Workers die with the sweep process.
    """
    import multiprocessing as mp
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    if not specs:
        return
    n = max(1, min(workers or os.cpu_count() or 1, len(specs)))
    ctx = mp.get_context("spawn")

    def new_pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=size, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),)
        )

    queue = deque(specs)
    while queue:
        pool = new_pool(n)
        inflight: dict[Any, RunSpec] = {}
        suspects: list[RunSpec] = []
        try:
            while (queue or inflight) and not suspects:
                while queue and len(inflight) < n:
                    try:
                        inflight[pool.submit(_execute_in_worker, queue[0], spool, plot)] = queue[0]
                    except BrokenProcessPool:  # broke since the last completion
                        break
                    queue.popleft()
                if not inflight:
                    break
                done, _running = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in done:
                    s = inflight.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        suspects.append(s)
            if suspects:  # the pool is broken: every run still in flight failed with it
                wait(inflight)
                suspects.extend(inflight.values())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        yield from _isolated(suspects, new_pool, spool, plot)


def _isolated(
    specs: list[RunSpec], new_pool: Callable[[int], Any], spool: str | None, plot: bool
) -> Generator[RunOutput, None, None]:
    """Each run in a one-worker pool of its own: a worker that dies fails only its run."""
    from concurrent.futures.process import BrokenProcessPool

    for s in specs:
        pool = new_pool(1)
        try:
            yield pool.submit(_execute_in_worker, s, spool, plot).result()
        except BrokenProcessPool as exc:
            yield RunOutput(s.run_id, "failed", 0.0, error=f"worker process died: {exc}")
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _dask(
    specs: list[RunSpec],
    workers: int | None = None,
    address: str | None = None,
    client: Any = None,
    spool: str | None = None,
    plot: bool = False,
    **_: Any,
) -> Generator[RunOutput, None, None]:
    """Dask futures: a LocalCluster of single-threaded worker processes, or an existing scheduler.

    Only a LocalCluster's workers stream to `spool` (they share this machine's disk); a
    scheduler's workers may be elsewhere and send each run's time series back as CSV text."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError(
            f"the dask executor needs dask[distributed]: {install_hint('dask')}",
            field="--executor",
        ) from None
    import logging

    if not specs:
        return
    cluster = None
    own_client = client is None
    if client is None:
        if address:
            scheme = address.split("://", 1)[0] if "://" in address else "tcp"
            if scheme not in ("tcp", "inproc", "ws"):
                raise InputError(
                    f"'{scheme}://' scheduler addresses need a security configuration dcsim "
                    "does not pass; use tcp://HOST:PORT (e.g. through an SSH tunnel)",
                    field="--address",
                )
            try:
                client = Client(address, timeout="15s")
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise InputError(
                    f"cannot connect to the Dask scheduler at {address}: {exc}", field="--address"
                ) from None
        else:
            n = max(1, min(workers or os.cpu_count() or 1, len(specs)))
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
    try:
        local_spool = spool if cluster is not None else None
        futs = {
            client.submit(execute, s, local_spool, plot, key=f"dcsim-run-{s.run_id}", pure=False): s
            for s in specs
        }
        for fut in as_completed(futs):
            try:
                yield fut.result()
            except Exception as exc:  # e.g. KilledWorker: the run is lost, not the sweep
                yield RunOutput(
                    futs[fut].run_id, "failed", 0.0, error=f"{type(exc).__name__}: {exc}"
                )
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()


_EXECUTORS: dict[str, Callable[..., Generator[RunOutput, None, None]]] = {
    "serial": _serial,
    "local": _local,
    "dask": _dask,
}


@dataclass
class SweepResult:
    sweep_dir: Path
    plan: SweepPlan
    outcomes: list[RunOutcome]

    def counts(self) -> dict[str, int]:
        c = {"total": len(self.outcomes), "complete": 0, "failed": 0, "pending": 0, "reused": 0}
        for o in self.outcomes:
            c[o.status] += 1
            c["reused"] += int(o.reused)
        c["ran"] = c["complete"] - c["reused"]
        return c

    def to_dict(self) -> dict[str, Any]:
        return {
            "sweep_dir": str(self.sweep_dir),
            "index": str(self.sweep_dir / "index.csv"),
            **self.counts(),
            "runs": [o.row(self.plan.parameters) for o in self.outcomes],
        }


ProgressFn = Callable[[RunOutcome, dict[str, int]], None]


def check_executor(executor: str) -> None:
    if executor not in _EXECUTORS:
        raise InputError(
            f"unknown executor '{executor}'; expected one of: {', '.join(EXECUTORS)}",
            field="--executor",
        )


def _check_same_plan(plan: SweepPlan, sweep_dir: Path) -> None:
    """A sweep directory belongs to one plan: refuse to overwrite another plan's index."""
    previous = sweep_dir / "sweep.json"
    if not previous.exists():
        return
    try:
        old = json.loads(previous.read_text())
        old_ids = [r["run_id"] for r in old["runs"]]
    except (OSError, ValueError, KeyError, TypeError):
        old, old_ids = None, None
    if old_ids == [r.run_id for r in plan.runs]:
        return
    what = (
        f"a different sweep plan ({len(old_ids)} runs, from {old.get('file', '?')})"
        if old_ids is not None and isinstance(old, dict)
        else "an unreadable sweep.json"
    )
    raise InputError(
        f"this directory holds {what}; this plan has {len(plan.runs)} other runs "
        "(different file, parameters or overrides). Use --out DIR for a new sweep, "
        "or --force to replace its index",
        file=str(sweep_dir),
        field="--out",
    )


def sweep_dir_for(plan: SweepPlan, out: str | Path) -> Path:
    return contained(Path(out), safe_name(plan.name))


def run_sweep(
    plan: SweepPlan,
    out: str | Path = "runs",
    executor: str = "serial",
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    on_progress: ProgressFn | None = None,
    client: Any = None,
    force: bool = False,
) -> SweepResult:
    """Execute a planned sweep into `<out>/<name>/`; with resume, reuse complete run directories.

    index.csv is written at the start (one row per run: `complete` where a complete run
    directory is on disk, until this invocation replaces it; else `pending`), each
    finished run appends its row (one O_APPEND write: the index costs O(n), not O(n^2)), and
    the end (or Ctrl-C) compacts it to one row per run. After a SIGKILL it may hold a run
    twice; `read_index` keeps the last row of each run. KeyboardInterrupt is re-raised after
    the index is written.
    """
    check_executor(executor)
    sweep_dir = sweep_dir_for(plan, out)
    # checked against --out itself, so a planted symlink at <name> or <name>/runs cannot
    # send runs (or stale-temp cleanup) outside it, as `dcsim run` refuses for its folders
    runs_dir = contained(Path(out), safe_name(plan.name), "runs")
    params = plan.parameters
    with _sweep_lock(sweep_dir):
        if not force:
            _check_same_plan(plan, sweep_dir)
        if runs_dir.is_dir():
            remove_stale_partials(runs_dir)
        atomic_write_text(sweep_dir / "sweep.json", dumps_json(plan.describe()))
        outcomes = {r.run_id: RunOutcome(r) for r in plan.runs}
        ordered = list(outcomes.values())
        todo: list[RunSpec] = []
        for r in plan.runs:
            d = contained(Path(out), safe_name(plan.name), "runs", r.run_id)
            if is_complete(d):
                # A complete run on disk stays a complete row until this invocation replaces
                # it, so an invocation that fails (e.g. no Dask scheduler) rewrites no result.
                o = outcomes[r.run_id]
                man = json.loads((d / "manifest.json").read_text())
                o.status, o.reused = "complete", resume
                o.wall_s = man.get("wall_time_s")
                o.note = man.get("note", "")
                o.summary = json.loads((d / "summary.json").read_text())
                if resume:
                    continue
            todo.append(r)
        counts = {
            "done": len(plan.runs) - len(todo),
            "failed": 0,
            "total": len(plan.runs),
            "reused": len(plan.runs) - len(todo),
        }

        def flush() -> None:
            atomic_write_text(sweep_dir / "index.csv", index_text(ordered, params))

        flush()
        report = progress_line()  # test hook: `run K` once K runs are done (dcsim.runner)
        try:
            runs_dir.mkdir(exist_ok=True)
            results = _EXECUTORS[executor](
                todo,
                workers=workers,
                address=address,
                client=client,
                spool=str(runs_dir),
                plot=plan.spec.plot_runs,
            )
            with contextlib.closing(results):
                for res in results:
                    o = outcomes[res.run_id]
                    o.wall_s = res.wall_s
                    if res.status == "complete":
                        o.note = write_run(
                            o.spec,
                            res,
                            contained(Path(out), safe_name(plan.name), "runs", res.run_id),
                            plan.name,
                            plot=plan.spec.plot_runs,
                        )
                        o.status, o.summary, o.error = "complete", res.summary, ""
                    else:
                        o.status, o.error = "failed", res.error
                        o.summary, o.note = {}, ""  # not an earlier complete run's numbers
                        counts["failed"] += 1
                    counts["done"] += 1
                    append_index_row(sweep_dir / "index.csv", o, params)
                    if report:
                        report(f"run {counts['done']}")
                    if on_progress:
                        on_progress(o, counts)
        finally:
            flush()
    return SweepResult(sweep_dir, plan, ordered)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; finished runs and the index are kept in ``sweep_dir``."""

    def __init__(self, sweep_dir: Path):
        super().__init__(str(sweep_dir))
        self.sweep_dir = sweep_dir


@dataclass
class SweepRun:
    """`dcsim sweep`'s result: the validated plan, its directory, and the outcomes (None: dry run)."""

    plan: SweepPlan
    sweep_dir: Path
    result: SweepResult | None = None


def sweep_file(
    path: str | Path,
    overrides: list[str] | None = None,
    out: str | Path = "runs",
    executor: str = "serial",
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    dry_run: bool = False,
    on_start: Callable[[str, int], None] | None = None,
    on_progress: ProgressFn | None = None,
    force: bool = False,
    on_plan_start: Callable[[str, int], None] | None = None,
    on_plan_step: Callable[[int], None] | None = None,
) -> SweepRun:
    """`dcsim sweep`: plan (validating every run) and, unless ``dry_run``, execute a sweep file.

    ``on_plan_start(label, n_points)``/``on_plan_step(k)`` count the planning (every point is
    validated and built), ``on_start(label, n_runs)`` is called after it; a KeyboardInterrupt becomes
    SweepInterrupted, which names the directory to resume.
    """
    check_executor(executor)
    plan = plan_sweep(path, overrides, on_start=on_plan_start, on_step=on_plan_step)
    sweep_dir = sweep_dir_for(plan, out)
    if dry_run:
        return SweepRun(plan, sweep_dir)
    if on_start:
        on_start(f"{plan.name} [{executor}]", len(plan.runs))
    try:
        res = run_sweep(
            plan, out, executor, workers, address, resume, on_progress=on_progress, force=force
        )
    except KeyboardInterrupt:
        raise SweepInterrupted(sweep_dir) from None
    return SweepRun(plan, sweep_dir, res)
