"""Dot plot of an agent comparison: one panel per metric, mean with 95% CI error bars.

Dots, not bars: a bar's length reads as the quantity, so bars must start at zero, and from
zero a PUE of 1.08 vs 1.21 or an inlet of 24 vs 27 C look alike. Dots let each axis zoom to
the data (no offset notation), and a dashed line marks the baseline agent when there is one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# shown first when present (the quantities a reader compares agents on)
PREFERRED = (
    "return",
    "violation_steps",
    "facility_kwh",
    "energy_kwh",
    "it_kwh",
    "cooling_kwh",
    "carbon_kg",
    "pue",
    "tokens_per_s",
    "slowdown",
    "wait_h",
    "fragmentation",
    "row_power_frac_peak",
    "brake_events_total",
    "hp_clock_frac",
    "lp_clock_frac",
    "violation_k",
    "inlet_max_c",
)


def pick_metrics(stats: dict[str, dict[str, dict[str, float]]], limit: int = 12) -> list[str]:
    """Preferred metrics first, then any other that differs between agents; constants are skipped."""
    agents = list(stats)
    keys: list[str] = []
    for a in agents:
        keys += [k for k in stats[a] if k not in keys]

    def varies(k: str) -> bool:
        vals = [
            stats[a][k]["mean"]
            for a in agents
            if k in stats[a] and math.isfinite(stats[a][k]["mean"])
        ]
        return len(vals) > 0 and (
            len(agents) == 1 or max(vals) - min(vals) > 1e-12 * max(1.0, max(map(abs, vals)))
        )

    chosen = [k for k in PREFERRED if k in keys and (k == "return" or varies(k))]
    chosen += [k for k in keys if k not in chosen and k not in ("steps", "t_s") and varies(k)]
    return chosen[:limit]


def plot_comparison(
    stats: dict[str, dict[str, dict[str, float]]],
    path: str | Path,
    title: str,
    metrics: list[str] | None = None,
    baseline: str | None = None,
) -> Path:
    """stats: agent -> metric -> {mean, ci95}. Writes a PNG grid of dot plots; `baseline`
    (an agent of `stats`) is drawn as a dashed reference line in every panel."""
    metrics = metrics or pick_metrics(stats)
    agents = list(stats)
    n = max(len(metrics), 1)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.4 * cols, 2.9 * rows), squeeze=False, constrained_layout=True
    )
    colours = plt.get_cmap("tab10")(np.arange(len(agents)) % 10)
    x = np.arange(len(agents))
    for i, ax in enumerate(axes.ravel()):
        if i >= len(metrics):
            ax.axis("off")
            continue
        k = metrics[i]
        mean = np.array([stats[a].get(k, {}).get("mean", np.nan) for a in agents], dtype=float)
        ci = np.array([stats[a].get(k, {}).get("ci95", np.nan) for a in agents], dtype=float)
        err = np.where(np.isfinite(ci), ci, 0.0)
        for j in range(len(agents)):
            ax.errorbar(
                x[j], mean[j], yerr=err[j], fmt="o", color=colours[j], capsize=4, ms=6, lw=1.5
            )
        if baseline in stats and k in stats[baseline]:
            ax.axhline(stats[baseline][k]["mean"], color="0.4", ls="--", lw=0.8, zorder=0)
        ax.set_xticks(x, agents, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(agents) - 0.4)
        ax.margins(y=0.15)
        ax.set_title(k, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="y", labelsize=8)
    note = "mean over seeds, error bars: 95% CI (Student t); axes zoom to the data"
    if baseline in stats:
        note += f"; dashed: baseline {baseline}"
    fig.suptitle(f"{title}\n{note}", fontsize=10)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def stats_of(comparison: Any) -> dict[str, dict[str, dict[str, float]]]:
    return {e.label: e.stats for e in comparison.evaluations}
