"""Terminal rendering shared by the CLI commands: JSON on stdout, key-value tables, mean ± CI."""

from __future__ import annotations

import json
import math
import numbers
import sys
from typing import Any

from rich.table import Table


def strict(obj: Any) -> Any:
    """Plain JSON values: NaN/inf (an undefined statistic, e.g. a CI from one sample) -> None,
    NumPy scalars -> Python numbers. Finite floats are left exactly as they are."""
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict(v) for v in obj]
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if isinstance(obj, numbers.Integral):  # NumPy integers register here (no numpy import)
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj) if math.isfinite(obj) else None
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON (RFC 8259: no NaN/Infinity tokens), keys sorted, 2-space indent."""
    return json.dumps(strict(obj), indent=2, sort_keys=True, default=str, allow_nan=False)


def print_json(obj: Any) -> None:
    """Machine output: strict JSON on stdout, nothing else."""
    sys.stdout.write(dumps(obj) + "\n")


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
