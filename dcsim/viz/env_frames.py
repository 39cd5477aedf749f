"""`render_mode="rgb_array"` frames of the dcsim envs (for gymnasium's RecordVideo).

One picture of the env's state after the last step, drawn with matplotlib's Agg canvas (no
display, no pyplot state) and returned as an H x W x 3 uint8 array:
- Datacenter-v0 and Cooling-v0: every rack's inlet temperature against the recommended limit;
- PowerCap-v0: row power over the episode so far against the budget, and each server's clock;
- FlowSplit-v0: bytes each host sends and receives in the current traffic pattern (fabric load);
- Placement-v0: busy and free GPUs per leaf switch, with the queue length;
- CoDesign-v0: every rack's inlet temperature against the limit and its power against design.
The frames only read env state; they never change it (a rendered episode is the same episode).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FRAME_SIZE_IN = (6.4, 3.6)  # 512 x 288 pixels at DPI: a 16:9 video frame
DPI = 80


def frame(env: Any) -> np.ndarray:
    """The env's current state as an RGB image (H x W x 3, uint8)."""
    fig = Figure(figsize=FRAME_SIZE_IN, dpi=DPI, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    draw = DRAW.get(type(env).__name__, _draw_unknown)
    draw(fig, env)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _inlets(fig: Figure, inlet_c: np.ndarray, limit_c: float, title: str) -> None:
    ax = fig.add_subplot()
    racks = np.arange(len(inlet_c))
    hot = inlet_c > limit_c
    ax.bar(racks, inlet_c, color=np.where(hot, "tab:red", "tab:blue"), width=0.9)
    ax.axhline(limit_c, color="tab:red", ls="--", lw=1, label=f"recommended max {limit_c:g} C")
    lo = float(min(inlet_c.min(initial=limit_c), limit_c)) - 3.0
    ax.set_ylim(lo, float(max(inlet_c.max(initial=limit_c), limit_c)) + 2.0)  # not from 0 C
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("rack")
    ax.set_ylabel("inlet air (C)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")


def _draw_cooling(fig: Figure, env: Any) -> None:
    last = getattr(env, "_last", {}) or {}
    k = int(getattr(env, "k", 0))
    title = (
        f"Cooling-v0 step {k}/{env.max_steps}: PUE {last.get('pue', float('nan')):.3f}, "
        f"supply {last.get('supply', float('nan')):.1f} C, CHW {last.get('chw', float('nan')):.1f} C"
    )
    _inlets(fig, np.asarray(env.plant.t_in, float), float(env.cfg.recommended_inlet_max_c), title)


def _draw_datacenter(fig: Figure, env: Any) -> None:
    sim = env.sim
    plant = getattr(sim, "plant", None)
    title = f"Datacenter-v0 step {int(getattr(sim, 'k', 0))}/{env.max_steps}"
    if plant is None:
        _draw_unknown(fig, env)
        return
    limit = float(env.loaded.scenario.cooling.recommended_inlet_max_c)
    _inlets(fig, np.asarray(plant.t_in, float), limit, title)


def _draw_power_cap(fig: Figure, env: Any) -> None:
    sim = getattr(env, "sim", None)
    if sim is None:
        _draw_unknown(fig, env)
        return
    ax, ax2 = fig.subplots(1, 2, width_ratios=[2, 1])
    t = int(sim.t_idx)
    frac = np.asarray(sim.row_w[:t], float) / float(sim.budget_w)
    ax.plot(np.arange(t), frac, color="tab:blue", lw=1)
    ax.axhline(1.0, color="tab:red", ls="--", lw=1, label="row budget")
    ax.set_xlim(0, max(len(sim.row_w), 1))
    ax.set_ylim(
        min(0.5, float(frac.min(initial=1.0)) - 0.05),
        max(1.15, float(frac.max(initial=0.0)) + 0.05),
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("row power / budget")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"PowerCap-v0 t = {t} s, brakes {int(sim.brake_events)}", fontsize=9)
    hp = np.asarray(sim.priority_high, bool)
    f = np.asarray(sim.f_cmd, float)
    ax2.bar(np.arange(len(f)), f, color=np.where(hp, "tab:orange", "tab:green"), width=1.0)
    ax2.set_ylim(0.0, 1.05)
    ax2.set_xlabel("server (orange: HP)")
    ax2.set_ylabel("clock / max")
    ax2.set_title("commanded clocks", fontsize=9)


def _draw_flow_split(fig: Figure, env: Any) -> None:
    pattern = getattr(env, "_pattern", None)
    if pattern is None:
        _draw_unknown(fig, env)
        return
    kind, src, dst, chunk = pattern[0], pattern[1], pattern[2], float(pattern[3])
    n = int(env.fabric.n_hosts)
    out_b = np.bincount(np.asarray(src), minlength=n) * chunk
    in_b = np.bincount(np.asarray(dst), minlength=n) * chunk
    ax = fig.add_subplot()
    hosts = np.arange(n)
    ax.bar(hosts - 0.2, out_b / 1e6, width=0.4, label="sent", color="tab:blue")
    ax.bar(hosts + 0.2, in_b / 1e6, width=0.4, label="received", color="tab:orange")
    ax.set_xlabel("host")
    ax.set_ylabel("bytes this step (MB)")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(
        f"FlowSplit-v0 step {int(env._t)}/{env.episode_steps}: next pattern {kind}, "
        f"last time / NIC bound {float(env._last):.2f}",
        fontsize=9,
    )


def _draw_placement(fig: Figure, env: Any) -> None:
    cluster = env.cluster
    leaf = np.asarray(env.host_leaf)
    free = np.asarray(cluster.free, bool)
    n_leaves = int(env.n_leaves)
    busy = np.bincount(leaf[~free], minlength=n_leaves)
    idle = np.bincount(leaf[free], minlength=n_leaves)
    ax = fig.add_subplot()
    x = np.arange(n_leaves)
    ax.bar(x, busy, color="tab:blue", label="busy GPUs")
    ax.bar(x, idle, bottom=busy, color="0.85", label="free GPUs")
    ax.set_xlabel("leaf switch")
    ax.set_ylabel("GPUs")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(
        f"Placement-v0: {int(getattr(env, 'placed', 0))}/{env.n_jobs} jobs placed, "
        f"{len(cluster.queue)} queued, t = {float(cluster.now) / 3600:.1f} h",
        fontsize=9,
    )


def _draw_codesign(fig: Figure, env: Any) -> None:
    e = getattr(env, "engine", None)
    if e is None:
        _draw_unknown(fig, env)
        return
    ax, ax2 = fig.subplots(1, 2)
    inlet = np.asarray(e.plant.t_in, float)
    limit = float(e.plant.cfg.recommended_inlet_max_c)
    racks = np.arange(len(inlet))
    ax.bar(racks, inlet, color=np.where(inlet > limit, "tab:red", "tab:blue"), width=0.9)
    ax.axhline(limit, color="tab:red", ls="--", lw=1, label=f"max {limit:g} C")
    ax.set_ylim(
        float(min(inlet.min(initial=limit), limit)) - 3.0,
        float(max(inlet.max(initial=limit), limit)) + 2.0,  # not from 0 C
    )
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("rack")
    ax.set_ylabel("inlet air (C)")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"CoDesign-v0 step {int(env.k)}/{env.max_steps}", fontsize=9)
    rack_w = np.asarray(e.last.rack_w if e.last is not None else np.zeros(len(racks)), float)
    share = rack_w / np.asarray(e.design_rack_w, float)
    ax2.bar(racks, share, color="tab:orange", width=0.9)
    ax2.set_ylim(0.0, max(1.05, float(share.max(initial=0.0)) + 0.05))
    ax2.set_xlabel("rack")
    ax2.set_ylabel("power / design")
    ax2.set_title(f"{len(e.running)} jobs running, {len(e.queue)} queued", fontsize=9)


def _draw_unknown(fig: Figure, env: Any) -> None:
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        f"{type(env).__name__}: no state to draw (reset() first?)",
        ha="center",
        va="center",
    )


DRAW = {
    "CoolingEnv": _draw_cooling,
    "DatacenterEnv": _draw_datacenter,
    "PowerCapEnv": _draw_power_cap,
    "FlowSplitEnv": _draw_flow_split,
    "PlacementEnv": _draw_placement,
    "CoDesignEnv": _draw_codesign,
}
