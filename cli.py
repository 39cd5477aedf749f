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
            err_console.print(f"[bold red]error:[/] {exc.render()}", highlight=False, soft_wrap=True)
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
    table = Table(title="dcsim hardware catalog (dense BF16)")
    for col in ("name", "kind", "vendor", "TFLOPS", "HBM GB", "HBM TB/s", "TDP W", "scale-up GB/s", "low-confidence fields"):
        table.add_column(col, justify="right" if col[0].isupper() or " " in col else "left")
    for name, p in cat.items():
        low = p.low_confidence_fields()
        table.add_row(
            name, p.kind, p.vendor,
            f"{p.compute.bf16_dense_tflops.value:g}", f"{p.memory.hbm_gb.value:g}",
            f"{p.memory.hbm_tbps.value:g}",
            f"{p.power.tdp_w.value:g}" + ("*" if p.power.tdp_w.confidence == "low" else ""),
            f"{p.interconnect.scaleup_gBps_per_dir.value:g}",
            str(len(low)),
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
    from dcsim.schema import Sourced

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
                table.add_row(prefix + fname, f"{val.value:g}", val.unit, val.confidence, val.source, style=style)
            elif hasattr(val, "model_fields"):
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
    scenario: str = typer.Argument(None, help="Scenario YAML (default: the built-in scenarios/default.yaml)."),
    agent: str = typer.Option("fixed", "--agent", "-a", help="Heuristic name or ALGO:model.zip (e.g. ppo:model.zip)."),
    steps: int = typer.Option(None, "--steps", "-n", min=1, help="Control intervals to run (default: scenario time.steps)."),
    seed: int = typer.Option(None, "--seed", "-s", min=0, help="Random seed (default: scenario seed)."),
    out: str = typer.Option("runs", "--out", "-o", help="Output root; the run goes to OUT/<scenario>/<run_id>/."),
    set_: list[str] = typer.Option(None, "--set", help="Override a field: --set cooling.supply_air_setpoint_c=24"),
    no_plot: bool = typer.Option(False, "--no-plot", help="Skip the PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (no table, no progress)."),
) -> None:
    """Run a scenario with an agent; write config, manifest, summary, time series and a plot."""
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dcsim.config import load_scenario
    from dcsim.runner import run_and_write

    loaded = load_scenario(scenario, parse_overrides(set_))
    n = steps or loaded.scenario.time.steps
    if as_json:
        res = run_and_write(loaded, Path(out), agent, n, seed, plot=not no_plot)
    else:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err_console, transient=True) as prog:
            task = prog.add_task(f"{loaded.scenario.name} [{agent}]", total=n)
            res = run_and_write(loaded, Path(out), agent, n, seed, plot=not no_plot,
                                on_step=lambda k, _n: prog.update(task, completed=k))
    if as_json:
        print_json({"run_dir": str(res.run_dir), "run_id": res.run_id, "summary": res.summary, "system": res.system})
        return
    s = res.summary
    sysd = res.system
    rows = [(label, fmt.format(s[key])) for key, label, fmt in SUMMARY_ROWS if key in s]
    title = (f"{loaded.scenario.name}: {sysd['accelerators']} x {sysd['hardware']}, "
             f"{sysd['racks']} racks, {s['hours']:.1f} h, agent {agent}")
    console.print(kv_table(title, rows))
    console.print(f"run directory: [bold]{res.run_dir}[/]")


