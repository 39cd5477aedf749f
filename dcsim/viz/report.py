"""`dcsim report RUN_OR_SWEEP_DIR`: one self-contained HTML page a decision maker can read.

The page holds the answer (cheapest, fastest and lowest-carbon design, the Pareto front of cost
per training run vs time to train vs carbon per run), a table of every run, the limits each
design was checked against (rack power, memory per accelerator), the assumptions with their
sources (hardware profile values, the price book, cooling and climate settings) and the config.
Figures are PNGs embedded as base64 data URIs and the CSS is inline: no file, font, script or
CDN is fetched, so the page opens offline and archives as one file.

Cost and carbon per run come from the run summaries' cost keys (dcsim.cost.run_cost). When a
summary lacks them (runs written before the cost model), the page says so and computes them
with dcsim.cost.cost_report from the run's own summary and rebuilt system at the scenario's
flat or regional electricity price.

A multitenant run or sweep (`kind: multitenant`: many jobs share one facility) has no training
run to price; its page (dcsim.viz.report_multitenant) shows the facility's totals, the jobs'
completion times and the time series instead.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402

from dcsim.errors import InputError  # noqa: E402

StartFn = Callable[[str, int], None]
StepFn = Callable[[int], None]
# dcsim's own config.resolved.yaml, read with libyaml's safe loader where present (~10x faster
# than the pure-Python one: 90 runs took ~9 s)
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The three objectives of the Pareto front (all minimized) and their fallbacks.
COST = "cost_usd_per_training_run"
TIME = "training_run_hours"
CARBON = "carbon_kgco2e_per_training_run"
COST_KEYS = (COST, TIME, CARBON, "cost_usd_per_accel_hour", "cost_usd_per_million_tokens")


@dataclass
class RunFacts:
    """One run as the report sees it."""

    run_id: str
    path: Path
    label: str
    params: dict[str, Any]
    summary: dict[str, Any]
    system: dict[str, Any]
    config: dict[str, Any]
    source: str | None
    cost: dict[str, Any] = field(default_factory=dict)
    cost_note: str = ""
    pareto: bool = False


# ----------------------------------------------------------------------------- reading
def _read_json(p: Path) -> dict[str, Any]:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(p)) from None


def _run(run_dir: Path, params: dict[str, Any] | None = None) -> RunFacts:
    summary = _read_json(run_dir / "summary.json")
    manifest = (
        _read_json(run_dir / "manifest.json") if (run_dir / "manifest.json").is_file() else {}
    )
    cfg_path = run_dir / "config.resolved.yaml"
    config = (
        yaml.load(cfg_path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        if cfg_path.is_file()
        else {}
    )
    params = params if params is not None else {}
    label = " / ".join(_short(v) for v in params.values()) or str(config.get("name", run_dir.name))
    return RunFacts(
        run_id=str(manifest.get("run_id", run_dir.name)),
        path=run_dir,
        label=label,
        params=params,
        summary=summary,
        system=manifest.get("system", {}),
        config=config or {},
        source=manifest.get("source"),
    )


def _short(v: Any) -> str:
    from dcsim.sweep import short

    return short(v)


def design_label(params: dict[str, Any], meta: dict[str, Any], runs: list[RunFacts]) -> str:
    """`leaf_spine_4k | B200 / air / 2`: the parameters that vary, a linked group joined by /."""
    linked = [list(g) for g in meta.get("linked") or []]
    in_group = {k for g in linked for k in g}
    varies = {
        k for k in params if len({json.dumps(r.params.get(k), sort_keys=True) for r in runs}) > 1
    }
    parts = [
        _short(params[k])
        for k in meta.get("parameters", params)
        if k in varies and k not in in_group
    ]
    for g in linked:
        if any(k in varies for k in g):
            parts.append(" / ".join(_short(params.get(k)) for k in g))
    return " | ".join(parts) or str(meta.get("name", "run"))


def load_runs(
    path: Path, on_start: StartFn | None = None, on_step: StepFn | None = None
) -> tuple[str, list[RunFacts], dict[str, Any]]:
    """('run' or 'sweep', complete runs, sweep.json or {}) of a run or sweep directory;
    `on_start(label, n)`/`on_step(k)` count the sweep's runs read."""
    if (path / "summary.json").is_file():
        return "run", [_run(path)], {}
    if (path / "sweep.json").is_file():
        meta = _read_json(path / "sweep.json")
        listed = meta.get("runs", [])
        if on_start:
            on_start("reading runs", len(listed))
        runs = []
        for k, r in enumerate(listed, 1):
            d = path / "runs" / str(r["run_id"])
            if (d / "summary.json").is_file():
                runs.append(_run(d, r.get("params", {})))
            if on_step:
                on_step(k)
        if not runs:
            raise InputError("no complete runs in this sweep yet", file=str(path))
        for run in runs:
            run.label = design_label(run.params, meta, runs)
        return "sweep", runs, meta
    raise InputError(
        "not a run directory (summary.json) or a sweep directory (sweep.json); "
        "give what `dcsim run` or `dcsim sweep` wrote",
        file=str(path),
    )


