"""PNG figures of runs (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_run_timeseries(
    rows: Sequence[dict[str, float]], path: Path, title: str, inlet_limit_c: float
) -> Path:
    """Power (IT, cooling, facility), PUE, temperatures and throughput over time."""
    t_h = np.array([r["t_s"] for r in rows]) / 3600.0
    col = {
        k: np.array([r[k] for r in rows]) for k in rows[0] if isinstance(rows[0][k], int | float)
    }
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True, constrained_layout=True)
    ax = axes[0]
    ax.plot(t_h, col["facility_w"] / 1e3, label="facility", color="black")
    ax.plot(t_h, col["it_w"] / 1e3, label="IT", color="tab:blue")
    ax.plot(t_h, col["cooling_w"] / 1e3, label="cooling", color="tab:cyan")
    ax.set_ylabel("power (kW)")
    ax2 = ax.twinx()
    ax2.plot(t_h, col["pue"], color="tab:red", alpha=0.6, lw=1, label="PUE")
    ax2.set_ylabel("PUE", color="tab:red")
    ax.legend(loc="upper left")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.plot(t_h, col["outdoor_c"], label="outdoor dry bulb", color="tab:orange")
    ax.plot(t_h, col["wetbulb_c"], label="outdoor wet bulb", color="tab:olive", lw=1)
    ax.plot(t_h, col["supply_air_c"], label="supply air setpoint", color="tab:green")
    ax.plot(t_h, col["inlet_max_c"], label="hottest rack inlet", color="tab:red")
    ax.axhline(
        inlet_limit_c,
        color="tab:red",
        ls="--",
        lw=1,
        label=f"ASHRAE recommended max {inlet_limit_c:g} C",
    )
    ax.set_ylabel("temperature (C)")
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    ax.grid(alpha=0.3)
    ax = axes[2]
    ax.plot(t_h, col["tokens_per_s"] / 1e3, color="tab:purple", label="throughput")
    ax.set_ylabel("training ktokens/s")
    ax.set_xlabel("time (h)")
    ax3 = ax.twinx()
    ax3.plot(t_h, col["cap_frac"], color="tab:gray", lw=1, label="power cap (share of TDP)")
    ax3.plot(t_h, col["freq_frac"], color="tab:brown", lw=1, ls=":", label="clock (share of max)")
    ax3.set_ylim(0, 1.05)
    ax3.set_ylabel("share")
    ax.legend(loc="lower left")
    ax3.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
