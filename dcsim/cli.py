"""dcsim command line: glue between the models in dcsim/ and the user. No physics here."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from dcsim.errors import InputError

app = typer.Typer(
    help="dcsim: datacenter energy and AI-cluster co-design simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn InputError into a one-line message on stderr and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            err_console.print(
                f"[bold red]error:[/] {exc.render()}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(code=2) from None

    return wrapper


def print_json(obj: Any) -> None:
    """Machine output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def kv_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(k, v)
    return table


# ---------------------------------------------------------------- hardware
hardware_app = typer.Typer(help="Accelerator hardware catalog.", no_args_is_help=True)
app.add_typer(hardware_app, name="hardware")


@hardware_app.command("list")
@user_errors
def hardware_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List bundled accelerator profiles."""
    from dcsim.hardware import catalog

    cat = catalog()
    if as_json:
        print_json({n: p.model_dump() for n, p in cat.items()})
        return
    table = Table(
        title="dcsim hardware catalog",
        caption="TFLOPS: dense BF16. SU: scale-up GB/s per direction. low: values marked low confidence.",
    )
    for col in ("name", "kind", "TFLOPS", "HBM GB", "HBM TB/s", "TDP W", "SU GB/s", "low"):
        table.add_column(col, justify="left" if col in ("name", "kind") else "right", no_wrap=True)
    for name, p in cat.items():
        table.add_row(
            name,
            p.kind,
            f"{p.compute.bf16_dense_tflops.value:g}",
            f"{p.memory.hbm_gb.value:g}",
            f"{p.memory.hbm_tbps.value:g}",
            f"{p.power.tdp_w.value:g}" + ("*" if p.power.tdp_w.confidence == "low" else ""),
            f"{p.interconnect.scaleup_gBps_per_dir.value:g}",
            str(len(p.low_confidence_fields())),
        )
    console.print(table)
    console.print("* TDP not published: estimate, see `dcsim hardware show NAME` for the source.")


@hardware_app.command("show")
@user_errors
def hardware_show(
    name: str = typer.Argument(..., help="Profile name, e.g. H100-SXM."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one profile with every value's source and confidence."""
    from dcsim.hardware import get_profile
    from dcsim.schema import Sourced, StrictModel

    p = get_profile(name)
    if as_json:
        print_json(p.model_dump())
        return
    table = Table(title=f"{p.name} ({p.vendor} {p.kind.upper()})", show_lines=False)
    for col in ("field", "value", "unit", "confidence", "source"):
        table.add_column(col, overflow="fold")

    def walk(obj: Any, prefix: str) -> None:
        for fname in type(obj).model_fields:
            val = getattr(obj, fname)
            if isinstance(val, Sourced):
                style = "yellow" if val.confidence == "low" else ""
                table.add_row(
                    prefix + fname,
                    f"{val.value:g}",
                    val.unit,
                    val.confidence,
                    val.source,
                    style=style,
                )
            elif isinstance(val, StrictModel):
                walk(val, prefix + fname + ".")
            elif fname not in ("name", "kind", "vendor", "description"):
                table.add_row(prefix + fname, str(val), "", "", "")

    walk(p, "")
    console.print(p.description)
    console.print(table)


# ---------------------------------------------------------------- run / validate
SUMMARY_ROWS = (
    ("it_energy_kwh", "IT energy", "{:,.1f} kWh"),
    ("facility_energy_kwh", "facility energy", "{:,.1f} kWh"),
    ("cooling_energy_kwh", "cooling energy", "{:,.1f} kWh"),
    ("pue", "PUE (energy-weighted)", "{:.3f}"),
    ("carbon_kg", "carbon", "{:,.1f} kg CO2"),
    ("wue_l_per_kwh", "WUE", "{:.3f} L/kWh"),
    ("mean_tokens_per_s", "throughput", "{:,.0f} tokens/s"),
    ("train_steps_completed", "optimizer steps", "{:,}"),
    ("mean_step_time_s", "mean step time", "{:.2f} s"),
    ("energy_per_token_j", "facility energy per token", "{:.3f} J"),
    ("max_inlet_c", "hottest inlet", "{:.1f} C"),
    ("violation_steps", "thermal violations", "{:,} intervals"),
    ("violation_degree_hours", "violation severity", "{:.2f} C*h"),
)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    from dcsim.config import parse_override

    return dict(parse_override(s) for s in items or [])