# ----------------------------------------------------------------------------- cost
def attach_costs(runs: list[RunFacts]) -> None:
    """Cost keys from each summary, or computed with dcsim.cost when the summary has none."""
    from dcsim.config import scenario_from_dict
    from dcsim.cost import cost_report, network_inventory
    from dcsim.sim import Simulation

    for r in runs:
        if COST in r.summary or "cost_usd_per_accel_hour" in r.summary:
            r.cost = dict(r.summary)  # CostReport.as_dict keys sit flat in the summary
            r.cost_note = "from the run summary"
            continue
        try:
            base = Path(r.source).parent if r.source else None
            loaded = scenario_from_dict(r.config, base_dir=base)
            sim = Simulation(loaded)
            rep = cost_report(
                loaded.scenario, r.summary, sim.describe(), network_inventory(sim.fabric)
            )
        except InputError as exc:
            r.cost_note = f"no cost: {exc.message}"
            continue
        if rep is None:
            r.cost_note = "no cost: the price book has no server price for this hardware"
            continue
        r.cost = rep.as_dict()
        r.cost_note = (
            "computed by the report with dcsim.cost.cost_report (the run summary had no cost "
            "keys; flat or regional electricity price)"
        )


def objectives(r: RunFacts) -> tuple[float, float, float] | None:
    """(USD, hours, kgCO2e) per training run, or None when a value is missing."""
    vals = (r.cost.get(COST), r.cost.get(TIME), r.cost.get(CARBON))
    if any(v is None or not math.isfinite(float(v)) for v in vals):
        return None
    return float(vals[0]), float(vals[1]), float(vals[2])  # type: ignore[arg-type]


