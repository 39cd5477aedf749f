"""dcsim command line: parse options, make ONE library call, render its result. No physics here.

Option defaults are read from the models and library calls that own them (`Default`), and the
one InputError handler (`DcsimGroup`) turns bad input into a message on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from dcsim.errors import InputError
from dcsim.render import compare_tables, episodes_table, fitted_table, kv_table, print_json

# markup=False: user data (file names, YAML values, scenario names) is never read as rich
# markup; styling is explicit (Text, style=), so "[/x]" or "[rl]" prints as written.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


def report_input_error(exc: InputError) -> None:
    """`error: <file>: field '<path>': <expectation>` on stderr, printed literally (no markup)."""
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", exc.render()), highlight=False, soft_wrap=True
    )


class DcsimGroup(TyperGroup):
    """The one place an InputError from any command becomes a message and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            report_input_error(exc)
            raise typer.Exit(code=2) from None
        except MemoryError as exc:  # a size no field caps yet: say so instead of a traceback
            report_input_error(
                InputError(
                    f"out of memory ({exc or 'MemoryError'}); the input asks for more than "
                    "this machine holds: reduce its size (accelerators, servers, racks, jobs, "
                    "steps)"
                )
            )
            raise typer.Exit(code=2) from None


# what matplotlib's Agg canvas can save (FigureCanvasBase.get_supported_filetypes)
PLOT_FORMATS = frozenset("eps jpeg jpg pdf pgf png ps raw rgba svg svgz tif tiff webp".split())


def plot_target(plot: str) -> str:
    """Check a `--plot` path before any work (its folder can be made and written, it is not a
    folder, matplotlib knows its format): a bad path is exit 2, not a traceback after the run."""
    if not plot:
        return plot
    p = Path(plot)
    fmt = p.suffix.lower().lstrip(".")
    if fmt and fmt not in PLOT_FORMATS:
        raise InputError(
            f"cannot draw {plot}: matplotlib does not write '.{fmt}'; expected one of: "
            + ", ".join(sorted(PLOT_FORMATS)),
            field="--plot",
        )
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = (
            "part of its folder path is a file"
            if isinstance(exc, FileExistsError | NotADirectoryError)
            else exc.strerror or str(exc)
        )
        raise InputError(
            f"cannot write a plot to {plot}: {why}; choose another path", field="--plot"
        ) from None
    if p.is_dir() or not os.access(p.parent, os.W_OK):
        why = "it is a folder" if p.is_dir() else "its folder is not writable"
        raise InputError(
            f"cannot write a plot to {plot}: {why}; choose another path", field="--plot"
        )
    return plot


@contextlib.contextmanager
def writing_plot(plot: str) -> Iterator[None]:
    """An OSError while saving the figure (full disk, ...) as a one-line error naming --plot."""
    try:
        yield
    except OSError as exc:
        raise InputError(
            f"cannot write a plot to {plot}: {exc.strerror or exc}", field="--plot"
        ) from None


def examples(*lines: str) -> str:
    """A help epilog: `Examples:` and one invocation per paragraph (help keeps each line)."""
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines)


app = typer.Typer(
    cls=DcsimGroup,
    help="dcsim: datacenter energy and AI-cluster co-design simulator.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, pwsh
    pretty_exceptions_enable=False,
    epilog=examples(
        "dcsim run --steps 96",
        "dcsim sweep scenarios/sweeps/codesign.yaml --dry-run",
        "dcsim compare scenarios/tasks/powercap.yaml --baseline uncapped",
    ),
)


def installed_version() -> str:
    """The installed distribution's version (what pip reports), else the source tree's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dcsim")
    except PackageNotFoundError:
        from dcsim import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        console.print(f"dcsim {installed_version()}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the dcsim version and exit.",
    ),
) -> None:
    """dcsim: datacenter energy and AI-cluster co-design simulator."""


class Default:
    """An option default read from where it is defined, imported only when needed.

    `Default("dcsim.polca:RowConfig.seed")` is a pydantic field default, `"mod:func.param"` a
    parameter default of the library call the option feeds, `"mod:NAME"` a module constant.
    Click calls it when the option is omitted; help shows str() (so `dcsim --help` stays fast).
    """

    def __init__(self, ref: str):
        self.ref = ref

    def __call__(self) -> Any:
        module, _, path = self.ref.partition(":")
        name, _, field = path.partition(".")
        obj = getattr(importlib.import_module(module), name)
        if not field:
            return obj
        if hasattr(obj, "model_fields"):
            return obj.model_fields[field].get_default(call_default_factory=True)
        return inspect.signature(obj).parameters[field].default

    def __str__(self) -> str:
        return str(self())

    def __repr__(self) -> str:
        return f"Default({self.ref!r})"


# Enumerated option values: help shows them as `[a|b|c]` and shell completion offers them.
# The library call still validates (same one-line error, field and exit 2 as a bad YAML
# value, and aliases such as `ar` for all-reduce keep working). Literal here so that
# `dcsim --help` imports nothing heavy; tests/test_cli_polish.py checks each list equals the
# library's own (dcsim.validate.KINDS, dcsim.sweep.EXECUTORS, ...).
CHOICES: dict[str, tuple[str, ...]] = {
    "kind": ("auto", "scenario", "multitenant", "topology", "hardware", "sweep", "task"),
    "executor": ("serial", "local", "dask"),
    "collective": ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast"),
    "algorithm": (
        "auto",
        "ring",
        "halving-doubling",
        "double-binary-tree",
        "direct",
        "pairwise",
        "hierarchical",
    ),
    "algo": ("ppo", "sac", "dqn", "a2c", "td3", "maskable-ppo"),
    "climate": ("temperate", "hot-dry", "hot-humid", "cold"),
    "cooling_type": ("air", "liquid"),
    "economizer": ("auto", "off", "on"),
    # short env names (any spelling of an env id works too: dcsim.evaluation.resolve_env_id)
    "env": ("datacenter", "cooling", "powercap", "flowsplit", "placement", "codesign"),
    "llm": ("llama2-70b", "llama2-13b", "bloom-176b", "llama2-7b", "llama3-8b", "llama3-70b"),
}
# Values with a parameter: help shows the forms, completion the stems.
ROUTING_FORMS = ("ecmp[:K]", "spray", "split:K", "colour[:K]")


def choice(name: str, help: str) -> dict[str, Any]:
    """`metavar`, `autocompletion` and `help` of an enumerated typer.Option: a short list is
    the metavar (`[air|liquid]`); a long one is NAME with the choices in the help text, which
    wraps (a long metavar would be cut at 80 columns)."""
    names = CHOICES[name]

    def complete(incomplete: str) -> list[str]:
        return [n for n in names if n.startswith(incomplete)]

    bar = "[" + "|".join(names) + "]"
    if len(bar) <= 24:
        return {"metavar": bar, "autocompletion": complete, "help": help}
    return {
        "metavar": name.upper(),
        "autocompletion": complete,
        "help": f"{help} Choices: {', '.join(names)}.",
    }


def _complete_routing(incomplete: str) -> list[str]:
    return [n for n in ("ecmp", "spray", "split:", "colour") if n.startswith(incomplete)]


ROUTING_OPTION: dict[str, Any] = {
    "metavar": "ROUTING",
    "autocompletion": _complete_routing,
}


def _complete_agent(incomplete: str) -> list[str]:
    """Every heuristic name, random and the ALGO: prefixes (which exist depends on the env)."""
    from dcsim.agents import SB3_ALGOS, all_heuristics

    names = all_heuristics() + ["random", *(f"{a}:" for a in SB3_ALGOS)]
    return [n for n in names if n.startswith(incomplete)]


AGENT_OPTION: dict[str, Any] = {"metavar": "AGENT", "autocompletion": _complete_agent}


def _complete_hardware(incomplete: str) -> list[str]:
    """Profile names of the bundled hardware catalog (read only when completing)."""
    from dcsim.hardware import catalog

    return [n for n in catalog() if n.lower().startswith(incomplete.lower())]


def hardware_option(help: str) -> dict[str, Any]:
    """`metavar` and catalog completion of an option naming a hardware profile."""
    return {
        "metavar": "NAME",
        "autocompletion": _complete_hardware,
        "help": f"{help} Names: `dcsim hardware list`.",
    }


class _Bar:
    """A progress bar on stderr driven by a library call's on_start/on_step hooks."""

    def __init__(self, prog: Any):
        self.prog, self.task = prog, None

    def start(self, label: str, total: int, **fields: Any) -> None:
        if self.prog is not None:
            self.task = self.prog.add_task(label, total=total, **fields)

    def update(self, completed: int, *_: Any, **fields: Any) -> None:
        if self.task is not None:
            self.prog.update(self.task, completed=completed, **fields)