@app.command()
@user_errors
def run(
    scenario: str = typer.Argument(
        None, help="Scenario YAML (default: the built-in scenarios/default.yaml)."
    ),
    agent: str = typer.Option(
        "fixed", "--agent", "-a", help="Heuristic name or ALGO:model.zip (e.g. ppo:model.zip)."
    ),
    steps: int = typer.Option(
        None,
        "--steps",
        "-n",
        min=1,
        help="Control intervals to run (default: scenario time.steps).",
    ),
    seed: int = typer.Option(
        None, "--seed", "-s", min=0, help="Random seed (default: scenario seed)."
    ),
    out: str = typer.Option(
        "runs", "--out", "-o", help="Output root; the run goes to OUT/<scenario>/<run_id>/."
    ),
    set_: list[str] = typer.Option(
        None, "--set", help="Override a field: --set cooling.supply_air_setpoint_c=24"
    ),
    no_plot: bool = typer.Option(False, "--no-plot", help="Skip the PNG."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the summary as JSON (no table, no progress)."
    ),
) -> None:
    """Run a scenario with an agent; write config, manifest, summary, time series and a plot."""
    from pathlib import Path

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from dcsim.config import load_scenario
    from dcsim.runner import run_and_write

    loaded = load_scenario(scenario, parse_overrides(set_))
    n = steps or loaded.scenario.time.steps
    if as_json:
        res = run_and_write(loaded, Path(out), agent, n, seed, plot=not no_plot)
    else:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as prog:
            task = prog.add_task(f"{loaded.scenario.name} [{agent}]", total=n)
            res = run_and_write(
                loaded,
                Path(out),
                agent,
                n,
                seed,
                plot=not no_plot,
                on_step=lambda k, _n: prog.update(task, completed=k),
            )
    if as_json:
        print_json(
            {
                "run_dir": str(res.run_dir),
                "run_id": res.run_id,
                "summary": res.summary,
                "system": res.system,
            }
        )
        return
    s = res.summary
    sysd = res.system
    rows = [(label, fmt.format(s[key])) for key, label, fmt in SUMMARY_ROWS if key in s]
    title = (
        f"{loaded.scenario.name}: {sysd['accelerators']} x {sysd['hardware']}, "
        f"{sysd['racks']} racks, {s['hours']:.1f} h, agent {agent}"
    )
    console.print(kv_table(title, rows))
    if sysd.get("air_density_note"):
        style = "bold red" if sysd["air_density_note"].startswith("error") else "yellow"
        console.print(f"[{style}]cooling: {sysd['air_density_note']}[/]", soft_wrap=True)
    console.print(f"run directory: [bold]{res.run_dir}[/]")


