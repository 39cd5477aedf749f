"""Multi-tenant scenarios (`kind: multitenant`): `dcsim run`, `dcsim validate` and sweeps drive
`dcsim/CoDesign-v0` over a fixed start day, grid region and climate with a named agent.

The scenario holds the env's own models (`EngineConfig`, `CoDesignKwargs` fields) and fixes
what CoDesign-v0's reset would otherwise draw: region, climate preset and start day; the
engine's `oversubscription` is the one the env uses.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dcsim.config import MAX_STEPS, read_overridden, resolve_path, scenario_source
from dcsim.envs.codesign import PRESETS, CoDesignEnv, CoDesignKwargs
from dcsim.envs.contract import Episode
from dcsim.errors import InputError
from dcsim.inputs import file_digest
from dcsim.schema import MAX_SEED, StrictModel, validate_model
from dcsim.tenancy.engine import EngineConfig
from dcsim.tenancy.grid import check_region

JOB_COLUMNS = (
    "job_id",
    "arrival_h",
    "accelerators",
    "model_params_b",
    "class",
    "deferrable",
    "start_h",
    "wait_h",
    "finish_h",
    "jct_h",
    "slowdown",
    "progress",
)


def kw_field(name: str) -> Any:
    """CoDesign-v0's own field `name` (same default, bounds and description)."""
    return CoDesignKwargs.model_fields[name]


class MultitenantScenario(StrictModel):
    """A multi-tenant run: facility (`engine`), workload, where and when, agent, seed."""

    kind: Literal["multitenant"]
    name: str = "multitenant"
    description: str = ""
    seed: int = Field(0, ge=0, le=MAX_SEED)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    job_trace: str | None = kw_field("job_trace")
    region: str = Field("CISO", description="grid region (dcsim.tenancy.grid.REGIONS)")
    climate: str = Field("temperate", description="weather preset: " + ", ".join(PRESETS))
    start_day: int = Field(195, ge=0, le=364, description="day of year, 0 = 1 January")
    hours: float = Field(48.0, gt=0, description="duration (steps = hours x 3600 / dt_s)")
    dt_s: float = kw_field("dt_s")
    top_k: int = kw_field("top_k")
    forecast_error: float = kw_field("forecast_error")
    slo_target: float = kw_field("slo_target")
    agent: str = Field("composite", description="CoDesign-v0 agent (dcsim.agents)")

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        try:
            return check_region(v)
        except InputError as exc:
            raise ValueError(exc.message) from None

    @field_validator("agent")
    @classmethod
    def _agent(cls, v: str) -> str:
        from dcsim.agents import check_agent_name

        return check_agent_name(v, CoDesignEnv.__name__)

    @field_validator("climate")
    @classmethod
    def _climate(cls, v: str) -> str:
        if v not in PRESETS:
            raise ValueError(f"unknown climate preset; expected one of: {', '.join(PRESETS)}")
        return v

    @model_validator(mode="after")
    def _one_meaning(self) -> MultitenantScenario:
        """The top-level region/climate/start_day are what the run uses: the engine's own
        copies would be overwritten, so setting them is refused rather than ignored."""
        weather = self.engine.climate.weather.model_fields_set
        for name, is_set, top in (
            ("engine.region", "region" in self.engine.model_fields_set, "region"),
            ("engine.climate.weather.preset", "preset" in weather, "climate"),
            (
                "engine.climate.weather.start_day_of_year",
                "start_day_of_year" in weather,
                "start_day",
            ),
        ):
            if is_set:
                raise ValueError(f"{name} is set by the top-level `{top}`; set that instead")
        n = self.steps
        if not 1 <= n <= MAX_STEPS:
            raise ValueError(f"hours / dt_s gives {n} steps; need 1..{MAX_STEPS:,}")
        return self

    @property
    def steps(self) -> int:
        return int(round(self.hours * 3600.0 / self.dt_s))


@dataclass
class LoadedMultitenant:
    """A multitenant scenario and the folder its relative paths (job_trace) resolve against."""

    scenario: MultitenantScenario
    source: Path | None
    base_dir: Path

    def trace_path(self) -> Path | None:
        t = self.scenario.job_trace
        return resolve_path(t, self.base_dir) if t else None

    def env_kwargs(self) -> dict[str, Any]:
        """CoDesign-v0 arguments with the reset draws pinned to this scenario."""
        sc = self.scenario
        trace = self.trace_path()
        return {
            "engine": sc.engine,
            "job_trace": str(trace) if trace else None,
            "dt_s": sc.dt_s,
            "episode_steps": sc.steps,
            "top_k": sc.top_k,
            "forecast_error": sc.forecast_error,
            "slo_target": sc.slo_target,
            "regions": [sc.region],
            "climates": [sc.climate],
            "oversubscriptions": [sc.engine.oversubscription],
            "start_day": sc.start_day,
        }

    def build_env(self) -> CoDesignEnv:
        with_file = str(self.source) if self.source else None
        try:
            return CoDesignEnv(**self.env_kwargs())
        except InputError as exc:
            exc.file = exc.file or with_file
            raise

    def input_digests(self) -> dict[str, str]:
        trace = self.trace_path()
        return {"job_trace": file_digest(trace)} if trace and trace.is_file() else {}


