"""Terminal rendering shared by the CLI commands: JSON on stdout, key-value tables, mean ± CI."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.table import Table


def print_json(obj: Any) -> None:
    """Machine output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def kv_table(title: str, rows: list[tuple[str, str]]) -> Table:
    """Two columns, quantity and value (right-aligned)."""
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(k, v)
    return table


def fmt_ci(mean: float, ci: float) -> str:
    """`mean ± half-width` with digits that fit the magnitude; `-` for an undefined mean."""
    if not math.isfinite(mean):
        return "-"
    mag = max(abs(mean), abs(ci) if math.isfinite(ci) else 0.0)
    fmt = "{:,.0f}" if mag >= 1000 else ("{:.2f}" if mag >= 1 else "{:.4g}")
    return fmt.format(mean) + (f" ± {fmt.format(ci)}" if math.isfinite(ci) else "")


def episodes_table(title: str, stats: dict[str, dict[str, float]]) -> Table:
    """One row per episode metric: mean ± 95% CI and the number of episodes it is defined in."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("mean ± 95% CI", justify="right")
    table.add_column("n", justify="right")
    for k, s in stats.items():
        table.add_row(k, fmt_ci(s["mean"], s["ci95"]), f"{s['n']:.0f}")
    return table