@app.command()
@user_errors
def validate(
    files: list[str] = typer.Argument(
        ..., help="Scenario, topology, hardware, sweep or RL task YAML files."
    ),
    kind: str = typer.Option(
        "auto", "--kind", help="auto | scenario | topology | hardware | sweep | task"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
) -> None:
    """Check YAML inputs against their schemas without running anything (exit 2 on the first bad file)."""
    from dcsim.validate import validate_file

    results = []
    for f in files:
        results.append({"file": f, "kind": validate_file(f, kind), "ok": True})
    if as_json:
        print_json(results)
    else:
        for r in results:
            console.print(f"[green]ok[/] {r['file']} ({r['kind']})")


# ---------------------------------------------------------------- reproduce
reproduce_app = typer.Typer(
    help="Reproduce published results with dcsim's models.", no_args_is_help=True
)
app.add_typer(reproduce_app, name="reproduce")


@reproduce_app.command("polca")
@user_errors
def reproduce_polca(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    quick: bool = typer.Option(
        False, "--quick", help="1-hour window, coarser sweep (for smoke tests)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed of load and delays."),
    servers: int = typer.Option(
        40, "--servers", min=1, help="Servers the row budget was provisioned for."
    ),
    max_extra: int = typer.Option(
        60, "--max-extra", min=0, help="Largest oversubscription swept, % of servers."
    ),
    step: int = typer.Option(5, "--step", min=1, help="Sweep step, % of servers."),
    hours: float = typer.Option(4.0, "--hours", min=0.05, help="Simulated peak-hours window."),
    mean_load: float = typer.Option(
        0.6, "--mean-load", min=0.01, max=1.2, help="Mean load / saturation throughput."
    ),
    hp_fraction: float = typer.Option(
        0.5, "--hp-fraction", min=0.0, max=1.0, help="Share of high-priority servers."
    ),
    cap_delay: float = typer.Option(
        40.0, "--cap-delay", min=0.0, help="Max out-of-band clock command delay, s."
    ),
    plot: str = typer.Option("", "--plot", help="Write a PNG of row power over time to this path."),
    hardware: str = typer.Option(
        "A100-80G",
        "--hardware",
        help="Accelerator profile (POLCA clocks map to fractions of f_max).",
    ),
    model: str = typer.Option(
        "llama2-70b", "--model", help="Served LLM: llama2-70b, llama2-13b, bloom-176b."
    ),
) -> None:
    """POLCA (arXiv 2308.12908): more inference servers in a fixed row power budget.

    Sweeps the server count, runs the POLCA controller (80%/89% thresholds, two priorities,
    5% hysteresis, up to 40 s command delay) with a power brake above 100%, and reports
    per count the row peak/average power, capping and brake events and high-priority latency
    impact, then the largest count with zero brakes and <1% P50 impact vs the paper's +30%.
    """
    from dcsim.agents.polca import PolcaController
    from dcsim.polca import RowConfig, characterize, plot_row_power, reproduce

    if quick:
        hours, step = min(hours, 1.0), max(step, 10)
    from dcsim.hardware import get_profile
    from dcsim.inference import get_llm

    get_profile(hardware), get_llm(model)  # unknown names -> InputError (exit 2)
    base = RowConfig(
        hardware=hardware,
        model=model,
        baseline_servers=servers,
        n_servers=servers,
        seed=seed,
        horizon_s=hours * 3600.0,
        mean_load=mean_load,
        high_priority_fraction=hp_fraction,
        cap_delay_max_s=cap_delay,
    )
    table = characterize(
        base.hardware,
        base.model,
        sim_s=90.0 if quick else 150.0,
        warmup_s=20.0 if quick else 30.0,
        seed=seed,
    )
    pcts = tuple(range(0, max_extra + 1, step))
    if not as_json:
        with console.status(f"simulating {len(pcts)} server counts x {hours:g} h ..."):
            report = reproduce(PolcaController, base, pcts, table)
    else:
        report = reproduce(PolcaController, base, pcts, table)
    if plot:
        plot_row_power(report, plot, base)
    if as_json:
        print_json(report.to_dict() | ({"plot": plot} if plot else {}))
        return
    s = report.summary
    table_out = Table(
        title=f"POLCA reproduction: {base.hardware} / {base.model}, budget "
        f"{s['budget_w'] / 1e3:.1f} kW ({servers} servers at nameplate), {hours:g} h"
    )
    cols = (
        "N",
        "+%",
        "peak%",
        "avg%",
        "nocap%",
        "caps",
        "capped%",
        "brakes",
        "HP50 d%",
        "HP99 d%",
        "LP50 d%",
        "ok",
    )
    for c in cols:
        table_out.add_column(c, justify="right")
    for r in report.rows:
        table_out.add_row(
            str(r.n_servers),
            f"{r.extra_pct:.0f}",
            f"{r.peak_pct:.1f}",
            f"{r.avg_pct:.1f}",
            f"{r.uncapped_peak_pct:.1f}",
            str(r.cap_events),
            f"{r.capped_time_pct:.1f}",
            str(r.brake_events),
            f"{r.hp_p50_impact_pct:.2f}",
            f"{r.hp_p99_impact_pct:.2f}",
            f"{r.lp_p50_impact_pct:.2f}",
            "[green]yes[/]" if r.ok else "[red]no[/]",
        )
    console.print(table_out)
    console.print(
        "peak/avg/nocap: row power as % of budget (with POLCA / without control); caps: "
        "escalations; capped%: time any server is capped; d%: latency change vs no control."
    )
    console.print(s["verdict"])
    if plot:
        console.print(f"plot: {plot}")


# ---------------------------------------------------------------- cooling / climate
cooling_app = typer.Typer(
    help="Facility cooling plant, climate and grid carbon.", no_args_is_help=True
)
app.add_typer(cooling_app, name="cooling")


def _cooling_inputs(
    climate: str,
    cooling_type: str,
    liquid_fraction: float,
    country: str,
    supply_air: float,
    economizer: str,
):
    from dcsim.climate import ClimateConfig
    from dcsim.cooling import CoolingConfig
    from dcsim.schema import validate_model

    cool = validate_model(
        CoolingConfig,
        {
            "type": cooling_type,
            "supply_air_setpoint_c": supply_air,
            "economizer": economizer,
            **({"liquid_fraction": liquid_fraction} if cooling_type == "liquid" else {}),
        },
        prefix="cooling",
    )
    clim = validate_model(
        ClimateConfig,
        {"weather": {"preset": climate}, "carbon": {"country": country}},
        prefix="climate",
    )
    return cool, clim


@cooling_app.command("year")
@user_errors
def cooling_year(
    climate: str = typer.Option(
        "temperate", help="Weather preset: temperate, hot-dry, hot-humid, cold."
    ),
    cooling_type: str = typer.Option("air", "--type", help="air or liquid (direct-to-chip)."),
    liquid_fraction: float = typer.Option(
        0.75, help="Share of IT heat to cold plates (type liquid)."
    ),
    country: str = typer.Option(
        "US", help="Grid carbon: ISO country code (see `dcsim cooling carbon`)."
    ),
    racks: int = typer.Option(64, min=1, help="Number of racks."),
    rack_kw: float = typer.Option(20.0, min=0.1, help="Design IT power per rack, kW."),
    load: float = typer.Option(0.8, min=0.01, max=1.5, help="IT load as a share of design."),
    supply_air: float = typer.Option(22.0, help="Supply air setpoint, C."),
    economizer: str = typer.Option("auto", help="Water-side economizer: auto, off, on."),
    days: float = typer.Option(365.0, min=1 / 24, max=3650, help="Days to simulate."),
    seed: int = typer.Option(0, help="Weather seed."),
    plot: str = typer.Option("", help="Write a PNG of daily PUE and weather to this path."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Annual (hourly) PUE, WUE, carbon and economizer hours of the cooling plant at a constant IT load."""
    from dcsim.cooling import plot_period, simulate_period

    cool, clim = _cooling_inputs(
        climate, cooling_type, liquid_fraction, country, supply_air, economizer
    )
    res = simulate_period(
        cool, clim, n_racks=racks, rack_kw=rack_kw, load=load, days=days, seed=seed
    )
    s = res["summary"]
    if plot:
        plot_period(
            res,
            plot,
            title=f"{climate}, {cooling_type} cooling: PUE {s['pue']:.3f}, WUE {s['wue_l_per_kwh']:.2f} L/kWh",
        )
    if as_json:
        print_json(s)
        return
    rows = [
        ("hours simulated", f"{s['hours']:.0f}"),
        ("IT energy (incl. server fans)", f"{s['it_mwh']:.1f} MWh"),
        ("cooling energy", f"{s['cooling_mwh']:.1f} MWh"),
        ("PUE (cooling only)", f"{s['pue']:.3f}"),
        ("WUE", f"{s['wue_l_per_kwh']:.2f} L/kWh"),
        ("water", f"{s['water_m3']:.0f} m3"),
        ("carbon", f"{s['carbon_t']:.1f} tCO2e"),
        (
            "economizer hours (any / full)",
            f"{s['economizer_hours']:.0f} / {s['full_free_cooling_hours']:.0f}",
        ),
        ("hottest rack inlet", f"{s['inlet_max_c']:.1f} C"),
        ("mean dry / wet bulb", f"{s['mean_dry_bulb_c']:.1f} / {s['mean_wet_bulb_c']:.1f} C"),
    ]
    rows += [
        (f"  {k.removesuffix('_w')}", f"{v:.1f} MWh")
        for k, v in s["breakdown_mwh"].items()
        if v > 0
    ]
    console.print(kv_table(f"cooling plant, {climate}, {cooling_type}", rows))
    if s["air_density_check"]:
        console.print(f"[yellow]{s['air_density_check']}[/]")
    if plot:
        console.print(f"plot: {plot}")


@cooling_app.command("compare")
@user_errors
def cooling_compare(
    rack_kw: float = typer.Option(20.0, min=0.1, help="Design IT power per rack, kW."),
    load: float = typer.Option(0.8, min=0.01, max=1.5, help="IT load as a share of design."),
    days: float = typer.Option(365.0, min=1, max=3650, help="Days to simulate."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Air vs direct-to-chip liquid cooling across the climate presets: annual PUE and WUE."""
    from dcsim.climate import presets
    from dcsim.cooling import simulate_period

    out = []
    for name in presets():
        for typ in ("air", "liquid"):
            cool, clim = _cooling_inputs(name, typ, 0.75, "US", 22.0, "auto")
            s = simulate_period(cool, clim, rack_kw=rack_kw, load=load, days=days)["summary"]
            out.append(
                {
                    "climate": name,
                    "type": typ,
                    "pue": s["pue"],
                    "wue_l_per_kwh": s["wue_l_per_kwh"],
                    "economizer_hours": s["economizer_hours"],
                    "air_density_check": s["air_density_check"],
                }
            )
    if as_json:
        print_json(out)
        return
    table = Table(title=f"annual cooling, {rack_kw:g} kW racks at {load:.0%} load")
    for col in ("climate", "type", "PUE", "WUE L/kWh", "economizer h", "note"):
        table.add_column(col, justify="left" if col in ("climate", "type", "note") else "right")
    for r in out:
        table.add_row(
            r["climate"],
            r["type"],
            f"{r['pue']:.3f}",
            f"{r['wue_l_per_kwh']:.2f}",
            f"{r['economizer_hours']:.0f}",
            (r["air_density_check"] or "").split(" per rack")[0],
        )
    console.print(table)


@cooling_app.command("carbon")
@user_errors
def cooling_carbon(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Bundled annual grid carbon intensities by country, with sources."""
    from dcsim.climate import grid_carbon_table

    rows = sorted(grid_carbon_table().values(), key=lambda r: float(r["g_per_kwh"]))
    if as_json:
        print_json(rows)
        return
    table = Table(title="grid carbon intensity, gCO2e/kWh (annual average of generation)")
    for col in ("code", "country", "g/kWh", "year", "confidence", "source"):
        table.add_column(col, justify="right" if col == "g/kWh" else "left", overflow="fold")
    for r in rows:
        table.add_row(
            r["country"], r["name"], r["g_per_kwh"], r["year"], r["confidence"], r["source"]
        )
    console.print(table)


@cooling_app.command("presets")
@user_errors
def cooling_presets(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Synthetic-weather presets (climate normals of a representative city)."""
    from dcsim.climate import presets

    p = presets()
    if as_json:
        print_json(p)
        return
    table = Table(title="weather presets")
    for col in (
        "name",
        "city",
        "lat",
        "mean C",
        "annual +/- C",
        "daily +/- C",
        "dew point C",
        "source",
    ):
        table.add_column(col, overflow="fold")
    for name, v in p.items():
        table.add_row(
            name,
            v["city"],
            f"{v['latitude_deg']:g}",
            f"{v['mean_c']:g}",
            f"{v['annual_amplitude_c']:g}",
            f"{v['daily_amplitude_c']:g}",
            f"{v['dew_point_mean_c']:g}",
            v["source"],
        )
    console.print(table)


# ---------------------------------------------------------------- sweep / plot
@app.command()
@user_errors
def sweep(
    file: str = typer.Argument(..., help="Sweep YAML (see scenarios/sweeps/)."),
    overrides: list[str] = typer.Argument(
        None,
        help="KEY=V1,V2 overrides: a parameter (cluster.hardware=H100-SXM,B200) or seeds/steps/agent/samples.",
    ),
    executor: str = typer.Option(
        "serial", "--executor", "-e", help="serial | local (processes) | dask"
    ),
    workers: int = typer.Option(
        None, "--workers", "-w", min=1, help="Worker processes (default: CPU count)."
    ),
    address: str = typer.Option(
        None, "--address", help="Dask scheduler, e.g. tcp://10.0.0.1:8786 (else a LocalCluster)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate and list the runs; run nothing."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Reuse complete run directories; run only the missing ones."
    ),
    out: str = typer.Option(
        "runs", "--out", "-o", help="Output root; the sweep goes to OUT/<sweep name>/."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the result as JSON (no table, no progress)."
    ),
) -> None:
    """Run a YAML sweep (grid, zip or random) serially, on local processes or on a Dask cluster.

    Every run's scenario is validated before anything runs (exit 2 on a bad parameter).
    Results: OUT/<name>/index.csv (one row per run) and OUT/<name>/runs/<run_id>/.
    Exit 1 if any run failed (its row has the error), 130 if interrupted (resume with --resume).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from dcsim.sweep import EXECUTORS, run_sweep, short, sweep_dir_for
    from dcsim.sweep import plan_sweep as _plan

    if executor not in EXECUTORS:
        raise InputError(
            f"unknown executor '{executor}'; expected one of: {', '.join(EXECUTORS)}",
            field="--executor",
        )
    plan = _plan(file, overrides)
    sweep_dir = sweep_dir_for(plan, out)
    if dry_run:
        if as_json:
            print_json(plan.describe() | {"sweep_dir": str(sweep_dir)})
            return
        table = Table(
            title=f"sweep {plan.name}: {len(plan.runs)} runs ({plan.spec.method}), "
            f"{plan.runs[0].steps if plan.runs else 0} steps, agent {plan.spec.agent}"
        )
        table.add_column("#", justify="right")
        table.add_column("run id")
        table.add_column("seed", justify="right")
        for k in plan.parameters:
            table.add_column(k)
        for i, r in enumerate(plan.runs[:200]):
            table.add_row(
                str(i), r.run_id, str(r.seed), *(short(r.params.get(k)) for k in plan.parameters)
            )
        console.print(table)
        if len(plan.runs) > 200:
            console.print(f"... and {len(plan.runs) - 200} more")
        console.print(
            f"all {len(plan.runs)} scenarios valid; output would go to [bold]{sweep_dir}[/]"
        )
        return
    try:
        if as_json:
            res = run_sweep(plan, out, executor, workers, address, resume)
        else:
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("[red]{task.fields[failed]} failed[/]"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=err_console,
            ) as prog:
                task = prog.add_task(f"{plan.name} [{executor}]", total=len(plan.runs), failed=0)

                def on_progress(_o: Any, c: dict[str, int]) -> None:
                    prog.update(task, completed=c["done"], failed=c["failed"])

                res = run_sweep(
                    plan, out, executor, workers, address, resume, on_progress=on_progress
                )
    except KeyboardInterrupt:
        err_console.print(
            f"[yellow]interrupted[/]: finished runs are kept in {sweep_dir}; "
            f"rerun with --resume to run only the missing ones"
        )
        raise typer.Exit(code=130) from None
    c = res.counts()
    if as_json:
        print_json(res.to_dict())
    else:
        table = Table(title=f"sweep {plan.name}: {c['total']} runs")
        for col in ("complete", "reused", "ran now", "failed"):
            table.add_column(col, justify="right")
        table.add_row(str(c["complete"]), str(c["reused"]), str(c["ran"]), str(c["failed"]))
        console.print(table)
        if c["reused"]:
            console.print(f"resume: reused {c['reused']} complete run(s), ran {c['ran']}")
        for o in res.outcomes:
            if o.status == "failed":
                console.print(
                    f"[red]failed[/] {o.spec.run_id} {o.spec.params}: {o.error}", soft_wrap=True
                )
        console.print(
            f"index: [bold]{res.sweep_dir / 'index.csv'}[/]   plot: dcsim plot {res.sweep_dir}"
        )
    if c["failed"]:
        raise typer.Exit(code=1)


@app.command()
@user_errors
def plot(
    path: str = typer.Argument(
        ..., help="A run directory (has timeseries.csv) or a sweep directory (has index.csv)."
    ),
    out: str = typer.Option(
        None, "--out", "-o", help="PNG path (default: timeseries.png / sweep.png inside PATH)."
    ),
    x: str = typer.Option(
        "mean_step_time_s", "--x", help="Sweep Pareto x metric (lower is better)."
    ),
    y: str = typer.Option(
        "energy_per_token_j", "--y", help="Sweep Pareto y metric (lower is better)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was drawn as JSON."),
) -> None:
    """Draw a run's time series, or a sweep's Pareto front and metric-vs-parameter panels."""
    from dcsim.sweep_plots import plot_path

    info = plot_path(path, out, x=x, y=y)
    if as_json:
        print_json(info)
        return
    console.print(f"wrote [bold]{info['png']}[/]")
    for p in info.get("pareto", []):
        console.print(f"  non-dominated: {p['label']}  ({x}={p[x]:.4g}, {y}={p[y]:.4g})")


# ---------------------------------------------------------------- topology / collective (network)
topology_app = typer.Typer(help="Network fabrics (topologies/*.yaml).", no_args_is_help=True)
app.add_typer(topology_app, name="topology")


@topology_app.command("show")
@user_errors
def topology_show(
    file: str = typer.Argument(
        ..., help="Topology YAML path, or a preset name such as leaf_spine_small."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Size, bisection bandwidth, oversubscription and failures of a fabric."""
    from dcsim.network import load_topology

    fab = load_topology(file)
    s = fab.summary()
    if as_json:
        print_json(s)
        return
    rows = [
        ("kind", s["kind"]),
        ("hosts (one NIC per accelerator)", f"{s['n_hosts']:,}"),
        ("switches", f"{s['n_switches']:,}"),
        ("cables / directed links", f"{s['n_cables']:,} / {s['n_links']:,}"),
        ("host bandwidth", f"{s['host_bw_GBps']:,.1f} GB/s"),
        (
            "bisection bandwidth",
            f"{s['bisection_bw_GBps']:,.0f} GB/s ({s['bisection_bw_Tbps']:,.1f} Tb/s)",
        ),
        ("oversubscription", f"{s['oversubscription']:.3g}:1"),
        ("hop latency", f"{s['hop_latency_us']:g} us"),
        ("diameter", f"{s['diameter_hops']} links"),
        ("failed cables", ", ".join(s["failed_links"]) or "none"),
    ]
    if "scale_up" in s:
        su = s["scale_up"]
        rows.append(
            (
                "scale-up domain",
                f"{su['kind']}, {su['n_hosts']} accelerators, {su['host_bw_GBps']:.0f} GB/s each",
            )
        )
    console.print(kv_table(f"{s['name']} ({fab.config.description or s['kind']})", rows))


@topology_app.command("list")
@user_errors
def topology_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Bundled topology presets."""
    from dcsim.network import list_presets, load_topology

    out = []
    for p in list_presets():
        s = load_topology(p).summary()
        out.append(
            {
                "file": p.name,
                **{
                    k: s[k]
                    for k in (
                        "kind",
                        "n_hosts",
                        "n_switches",
                        "bisection_bw_GBps",
                        "oversubscription",
                    )
                },
            }
        )
    if as_json:
        print_json(out)
        return
    table = Table(title="bundled topologies")
    for col in ("file", "kind", "hosts", "switches", "bisection GB/s", "oversub"):
        table.add_column(
            col, justify="left" if col in ("file", "kind") else "right", no_wrap=col == "file"
        )
    for r in out:
        table.add_row(
            r["file"],
            r["kind"],
            f"{r['n_hosts']:,}",
            f"{r['n_switches']:,}",
            f"{r['bisection_bw_GBps']:,.0f}",
            f"{r['oversubscription']:.3g}",
        )
    console.print(table)


@app.command("collective")
@user_errors
def collective_cmd(
    topology: str = typer.Option(
        "leaf_spine_small", "--topology", "-t", help="Topology YAML path or preset name."
    ),
    collective: str = typer.Option(
        "all-reduce",
        "--collective",
        "-c",
        help="all-reduce | all-gather | reduce-scatter | all-to-all | broadcast",
    ),
    algorithm: str = typer.Option(
        "ring",
        "--algorithm",
        "-a",
        help="ring | halving-doubling | double-binary-tree | direct | pairwise | hierarchical",
    ),
    size: str = typer.Option(
        "1GiB", "--size", "-s", help="Message size (nccl-tests convention), e.g. 1GiB, 64MiB."
    ),
    routing: str = typer.Option(
        "ecmp", "--routing", "-r", help="ecmp[:K] | spray | split:K | colour[:K]"
    ),
    seed: int = typer.Option(0, "--seed", help="ECMP hash seed (and rank shuffle seed)."),
    ranks: int = typer.Option(0, "--ranks", "-n", help="Use the first N hosts (0 = all)."),
    shuffle: bool = typer.Option(
        False, "--shuffle", help="Random rank order (seeded) instead of host order."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    plot: str = typer.Option("", "--plot", help="Write a PNG heat map of link utilization here."),
) -> None:
    """Time one collective on a fabric: time, algbw, busbw, max link utilization."""
    import numpy as np

    from dcsim.network import collective_time, load_topology, parse_size

    fab = load_topology(topology)
    n = ranks or fab.n_hosts
    if not 2 <= n <= fab.n_hosts:
        raise InputError(f"--ranks must be in 2..{fab.n_hosts} (got {ranks})", field="ranks")
    order = np.random.default_rng(seed).permutation(fab.n_hosts)[:n] if shuffle else np.arange(n)
    res = collective_time(
        fab,
        collective=collective,
        algorithm=algorithm,
        size_bytes=parse_size(size),
        routing=routing,
        seed=seed,
        ranks=order,
    )
    out = {"topology": fab.name, **res.as_dict()}
    if plot:
        from dcsim.network.plots import link_heatmap

        title = (
            f"{fab.name}: {res.collective} {res.algorithm} {size} x {res.n_ranks} ranks, "
            f"{routing}: {res.time_s * 1e3:.2f} ms, max util {res.max_link_util:.2f}"
        )
        out["plot"] = str(link_heatmap(fab, res.link_util, plot, title))
    if as_json:
        print_json(out)
        return
    rows = [
        ("time", f"{res.time_s * 1e3:,.3f} ms"),
        ("algbw", f"{res.algbw_Bps / 1e9:,.2f} GB/s"),
        ("busbw", f"{res.busbw_Bps / 1e9:,.2f} GB/s"),
        ("max link utilization", f"{res.max_link_util:.3f}"),
        ("congestion (worst link / NIC)", f"{res.congestion:.3f}"),
        ("latency share", f"{res.latency_s / res.time_s:.1%}" if res.time_s > 0 else "-"),
        ("steps / distinct solves", f"{res.n_steps:,} / {res.n_solves:,}"),
    ]
    console.print(
        kv_table(
            f"{res.collective} ({res.algorithm}, {routing}) on {fab.name}, {res.n_ranks} ranks, {size}",
            rows,
        )
    )
    if plot:
        console.print(f"heat map: {out['plot']}")


# ---------------------------------------------------------------- RL: envs / train / evaluate / compare
def _parse_kv(items: list[str] | None, what: str) -> dict[str, Any]:
    from dcsim.config import parse_override

    out: dict[str, Any] = {}
    for s in items or []:
        try:
            k, v = parse_override(s)
        except InputError as exc:
            raise InputError(exc.message, field=what) from None
        out[k] = v
    return out


def _rl_spec(
    scenario: str | None, env: str | None, set_: list[str] | None, reward: list[str] | None
):
    from dcsim.evaluation import load_spec

    weights = _parse_kv(reward, "reward")
    return load_spec(scenario, env, parse_overrides(set_) or None, weights or None)


def _fmt_ci(mean: float, ci: float) -> str:
    import math

    if not math.isfinite(mean):
        return "-"
    mag = max(abs(mean), abs(ci) if math.isfinite(ci) else 0.0)
    fmt = "{:,.0f}" if mag >= 1000 else ("{:.2f}" if mag >= 1 else "{:.4g}")
    return fmt.format(mean) + (f" ± {fmt.format(ci)}" if math.isfinite(ci) else "")


SCENARIO_HELP = (
    "dcsim scenario YAML (default: built-in) or task file with env:/kwargs:/reward: "
    "(e.g. scenarios/tasks/placement.yaml)"
)
ENV_HELP = "Env id or short name: datacenter, cooling, powercap, flowsplit, placement (default: the task file's, else Datacenter-v0)."


@app.command()
@user_errors
def envs(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the Gymnasium env ids with their spaces and the agents available for each."""
    from dcsim.agents import available
    from dcsim.evaluation import env_class, env_ids

    rows = []
    for env_id in env_ids():
        try:
            env = env_class(env_id)()
            rows.append(
                {
                    "env": env_id,
                    "action_space": str(env.action_space),
                    "observation_space": str(env.observation_space),
                    "agents": available(env),
                }
            )
            env.close()
        except Exception as exc:  # noqa: BLE001 - report an unavailable env instead of failing the list
            rows.append({"env": env_id, "error": str(exc).splitlines()[0][:120]})
    if as_json:
        print_json(rows)
        return
    table = Table(title="dcsim environments")
    for col in ("env", "actions", "observations", "agents (plus ALGO:model.zip)"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["env"],
            r.get("action_space", "[red]unavailable[/]"),
            r.get("observation_space", r.get("error", "")),
            ", ".join(r.get("agents", [])),
        )
    console.print(table)


@app.command()
@user_errors
def train(
    scenario: str = typer.Argument(None, help=SCENARIO_HELP),
    env: str = typer.Option(None, "--env", "-e", help=ENV_HELP),
    algo: str = typer.Option(
        "ppo",
        "--algo",
        help="ppo | sac | td3 | a2c | dqn (DQN only for Discrete actions: Placement-v0).",
    ),
    timesteps: int = typer.Option(
        20_000, "--timesteps", "-t", min=1, help="Environment steps to train for."
    ),
    seed: int = typer.Option(
        0, "--seed", "-s", min=0, help="Seed of the algorithm and envs (env i gets seed + i)."
    ),
    n_envs: int = typer.Option(
        1,
        "--n-envs",
        min=1,
        max=64,
        help="Parallel envs; > 1 uses SubprocVecEnv (one process each).",
    ),
    dummy: bool = typer.Option(
        False, "--dummy", help="With --n-envs > 1, step the envs in this process (DummyVecEnv)."
    ),
    normalize: bool = typer.Option(
        False,
        "--normalize",
        help="VecNormalize observations and rewards (stats saved as obs_norm.json).",
    ),
    tensorboard: str = typer.Option(
        None, "--tensorboard", help="Write TensorBoard logs to this folder (needs tensorboard)."
    ),
    checkpoint_every: int = typer.Option(
        0, "--checkpoint-every", min=0, help="Save model checkpoints every N steps (0: off)."
    ),
    hp: list[str] = typer.Option(
        None, "--hp", help="Algorithm hyperparameter, e.g. --hp n_steps=512 --hp learning_rate=1e-3"
    ),
    set_: list[str] = typer.Option(
        None, "--set", help="Override a scenario field or task kwarg: --set n_jobs=64"
    ),
    reward: list[str] = typer.Option(
        None, "--reward", help="Reward weight: --reward energy=2 (term names of the env)."
    ),
    out: str = typer.Option(
        "runs/train",
        "--out",
        "-o",
        help="Output root; the run goes to OUT/<name>/<algo>-<run_id>/.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the manifest as JSON (no progress bar)."
    ),
) -> None:
    """Train a Stable-Baselines3 agent; saves model.zip, manifest.json and training.csv atomically."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from dcsim.training import train as do_train

    spec = _rl_spec(scenario, env, set_, reward)
    hyper = _parse_kv(hp, "hp")
    kw = dict(
        algo=algo,
        timesteps=timesteps,
        seed=seed,
        n_envs=n_envs,
        out=out,
        tensorboard=tensorboard,
        hyperparams=hyper,
        checkpoint_every=checkpoint_every,
        subproc=(n_envs > 1 and not dummy),
        normalize=normalize,
    )
    if as_json:
        res = do_train(spec, **kw)
        print_json(res.manifest | {"run_dir": str(res.run_dir), "model": str(res.model_path)})
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task(f"{algo.upper()} on {spec.env_id} ({spec.name})", total=timesteps)
        res = do_train(spec, **kw, on_step=lambda k: prog.update(task, completed=min(k, timesteps)))
    m = res.manifest
    last = m["final_mean_return_last10"]
    console.print(
        kv_table(
            f"trained {algo.upper()} on {spec.env_id} ({spec.name})",
            [
                (
                    "timesteps",
                    f"{m['timesteps']:,}"
                    + (
                        f" (asked {timesteps:,}; SB3 finishes the last rollout)"
                        if m["timesteps"] != timesteps
                        else ""
                    ),
                ),
                ("seed", str(seed)),
                ("parallel envs", f"{n_envs} ({m['vec_env']})"),
                ("episodes finished", str(m["episodes_finished"])),
                ("mean return, last 10 episodes", "-" if last is None else f"{last:.3f}"),
            ],
        )
    )
    console.print(f"model: {res.model_path}", soft_wrap=True)
    sets = "".join(f" --set {s}" for s in set_ or [])
    console.print(
        f"evaluate: dcsim evaluate {spec.source or ''} --env {spec.env_id}{sets} "
        f"--agent {algo}:{res.model_path}",
        soft_wrap=True,
    )


def _episodes_table(title: str, stats: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("mean ± 95% CI", justify="right")
    table.add_column("n", justify="right")
    for k, s in stats.items():
        table.add_row(k, _fmt_ci(s["mean"], s["ci95"]), f"{s['n']:.0f}")
    return table


@app.command()
@user_errors
def evaluate(
    scenario: str = typer.Argument(None, help=SCENARIO_HELP),
    agent: str = typer.Option(
        ..., "--agent", "-a", help="Heuristic name (see `dcsim envs`), random, or ALGO:model.zip."
    ),
    env: str = typer.Option(None, "--env", "-e", help=ENV_HELP),
    episodes: int = typer.Option(
        5, "--episodes", "-n", min=1, help="Episodes, reset seeds seed..seed+n-1."
    ),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="First reset seed."),
    max_steps: int = typer.Option(
        None, "--max-steps", min=1, help="Cut episodes after this many steps."
    ),
    set_: list[str] = typer.Option(None, "--set", help="Override a scenario field or task kwarg."),
    reward: list[str] = typer.Option(None, "--reward", help="Reward weight: --reward energy=2."),
    as_json: bool = typer.Option(
        False, "--json", help="Print per-episode metrics and statistics as JSON."
    ),
) -> None:
    """Run an agent for some episodes; every episode metric with mean and 95% CI (Student t)."""
    from dcsim.evaluation import evaluate as do_eval

    spec = _rl_spec(scenario, env, set_, reward)
    if as_json:
        ev = do_eval(spec, agent, episodes, seed, max_steps)
        print_json(ev.as_dict() | {"env": spec.as_dict()})
        return
    with console.status(f"{agent} on {spec.env_id}: {episodes} episodes ..."):
        ev = do_eval(spec, agent, episodes, seed, max_steps)
    console.print(
        _episodes_table(
            f"{agent} on {spec.env_id} ({spec.name}), seeds {seed}..{seed + episodes - 1}", ev.stats
        )
    )


@app.command()
@user_errors
def compare(
    scenario: str = typer.Argument(None, help=SCENARIO_HELP),
    agents: str = typer.Option(
        None, "--agents", "-a", help="Comma-separated agents (default: every heuristic + random)."
    ),
    env: str = typer.Option(None, "--env", "-e", help=ENV_HELP),
    seeds: int = typer.Option(
        5,
        "--seeds",
        "-n",
        min=1,
        help="Episodes per agent, reset seeds seed..seed+n-1 (same for all).",
    ),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="First reset seed."),
    max_steps: int = typer.Option(
        None, "--max-steps", min=1, help="Cut episodes after this many steps."
    ),
    set_: list[str] = typer.Option(None, "--set", help="Override a scenario field or task kwarg."),
    reward: list[str] = typer.Option(None, "--reward", help="Reward weight: --reward energy=2."),
    out: str = typer.Option(
        "runs/compare", "--out", "-o", help="Output root; files go to OUT/<name>/compare-<id>/."
    ),
    no_plot: bool = typer.Option(False, "--no-plot", help="Skip the PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print statistics as JSON."),
) -> None:
    """Compare agents on the same seeds: table of every metric (mean ± 95% CI), CSV and PNG bar chart."""
    from pathlib import Path

    from dcsim.agents import available
    from dcsim.evaluation import build_env
    from dcsim.evaluation import compare as do_compare
    from dcsim.results import RunWriter, contained, csv_text, run_id, safe_name

    spec = _rl_spec(scenario, env, set_, reward)
    if agents:
        names = [a.strip() for a in agents.split(",") if a.strip()]
    else:
        probe = build_env(spec)
        names = available(probe)
        probe.close()
    if as_json:
        comp = do_compare(spec, names, seeds, seed, max_steps)
    else:
        with console.status(f"{len(names)} agents x {seeds} seeds on {spec.env_id} ..."):
            comp = do_compare(spec, names, seeds, seed, max_steps)
    rid = run_id(spec.as_dict(), seed, {"agents": names, "seeds": seeds, "max_steps": max_steps})
    final = contained(Path(out), safe_name(spec.name), f"compare-{rid}")
    with RunWriter(final) as writer:
        writer.write_text("compare.csv", csv_text(comp.rows()))
        ep_rows = [
            {"agent": e.label, "seed": s, **ep}
            for e in comp.evaluations
            for s, ep in zip(e.seeds, e.episodes, strict=True)
        ]
        writer.write_text("episodes.csv", csv_text(ep_rows))
        writer.write_json("summary.json", comp.as_dict())
        if not no_plot:
            from dcsim.compare_plot import plot_comparison, stats_of

            plot_comparison(
                stats_of(comp),
                writer.path("compare.png"),
                f"{spec.env_id} ({spec.name}), {seeds} seeds",
            )
        run_dir = writer.commit()
    if as_json:
        print_json(comp.as_dict() | {"out": str(run_dir)})
        return
    table = Table(
        title=f"{spec.env_id} ({spec.name}): mean ± 95% CI over {seeds} seeds ({seed}..{seed + seeds - 1})"
    )
    table.add_column("metric", no_wrap=True)
    for e in comp.evaluations:
        table.add_column(e.label, justify="right", overflow="fold")
    for k in comp.metrics():
        table.add_row(
            k,
            *[
                _fmt_ci(e.stats[k]["mean"], e.stats[k]["ci95"]) if k in e.stats else "-"
                for e in comp.evaluations
            ],
        )
    console.print(table)
    console.print(
        f"written: {run_dir}/compare.csv, episodes.csv, summary.json"
        + ("" if no_plot else ", compare.png")
    )


# ---------------------------------------------------------------- (more commands below)


if __name__ == "__main__":
    app()