def load_multitenant(
    path: str | Path, overrides: dict[str, Any] | None = None
) -> LoadedMultitenant:
    source = scenario_source(path)
    sc = read_overridden(source, MultitenantScenario, "multitenant", overrides)
    return LoadedMultitenant(sc, source, source.parent)


def multitenant_from_dict(data: dict[str, Any], base_dir: Path) -> LoadedMultitenant:
    """An in-memory multitenant mapping (a sweep point)."""
    return LoadedMultitenant(
        validate_model(MultitenantScenario, data, file="<scenario>"), None, base_dir
    )


def job_rows(env: CoDesignEnv) -> list[dict[str, Any]]:
    """One row per training job that has arrived: when, how big, where its time went."""
    e = env.engine
    assert e is not None
    rows = []
    for j in e.jobs:
        if j.spec.arrival_s > e.t:
            continue
        ideal = j.ideal_runtime_s(e.packed_comm(j.id))
        jct = j.end_s - j.spec.arrival_s if j.end_s is not None else None
        rows.append(
            {
                "job_id": j.id,
                "arrival_h": j.spec.arrival_s / 3600.0,
                "accelerators": j.spec.accelerators,
                "model_params_b": j.spec.model_params / 1e9,
                "class": e.job_class(j.id) if j.start_s is not None else "",
                "deferrable": int(j.spec.deferrable),
                "start_h": j.start_s / 3600.0 if j.start_s is not None else "",
                "wait_h": (j.start_s - j.spec.arrival_s) / 3600.0 if j.start_s is not None else "",
                "finish_h": j.end_s / 3600.0 if j.end_s is not None else "",
                "jct_h": jct / 3600.0 if jct is not None else "",
                "slowdown": jct / ideal if jct is not None else "",
                "progress": j.done_iters / j.spec.iterations,
            }
        )
    return rows


