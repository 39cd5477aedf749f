"""`dcsim report` of a multitenant run or sweep (`kind: multitenant`, dcsim.tenancy.scenario).

Training jobs and an inference service share one facility, so there is no single training run
to price: the page shows the facility's totals as `dcsim run` prints them (energy, PUE, carbon,
electricity cost, useful work and the constraint costs), the jobs' waits, completion times and
slowdowns from jobs.csv by class, the time series, the sources of the hardware, grid and
weather values, and the resolved config. The page, tables and config are dcsim.viz.report's.
"""

from __future__ import annotations

import base64
import functools
import html
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.errors import InputError
from dcsim.tenancy.scenario import run_title, summary_rows
from dcsim.viz.report import (
    RunFacts,
    StartFn,
    StepFn,
    _config,
    _figure,
    _fmt,
    _table,
    hardware_sources,
    page,
)

WIDE = 8  # up to this many runs side by side (one column each); more: one row per run
JOB_ROWS = 300  # jobs listed one by one at most; jobs.csv holds them all
FIGURE_RUNS = 8  # time series drawn for a sweep's first runs; `dcsim plot` draws any
NOT_HERE = (
    "Cost per training run, its Pareto front over cost, time and carbon, and the rack-power and "
    "memory-per-accelerator checks belong to single-job scenarios (one training job on the "
    "whole cluster): they are not on this page. A multitenant run reports the whole facility's "
    "electricity cost and each job's completion time instead."
)
SECTIONS = """<p class="note">{not_here}</p>
<h2>Facility</h2>
{facility}
<h2>Training jobs</h2>
{jobs}
<h2>Over time</h2>
{figures}
<h2>Assumptions and their sources</h2>
{assumptions}
<h2>Configuration</h2>
{config}
"""


def facility_table(runs: list[RunFacts]) -> str:
    """The run summaries as `dcsim run` prints them: runs side by side, or one row each."""
    cols = [summary_rows(r.summary, r.system) for r in runs]
    names = [name for name, _ in cols[0]]
    if len(runs) == 1:
        return _table(["quantity", "value"], [list(row) for row in cols[0]], "kv")
    if len(runs) <= WIDE:
        head = ["quantity"] + [f"{i + 1}: {r.label}" for i, r in enumerate(runs)]
        return _table(head, [[n] + [c[k][1] for c in cols] for k, n in enumerate(names)])
    rows = [
        [i + 1, r.label] + [v for _, v in c]
        for i, (r, c) in enumerate(zip(runs, cols, strict=True))
    ]
    return _table(["#", "design", *names], rows)


def read_jobs(run_dir: Path) -> list[dict[str, Any]] | None:
    """jobs.csv rows (numbers as floats, blanks as ""), or None when the run has none."""
    from dcsim.viz.sweep import read_csv_rows

    f = run_dir / "jobs.csv"
    return read_csv_rows(f) if f.is_file() else None


def _mean(xs: list[float]) -> float | None:
    return float(np.mean(xs)) if xs else None


def job_stats(jobs: list[dict[str, Any]]) -> list[Any]:
    """Arrived, started, finished; mean wait (started jobs); mean, median and max JCT and mean
    and max slowdown (finished jobs), hours."""
    started = [j for j in jobs if j["start_h"] != ""]
    done = [j for j in jobs if j["jct_h"] != ""]
    jct = [float(j["jct_h"]) for j in done]
    slow = [float(j["slowdown"]) for j in done]
    return [
        len(jobs),
        len(started),
        len(done),
        _mean([float(j["wait_h"]) for j in started]),
        _mean(jct),
        float(np.median(jct)) if jct else None,
        max(jct, default=None),
        _mean(slow),
        max(slow, default=None),
    ]


GROUPS: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    ("all arrived", lambda j: True),
    ("compute-bound", lambda j: j["class"] == "compute"),
    ("communication-bound", lambda j: j["class"] == "comm"),
    ("deferrable (any class)", lambda j: bool(j["deferrable"])),
    ("running at the end", lambda j: j["start_h"] != "" and j["jct_h"] == ""),
    ("not started by the end", lambda j: j["start_h"] == ""),
)
STATS_HEAD = [
    "arrived", "started", "finished", "mean wait h", "mean JCT h", "median JCT h", "max JCT h",
    "mean slowdown", "max slowdown",
]  # fmt: skip


