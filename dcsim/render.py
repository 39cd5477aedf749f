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


def fmt_diff(mean: float, ci: float) -> str:
    """A signed difference `+mean ± half-width` (`-` when undefined)."""
    text = fmt_ci(mean, ci)
    return text if text == "-" or text.startswith("-") else "+" + text


def fitted_headers(
    headers: list[str], cells: list[list[str]], width: int, first: int
) -> tuple[list[str], str]:
    """Column headers that keep a table within `width` columns without cutting an id.

    When the full headers (agent labels, run ids) do not fit beside the first column (`first`
    characters), they become A, B, C, ... and the returned legend says which is which."""
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(headers)]
    if first + sum(widths) + 3 * (len(headers) + 1) + 1 <= width:
        return headers, ""
    keys = [chr(ord("A") + i) if i < 26 else f"A{i}" for i in range(len(headers))]
    return keys, "  ".join(f"{k} = {h}" for k, h in zip(keys, headers, strict=True))


def comparison_table(
    title: str,
    metrics: list[str],
    headers: list[str],
    cells: list[list[str]],
    width: int,
) -> Table:
    """Metric rows by agent columns; agent labels abbreviated with a legend when too wide."""
    first = max([len("metric"), *(len(m) for m in metrics)])
    cols, legend = fitted_headers(headers, cells, width, first)
    table = Table(title=title, caption=legend or None, caption_justify="left")
    table.add_column("metric", no_wrap=True)
    for h in cols:
        table.add_column(h, justify="right")
    for m, row in zip(metrics, cells, strict=True):
        table.add_row(m, *row)
    return table


def compare_tables(comp: Any, seeds: int, seed: int, width: int) -> list[Table]:
    """`dcsim compare`: every metric per agent (mean ± 95% CI), and with a baseline the paired
    per-seed differences agent - baseline (mean ± 95% CI of the differences)."""
    spec = comp.spec
    metrics = comp.metrics()
    evs = comp.evaluations
    cells = [
        [fmt_ci(e.stats[k]["mean"], e.stats[k]["ci95"]) if k in e.stats else "-" for e in evs]
        for k in metrics
    ]
    title = f"{spec.env_id} ({spec.name}): mean ± 95% CI over {seeds} seeds ({seed}..{seed + seeds - 1})"
    tables = [comparison_table(title, metrics, [e.label for e in evs], cells, width)]
    base = comp.baseline_evaluation()
    if base is not None:
        paired = comp.paired()
        others = [e for e in evs if e is not base]
        dcells = [
            [
                fmt_diff(paired[e.agent][k]["mean"], paired[e.agent][k]["ci95"])
                if k in paired.get(e.agent, {})
                else "-"
                for e in others
            ]
            for k in metrics
        ]
        tables.append(
            comparison_table(
                f"paired difference vs {base.label} (agent - baseline on the same seeds): "
                "mean ± 95% CI",
                metrics,
                [e.label for e in others],
                dcells,
                width,
            )
        )
    norm = comp.normalised()
    if norm and base is not None:
        upper = next(e for e in evs if e.agent == comp.upper)
        scored = [e for e in evs if e.agent in norm]
        gap = next(iter(norm.values()))
        tables.append(
            comparison_table(
                f"normalised {comp.norm_metric} (J - J_{base.label}) / (J_{upper.label} - "
                f"J_{base.label}), mean ± 95% CI; {upper.label} - {base.label} = "
                f"{fmt_diff(gap['gap'], gap['gap_ci95'])}",
                ["normalised score"],
                [e.label for e in scored],
                [[fmt_diff(norm[e.agent]["mean"], norm[e.agent]["ci95"]) for e in scored]],
                width,
            )
        )
    return tables


def fitted_table(
    title: str,
    headers: list[str],
    rows: list[list[str]],
    width: int,
    right: tuple[int, ...] = (),
    caption: str = "",
) -> Table:
    """A table whose cells (ids, names, numbers) are never cut or wrapped at `width` columns.

    Each column is as wide as its longest cell. When that does not fit, the headers shrink
    first (a dotted name to its last part), then the vertical rules go (a light table with
    two spaces between columns), then headers wider than their cells become letters with a
    legend in the caption. Cells too wide even then fold onto a second line rather than
    lose characters.
    """
    from rich import box

    cells = [max((len(r[i]) for r in rows), default=0) for i in range(len(headers))]

    def need(hs: list[str], framed: bool) -> int:
        ws = [max(c, *(len(w) for w in h.split())) for c, h in zip(cells, hs, strict=True)]
        return sum(ws) + (3 * len(ws) + 1 if framed else 2 * len(ws) - 1)

    short = [h.rsplit(".", 1)[-1] for h in headers]
    if len(set(short)) < len(short):
        short = list(headers)
    keys = iter([chr(ord("A") + i) for i in range(26)] + [f"A{i}" for i in range(26, 999)])
    lettered = [h if len(h) <= max(c, 1) else next(keys) for h, c in zip(short, cells, strict=True)]
    stages = [(list(headers), True), (short, True), (short, False), (lettered, False)]
    shown, framed = next(((h, f) for h, f in stages if need(h, f) <= width), stages[-1])
    legend = "  ".join(
        f"{k} = {h}" for k, h in zip(shown, headers, strict=True) if k != h and k not in short
    )
    table = Table(
        title=title,
        caption="; ".join(x for x in (legend, caption) if x) or None,
        caption_justify="left",
        box=box.HEAVY_HEAD if framed else box.SIMPLE_HEAD,
        pad_edge=framed,
        padding=(0, 1) if framed else (0, 1, 0, 0),
    )
    for i, h in enumerate(shown):
        table.add_column(
            "\n".join(h.split()) if len(h) > cells[i] else h,
            justify="right" if i in right else "left",
            no_wrap=True,
            min_width=cells[i],
            overflow="fold",
        )
    for r in rows:
        table.add_row(*r)
    return table
