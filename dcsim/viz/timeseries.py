"""PNG figures of runs (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def run_facts(config: Mapping[str, Any] | None) -> str:
    """One title line from the resolved scenario: cooling, climate, fabric and routing."""
    if not config:
        return ""
    cool = config.get("cooling") or {}
    clim = (config.get("climate") or {}).get("weather") or {}
    cluster = config.get("cluster") or {}
    work = config.get("workload") or {}
    climate = clim.get("file") or clim.get("preset")
    topo = cluster.get("topology")
    if isinstance(topo, Mapping):
        topo = topo.get("name") or topo.get("kind")
    parts = [
        f"cooling {cool['type']}" if cool.get("type") else "",
        f"supply air {cool['supply_air_setpoint_c']:g} C"
        if isinstance(cool.get("supply_air_setpoint_c"), int | float)
        else "",
        f"climate {Path(str(climate)).stem if climate else '?'}",
        f"fabric {Path(str(topo)).stem}" if topo else "",
        f"routing {work['routing']}" if work.get("routing") else "",
    ]
    return ", ".join(p for p in parts if p)


def warmup_end(t_h: np.ndarray, inlet_c: np.ndarray) -> float:
    """End of the start-up transient, hours: the plant starts from its reset state (idle
    racks), so the hottest inlet moves toward its operating level like a first-order system;
    warm-up ends at three time constants (95 % of the move), the first time the inlet has
    covered 95 % of the way from its start to its median over the second half of the run."""
    n = len(inlet_c)
    if n < 4:
        return float(t_h[0]) if n else 0.0
    start, level = float(inlet_c[0]), float(np.median(inlet_c[n // 2 :]))
    move = level - start
    if abs(move) < 0.05:  # no transient worth marking (< 0.05 K)
        return float(t_h[0])
    done = np.flatnonzero((inlet_c - start) / move >= 0.95)
    return float(t_h[done[0]]) if done.size else float(t_h[0])


def plot_run_timeseries(
    rows: Sequence[dict[str, float]],
    path: Path,
    title: str,
    inlet_limit_c: float,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Power (IT, cooling, facility), PUE, temperatures and throughput over time; the title
    carries cooling, climate, fabric and routing, the start-up transient is shaded and
    intervals above the inlet limit are marked (with how many fall in the warm-up)."""
    t_h = np.array([r["t_s"] for r in rows]) / 3600.0
    col = {
        k: np.array([r[k] for r in rows]) for k in rows[0] if isinstance(rows[0][k], int | float)
    }
    facts = run_facts(config)
    if facts:
        title = f"{title}\n{facts}"
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
    t_w = warmup_end(t_h, col["inlet_max_c"])
    hot = col["inlet_max_c"] > inlet_limit_c
    if t_w > t_h[0]:
        n_w = int(np.sum(hot & (t_h < t_w)))
        for a in axes:
            a.axvspan(t_h[0], t_w, color="0.85", alpha=0.6, lw=0, zorder=0)
        ax.plot(
            [],
            [],
            color="0.8",
            lw=6,
            label=f"warm-up from idle start\n({n_w} of {int(hot.sum())} intervals above the limit)",
        )
    if hot.any():
        ax.fill_between(
            t_h,
            inlet_limit_c,
            col["inlet_max_c"],
            where=hot,
            color="tab:red",
            alpha=0.3,
            lw=0,
            zorder=1,
            label=f"above the limit ({int(hot.sum())} intervals)",
        )
    ax.set_ylabel("temperature (C)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
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


def inlet_limit_c(config: Mapping[str, Any]) -> float:
    """The ASHRAE recommended inlet maximum of a resolved run config (either kind)."""
    cool = (config.get("engine") or {}).get("cooling") or config.get("cooling") or {}
    return float(cool.get("recommended_inlet_max_c", 27.0))


def plot_multitenant_timeseries(
    rows: Sequence[dict[str, Any]],
    path: Path,
    title: str,
    inlet_limit_c: float,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """A multi-tenant run (`kind: multitenant`): facility power against the POLCA budget with
    grid carbon; hottest inlet and the agent's setpoints against the ASHRAE limit; useful
    work, SLO attainment and tank charge; running and queued jobs."""
    t_h = np.array([float(r["t_s"]) for r in rows]) / 3600.0

    def col(k: str) -> np.ndarray:
        return np.array([float(r[k]) for r in rows])

    if config:
        eng = config.get("engine") or {}
        title += (
            f"\nregion {config.get('region')}, climate {config.get('climate')}, "
            f"day {config.get('start_day')}, {eng.get('racks')} racks x "
            f"{eng.get('accelerators_per_rack')} {eng.get('hardware')}, "
            f"budget {eng.get('budget_fraction')} of design IT"
        )
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True, constrained_layout=True)
    ax = axes[0]
    ax.plot(t_h, col("facility_kw"), label="facility", color="black")
    ax.plot(t_h, col("it_kw"), label="IT", color="tab:blue")
    ax.plot(t_h, col("cooling_kw"), label="cooling", color="tab:cyan")
    ax.plot(t_h, col("budget_kw"), label="IT power budget", color="tab:red", ls="--", lw=1)
    ax.set_ylabel("power (kW)")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(t_h, col("carbon_g_per_kwh"), color="tab:green", lw=1, alpha=0.7)
    ax2.set_ylabel("grid carbon (g/kWh)", color="tab:green")
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.plot(t_h, col("inlet_max_c"), label="hottest rack inlet", color="tab:red")
    ax.plot(t_h, col("supply_air_c"), label="supply air setpoint", color="tab:green")
    ax.plot(t_h, col("chw_supply_c"), label="chilled water setpoint", color="tab:blue")
    ax.axhline(
        inlet_limit_c, color="tab:red", ls="--", lw=1, label=f"ASHRAE max {inlet_limit_c:g} C"
    )
    ax.set_ylabel("temperature (C)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[2]
    ax.plot(t_h, col("work"), label="useful work (share of cluster)", color="tab:purple")
    ax.plot(t_h, col("slo_attainment"), label="inference SLO attainment", color="tab:orange")
    ax.plot(t_h, col("tank_soc"), label="tank state of charge", color="tab:gray", ls=":")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share")
    ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[3]
    ax.step(t_h, col("running_jobs"), where="post", label="running", color="tab:blue")
    ax.step(t_h, col("queued_jobs"), where="post", label="queued", color="tab:orange")
    ax.set_ylabel("training jobs")
    ax.set_xlabel("time (h)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_for(config: Mapping[str, Any] | None) -> Any:
    """The time-series figure of a run config's kind."""
    if config and config.get("kind") == "multitenant":
        return plot_multitenant_timeseries
    return plot_run_timeseries