def _jobs_section(runs: list[RunFacts]) -> str:
    """Jobs by class (per run), then every job of a single run."""
    per_run = [(i, r, read_jobs(r.path)) for i, r in enumerate(runs)]
    groups = GROUPS if len(runs) <= WIDE else GROUPS[:1]
    rows = []
    for i, r, jobs in per_run:
        lead = [f"{i + 1}: {r.label}"] if len(runs) > 1 else []
        if jobs is None:
            rows.append(lead + ["no jobs.csv in this run"] + ["-"] * len(STATS_HEAD))
            continue
        for name, keep in groups:
            sel = [j for j in jobs if keep(j)]
            if sel or name == "all arrived":
                rows.append(lead + [name] + [_fmt(v) for v in job_stats(sel)])
    head = (["run"] if len(runs) > 1 else []) + ["jobs"] + STATS_HEAD
    out = [
        _table(head, rows),
        '<p class="sub">Wait: arrival to start (jobs started). JCT: arrival to finish; '
        "slowdown: JCT over the job's runtime alone on packed racks at full clock (finished "
        "jobs). Class: bound by compute or by its all-reduce on the shared fabric, as the "
        "engine last classified it. The mean JCT and slowdown of all arrived jobs are the "
        "summary's (over the finished jobs).</p>",
    ]
    if len(runs) == 1 and per_run[0][2]:
        out.append(job_list(per_run[0][2]))
    elif len(runs) > 1:
        out.append('<p class="sub">Every job of a run: runs/&lt;run_id&gt;/jobs.csv.</p>')
    return "\n".join(out)


def job_list(jobs: list[dict[str, Any]]) -> str:
    """Every job (at most JOB_ROWS), in a box that opens by itself when the list is short."""
    rows = [
        [
            int(j["job_id"]),
            _fmt(j["arrival_h"]),
            int(j["accelerators"]),
            _fmt(j["model_params_b"]),
            j["class"] or "not started",
            "yes" if j["deferrable"] else "",
            *(_fmt(None if j[k] == "" else j[k]) for k in ("wait_h", "jct_h", "slowdown")),
            f"{float(j['progress']):.0%}",
        ]
        for j in jobs[:JOB_ROWS]
    ]
    head = ["job", "arrival h", "GPUs", "params B", "class", "deferrable", "wait h", "JCT h"]
    more = (
        f"<p>... and {len(jobs) - JOB_ROWS} more jobs in jobs.csv.</p>"
        if len(jobs) > JOB_ROWS
        else ""
    )
    opened = " open" if len(jobs) <= 25 else ""
    return (
        f"<details{opened}><summary>every job ({len(jobs)})</summary>"
        + _table(head + ["slowdown", "progress"], rows)
        + more
        + "</details>"
    )


def _drawn(draw: Callable[[Path], Any]) -> tuple[str | None, str]:
    """(base64 PNG, "") of what a dcsim.viz plotter writes to the file it is given, or
    (None, why not) when the run's files do not allow the figure."""
    with tempfile.TemporaryDirectory() as d:
        png = Path(d) / "figure.png"
        try:
            draw(png)
        except (InputError, OSError) as exc:
            return None, f"no figure: {getattr(exc, 'message', exc)}"
        return base64.b64encode(png.read_bytes()).decode("ascii"), ""


def _figures(
    kind: str, path: Path, runs: list[RunFacts], on_start: StartFn | None, on_step: StepFn | None
) -> str:
    """The sweep's figure (`dcsim plot` of the sweep), then each run's time series."""
    from dcsim.viz.sweep import plot_run_dir, plot_sweep

    drawn = runs[:FIGURE_RUNS]
    if on_start:
        on_start("drawing figures", len(drawn) + (kind == "sweep"))
    parts = []
    if kind == "sweep":
        b64, why = _drawn(lambda png: plot_sweep(path, png))
        parts.append(
            _figure(
                b64,
                "sweep: carbon vs mean job completion time",
                "Every run (as `dcsim plot` of this sweep): carbon vs mean job completion time, "
                "the non-dominated runs joined, and the effect of each swept parameter.",
                f"Sweep: {why}",
            )
        )
        if on_step:
            on_step(1)
    for k, r in enumerate(drawn):
        b64, why = _drawn(functools.partial(plot_run_dir, r.path))
        fig = _figure(
            b64,
            f"time series of {r.label}",
            "Facility, IT and cooling power against the IT power budget with grid carbon; "
            "hottest inlet and the agent's setpoints against the ASHRAE limit; useful work, "
            "inference SLO attainment and tank charge; running and queued training jobs.",
            f"{r.label}: {why}",
        )
        if kind == "sweep":
            fig = (
                f"<details><summary>time series of {html.escape(r.label)}</summary>{fig}</details>"
            )
        parts.append(fig)
        if on_step:
            on_step(k + 1 + (kind == "sweep"))
    if len(runs) > len(drawn):
        parts.append(
            f"<p>... and {len(runs) - len(drawn)} more runs: dcsim plot runs/&lt;run_id&gt;.</p>"
        )
    return "\n".join(parts)