def simulate(
    loaded: LoadedMultitenant,
    agent: str | None = None,
    seed: int | None = None,
    on_step: Callable[[int, int], None] | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Run CoDesign-v0 for the scenario's steps; (summary, system facts, job rows).

    Each step's row (the env's metrics and the agent's decoded choices) goes to on_row."""
    from dcsim.agents import make_agent
    from dcsim.runner import check_seed

    sc = loaded.scenario
    agent = agent or sc.agent
    seed = check_seed(sc.seed if seed is None else seed)
    env = loaded.build_env()
    pol = make_agent(agent, env, seed)
    obs, _ = env.reset(seed=seed)
    pol.reset()
    ep = Episode(env.METRICS)
    assert env.engine is not None
    budget_kw = env.engine.budget_w / 1e3
    n = sc.steps
    total_reward = 0.0
    actions: dict[str, list[Any]] = {}
    for k in range(n):
        action = pol.predict(obs)
        c = env.decode(action)
        obs, reward, _, _, info = env.step(action)
        choice = {
            "routing_comm": c["routing"]["comm"],
            "routing_compute": c["routing"]["compute"],
            **{f"clock_{cls}": f for cls, f in c["clock"].items()},
            "supply_air_c": c["supply_air_c"],
            "chw_supply_c": c["chw_supply_c"],
            "economizer": c["economizer"],
            "tank": c["tank"],
        }
        for key, v in choice.items():
            actions.setdefault(key, []).append(v)
        ep.add(info["metrics"])
        total_reward += reward
        if on_row:
            met = info["metrics"]
            kw = {k: met[f"{k}_kwh"] * 3600.0 / sc.dt_s for k in ("it", "cooling", "facility")}
            on_row(
                {
                    **met,
                    **{f"{k}_kw": v for k, v in kw.items()},
                    "budget_kw": budget_kw,
                    **choice,
                }
            )
        if on_step:
            on_step(k + 1, n)
    m = ep.result()
    e = env.engine
    assert e is not None
    jobs = e.job_metrics()
    summary: dict[str, Any] = {
        "steps": n,
        "hours": n * sc.dt_s / 3600.0,
        "agent": agent,
        "seed": seed,
        "region": sc.region,
        "climate": sc.climate,
        "start_day": sc.start_day,
        "facility_energy_kwh": m["facility_kwh"],
        "it_energy_kwh": m["it_kwh"],
        "cooling_energy_kwh": m["cooling_kwh"],
        "pue": m["facility_kwh"] / m["it_kwh"] if m["it_kwh"] > 0 else math.nan,
        "carbon_kg": m["carbon_kg"],
        "cost_usd": m["cost_usd"],
        "useful_work": m["work"],
        "train_work": m["train_work"],
        "inference_work": m["inference_work"],
        "max_inlet_c": m["inlet_max_c"],
        "thermal_k_min": m["thermal_k_min"],
        "over_budget_kw_min": m["over_budget_kw_min"],
        "brakes": int(m["brakes"]),
        "slo_violation_min": m["slo_violation_min"],
        "slo_attainment": m["slo_attainment"] if e.inf_acc else None,
        "tokens": m["tokens"],
        "jobs_started": int(m["jobs_started"]),
        "jobs_finished": int(jobs["jobs_finished"]),
        "jct_mean_h": jobs["jct_mean_s"] / 3600.0,
        "slowdown_mean": jobs["slowdown_mean"],
        "deadline_misses": int(jobs["deadline_misses"]),
        "jobs_queued_at_end": int(jobs["queued"]),
        "jobs_running_at_end": int(jobs["running"]),
        # what the agent chose, as run defaults: most used routing, mean setpoints
        "routing_comm": _mode(actions["routing_comm"]),
        "routing_compute": _mode(actions["routing_compute"]),
        "economizer": _mode(actions["economizer"]),
        "supply_air_mean_c": sum(actions["supply_air_c"]) / n,
        "chw_supply_mean_c": sum(actions["chw_supply_c"]) / n,
        "total_reward": total_reward,
    }
    cfg = sc.engine
    system = {
        "hardware": cfg.hardware,
        "accelerators": e.n_acc,
        "racks": cfg.racks,
        "inference_accelerators": e.inf_acc,
        "spines": cfg.spines,
        "oversubscription": cfg.oversubscription,
        "design_it_kw": e.design_it_w / 1e3,
        "budget_fraction": cfg.budget_fraction,
        "budget_kw": e.budget_w / 1e3,
        "inlet_limit_c": cfg.cooling.recommended_inlet_max_c,
        "dt_s": sc.dt_s,
    }
    return summary, system, job_rows(env)


def _mode(values: list[Any]) -> Any:
    """The most frequent value (first seen on ties)."""
    return max(dict.fromkeys(values), key=values.count)


def jobs_csv(rows: list[dict[str, Any]]) -> str:
    """jobs.csv text (the header even when no job has arrived)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=JOB_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


# What `dcsim run` prints and `dcsim report` shows of a summary: (key, label, format).
SUMMARY_ROWS = (
    ("useful_work", "useful work (share of cluster)", "{:.3f}"),
    ("facility_energy_kwh", "facility energy", "{:,.1f} kWh"),
    ("it_energy_kwh", "IT energy", "{:,.1f} kWh"),
    ("pue", "PUE (energy-weighted)", "{:.3f}"),
    ("carbon_kg", "carbon", "{:,.1f} kg CO2"),
    ("cost_usd", "electricity cost", "${:,.2f}"),
    ("thermal_k_min", "hottest inlet over limit", "{:,.1f} K*min"),
    ("over_budget_kw_min", "IT power over budget", "{:,.1f} kW*min"),
    ("brakes", "power brakes", "{:,} steps"),
    ("slo_violation_min", "SLO violation", "{:,.0f} min"),
    ("slo_attainment", "inference SLO attainment", "{:.1%}"),
    ("jobs_started", "training jobs started", "{:,}"),
    ("jobs_finished", "training jobs finished", "{:,}"),
    ("jct_mean_h", "mean JCT (finished)", "{:.2f} h"),
    ("slowdown_mean", "mean slowdown (finished)", "{:.2f}"),
    ("jobs_queued_at_end", "queued at end", "{:,}"),
    ("routing_comm", "routing comm-bound (most used)", "{}"),
    ("routing_compute", "routing compute-bound (most used)", "{}"),
    ("supply_air_mean_c", "supply air setpoint (mean)", "{:.1f} C"),
    ("chw_supply_mean_c", "chilled water setpoint (mean)", "{:.1f} C"),
    ("economizer", "economizer (most used)", "{}"),
)


def summary_rows(s: dict[str, Any], sysd: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows of a run's summary, after the facility's budget (system facts)."""
    budget = (
        f"{sysd['budget_kw']:,.0f} kW ({sysd['budget_fraction']:g} x design)"
        if "budget_kw" in sysd
        else "n/a"
    )
    rows = [("IT power budget", budget)]
    rows += [
        (label, fmt.format(s[key]) if s.get(key) is not None else "n/a")
        for key, label, fmt in SUMMARY_ROWS
    ]
    return rows


def run_title(name: str, s: dict[str, Any], sysd: dict[str, Any]) -> str:
    """`multitenant: 512 x H100-SXM, 6.0 h, agent composite, CISO, temperate, day 195`."""
    return (
        f"{name}: {sysd['accelerators']} x {sysd['hardware']}, {s['hours']:.1f} h, "
        f"agent {s['agent']}, {s['region']}, {s['climate']}, day {s['start_day']}"
    )