@contextlib.contextmanager
def progress_bar(show: bool, *columns: Any, transient: bool = True) -> Iterator[_Bar]:
    """Counted progress with ETA (default columns), or a no-op bar when `show` is False."""
    if not show:
        yield _Bar(None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    cols = columns or (
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*cols, console=err_console, transient=transient) as prog:
        yield _Bar(prog)


def parse_overrides(items: list[str] | None, what: str | None = None) -> dict[str, Any]:
    """`KEY=VALUE` strings (--set, --reward, --hp) -> dict; errors name the option `what`."""
    from dcsim.config import parse_override

    out: dict[str, Any] = {}
    for s in items or []:
        try:
            k, v = parse_override(s)
        except InputError as exc:
            if what is None:
                raise
            raise InputError(exc.message, field=what) from None
        out[k] = v
    return out


# ---------------------------------------------------------------- hardware
hardware_app = typer.Typer(
    help="Accelerator hardware catalog.",
    no_args_is_help=True,
    epilog=examples("dcsim hardware list", "dcsim hardware show H100-SXM"),
)
app.add_typer(hardware_app, name="hardware")


@hardware_app.command("list", epilog=examples("dcsim hardware list", "dcsim hardware list --json"))
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


@hardware_app.command(
    "show", epilog=examples("dcsim hardware show H100-SXM", "dcsim hardware show B200 --json")
)
def hardware_show(
    name: str = typer.Argument(
        ..., help="Profile name, e.g. H100-SXM.", autocompletion=_complete_hardware
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one profile with every value's source and confidence."""
    from dcsim.hardware import get_profile, size_label
    from dcsim.schema import Sourced, StrictModel

    p = get_profile(name)
    if as_json:
        print_json(p.model_dump())
        return
    # Field names are ids: never wrapped. Sources are long prose: numbered notes below the
    # table (one per distinct source), so the table fits 80 columns.
    table = Table(title=f"{p.name} ({p.vendor} {p.kind.upper()})", show_lines=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", min_width=10, max_width=16)  # numbers whole; text wraps
    table.add_column("unit", min_width=6, max_width=10)
    table.add_column("conf.", no_wrap=True)
    table.add_column("src", justify="right", no_wrap=True)
    sources: dict[str, int] = {}

    def walk(obj: Any, prefix: str) -> None:
        for fname in type(obj).model_fields:
            val = getattr(obj, fname)
            if isinstance(val, Sourced):
                style = "yellow" if val.confidence == "low" else ""
                note = sources.setdefault(val.source, len(sources) + 1) if val.source else None
                table.add_row(
                    prefix + fname,
                    f"{val.value:g}",
                    val.unit,
                    val.confidence,
                    f"[{note}]" if note else "",
                    style=style,
                )
            elif isinstance(val, StrictModel):
                walk(val, prefix + fname + ".")
            elif isinstance(val, list) and all(isinstance(v, StrictModel) for v in val):
                for i, item in enumerate(val):  # e.g. training.mfu_by_size[22B].mfu
                    key = size_label(item.params) if hasattr(item, "params") else str(i)
                    walk(item, f"{prefix}{fname}[{key}].")
            elif fname not in ("name", "kind", "vendor", "description"):
                shown = f"{val:g}" if isinstance(val, float) else str(val)
                table.add_row(prefix + fname, shown, "", "", "")

    walk(p, "")
    console.print(p.description)
    console.print(table)
    for src, note in sources.items():
        console.print(f"[{note}] {src}", markup=False, highlight=False)


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
    ("mfu", "MFU (6ND / peak BF16)", "{:.2f}"),
    ("mfu_source", "MFU from", "{}"),
    ("routing", "routing", "{}"),
    ("nic_gbps", "NIC per accelerator", "{:,.0f} Gb/s"),
    ("exposed_comm_share", "exposed DP comm / step", "{:.1%}"),
    # dcsim.cost (docs/cost.md): owned-cluster TCO at this run's power and step time
    ("cost_usd_per_accel_hour", "cost per accelerator-hour", "${:,.2f}"),
    ("cost_usd_per_million_tokens", "cost per million tokens", "${:,.3f}"),
    ("cost_usd_per_training_run", "cost per training run", "${:,.0f}"),
    ("training_run_hours", "training run (cost.tokens)", "{:,.0f} h"),
    ("capex_usd", "capex", "${:,.0f}"),
    ("electricity_usd_per_kwh", "electricity price", "${:.4f}/kWh"),
    ("embodied_carbon_share", "embodied share of carbon", "{:.1%}"),
)


def network_rows(net: dict[str, Any]) -> list[tuple[str, str]]:
    """Which NICs and scale-up domain the run was built with (`Simulation.network_facts`)."""
    if not net:
        return []
    rows = []
    if "no NICs" not in str(net.get("nic", "")):
        rows.append(("NICs per server", f"{net['nics_per_server']} x {net['nic_gbps']:,.0f} Gb/s"))
    rows.append(
        (
            "scale-up domain",
            f"{net['scaleup_domain']} x {net['scaleup']}, {net['scaleup_gBps']:,.0f} GB/s",
        )
    )
    return rows


@app.command(
    epilog=examples(
        "dcsim run --steps 96",
        "dcsim run scenarios/default.yaml --agent reactive --set cooling.supply_air_setpoint_c=24",
        "dcsim run --steps 24 --json --no-plot",
        "dcsim run scenarios/multitenant.yaml --hours 6 --agent fifo-pack",
        "dcsim run scenarios/multitenant.yaml --set region=PJM --set engine.budget_fraction=0.6",
    )
)
def run(
    scenario: str = typer.Argument(
        None,
        help="Scenario YAML (default: the built-in scenarios/default.yaml); a `kind: "
        "multitenant` file runs dcsim/CoDesign-v0 (scenarios/multitenant.yaml).",
    ),
    agent: str = typer.Option(
        Default("dcsim.runner:run_scenario.agent"),
        "--agent",
        "-a",
        **AGENT_OPTION,
        help="Heuristic name or ALGO:model.zip (e.g. ppo:model.zip). Default: fixed; "
        "multitenant: the scenario's agent (composite). A bad name lists the env's agents.",
    ),
    steps: int = typer.Option(
        None,
        "--steps",
        "-n",
        min=1,
        help="Control intervals to run (default: scenario time.steps; not multitenant).",
    ),
    hours: float = typer.Option(
        None,
        "--hours",
        help="Multitenant duration in hours (default: scenario hours).",
    ),
    seed: int = typer.Option(
        None, "--seed", "-s", min=0, help="Random seed (default: scenario seed)."
    ),
    out: str = typer.Option(
        Default("dcsim.runner:run_scenario.out"),
        "--out",
        "-o",
        help="Output root; the run goes to OUT/<scenario>/<run_id>/.",
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
    from dcsim.runner import run_scenario

    overrides = parse_overrides(set_)
    with progress_bar(not as_json) as bar:
        res = run_scenario(
            scenario,
            overrides,
            out,
            agent,
            steps,
            seed,
            plot=not no_plot,
            on_start=bar.start,
            on_step=bar.update,
            hours=hours,
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
    if "budget_kw" in sysd:  # multitenant
        from dcsim.tenancy.scenario import run_title, summary_rows

        console.print(kv_table(run_title(res.scenario, s, sysd), summary_rows(s, sysd)))
        console.print(Text.assemble("run directory: ", (str(res.run_dir), "bold")))
        return
    rows = [
        (label, fmt.format(s[key]) if s[key] is not None else "n/a")
        for key, label, fmt in SUMMARY_ROWS
        if key in s
    ]
    at = next((i + 1 for i, (label, _) in enumerate(rows) if label == "NIC per accelerator"), 0)
    rows[at:at] = network_rows(sysd.get("network") or {})
    title = (
        f"{res.scenario}: {sysd['accelerators']} x {sysd['hardware']}, "
        f"{sysd['racks']} racks, {s['hours']:.1f} h, agent {agent or 'fixed'}"
    )
    console.print(kv_table(title, rows))
    if sysd.get("air_density_note"):
        style = "bold red" if sysd["air_density_note"].startswith("error") else "yellow"
        console.print(Text(f"cooling: {sysd['air_density_note']}", style=style), soft_wrap=True)
    console.print(Text.assemble("run directory: ", (str(res.run_dir), "bold")))


@app.command(
    epilog=examples(
        "dcsim validate scenarios/default.yaml topologies/leaf_spine_small.yaml",
        "dcsim validate scenarios/sweeps/codesign.yaml --kind sweep --json",
        "dcsim validate scenarios/multitenant.yaml",
    )
)
def validate(
    files: list[str] = typer.Argument(
        ..., help="Scenario, topology, hardware, sweep or RL task YAML files."
    ),
    kind: str = typer.Option(
        Default("dcsim.validate:validate_files.kind"),
        "--kind",
        **choice("kind", "What the files are (auto: guess from their keys)."),
    ),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
) -> None:
    """Check YAML inputs against their schemas without running anything (exit 2 on the first bad file)."""
    from dcsim.validate import validate_files

    results = validate_files(files, kind)
    if as_json:
        print_json(results)
    else:
        for r in results:
            console.print(Text.assemble(("ok", "green"), f" {r['file']} ({r['kind']})"))


# ---------------------------------------------------------------- reproduce
reproduce_app = typer.Typer(
    help="Reproduce published results with dcsim's models.",
    no_args_is_help=True,
    epilog=examples("dcsim reproduce polca --quick"),
)
app.add_typer(reproduce_app, name="reproduce")


@reproduce_app.command(
    "polca",
    epilog=examples(
        "dcsim reproduce polca",
        "dcsim reproduce polca --quick --json",
        "dcsim reproduce polca --plot polca.png",
    ),
)
def reproduce_polca(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    quick: bool = typer.Option(
        False, "--quick", help="1-hour window, coarser sweep (for smoke tests)."
    ),
    seed: int = typer.Option(
        Default("dcsim.polca:reproduce_paper.seed"),
        "--seed",
        help="Random seed of load and delays.",
    ),
    servers: int = typer.Option(
        Default("dcsim.polca:reproduce_paper.servers"),
        "--servers",
        min=1,
        help="Servers the row budget was provisioned for.",
    ),
    max_extra: int = typer.Option(
        Default("dcsim.polca:reproduce_paper.max_extra"),
        "--max-extra",
        min=0,
        help="Largest oversubscription swept, % of servers.",
    ),
    step: int = typer.Option(
        Default("dcsim.polca:reproduce_paper.step"),
        "--step",
        min=1,
        help="Sweep step, % of servers.",
    ),
    hours: float = typer.Option(
        Default("dcsim.polca:reproduce_paper.hours"),
        "--hours",
        min=0.05,
        help="Simulated peak-hours window.",
    ),
    mean_load: float = typer.Option(
        Default("dcsim.polca:reproduce_paper.mean_load"),
        "--mean-load",
        min=0.01,
        max=1.2,
        help="Mean load / saturation throughput.",
    ),
    hp_fraction: float = typer.Option(
        Default("dcsim.polca:reproduce_paper.hp_fraction"),
        "--hp-fraction",
        min=0.0,
        max=1.0,
        help="Share of high-priority servers.",
    ),
    cap_delay: float = typer.Option(
        Default("dcsim.polca:reproduce_paper.cap_delay"),
        "--cap-delay",
        min=0.0,
        help="Max out-of-band clock command delay, s.",
    ),
    plot: str = typer.Option("", "--plot", help="Write a PNG of row power over time to this path."),
    hardware: str = typer.Option(
        Default("dcsim.polca:reproduce_paper.hardware"),
        "--hardware",
        **hardware_option("Accelerator profile (POLCA clocks map to fractions of f_max)."),
    ),
    model: str = typer.Option(
        Default("dcsim.polca:reproduce_paper.model"),
        "--model",
        **choice("llm", "Served LLM."),
    ),
) -> None:
    """POLCA (arXiv 2308.12908): more inference servers in a fixed row power budget.

    Sweeps the server count, runs the POLCA controller (80%/89% thresholds, two priorities,
    5% hysteresis, up to 40 s command delay) with a power brake above 100%, and reports
    per count the row peak/average power, capping and brake events and high-priority latency
    impact, then the largest count with zero brakes and <1% P50 impact vs the paper's +30%.
    """
    from dcsim.polca import RowConfig, reproduce_paper
    from dcsim.viz.polca import plot_row_power

    plot_target(plot)
    with progress_bar(not as_json) as bar:
        report = reproduce_paper(
            hardware,
            model,
            servers,
            hours,
            mean_load,
            hp_fraction,
            cap_delay,
            max_extra,
            step,
            seed,
            quick,
            on_start=bar.start,
            on_step=bar.update,
        )
    base = RowConfig.model_validate(report.summary["config"])
    if plot:
        with writing_plot(plot):
            plot_row_power(report, plot, base)
    if as_json:
        print_json(report.to_dict() | ({"plot": plot} if plot else {}))
        return
    s = report.summary
    table_out = fitted_table(
        f"POLCA reproduction: {base.hardware} / {base.model}, budget "
        f"{s['budget_w'] / 1e3:.1f} kW ({servers} servers at nameplate), "
        f"{base.horizon_s / 3600.0:g} h",
        [
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
        ],
        [
            [
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
                "yes" if r.ok else "no",
            ]
            for r in report.rows
        ],
        console.width,
        right=tuple(range(11)),
    )
    console.print(table_out)
    console.print(
        "peak/avg/nocap: row power as % of budget (with POLCA / without control); caps: "
        "escalations; capped%: time any server is capped; d%: latency change vs no control."
    )
    console.print(s["verdict"])
    if plot:
        console.print(f"plot: {plot}")


def _paper_rows_table(title: str, rows: list[dict], tolerance: float) -> Table:
    """Paper vs ours, one row per headline claim (reproduce sn40l / cloudmatrix)."""
    t = Table(title=f"{title} (tolerance {tolerance:.0%})")
    for c in ("claim", "paper", "ours", "error", "ok"):
        t.add_column(c, justify="left" if c == "claim" else "right")
    for r in rows:
        t.add_row(
            r["metric"],
            f"{r['paper']:,.4g}",
            f"{r['ours']:,.4g}",
            f"{r['rel_error']:+.1%}",
            Text("yes", style="green") if r["within_tolerance"] else Text("no", style="red"),
        )
    return t


@reproduce_app.command(
    "sn40l", epilog=examples("dcsim reproduce sn40l", "dcsim reproduce sn40l --json")
)
def reproduce_sn40l_cmd(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """SN40L (Prabhakar et al., MICRO 2024): CoE footprint and model switching vs DGX.

    Expert weights resident in DDR, active experts in HBM, switching over DDR -> HBM.
    """
    from dcsim.rdu import TOLERANCE, reproduce_sn40l

    rep = reproduce_sn40l()
    d = rep.as_dict()
    if as_json:
        print_json(d)
        return
    console.print(_paper_rows_table("SN40L reproduction", d["rows"], TOLERANCE))
    for r in rep.rows:
        console.print(f"{r.metric}: {r.detail}")
    console.print(f"Samba-CoE (150 experts) without switching, nodes: {rep.samba_coe_nodes}")


@reproduce_app.command(
    "cloudmatrix",
    epilog=examples("dcsim reproduce cloudmatrix", "dcsim reproduce cloudmatrix --json"),
)
def reproduce_cloudmatrix_cmd(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """CloudMatrix384 (Zuo et al. 2025): DeepSeek-R1 prefill/decode tokens/s per NPU with EP.

    Disaggregated pools: 16-NPU EP32 prefill on 4K prompts, 160-NPU EP320 decode at batch 96
    per NPU; MoE dispatch/combine all-to-all timed on the UB Clos fabric.
    """
    from dcsim.moe import TOLERANCE, reproduce_cloudmatrix

    rep = reproduce_cloudmatrix()
    d = rep.as_dict()
    if as_json:
        print_json(d)
        return
    console.print(
        _paper_rows_table("CloudMatrix384 / DeepSeek-R1 reproduction", d["rows"], TOLERANCE)
    )
    for name, st in (("prefill", rep.prefill), ("decode", rep.decode)):
        console.print(
            f"{name} iteration per die: {st.total_s * 1e3:.1f} ms = compute "
            f"{st.compute_s * 1e3:.1f} + memory {st.memory_s * 1e3:.1f} + overhead "
            f"{st.overhead_s * 1e3:.1f} + all-to-all {st.alltoall_s * 1e3:.1f} ms"
        )
    console.print(f"decode TPOT {rep.decode_tpot_s * 1e3:.1f} ms (paper: < 50 ms)")


@reproduce_app.command(
    "fire-flyer",
    epilog=examples("dcsim reproduce fire-flyer", "dcsim reproduce fire-flyer --quick --json"),
)
def reproduce_fire_flyer(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    quick: bool = typer.Option(False, "--quick", help="8 steps instead of a day (smoke tests)."),
) -> None:
    """Fire-Flyer 2 (PCIe A100, 1 NIC per node) vs DGX A100: our numbers next to the paper's."""
    from dcsim.fireflyer import reproduce

    rep = reproduce(steps=8 if quick else 96)
    if as_json:
        print_json(rep.to_dict())
        return
    table = Table(title="Fire-Flyer 2 / DGX A100 (An et al., SC'24, arXiv 2408.14158)")
    for col in ("metric", "paper", "dcsim", "why they differ"):
        table.add_column(col, overflow="fold")
    for r in rep.rows:
        paper = "-" if r["paper"] is None else f"{r['paper']:.2f}"
        table.add_row(r["metric"], paper, f"{r['dcsim']:.2f}", r["why"])
    console.print(table)
    for n in rep.notes:
        console.print(f"- {n}", markup=False)


# ---------------------------------------------------------------- cooling / climate
cooling_app = typer.Typer(
    help="Facility cooling plant, climate and grid carbon.",
    no_args_is_help=True,
    epilog=examples("dcsim cooling year --climate hot-dry", "dcsim cooling compare"),
)
app.add_typer(cooling_app, name="cooling")


@cooling_app.command(
    "year",
    epilog=examples(
        "dcsim cooling year --climate hot-dry --type liquid",
        "dcsim cooling year --days 30 --plot year.png --json",
    ),
)
def cooling_year(
    climate: str = typer.Option(
        Default("dcsim.cooling_study:plant_year.climate"),
        **choice("climate", "Synthetic-weather preset (see `dcsim cooling presets`)."),
    ),
    cooling_type: str = typer.Option(
        Default("dcsim.cooling_study:plant_year.cooling_type"),
        "--type",
        **choice(
            "cooling_type", "Air, or liquid (direct-to-chip cold plates plus air for the rest)."
        ),
    ),
    liquid_fraction: float = typer.Option(
        Default("dcsim.cooling_study:plant_year.liquid_fraction"),
        help="Share of IT heat to cold plates (type liquid).",
    ),
    country: str = typer.Option(
        Default("dcsim.cooling_study:plant_year.country"),
        help="Grid carbon: ISO country code (see `dcsim cooling carbon`).",
    ),
    racks: int = typer.Option(
        Default("dcsim.cooling_study:plant_year.racks"), min=1, help="Number of racks."
    ),
    rack_kw: float = typer.Option(
        Default("dcsim.cooling_study:plant_year.rack_kw"),
        min=0.1,
        help="Design IT power per rack, kW.",
    ),
    load: float = typer.Option(
        Default("dcsim.cooling_study:plant_year.load"),
        min=0.01,
        max=1.5,
        help="IT load as a share of design.",
    ),
    supply_air: float = typer.Option(
        Default("dcsim.cooling_study:plant_year.supply_air"), help="Supply air setpoint, C."
    ),
    economizer: str = typer.Option(
        Default("dcsim.cooling_study:plant_year.economizer"),
        **choice("economizer", "Water-side economizer mode."),
    ),
    days: float = typer.Option(
        Default("dcsim.cooling_study:plant_year.days"),
        min=1 / 24,
        max=3650,
        help="Days to simulate.",
    ),
    seed: int = typer.Option(Default("dcsim.cooling_study:plant_year.seed"), help="Weather seed."),
    allow_over_density: bool = typer.Option(
        Default("dcsim.cooling_study:plant_year.allow_over_density"),
        "--allow-over-density",
        help="Run even when air must carry more than ~40 kW per rack (else exit 2).",
    ),
    plot: str = typer.Option("", help="Write a PNG of daily PUE and weather to this path."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Annual (hourly) PUE, WUE, carbon and economizer hours of the cooling plant at a constant IT load."""
    from dcsim.cooling_study import plant_year
    from dcsim.viz.cooling import plot_period

    plot_target(plot)

    with progress_bar(not as_json) as bar:
        year = plant_year(
            climate,
            cooling_type,
            liquid_fraction,
            country,
            racks,
            rack_kw,
            load,
            supply_air,
            economizer,
            days,
            seed,
            on_start=bar.start,
            on_step=bar.update,
            allow_over_density=allow_over_density,
        )
    s = year.summary
    if plot:
        with writing_plot(plot):
            plot_period(
                {"summary": year.summary, "series": year.series},
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
        ("PUE (facility: + UPS, fixed loads)", f"{s['facility_pue']:.3f}"),
        ("WUE", f"{s['wue_l_per_kwh']:.2f} L/kWh"),
        ("water", f"{s['water_m3']:.0f} m3"),
        ("carbon", f"{s['carbon_t']:.1f} tCO2e"),
        (
            "economizer hours (any / full)",
            f"{s['economizer_hours']:.0f} / {s['full_free_cooling_hours']:.0f}",
        ),
        ("hottest rack inlet", f"{s['inlet_max_c']:.1f} C"),
        (
            "chiller COP (annual; min-max)",
            f"{s['chiller_cop_annual']:.2f}; {s['chiller_cop_min']:.2f}-{s['chiller_cop_max']:.2f}",
        ),
        ("mean dry / wet bulb", f"{s['mean_dry_bulb_c']:.1f} / {s['mean_wet_bulb_c']:.1f} C"),
    ]
    rows += [
        (f"  {k.removesuffix('_w')}", f"{v:.1f} MWh")
        for k, v in s["breakdown_mwh"].items()
        if v > 0
    ]
    console.print(kv_table(f"cooling plant, {climate}, {cooling_type}", rows))
    if s["air_density_check"]:
        console.print(s["air_density_check"], style="yellow")
    if plot:
        console.print(f"plot: {plot}")


@cooling_app.command(
    "compare", epilog=examples("dcsim cooling compare", "dcsim cooling compare --days 90 --json")
)
def cooling_compare(
    rack_kw: float = typer.Option(
        Default("dcsim.cooling_study:compare_plants.rack_kw"),
        min=0.1,
        help="Design IT power per rack, kW.",
    ),
    load: float = typer.Option(
        Default("dcsim.cooling_study:compare_plants.load"),
        min=0.01,
        max=1.5,
        help="IT load as a share of design.",
    ),
    days: float = typer.Option(
        Default("dcsim.cooling_study:compare_plants.days"),
        min=1,
        max=3650,
        help="Days to simulate.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Air vs direct-to-chip liquid cooling across the climate presets: annual PUE and WUE."""
    from dcsim.cooling_study import compare_plants

    with progress_bar(not as_json) as bar:
        out = compare_plants(rack_kw, load, days, on_start=bar.start, on_step=bar.update)
    if as_json:
        print_json(out)
        return
    table = Table(title=f"annual cooling, {rack_kw:g} kW racks at {load:.0%} load")
    for col in ("climate", "type", "PUE", "facility PUE", "WUE L/kWh", "economizer h", "note"):
        table.add_column(col, justify="left" if col in ("climate", "type", "note") else "right")
    for r in out:
        table.add_row(
            r["climate"],
            r["type"],
            f"{r['pue']:.3f}",
            f"{r['facility_pue']:.3f}",
            f"{r['wue_l_per_kwh']:.2f}",
            f"{r['economizer_hours']:.0f}",
            (r["air_density_check"] or "").split(" per rack")[0],
        )
    console.print(table)


@cooling_app.command(
    "carbon", epilog=examples("dcsim cooling carbon", "dcsim cooling carbon --json")
)
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


@cooling_app.command(
    "presets", epilog=examples("dcsim cooling presets", "dcsim cooling presets --json")
)
def cooling_presets(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Synthetic-weather presets (climate normals of a representative city)."""
    from dcsim.climate import presets

    p = presets()
    if as_json:
        print_json(p)
        return
    table = fitted_table(
        "weather presets",
        ["name", "city", "lat", "mean C", "annual +/- C", "daily +/- C", "dew point C"],
        [
            [
                name,
                v["city"],
                f"{v['latitude_deg']:g}",
                f"{v['mean_c']:g}",
                f"{v['annual_amplitude_c']:g}",
                f"{v['daily_amplitude_c']:g}",
                f"{v['dew_point_mean_c']:g}",
            ]
            for name, v in p.items()
        ],
        console.width,
        right=(2, 3, 4, 5, 6),
    )
    console.print(table)
    for name, v in p.items():
        console.print(f"{name}: {v['source']}", markup=False, highlight=False)


# ---------------------------------------------------------------- sweep / plot
@app.command(
    epilog=examples(
        "dcsim sweep scenarios/sweeps/codesign.yaml --dry-run",
        "dcsim sweep scenarios/sweeps/batch_zip.yaml --executor local --workers 2",
        "dcsim sweep scenarios/sweeps/multitenant.yaml --executor local --workers 2",
        "dcsim sweep scenarios/sweeps/codesign.yaml cluster.hardware=H100-SXM,B200 --out runs/hw",
    )
)
def sweep(
    file: str = typer.Argument(..., help="Sweep YAML (see scenarios/sweeps/)."),
    overrides: list[str] = typer.Argument(
        None,
        help="KEY=V1,V2 overrides: a parameter (cluster.hardware=H100-SXM,B200) or seeds/steps/agent/samples.",
    ),
    executor: str = typer.Option(
        Default("dcsim.sweep:sweep_file.executor"),
        "--executor",
        "-e",
        **choice("executor", "serial, local (worker processes) or dask."),
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
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace the index of a different sweep plan already in OUT/<name>/ "
        "(default: refuse; use another --out).",
    ),
    out: str = typer.Option(
        Default("dcsim.sweep:sweep_file.out"),
        "--out",
        "-o",
        help="Output root; the sweep goes to OUT/<sweep name>/.",
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
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from dcsim.sweep import SweepInterrupted, short, sweep_file

    columns = (
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}", style="red", markup=False),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    try:
        with progress_bar(not as_json, *columns, transient=False) as bar:
            sr = sweep_file(
                file,
                overrides,
                out,
                executor,
                workers,
                address,
                resume,
                dry_run,
                on_start=lambda label, n: bar.start(label, n, note="0 failed"),
                on_progress=lambda _o, c: bar.update(c["done"], note=f"{c['failed']} failed"),
                force=force,
                on_plan_start=lambda label, n: bar.start(label, n, note=""),
                on_plan_step=bar.update,
            )
    except SweepInterrupted as exc:
        err_console.print(
            Text.assemble(
                ("interrupted", "yellow"),
                f": finished runs are kept in {exc.sweep_dir}; "
                "rerun with --resume to run only the missing ones",
            )
        )
        raise typer.Exit(code=130) from None
    plan, sweep_dir, res = sr.plan, sr.sweep_dir, sr.result
    if res is None:
        if as_json:
            print_json(plan.describe() | {"sweep_dir": str(sweep_dir)})
            return
        table = fitted_table(
            f"sweep {plan.name}: {len(plan.runs)} runs ({plan.spec.method}), "
            f"{plan.runs[0].steps if plan.runs else 0} steps, agent {plan.spec.agent}",
            ["#", "run id", "seed", *plan.parameters],
            [
                [str(i), r.run_id, str(r.seed), *(short(r.params.get(k)) for k in plan.parameters)]
                for i, r in enumerate(plan.runs[:200])
            ],
            console.width,
            right=(0, 2),
        )
        console.print(table)
        if len(plan.runs) > 200:
            console.print(f"... and {len(plan.runs) - 200} more")
        console.print(
            Text.assemble(
                f"all {len(plan.runs)} scenarios valid; output would go to ",
                (str(sweep_dir), "bold"),
            )
        )
        return
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
                    Text.assemble(
                        ("failed", "red"), f" {o.spec.run_id} {o.spec.params}: {o.error}"
                    ),
                    soft_wrap=True,
                )
        console.print(
            Text.assemble(
                "index: ",
                (str(res.sweep_dir / "index.csv"), "bold"),
                f"   plot: dcsim plot {res.sweep_dir}",
            )
        )
    if c["failed"]:
        raise typer.Exit(code=1)


@app.command(
    epilog=examples(
        "dcsim plot runs/sweeps/codesign",
        "dcsim plot runs/default/RUN_ID --out figure.png",
        "dcsim plot runs/sweeps/codesign --x mean_step_time_s --y pue --json",
        "dcsim plot runs/multitenant",
    )
)
def plot(
    path: str = typer.Argument(
        ..., help="A run directory (has timeseries.csv) or a sweep directory (has index.csv)."
    ),
    out: str = typer.Option(
        None, "--out", "-o", help="PNG path (default: timeseries.png / sweep.png inside PATH)."
    ),
    x: str = typer.Option(
        Default("dcsim.viz.sweep:plot_path.x"),
        "--x",
        help="Sweep Pareto x metric (lower is better; multitenant runs default to carbon_kg).",
    ),
    y: str = typer.Option(
        Default("dcsim.viz.sweep:plot_path.y"),
        "--y",
        help="Sweep Pareto y metric (lower is better; multitenant runs default to jct_mean_h).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was drawn as JSON."),
) -> None:
    """Draw a run's time series, or a sweep's Pareto front and metric-vs-parameter panels."""
    from dcsim.viz.sweep import plot_path

    info = plot_path(path, out, x=x, y=y)
    if as_json:
        print_json(info)
        return
    console.print(Text.assemble("wrote ", (str(info["png"]), "bold")))
    x, y = info.get("x", x), info.get("y", y)  # the axes drawn (multitenant defaults differ)
    for p in info.get("pareto", []):
        console.print(
            f"  non-dominated: {p['label']}  ({x}={p[x]:.4g}, {y}={p[y]:.4g})", markup=False
        )
    for k, names in info.get("labels", {}).items():
        for short_label, value in names.items():
            console.print(f"  {short_label} = {k}: {json.dumps(value)}", markup=False)


@app.command(
    epilog=examples(
        "dcsim report runs/architect",
        "dcsim report runs/default/RUN_ID --out decision.html",
        "dcsim report runs/multitenant/RUN_ID",
    )
)
def report(
    path: str = typer.Argument(
        ..., help="A run directory (has summary.json) or a sweep directory (has sweep.json)."
    ),
    out: str = typer.Option(None, "--out", "-o", help="HTML path (default: report.html in PATH)."),
) -> None:
    """One self-contained HTML page: answer, Pareto front of cost/time/carbon, runs, assumptions;
    a multitenant run or sweep: facility totals, jobs by class, time series, assumptions."""
    from dcsim.viz.report import write_report

    with progress_bar(True) as bar:
        target = write_report(path, out, on_start=bar.start, on_step=bar.update)
    console.print(Text.assemble("wrote ", (str(target), "bold")))


# ---------------------------------------------------------------- topology / collective (network)
topology_app = typer.Typer(
    help="Network fabrics (topologies/*.yaml).",
    no_args_is_help=True,
    epilog=examples("dcsim topology list", "dcsim topology show leaf_spine_small"),
)
app.add_typer(topology_app, name="topology")


@topology_app.command(
    "show",
    epilog=examples(
        "dcsim topology show leaf_spine_small",
        "dcsim topology show topologies/fat_tree_k8.yaml --hardware B200 --json",
    ),
)
def topology_show(
    file: str = typer.Argument(
        ..., help="Topology YAML path, or a preset name such as leaf_spine_small."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    hardware: str = typer.Option(
        "",
        "--hardware",
        **hardware_option("Build with this accelerator's NICs and scale-up domain."),
    ),
) -> None:
    """Size, bisection bandwidth, oversubscription and failures of a fabric."""
    from dcsim.network import load_topology

    fab = load_topology(file, hardware or None)
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
        ("NIC", s.get("nic", "-")),
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


@topology_app.command("list", epilog=examples("dcsim topology list", "dcsim topology list --json"))
def topology_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Bundled topology presets."""
    from dcsim.network.api import preset_summaries

    out = preset_summaries()
    if as_json:
        print_json(out)
        return
    table = fitted_table(
        "bundled topologies",
        ["file", "kind", "hosts", "switches", "bisection GB/s", "oversub"],
        [
            [
                r["file"],
                r["kind"],
                f"{r['n_hosts']:,}",
                f"{r['n_switches']:,}",
                f"{r['bisection_bw_GBps']:,.0f}",
                f"{r['oversubscription']:.3g}",
            ]
            for r in out
        ],
        console.width,
        right=(2, 3, 4, 5),
    )
    console.print(table)


@app.command(
    "collective",
    epilog=examples(
        "dcsim collective --collective all-reduce --size 1GiB",
        "dcsim collective --topology leaf_spine_256_oversub2 --routing spray --json",
    ),
)
def collective_cmd(
    topology: str = typer.Option(
        Default("dcsim.network.api:run_collective.topology"),
        "--topology",
        "-t",
        help="Topology YAML path or preset name.",
    ),
    collective: str = typer.Option(
        Default("dcsim.network.api:run_collective.collective"),
        "--collective",
        "-c",
        **choice("collective", "Collective operation (aliases such as ar, ag, a2a accepted)."),
    ),
    algorithm: str = typer.Option(
        Default("dcsim.network.api:run_collective.algorithm"),
        "--algorithm",
        "-a",
        **choice("algorithm", "Collective algorithm (auto: NCCL-like choice by size and fabric)."),
    ),
    size: str = typer.Option(
        Default("dcsim.network.api:run_collective.size"),
        "--size",
        "-s",
        help="Message size (nccl-tests convention), e.g. 1GiB, 64MiB.",
    ),
    routing: str = typer.Option(
        Default("dcsim.network.api:run_collective.routing"),
        "--routing",
        "-r",
        **ROUTING_OPTION,
        help="ecmp[:K] (hash over K equal-cost paths), spray (per packet), split:K (K-way split) or colour[:K].",
    ),
    seed: int = typer.Option(
        Default("dcsim.network.api:run_collective.seed"),
        "--seed",
        help="ECMP hash seed (and rank shuffle seed).",
    ),
    ranks: int = typer.Option(
        Default("dcsim.network.api:run_collective.ranks"),
        "--ranks",
        "-n",
        help="Use the first N hosts (0 = all).",
    ),
    shuffle: bool = typer.Option(
        False, "--shuffle", help="Random rank order (seeded) instead of host order."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    plot: str = typer.Option("", "--plot", help="Write a PNG heat map of link utilization here."),
    hardware: str = typer.Option(
        "",
        "--hardware",
        **hardware_option("Build with this accelerator's NICs and scale-up domain."),
    ),
) -> None:
    """Time one collective on a fabric: time, algbw, busbw, max link utilization."""
    from dcsim.network.api import run_collective

    plot_target(plot)
    cr = run_collective(
        topology, collective, algorithm, size, routing, seed, ranks, shuffle, hardware or None
    )
    fab, res = cr.fabric, cr.result
    out = cr.as_dict()
    if plot:
        from dcsim.viz.network import link_heatmap

        assert res.link_util is not None  # run_collective always times the links
        title = (
            f"{fab.name}: {res.collective} {res.algorithm} {size} x {res.n_ranks} ranks, "
            f"{routing}: {res.time_s * 1e3:.2f} ms, max util {res.max_link_util:.2f}"
        )
        with writing_plot(plot):
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
    rows += (
        [("auto candidates", ", ".join(f"{a} {t * 1e3:.3f} ms" for a, t in res.candidates.items()))]
        if res.candidates
        else []
    )
    rows += [("routings tie", res.routing_note)] if res.routing_note else []
    console.print(
        kv_table(
            f"{res.collective} ({res.algorithm}, {routing}) on {fab.name}, {res.n_ranks} ranks, {size}",
            rows,
        )
    )
    if plot:
        console.print(f"heat map: {out['plot']}")


# ---------------------------------------------------------------- RL: envs / train / evaluate / compare
SCENARIO_HELP = (
    "dcsim scenario YAML (default: built-in) or task file with env:/kwargs:/reward: "
    "(e.g. scenarios/tasks/placement.yaml)"
)
ENV_OPTION = choice("env", "Env id or short name (default: the task file's, else Datacenter-v0).")


@app.command(epilog=examples("dcsim envs", "dcsim envs --json"))
def envs(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the Gymnasium env ids with their spaces and the agents available for each."""
    from dcsim.rl import env_catalog

    rows = env_catalog()
    if as_json:
        print_json(rows)
        return
    table = Table(title="dcsim environments")
    longest = max((len(r["env"]) for r in rows), default=3)
    table.add_column("env", no_wrap=True, min_width=longest)  # ids are never split
    for col in ("actions", "observations", "agents (plus ALGO:model.zip)"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["env"],
            r.get("action_space", Text("unavailable", style="red")),
            Text(r.get("observation_space", r.get("error", ""))),
            ", ".join(r.get("agents", [])),
        )
    console.print(table)
    from dcsim.envs import TASK_IDS

    console.print("task files registered as ids (gym.make(id), kwargs and reward weights set):")
    for task_id, path in TASK_IDS.items():
        console.print(f"  {task_id}  {Path(path).name}", markup=False, highlight=False)


@app.command(
    epilog=examples(
        "dcsim train scenarios/tasks/cooling.yaml --algo ppo --timesteps 20000",
        "dcsim train scenarios/tasks/placement.yaml --algo dqn --n-envs 4 --hp learning_rate=3e-4",
    )
)
def train(
    scenario: str = typer.Argument(None, help=SCENARIO_HELP),
    env: str = typer.Option(None, "--env", "-e", **ENV_OPTION),
    algo: str = typer.Option(
        Default("dcsim.rl:train_agent.algo"),
        "--algo",
        **choice(
            "algo",
            "Stable-Baselines3 algorithm (DQN only for Discrete actions: Placement-v0; "
            "maskable-ppo, sb3-contrib, needs action_masks(): CoDesign-v0).",
        ),
    ),
    timesteps: int = typer.Option(
        Default("dcsim.rl:train_agent.timesteps"),
        "--timesteps",
        "-t",
        min=1,
        help="Environment steps to train for.",
    ),
    seed: int = typer.Option(
        Default("dcsim.rl:train_agent.seed"),
        "--seed",
        "-s",
        min=0,
        help="Seed of the algorithm and envs (env i gets seed + i).",
    ),
    n_envs: int = typer.Option(
        Default("dcsim.rl:train_agent.n_envs"),
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
    vectorized: bool = typer.Option(
        False,
        "--vectorized",
        help="Cooling-v0 / Datacenter-v0: step the --n-envs copies as one batched env in this process.",
    ),
    tensorboard: str = typer.Option(
        None, "--tensorboard", help="Write TensorBoard logs to this folder (needs tensorboard)."
    ),
    checkpoint_every: int = typer.Option(
        Default("dcsim.rl:train_agent.checkpoint_every"),
        "--checkpoint-every",
        min=0,
        help="Save model checkpoints every N steps (0: off).",
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
        Default("dcsim.rl:train_agent.out"),
        "--out",
        "-o",
        help="Output root; the run goes to OUT/<name>/<algo>-<run_id>/.",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue an interrupted run (same inputs) from its latest --checkpoint-every "
        "checkpoint; a finished run is shown as it is.",
    ),
    cost_limit: float = typer.Option(
        None,
        "--cost-limit",
        min=0.0,
        max=1.0,
        help="Constrained training (PPO-Lagrangian): allowed share of steps with a constraint "
        "violation (0: none); the reward loses a learned multiplier per violation step.",
    ),
    lagrange_lr: float = typer.Option(
        Default("dcsim.rl:train_agent.lagrange_lr"),
        "--lagrange-lr",
        help="With --cost-limit: multiplier step per rollout per unit of violation share.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the manifest as JSON (no progress bar)."
    ),
) -> None:
    """Train a Stable-Baselines3 agent; saves model.zip, manifest.json and training.csv atomically."""
    from dcsim.rl import train_agent

    overrides, weights = parse_overrides(set_), parse_overrides(reward, "reward")
    hyper = parse_overrides(hp, "hp")
    with progress_bar(not as_json) as bar:
        tr = train_agent(
            scenario,
            env,
            overrides,
            weights,
            algo,
            timesteps,
            seed,
            n_envs,
            dummy,
            normalize,
            tensorboard,
            checkpoint_every,
            hyper,
            out,
            on_start=bar.start,
            on_step=lambda k: bar.update(min(k, timesteps)),
            resume=resume,
            vectorized=vectorized,
            cost_limit=cost_limit,
            lagrange_lr=lagrange_lr,
        )
    spec, res = tr.spec, tr.result
    if as_json:
        print_json(res.manifest | {"run_dir": str(res.run_dir), "model": str(res.model_path)})
        return
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


@app.command(
    epilog=examples(
        "dcsim evaluate scenarios/tasks/powercap.yaml --agent polca --episodes 5",
        "dcsim evaluate scenarios/tasks/cooling.yaml --agent ppo:runs/train/cooling-1024/ppo-RUN/model.zip --json",
    )
)
def evaluate(
    scenario: str = typer.Argument(None, help=SCENARIO_HELP),
    agent: str = typer.Option(
        ...,
        "--agent",
        "-a",
        **AGENT_OPTION,
        help="Heuristic name (see `dcsim envs`), random, or ALGO:model.zip.",
    ),
    env: str = typer.Option(None, "--env", "-e", **ENV_OPTION),
    episodes: int = typer.Option(
        Default("dcsim.rl:evaluate_agent.episodes"),
        "--episodes",
        "-n",
        min=1,
        help="Episodes, reset seeds seed..seed+n-1.",
    ),
    seed: int = typer.Option(
        Default("dcsim.rl:evaluate_agent.seed"), "--seed", "-s", min=0, help="First reset seed."
    ),
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
    from dcsim.rl import evaluate_agent

    overrides, weights = parse_overrides(set_), parse_overrides(reward, "reward")
    with progress_bar(not as_json) as bar:
        ae = evaluate_agent(
            agent,
            scenario,
            env,
            overrides,
            weights,
            episodes,
            seed,
            max_steps,
            on_start=bar.start,
            on_episode=bar.update,
        )
    spec, ev = ae.spec, ae.evaluation
    if as_json:
        print_json(ev.as_dict() | {"env": spec.as_dict()})
        return
    console.print(
        episodes_table(
            f"{agent} on {spec.env_id} ({spec.name}), seeds {seed}..{seed + episodes - 1}", ev.stats
        )
    )


@app.command(
    epilog=examples(
        "dcsim compare scenarios/tasks/powercap.yaml --seeds 5",
        "dcsim compare scenarios/tasks/cooling.yaml --agents fixed,reactive,random --baseline fixed",
    )
)
def compare(
    scenario: str = typer.Argument(None, help=SCENARIO_HELP),
    agents: str = typer.Option(
        None, "--agents", "-a", help="Comma-separated agents (default: every heuristic + random)."
    ),
    env: str = typer.Option(None, "--env", "-e", **ENV_OPTION),
    seeds: int = typer.Option(
        Default("dcsim.rl:compare_agents.seeds"),
        "--seeds",
        "-n",
        min=1,
        help="Episodes per agent, reset seeds seed..seed+n-1 (same for all).",
    ),
    seed: int = typer.Option(
        Default("dcsim.rl:compare_agents.seed"), "--seed", "-s", min=0, help="First reset seed."
    ),
    max_steps: int = typer.Option(
        None, "--max-steps", min=1, help="Cut episodes after this many steps."
    ),
    set_: list[str] = typer.Option(None, "--set", help="Override a scenario field or task kwarg."),
    reward: list[str] = typer.Option(None, "--reward", help="Reward weight: --reward energy=2."),
    out: str = typer.Option(
        Default("dcsim.rl:compare_agents.out"),
        "--out",
        "-o",
        help="Output root; files go to OUT/<name>/compare-<id>/.",
    ),
    baseline: str = typer.Option(
        None,
        "--baseline",
        "-b",
        **AGENT_OPTION,
        help="Agent to compare against: adds each agent's paired per-seed difference "
        "(agent - baseline, mean ± 95% CI) to the table, CSV (diff_*) and JSON (paired).",
    ),
    normalise_to: str = typer.Option(
        None,
        "--normalise-to",
        **AGENT_OPTION,
        help="Upper-bound agent (e.g. oracle), with --baseline: adds each other agent's "
        "normalised score (J - J_baseline) / (J_upper - J_baseline) of the return, mean ± 95% "
        "CI, to the table, CSV (norm_*) and JSON (normalised).",
    ),
    no_plot: bool = typer.Option(False, "--no-plot", help="Skip the PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print statistics as JSON."),
) -> None:
    """Compare agents on the same seeds: table of every metric (mean ± 95% CI), CSV and a PNG dot plot."""
    from dcsim.rl import compare_agents

    overrides, weights = parse_overrides(set_), parse_overrides(reward, "reward")
    names = [a.strip() for a in agents.split(",") if a.strip()] if agents else None
    with progress_bar(not as_json) as bar:
        cr = compare_agents(
            names,
            scenario,
            env,
            overrides,
            weights,
            seeds,
            seed,
            max_steps,
            out,
            plot=not no_plot,
            on_start=bar.start,
            baseline=baseline,
            on_episode=bar.update,
            upper=normalise_to,
        )
    comp, run_dir = cr.comparison, cr.run_dir
    if as_json:
        print_json(comp.as_dict() | {"out": str(run_dir)})
        return
    for table in compare_tables(comp, seeds, seed, console.width):
        console.print(table)
    console.print(
        f"written: {run_dir}/compare.csv, episodes.csv, summary.json"
        + ("" if no_plot else ", compare.png"),
        markup=False,
    )


# ---------------------------------------------------------------- (more commands below)


if __name__ == "__main__":
    app()