def _facts(r: RunFacts) -> list[tuple[str, str, str]]:
    """(what, setting, source) of one run: grid carbon and price, weather, facility."""
    from dcsim.climate import presets
    from dcsim.tenancy.grid import (
        PRICE_DIURNAL_AMPLITUDE,
        PRICE_MEAN_USD_PER_MWH,
        PRICE_PEAK_HOUR,
    )

    s, eng = r.summary, r.config.get("engine", {})
    kwh = float(s.get("facility_energy_kwh") or 0.0)
    region, climate = str(s.get("region")), str(s.get("climate"))

    def per_kwh(v: Any) -> str:  # g/kWh from kg, $/MWh from $
        return _fmt(float(v) / kwh * 1e3) if kwh > 0 else "-"

    wx = presets().get(climate, {})
    cool = eng.get("cooling", {})
    inf = eng.get("inference", {})
    return [
        (
            "grid carbon",
            f"{region}, hourly 2022; run average {per_kwh(s.get('carbon_kg', 0))} g/kWh",
            "EIA-930 via HewlettPackard/dc-rl (dcsim/data/grid)",
        ),
        (
            "electricity price",
            f"{PRICE_MEAN_USD_PER_MWH.get(region, float('nan')):g} $/MWh mean x (1 + "
            f"{PRICE_DIURNAL_AMPLITUDE:g} cos(2 pi (h - {PRICE_PEAK_HOUR:g}) / 24)); run "
            f"average {per_kwh(s.get('cost_usd', 0))} $/MWh",
            "2022 hub averages, EIA Today in Energy (rounded); daily shape an estimate; "
            "confidence low (dcsim.tenancy.grid)",
        ),
        (
            "weather",
            f"{climate} ({wx.get('city', '?')}), from day {s.get('start_day')}",
            str(wx.get("source", "dcsim/data/climate/presets.yaml")),
        ),
        (
            "cooling",
            f"{cool.get('type')}, economizer {cool.get('economizer')}, ASHRAE recommended "
            f"inlet max {cool.get('recommended_inlet_max_c')} C",
            "scenario",
        ),
        (
            "IT power budget",
            f"{_fmt(r.system.get('budget_kw'))} kW = {eng.get('budget_fraction')} x design IT "
            f"{_fmt(r.system.get('design_it_kw'))} kW",
            "scenario (POLCA-style oversubscription)",
        ),
        (
            "inference",
            f"{inf.get('servers')} servers of {inf.get('model')}, SLO {inf.get('slo_s')} s",
            "scenario",
        ),
        (
            "training jobs",
            str(r.config.get("job_trace") or "the seeded generator (Philly/PAI/Helios-like)"),
            "scenario",
        ),
    ]


def _assumptions(runs: list[RunFacts]) -> str:
    """Hardware profile values, then the grid, weather and facility each run was given."""
    rows: list[list[str]] = []
    per_run = [_facts(r) for r in runs]
    for k, (what, _, source) in enumerate(per_run[0]):
        runs_of: dict[str, list[str]] = {}  # one row per setting, naming the runs it holds for
        for r, f in zip(runs, per_run, strict=True):
            runs_of.setdefault(f[k][1], []).append(r.label)
        for value, labels in runs_of.items():
            rows.append(["all" if len(runs_of) == 1 else ", ".join(labels), what, value, source])
    head = ["runs", "what", "setting", "source"]
    if len(runs) == 1:
        head, rows = head[1:], [row[1:] for row in rows]
    return "\n".join(
        hardware_sources(runs) + ["<h3>Grid, weather and facility</h3>" + _table(head, rows, "txt")]
    )


def render_multitenant(
    kind: str,
    path: Path,
    runs: list[RunFacts],
    meta: dict[str, Any],
    on_start: StartFn | None = None,
    on_step: StepFn | None = None,
) -> str:
    """The HTML page of a multitenant run or sweep (`dcsim.viz.report.render_report`)."""
    first = runs[0]
    name = str(meta.get("name") or first.config.get("name") or path.name)
    desc = meta.get("description") or first.config.get("description", "")
    if kind == "run":
        subtitle = f"{run_title(name, first.summary, first.system)} (run {first.run_id}). {desc}"
    else:
        params = ", ".join(map(str, meta.get("parameters", [])))
        subtitle = f"sweep {path.name}: {len(runs)} complete run(s) over {params}. {desc}"
    body = SECTIONS.format(
        not_here=html.escape(NOT_HERE),
        facility=facility_table(runs),
        jobs=_jobs_section(runs),
        figures=_figures(kind, path, runs, on_start, on_step),
        assumptions=_assumptions(runs),
        config=_config(kind, runs, meta),
    )
    return page(f"dcsim report: {name}", subtitle, body)


__all__ = ["render_multitenant"]