def pareto_front(points: list[tuple[float, ...]]) -> list[int]:
    """Indices of the non-dominated points (every objective minimized)."""
    front = []
    for i, p in enumerate(points):
        dominated = any(
            all(q[k] <= p[k] for k in range(len(p))) and any(q[k] < p[k] for k in range(len(p)))
            for j, q in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return front


# ----------------------------------------------------------------------------- figures
def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def pareto_figure(runs: list[RunFacts]) -> str | None:
    """Cost vs time (colour: carbon) and cost vs carbon, front ringed, points numbered as the
    runs table; base64 PNG."""
    pts = [(i, o, r.pareto) for i, r in enumerate(runs) if (o := objectives(r)) is not None]
    if not pts:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    cost = [o[0] / 1e6 for _, o, _ in pts]
    carbon = [o[2] / 1e3 for _, o, _ in pts]
    panels = (
        (axes[0], [o[1] / 24 for _, o, _ in pts], "days to train", "cost vs time to train"),
        (axes[1], carbon, "tCO2e per run", "cost vs carbon"),
    )
    sc: Any = None
    for ax, xs, xl, title in panels:
        sc = ax.scatter(xs, cost, c=carbon, cmap="viridis", s=70, zorder=3)
        for (i, _, front), x, c in zip(pts, xs, cost, strict=True):
            if front:
                ax.scatter(x, c, s=230, facecolors="none", edgecolors="crimson", lw=1.8, zorder=4)
            ax.annotate(str(i + 1), (x, c), fontsize=8, xytext=(6, 3), textcoords="offset points")
        ax.set_xlabel(xl + "  (lower is better)")
        ax.set_ylabel("million USD per training run")
        ax.set_title(title + " (red ring: Pareto front)", fontsize=10)
        ax.grid(alpha=0.3)
    fig.colorbar(sc, ax=list(axes), label="tCO2e per run (operational + embodied)")
    return _png(fig)


def breakdown_figure(runs: list[RunFacts]) -> str | None:
    """Stacked annualized capex + opex per run (million USD / year); base64 PNG."""
    rows = [r for r in runs if any(k.startswith("capex_") and k.endswith("_usd") for k in r.cost)]
    if not rows:
        return None
    parts = ["servers", "network", "cooling", "power", "building"]
    opex = ["electricity", "water", "maintenance", "staff"]
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(rows) + 1.6), constrained_layout=True)
    left = [0.0] * len(rows)
    cmap = plt.get_cmap("tab20")
    colours = [cmap(i) for i in range(20)]
    for j, key in enumerate(
        [f"capex_{p}_usd" for p in parts] + [f"opex_{o}_usd_per_year" for o in opex]
    ):
        vals = [float(r.cost.get(key, 0.0)) / 1e6 for r in rows]
        name = (
            key.removeprefix("capex_")
            .removesuffix("_usd")
            .removeprefix("opex_")
            .removesuffix("_usd_per_year")
        )
        kind = "capex" if key.startswith("capex") else "opex/yr"
        ax.barh(range(len(rows)), vals, left=left, color=colours[j % 20], label=f"{name} ({kind})")
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_yticks(range(len(rows)), [f"{runs.index(r) + 1}: {r.label}" for r in rows], fontsize=8)
    ax.invert_yaxis()  # run 1 on top, as in the table
    ax.set_xlabel("million USD (capex once; opex per year)")
    ax.legend(
        fontsize=7,
        ncol=5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25 if len(rows) < 4 else -0.08),
    )
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("capex and yearly opex by item")
    return _png(fig)


# ----------------------------------------------------------------------------- assumptions
def _sourced(node: Any, prefix: str = "") -> list[tuple[str, Any, str, str, str]]:
    """(key, value, unit, source, confidence) of every Sourced number in a dumped model."""
    out = []
    if isinstance(node, dict) and "value" in node and "source" in node:
        return [
            (
                prefix,
                node["value"],
                node.get("unit", ""),
                node["source"],
                node.get("confidence", ""),
            )
        ]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _sourced(v, f"{prefix}.{k}" if prefix else str(k))
    return out


def _table(head: list[str], rows: list[list[Any]], cls: str = "") -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{c if isinstance(c, Markup) else html.escape(str(c))}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


class Markup(str):
    """Already-escaped HTML for a table cell."""


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        if abs(v) >= 1e5:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}"
    return str(v)


def hardware_sources(runs: list[RunFacts]) -> list[str]:
    """One table per hardware profile the runs use: every value with its source."""
    from dcsim.hardware import get_profile

    parts = []
    for hw in dict.fromkeys(
        str(r.system.get("hardware") or r.config.get("cluster", {}).get("hardware")) for r in runs
    ):
        try:
            prof = get_profile(hw)
        except InputError:
            continue
        rows = [[k, _fmt(v), u, s, c] for k, v, u, s, c in _sourced(prof.model_dump())]
        parts.append(
            f"<h3>Hardware profile {html.escape(hw)}</h3>"
            + _table(["value", "", "unit", "source", "confidence"], rows, "src")
        )
    return parts


def _assumptions(runs: list[RunFacts]) -> str:
    from dcsim.cost import price_book

    parts = hardware_sources(runs)
    book = [[k, _fmt(v), u, s, c] for k, v, u, s, c in _sourced(price_book().model_dump())]
    parts.append(
        "<h3>Price book (dcsim/data/cost/prices.yaml; a scenario's cost.prices overrides it)</h3>"
        + _table(["price", "", "unit", "source", "confidence"], book, "src")
    )
    facts = []
    for r in runs[:1] + [
        r for r in runs[1:] if r.config.get("cooling") != runs[0].config.get("cooling")
    ]:
        facts.append([r.label, "cooling", json.dumps(r.config.get("cooling", {}), sort_keys=True)])
    first = runs[0]
    facts.append(["all", "climate", json.dumps(first.config.get("climate", {}), sort_keys=True)])
    lim = first.system.get("limits", {})
    if lim:
        facts.append(
            [
                "all",
                "rack power limit",
                f"{_fmt(lim.get('rack_power_limit_kw'))} kW: {lim.get('rack_power_limit_source', '')}",
            ]
        )
    parts.append(
        "<h3>Cooling, climate and limits</h3>" + _table(["runs", "what", "setting"], facts, "src")
    )
    return "\n".join(parts)