@app.command()
@user_errors
def validate(
    files: list[str] = typer.Argument(..., help="Scenario, topology, hardware or sweep YAML files."),
    kind: str = typer.Option("auto", "--kind", help="auto | scenario | topology | hardware | sweep"),
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
reproduce_app = typer.Typer(help="Reproduce published results with dcsim's models.", no_args_is_help=True)
app.add_typer(reproduce_app, name="reproduce")


@reproduce_app.command("polca")
@user_errors
def reproduce_polca(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    quick: bool = typer.Option(False, "--quick", help="1-hour window, coarser sweep (for smoke tests)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of load and delays."),
    servers: int = typer.Option(40, "--servers", min=1, help="Servers the row budget was provisioned for."),
    max_extra: int = typer.Option(60, "--max-extra", min=0, help="Largest oversubscription swept, % of servers."),
    step: int = typer.Option(5, "--step", min=1, help="Sweep step, % of servers."),
    hours: float = typer.Option(4.0, "--hours", min=0.05, help="Simulated peak-hours window."),
    mean_load: float = typer.Option(0.6, "--mean-load", min=0.01, max=1.2, help="Mean load / saturation throughput."),
    hp_fraction: float = typer.Option(0.5, "--hp-fraction", min=0.0, max=1.0, help="Share of high-priority servers."),
    cap_delay: float = typer.Option(40.0, "--cap-delay", min=0.0, help="Max out-of-band clock command delay, s."),
    plot: str = typer.Option("", "--plot", help="Write a PNG of row power over time to this path."),
) -> None:
    """POLCA (arXiv 2308.12908): more inference servers in a fixed row power budget.

    Sweeps the server count, runs the POLCA controller (80%/89% thresholds, two priorities,
    5% hysteresis, up to 40 s command delay) with a power brake above 100%, and reports
    per count the row peak/average power, capping and brake events and high-priority latency
    impact, then the largest count with zero brakes and <1% P50 impact vs the paper's +30%.
    """
    from agents.polca import PolcaController
    from dcsim.polca import RowConfig, characterize, plot_row_power, reproduce

    if quick:
        hours, step = min(hours, 1.0), max(step, 10)
    base = RowConfig(
        baseline_servers=servers, n_servers=servers, seed=seed, horizon_s=hours * 3600.0,
        mean_load=mean_load, high_priority_fraction=hp_fraction, cap_delay_max_s=cap_delay,
    )
    table = characterize(base.hardware, base.model, sim_s=90.0 if quick else 150.0,
                         warmup_s=20.0 if quick else 30.0, seed=seed)
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
    table_out = Table(title=f"POLCA reproduction: {base.hardware} / {base.model}, budget "
                      f"{s['budget_w'] / 1e3:.1f} kW ({servers} servers at nameplate), {hours:g} h")
    cols = ("N", "+%", "peak%", "avg%", "nocap%", "caps", "capped%",
            "brakes", "HP50 d%", "HP99 d%", "LP50 d%", "ok")
    for c in cols:
        table_out.add_column(c, justify="right")
    for r in report.rows:
        table_out.add_row(
            str(r.n_servers), f"{r.extra_pct:.0f}", f"{r.peak_pct:.1f}", f"{r.avg_pct:.1f}",
            f"{r.uncapped_peak_pct:.1f}", str(r.cap_events), f"{r.capped_time_pct:.1f}",
            str(r.brake_events), f"{r.hp_p50_impact_pct:.2f}", f"{r.hp_p99_impact_pct:.2f}",
            f"{r.lp_p50_impact_pct:.2f}", "[green]yes[/]" if r.ok else "[red]no[/]",
        )
    console.print(table_out)
    console.print("peak/avg/nocap: row power as % of budget (with POLCA / without control); caps: "
                  "escalations; capped%: time any server is capped; d%: latency change vs no control.")
    console.print(s["verdict"])
    if plot:
        console.print(f"plot: {plot}")


# ---------------------------------------------------------------- cooling / climate
cooling_app = typer.Typer(help="Facility cooling plant, climate and grid carbon.", no_args_is_help=True)
app.add_typer(cooling_app, name="cooling")


def _cooling_inputs(
    climate: str, cooling_type: str, liquid_fraction: float, country: str, supply_air: float, economizer: str
):
    from dcsim.climate import ClimateConfig
    from dcsim.cooling import CoolingConfig
    from dcsim.schema import validate_model

    cool = validate_model(
        CoolingConfig,
        {"type": cooling_type, "supply_air_setpoint_c": supply_air, "economizer": economizer,
         **({"liquid_fraction": liquid_fraction} if cooling_type == "liquid" else {})},
        prefix="cooling",
    )
    clim = validate_model(ClimateConfig, {"weather": {"preset": climate}, "carbon": {"country": country}}, prefix="climate")
    return cool, clim


@cooling_app.command("year")
@user_errors
def cooling_year(
    climate: str = typer.Option("temperate", help="Weather preset: temperate, hot-dry, hot-humid, cold."),
    cooling_type: str = typer.Option("air", "--type", help="air or liquid (direct-to-chip)."),
    liquid_fraction: float = typer.Option(0.75, help="Share of IT heat to cold plates (type liquid)."),
    country: str = typer.Option("US", help="Grid carbon: ISO country code (see `dcsim cooling carbon`)."),
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

    cool, clim = _cooling_inputs(climate, cooling_type, liquid_fraction, country, supply_air, economizer)
    res = simulate_period(cool, clim, n_racks=racks, rack_kw=rack_kw, load=load, days=days, seed=seed)
    s = res["summary"]
    if plot:
        plot_period(res, plot, title=f"{climate}, {cooling_type} cooling: PUE {s['pue']:.3f}, WUE {s['wue_l_per_kwh']:.2f} L/kWh")
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
        ("economizer hours (any / full)", f"{s['economizer_hours']:.0f} / {s['full_free_cooling_hours']:.0f}"),
        ("hottest rack inlet", f"{s['inlet_max_c']:.1f} C"),
        ("mean dry / wet bulb", f"{s['mean_dry_bulb_c']:.1f} / {s['mean_wet_bulb_c']:.1f} C"),
    ]
    rows += [(f"  {k.removesuffix('_w')}", f"{v:.1f} MWh") for k, v in s["breakdown_mwh"].items() if v > 0]
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
            out.append({"climate": name, "type": typ, "pue": s["pue"], "wue_l_per_kwh": s["wue_l_per_kwh"],
                        "economizer_hours": s["economizer_hours"], "air_density_check": s["air_density_check"]})
    if as_json:
        print_json(out)
        return
    table = Table(title=f"annual cooling, {rack_kw:g} kW racks at {load:.0%} load")
    for col in ("climate", "type", "PUE", "WUE L/kWh", "economizer h", "note"):
        table.add_column(col, justify="left" if col in ("climate", "type", "note") else "right")
    for r in out:
        table.add_row(r["climate"], r["type"], f"{r['pue']:.3f}", f"{r['wue_l_per_kwh']:.2f}",
                      f"{r['economizer_hours']:.0f}", (r["air_density_check"] or "").split(" per rack")[0])
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
        table.add_row(r["country"], r["name"], r["g_per_kwh"], r["year"], r["confidence"], r["source"])
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
    for col in ("name", "city", "lat", "mean C", "annual +/- C", "daily +/- C", "dew point C", "source"):
        table.add_column(col, overflow="fold")
    for name, v in p.items():
        table.add_row(name, v["city"], f"{v['latitude_deg']:g}", f"{v['mean_c']:g}", f"{v['annual_amplitude_c']:g}",
                      f"{v['daily_amplitude_c']:g}", f"{v['dew_point_mean_c']:g}", v["source"])
    console.print(table)


# ---------------------------------------------------------------- (more commands below)


if __name__ == "__main__":
    app()
