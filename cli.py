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


# ---------------------------------------------------------------- (more commands below)


if __name__ == "__main__":
    app()