# ----------------------------------------------------------------------------- page
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1180px;
color:#1d2430;line-height:1.45;padding:0 16px}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #d8dee9;padding-bottom:.2em;margin-top:1.6em}
h3{margin-bottom:.3em}.sub{color:#5b6575}
table{border-collapse:collapse;margin:.6em 0;font-size:.86em;width:100%}
th,td{border:1px solid #d8dee9;padding:3px 6px;text-align:right;vertical-align:top}
th{background:#eef2f7;text-align:center}td:first-child{text-align:left}
table.kv{width:auto;min-width:45%}table.txt td{text-align:left}table.src td{text-align:left}table.src td:nth-child(2){text-align:right;white-space:nowrap}
tr.front td{background:#fff1f1;font-weight:600}#runs td:nth-child(2){text-align:left}
.answer{background:#f3f8ef;border-left:5px solid #5a9a3c;padding:.6em 1em;margin:1em 0}
.note{background:#fff8e6;border-left:5px solid #d99a00;padding:.5em 1em;margin:.8em 0}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #d8dee9}
figcaption{color:#5b6575;font-size:.85em}
pre{background:#f6f8fa;border:1px solid #d8dee9;padding:.8em;overflow:auto;font-size:.8em;max-height:480px}
details summary{cursor:pointer;font-weight:600;margin:.5em 0}
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body>
<h1>{title}</h1>
<p class="sub">{subtitle}</p>
{body}
<p class="sub">Written by dcsim {version} (<code>dcsim report</code>); self-contained: no external files.</p>
</body></html>
"""

SECTIONS = """<h2>Answer</h2>
{answer}
{notes}
<h2>Pareto front: cost vs time vs carbon per training run</h2>
{pareto}
<h2>Every run</h2>
{runs_table}
<h2>Cost breakdown</h2>
{breakdown}
<h2>Physical limits checked</h2>
{limits}
<h2>Assumptions and their sources</h2>
{assumptions}
<h2>Configuration</h2>
{config}
"""


def page(title: str, subtitle: str, body: str) -> str:
    """The whole HTML page around its sections (title and subtitle are plain text)."""
    from dcsim import __version__

    return PAGE.format(
        title=html.escape(title),
        css=CSS,
        subtitle=html.escape(subtitle),
        body=body,
        version=html.escape(__version__),
    )


def _figure(b64: str | None, alt: str, caption: str, missing: str) -> str:
    if b64 is None:
        return f'<p class="note">{html.escape(missing)}</p>'
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _answer(runs: list[RunFacts]) -> str:
    ok = [(r, o) for r in runs if (o := objectives(r)) is not None]
    if not ok:
        return '<p class="note">No run has cost, time and carbon per training run, so there is no answer to rank.</p>'
    cheapest = min(ok, key=lambda t: t[1][0])
    fastest = min(ok, key=lambda t: t[1][1])
    greenest = min(ok, key=lambda t: t[1][2])

    def line(what: str, t: tuple[RunFacts, tuple[float, float, float]]) -> str:
        r, (c, h, k) = t
        return (
            f"<li><b>{what}</b>: {html.escape(r.label)} &mdash; ${c / 1e6:,.2f} M per run, "
            f"{h / 24:.1f} days, {k / 1e3:,.0f} tCO2e</li>"
        )

    front = ", ".join(html.escape(r.label) for r, _ in ok if r.pareto)
    tokens = runs[0].config.get("cost", {}).get("training_run_tokens", 2e12)
    return (
        f'<div class="answer"><p>One training run = {float(tokens) / 1e12:g}T tokens '
        "(cost.training_run_tokens) at each design's simulated step time; cost includes annualized "
        "capex and opex for the run's duration.</p><ul>"
        + line("Cheapest per run", cheapest)
        + line("Fastest", fastest)
        + line("Lowest carbon", greenest)
        + f"</ul><p>Pareto front (no design better on all three): {front}.</p></div>"
    )


def _runs_table(runs: list[RunFacts]) -> str:
    head = [
        "#", "design", "step s", "exposed comm", "PUE", "peak MW", "MWh/day", "$/GPU-h", "$/M tok",
        "$M/run", "days/run", "tCO2e/run", "embodied", "capex $M", "GB/GPU (HBM)", "rack kW (limit)",
    ]  # fmt: skip
    rows: list[tuple[bool, list[str]]] = []
    for r in runs:
        s, c, lim = r.summary, r.cost, r.system.get("limits", {})
        day = 24.0 / float(s.get("hours", 24.0) or 24.0)
        mem = (
            f"{lim['memory_gb_per_accelerator']:.0f} ({lim['hbm_gb']:.0f})"
            if "memory_gb_per_accelerator" in lim
            else "-"
        )
        rack = (
            f"{lim['rack_kw']:.1f} ({lim['rack_power_limit_kw']:.0f})" if "rack_kw" in lim else "-"
        )
        cell = [
            str(len(rows) + 1),
            r.label,
            _fmt(s.get("mean_step_time_s")),
            _fmt(s.get("exposed_comm_share", 0.0) * 100, 2) + " %",
            _fmt(s.get("pue")),
            _fmt(s.get("peak_facility_kw", 0.0) / 1e3),
            _fmt(s.get("facility_energy_kwh", 0.0) / 1e3 * day),
            _fmt(c.get("cost_usd_per_accel_hour")),
            _fmt(c.get("cost_usd_per_million_tokens")),
            _fmt(c[COST] / 1e6) if COST in c else "-",
            _fmt(c[TIME] / 24) if TIME in c else "-",
            _fmt(c[CARBON] / 1e3) if CARBON in c else "-",
            _fmt(c.get("embodied_carbon_share", 0.0) * 100, 2) + " %" if c else "-",
            _fmt(c.get("capex_usd", 0.0) / 1e6) if c else "-",
            mem,
            rack,
        ]
        rows.append((r.pareto, cell))
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        f'<tr class="{"front" if p else ""}">'
        + "".join(f"<td>{html.escape(str(x))}</td>" for x in cell)
        + "</tr>"
        for p, cell in rows
    )
    return (
        f'<table id="runs"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'
        '<p class="sub">Highlighted rows are on the Pareto front. Exposed comm: share of the step '
        "spent waiting on the data-parallel all-reduce. GB/GPU: weights + gradients + optimizer "
        "+ activations per accelerator (dcsim.limits) against HBM.</p>"
    )


def _limits(runs: list[RunFacts]) -> str:
    rows = []
    for r in runs:
        lim = r.system.get("limits", {})
        if not lim:
            rows.append([r.label, "-", "-", "not recorded (run written before dcsim.limits)"])
            continue
        b = lim.get("memory_breakdown_gb", {})
        mem = ", ".join(f"{k} {v:.1f}" for k, v in b.items())
        rows.append(
            [
                r.label,
                f"{lim['rack_kw']:.1f} of {lim['rack_power_limit_kw']:.1f} kW"
                + ("" if lim.get("rack_power_fits", True) else " (OVER: allowed by the scenario)"),
                f"{lim.get('memory_gb_per_accelerator', 0):.1f} of {lim.get('hbm_gb', 0):.0f} GB"
                + ("" if lim.get("memory_fits", True) else " (OVER: allowed by the scenario)"),
                mem,
            ]
        )
    notes = [r for r in runs if r.system.get("air_density_note")]
    extra = "".join(
        f'<p class="note">{html.escape(r.label)}: cooling {html.escape(r.system["air_density_note"])}</p>'
        for r in notes
    )
    return (
        _table(
            ["design", "rack nameplate", "memory per accelerator", "memory breakdown (GB)"], rows
        )
        + extra
    )


def _config(kind: str, runs: list[RunFacts], meta: dict[str, Any]) -> str:
    parts = []
    if kind == "sweep":
        f = Path(str(meta.get("file", "")))
        text = (
            f.read_text(encoding="utf-8")
            if f.is_file()
            else json.dumps(
                {k: meta.get(k) for k in ("name", "method", "parameters", "linked")}, indent=1
            )
        )
        parts.append(f"<h3>Sweep file {html.escape(str(f))}</h3><pre>{html.escape(text)}</pre>")
    for i, r in enumerate(runs):
        body = html.escape(yaml.safe_dump(r.config, sort_keys=False))
        opened = " open" if kind == "run" else ""
        parts.append(
            f"<details{opened}><summary>resolved config of {html.escape(r.label)} "
            f"(run {html.escape(r.run_id)})</summary><pre>{body}</pre></details>"
        )
        if i >= 40:
            parts.append(
                f"<p>... and {len(runs) - 41} more runs (see runs/*/config.resolved.yaml)</p>"
            )
            break
    return "\n".join(parts)


def render_report(
    path: str | Path, on_start: StartFn | None = None, on_step: StepFn | None = None
) -> str:
    """The HTML text of the report of a run or sweep directory; `on_start(label, n)` and
    `on_step(k)` count the runs read, then the figures drawn (progress)."""
    p = Path(path)
    if not p.is_dir():
        raise InputError("not a directory: give a run or sweep directory", file=str(p))
    kind, runs, meta = load_runs(p, on_start, on_step)
    if all(r.config.get("kind") == "multitenant" for r in runs):
        from dcsim.viz.report_multitenant import render_multitenant

        return render_multitenant(kind, p, runs, meta, on_start, on_step)
    attach_costs(runs)
    objs = [(i, o) for i, r in enumerate(runs) if (o := objectives(r)) is not None]
    for j in pareto_front([o for _, o in objs]):
        runs[objs[j][0]].pareto = True
    notes = sorted(
        {r.cost_note for r in runs if r.cost_note and r.cost_note != "from the run summary"}
    )
    note_html = "".join(f'<p class="note">Cost: {html.escape(n)}.</p>' for n in notes)
    if not any(COST in r.cost for r in runs):
        note_html += '<p class="note">Cost keys are absent: the Pareto front cannot be drawn.</p>'
    name = meta.get("name") or (runs[0].config.get("name") if runs else p.name)
    desc = meta.get("description") or runs[0].config.get("description", "")
    subtitle = f"{kind} {p.name}: {len(runs)} complete run(s). {desc}"
    if on_start:
        on_start("drawing figures", 2)
    pareto_png = pareto_figure(runs)
    if on_step:
        on_step(1)
    breakdown_png = breakdown_figure(runs)
    if on_step:
        on_step(2)
    body = SECTIONS.format(
        answer=_answer(runs),
        notes=note_html,
        pareto=_figure(
            pareto_png,
            "Pareto front of cost vs time vs carbon",
            "Each dot is a design, numbered as in the runs table (colour: tCO2e per training "
            "run); red rings mark the Pareto front over cost, time and carbon together.",
            "No run has cost, time and carbon per training run: no Pareto figure.",
        ),
        runs_table=_runs_table(runs),
        breakdown=_figure(
            breakdown_png,
            "capex and opex breakdown",
            "Capex by asset class (paid once, annualized over each class's lifetime in the "
            "cost model) and opex per year.",
            "No cost breakdown available.",
        ),
        limits=_limits(runs),
        assumptions=_assumptions(runs),
        config=_config(kind, runs, meta),
    )
    return page(f"dcsim report: {name}", subtitle, body)


def write_report(
    path: str | Path,
    out: str | Path | None = None,
    on_start: StartFn | None = None,
    on_step: StepFn | None = None,
) -> Path:
    """Write `<dir>/report.html` (or `out`) and return its path (progress as `render_report`)."""
    text = render_report(path, on_start, on_step)
    target = Path(out) if out else Path(path) / "report.html"
    from dcsim.results import atomic_write_text

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, text)
    return target


__all__ = ["load_runs", "pareto_front", "render_report", "write_report"]
