"""Figures of run and sweep directories (`dcsim plot`): time series, Pareto fronts, main effects.

A sweep figure has a Pareto panel (two metrics, both lower-is-better; the non-dominated runs
are highlighted, joined and labelled) and one panel per swept parameter showing the Pareto y
metric against that parameter: every run as a dot and the mean over the other parameters as a
line (a main-effects plot, Montgomery, Design and Analysis of Experiments, ch. 5).
"""

from __future__ import annotations

import csv
import json
import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from dcsim.errors import InputError  # noqa: E402

LABELS = {
    "facility_energy_kwh": "facility energy (kWh)",
    "it_energy_kwh": "IT energy (kWh)",
    "cooling_energy_kwh": "cooling energy (kWh)",
    "pue": "PUE",
    "carbon_kg": "carbon (kg CO2e)",
    "wue_l_per_kwh": "WUE (L/kWh)",
    "mean_step_time_s": "mean training step time (s)",
    "mean_tokens_per_s": "throughput (tokens/s)",
    "energy_per_token_j": "facility energy per token (J)",
    "max_inlet_c": "hottest rack inlet (C)",
    "peak_facility_kw": "peak facility power (kW, to provision)",
    "violation_steps": "thermal violation intervals",
    "violation_degree_hours": "violation severity (C h)",
    "wall_s": "wall time (s)",
    "mfu": "MFU (6ND / peak BF16)",
    "nic_gbps": "NIC per accelerator (Gb/s)",
    "exposed_comm_share": "exposed DP comm / step time",
    # multitenant runs (dcsim.tenancy.scenario.simulate)
    "useful_work": "useful work (CoDesign-v0 work term)",
    "cost_usd": "electricity cost (USD)",
    "thermal_k_min": "hottest rack over limit (K min)",
    "over_budget_kw_min": "power over budget (kW min)",
    "brakes": "POLCA brake events",
    "slo_violation_min": "inference SLO violation (min)",
    "slo_attainment": "inference SLO attainment",
    "jobs_finished": "training jobs finished",
    "jct_mean_h": "mean job completion time (h)",
}


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def pareto_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-dominated points when minimizing both x and y (one representative of exact ties).

    Sort by x (then y); a point is on the front iff its y is below every y seen before it.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    order = np.lexsort((y, x))
    best = np.minimum.accumulate(np.concatenate([[np.inf], y[order][:-1]]))
    on = y[order] < best
    mask = np.zeros(len(x), bool)
    mask[order[on]] = True
    return mask


# ----------------------------------------------------------------------------- runs
def read_csv_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV file, numbers as floats, other cells as text (empty: "")."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        d: dict[str, Any] = {}
        for k, v in r.items():
            try:
                d[k] = float(v)
            except (TypeError, ValueError):
                d[k] = v
        out.append(d)
    return out


def plot_run_dir(run_dir: Path, out: Path | None = None) -> dict[str, Any]:
    """Redraw a run's time series from its timeseries.csv (dcsim.viz.timeseries.plot_run_timeseries)."""
    from dcsim.viz.timeseries import inlet_limit_c, plot_for

    ts = run_dir / "timeseries.csv"
    rows = read_csv_rows(ts)
    if not rows:
        raise InputError("timeseries.csv has no rows", file=str(ts))
    manifest: dict[str, Any] = {}
    if (run_dir / "manifest.json").is_file():
        manifest = json.loads((run_dir / "manifest.json").read_text())
    cfg: dict[str, Any] = {}
    cfg_path = run_dir / "config.resolved.yaml"
    if cfg_path.is_file():
        cfg = yaml.safe_load(cfg_path.read_text()) or {}
    limit = inlet_limit_c(cfg)
    sysd = manifest.get("system", {})
    title = (
        f"{manifest.get('sweep') or manifest.get('scenario', run_dir.name)}: "
        f"{sysd.get('accelerators', '?')} x {sysd.get('hardware', '?')}, agent {manifest.get('agent', '?')}"
    )
    if manifest.get("params"):
        title += "\n" + ", ".join(
            f"{k.split('.')[-1]}={_short(v)}" for k, v in manifest["params"].items()
        )
    png = Path(out) if out else run_dir / "timeseries.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    try:
        plot_for(cfg)(rows, png, title, limit, cfg)
    except KeyError as exc:
        raise InputError(f"timeseries.csv lacks column {exc}", file=str(ts)) from None
    return {"kind": "run", "png": str(png), "rows": len(rows)}


# ----------------------------------------------------------------------------- sweeps
def _short(v: Any) -> str:
    from dcsim.sweep import short

    return short(v)


def _numeric(values: list[str]) -> np.ndarray | None:
    try:
        arr = np.array([float(v) for v in values])
    except ValueError:
        return None
    return arr if np.all(np.isfinite(arr)) else None


def load_sweep_table(
    sweep_dir: Path,
) -> tuple[list[str], list[dict[str, str]], dict[str, list[str]]]:
    """(parameters, index rows, category order per parameter) of a sweep directory."""
    from dcsim.sweep import read_index

    rows = read_index(sweep_dir)
    meta_path = sweep_dir / "sweep.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        params = list(meta.get("parameters", []))
        order = {
            k: list(
                dict.fromkeys(str(_csv_value(r["params"].get(k))) for r in meta.get("runs", []))
            )
            for k in params
        }
    else:  # fall back: dotted columns are parameters
        params = [k for k in (rows[0] if rows else {}) if "." in k]
        order = {k: list(dict.fromkeys(_canonical(r[k]) for r in rows)) for k in params}
    for r in rows:  # one spelling per value: mappings with sorted keys, as in sweep.json
        for k in params:
            if k in r:
                r[k] = _canonical(r[k])
    if meta_path.is_file():
        from dcsim.sweep import link_columns

        params, order = link_columns(meta, rows, params, order)
    return params, rows, order


def _canonical(text: str) -> str:
    """A JSON mapping or list from index.csv re-spelled with sorted keys (one spelling per value)."""
    if text[:1] in "{[":
        try:
            return json.dumps(json.loads(text), sort_keys=True)
        except ValueError:
            return text
    return text


def value_labels(params: list[str], order: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """Short stable labels of mapping/list parameter values: the mapping's `name` when every
    value has a distinct one, else `<param>#<i>` in plan order; scalars keep their short form."""
    out: dict[str, dict[str, str]] = {}
    for k in params:
        vals = order.get(k, [])
        parsed = [json.loads(v) if v[:1] in "{[" else None for v in vals]
        if not any(isinstance(p, dict | list) for p in parsed):
            continue
        names = [p.get("name") if isinstance(p, dict) else None for p in parsed]
        if all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
            out[k] = {v: str(n) for v, n in zip(vals, names, strict=True)}
        else:
            out[k] = {v: f"{k.split('.')[-1]}#{i + 1}" for i, v in enumerate(vals)}
    return out


def _flow(text: str) -> str:
    """A JSON value as a one-line YAML flow mapping (how a user writes it in a sweep file)."""
    try:
        return yaml.safe_dump(json.loads(text), default_flow_style=True, width=10**6).strip()
    except ValueError:
        return text


def _csv_value(v: Any) -> str:
    """How index.csv spells a parameter value (csv_text writes floats with 10 digits)."""
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


STEP_AXES = ("mean_step_time_s", "energy_per_token_j")  # default Pareto axes of dcsim run sweeps
MULTITENANT_AXES = ("carbon_kg", "jct_mean_h")  # the defaults when runs are multitenant


def plot_sweep(
    sweep_dir: Path,
    out: Path | None = None,
    x: str = STEP_AXES[0],
    y: str = STEP_AXES[1],
    y2: str | None = "peak_facility_kw",
) -> dict[str, Any]:
    """Pareto fronts of x vs y and x vs y2 (all minimized) plus y against each swept parameter.
    With the default axes on multitenant runs (no step time), carbon vs mean JCT."""
    params, rows, order = load_sweep_table(sweep_dir)
    done = [r for r in rows if r.get("status") == "complete"]
    n_failed = sum(r.get("status") == "failed" for r in rows)
    n_pending = sum(r.get("status") == "pending" for r in rows)
    if rows and y2 is not None and y2 not in rows[0]:
        y2 = None
    for m, opt in ((x, "--x"), (y, "--y")):
        if rows and m not in rows[0]:
            raise InputError(
                f"unknown metric '{m}'; index.csv has: {', '.join(k for k in rows[0] if k in LABELS)}",
                field=opt,
            )
    if not done:
        raise InputError("no complete runs to plot yet", file=str(sweep_dir / "index.csv"))

    def reported(m: str) -> bool:
        return any(r.get(m) not in ("", None) for r in done)

    if (x, y) == STEP_AXES and not reported(x):
        x, y = MULTITENANT_AXES  # multitenant runs report no step time or energy per token
    for m, opt in ((x, "--x"), (y, "--y")):
        if not reported(m):
            have = [k for k in done[0] if k in LABELS and reported(k)]
            raise InputError(f"no run reports '{m}'; these runs have: {', '.join(have)}", field=opt)
    if y2 is not None and not reported(y2):
        y2 = None  # a metric these runs do not report (e.g. multitenant runs)
    ys = np.array([float(r[y] or "nan") for r in done])
    ok = np.isfinite(ys)
    varying = [k for k in params if len({r[k] for r in done}) > 1] or params
    pairs = [(x, y)] + ([(x, y2)] if y2 and y2 != y else [])
    names = value_labels(params, order)

    def lab(k: str, v: str) -> str:
        return names.get(k, {}).get(v) or _short(v)

    legend_lines = [f"{lbl} = {k}: {_flow(v)}" for k, m in names.items() for v, lbl in m.items()]

    n_p = len(params)
    ncols = min(max(n_p, 2), 4)
    nrows_p = math.ceil(n_p / ncols) if n_p else 0
    n_leg = len(legend_lines)
    fig = plt.figure(
        figsize=(4.2 * ncols + 1.5, 6.0 + 3.4 * nrows_p + 0.22 * n_leg), constrained_layout=True
    )
    gs = fig.add_gridspec(
        1 + nrows_p + (1 if n_leg else 0),
        ncols,
        height_ratios=[1.9] + [1.0] * nrows_p + ([0.07 * n_leg + 0.05] if n_leg else []),
    )
    top = gs[0, :].subgridspec(1, len(pairs))
    fronts = []
    for j, (mx, my) in enumerate(pairs):
        ax = fig.add_subplot(top[0, j])
        fronts.append(
            _pareto_panel(ax, done, mx, my, params, order, varying, legend=(j == 0), lab=lab)
        )
    title = f"sweep {sweep_dir.name}: {len(done)} runs"
    if n_failed or n_pending:
        title += f" ({n_failed} failed, {n_pending} pending: not shown)"
    title += "; labels: " + " | ".join(k.split(".")[-1] for k in varying)
    fig.suptitle(title + "\n" + fabric_facts(done, params), fontsize=11)
    for p_i, k in enumerate(params):
        axp = fig.add_subplot(gs[1 + p_i // ncols, p_i % ncols])
        _effect_panel(axp, k, done, ys, ok, order.get(k, []), lambda v, k=k: lab(k, v))
        axp.set_ylabel(label(y) if p_i % ncols == 0 else "")
    if n_leg:  # what each short label stands for, in full
        axl = fig.add_subplot(gs[-1, :])
        axl.axis("off")
        axl.text(
            0.0,
            1.0,
            "labels:\n" + "\n".join(legend_lines),
            va="top",
            ha="left",
            fontsize=7.5,
            family="monospace",
            wrap=True,
        )
    png = Path(out) if out else sweep_dir / "sweep.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return {
        "kind": "sweep",
        "png": str(png),
        "x": x,
        "y": y,
        "runs": len(done),
        "failed": n_failed,
        "pending": n_pending,
        "pareto": fronts[0],
        "pareto_y2": fronts[1] if len(fronts) > 1 else [],
        "labels": {k: {lbl: json.loads(v) for v, lbl in m.items()} for k, m in names.items()},
    }


def _spread(values: list[float], fmt: str) -> str:
    lo, hi = min(values), max(values)
    return (
        fmt.format(lo)
        if hi - lo <= 1e-9 * max(abs(hi), 1.0)
        else f"{fmt.format(lo)}-{fmt.format(hi)}"
    )


def fabric_facts(done: list[dict[str, str]], params: list[str]) -> str:
    """One line: routing, NIC Gb/s (per accelerator when the hardware is swept), MFU and the
    exposed share of the DP all-reduce in the step, from index.csv (blank columns skipped)."""
    parts = []
    routes = sorted({r["routing"] for r in done if r.get("routing")})
    if routes:
        parts.append("routing " + "/".join(routes))
    for key, name, fmt in (("nic_gbps", "NIC", "{:.0f}"), ("mfu", "MFU", "{:.2f}")):
        vals = [(r.get("cluster.hardware", ""), float(r[key])) for r in done if r.get(key)]
        if not vals:
            continue
        per_hw = dict(sorted(vals))
        if "cluster.hardware" in params and len(set(per_hw.values())) > 1:
            text = ", ".join(f"{hw} {fmt.format(v)}" for hw, v in per_hw.items())
        else:
            text = _spread([v for _, v in vals], fmt)
        parts.append(f"{name} {text}" + (" Gb/s" if key == "nic_gbps" else ""))
    share = [float(r["exposed_comm_share"]) * 100 for r in done if r.get("exposed_comm_share")]
    if share:
        parts.append(f"exposed DP comm {_spread(share, '{:.0f}')} % of step")
    return textwrap.fill("; ".join(parts), width=150)


def _pareto_panel(
    ax: Any,
    done: list[dict[str, str]],
    x: str,
    y: str,
    params: list[str],
    order: dict[str, list[str]],
    varying: list[str],
    legend: bool,
    lab: Any = None,
) -> list[dict[str, Any]]:
    """Scatter of all runs; the non-dominated ones outlined, joined and numbered (the numbers
    are explained in a box, so labels never overlap). Runs at the same spot are spread sideways
    by a few points, so a colour in the legend is never hidden under another."""
    from matplotlib.transforms import offset_copy

    lab = lab or (lambda _k, v: _short(v))
    xs = np.array([float(r[x] or "nan") for r in done])
    ys = np.array([float(r[y] or "nan") for r in done])
    ok = np.isfinite(xs) & np.isfinite(ys)
    front = pareto_mask(np.where(ok, xs, np.inf), np.where(ok, ys, np.inf)) & ok

    def run_label(r: dict[str, str]) -> str:
        text = " | ".join(lab(k, r[k]) for k in varying)
        if r.get("exposed_comm_share"):  # the fabric's share of this run's step time
            text += f" ({float(r['exposed_comm_share']):.0%} comm)"
        return text

    # Colour by the first parameter, marker by the second (when categorical and small).
    cmap = plt.get_cmap("tab10")
    c_key = params[0] if params else None
    m_key = params[1] if len(params) > 1 and len(order.get(params[1], [])) <= 6 else None
    markers = ["o", "s", "^", "D", "v", "P"]
    c_cats = order.get(c_key, []) if c_key else []
    c_num = _numeric([r[c_key] for r in done]) if c_key else None
    # Runs within 1 % of both axis spans of each other share a cell and are spread sideways.
    spans = [float(np.ptp(v[ok])) if ok.any() else 0.0 for v in (xs, ys)]
    cells: dict[tuple[int, int], list[int]] = {}
    for i in np.flatnonzero(ok).tolist():
        cell = tuple(
            int(round(v[i] / (0.01 * sp))) if sp > 0 else 0
            for v, sp in zip((xs, ys), spans, strict=True)
        )
        cells.setdefault(cell, []).append(i)  # type: ignore[arg-type]
    dx = {i: 0.0 for i in range(len(done))}
    n_shared = 0
    for members in cells.values():
        if len(members) > 1:
            n_shared += len(members)
            for j, i in enumerate(members):
                dx[i] = (j - (len(members) - 1) / 2) * 8.0  # points
    for i, r in enumerate(done):
        if not ok[i]:
            continue
        if c_key and c_num is None and len(c_cats) <= 10:
            color = cmap(c_cats.index(r[c_key]) % 10) if r[c_key] in c_cats else "gray"
        elif c_key and c_num is not None:
            lo, hi = float(c_num.min()), float(c_num.max())
            color = plt.get_cmap("viridis")((float(r[c_key]) - lo) / (hi - lo) if hi > lo else 0.5)
        else:
            color = "tab:blue"
        mk = (
            markers[order[m_key].index(r[m_key]) % len(markers)]
            if m_key and r[m_key] in order[m_key]
            else "o"
        )
        ax.scatter(
            xs[i],
            ys[i],
            color=color,
            marker=mk,
            s=80 if front[i] else 36,
            edgecolors="black" if front[i] else "0.3",
            linewidths=1.4 if front[i] else 0.5,
            alpha=1.0 if front[i] else 0.75,
            zorder=3 if front[i] else 2,
            transform=offset_copy(ax.transData, fig=ax.figure, x=dx[i], y=0, units="points"),
        )
    fi = np.flatnonzero(front)
    fi = fi[np.argsort(xs[fi])]
    ax.plot(xs[fi], ys[fi], color="black", lw=1, ls="--", zorder=1)
    for j, i in enumerate(fi.tolist()):
        ax.annotate(
            str(j + 1),
            (xs[i], ys[i]),
            textcoords="offset points",
            xytext=(dx[i] + 7, 7),
            fontsize=8,
            fontweight="bold",
            zorder=4,
        )
    key_text = "\n".join(
        textwrap.shorten(f"{j + 1}: {run_label(done[i])}", 70) for j, i in enumerate(fi.tolist())
    )
    if n_shared:
        key_text += f"\n({n_shared} runs at shared spots, spread sideways)"
    ax.text(
        0.01,
        0.01,
        key_text,
        transform=ax.transAxes,
        va="bottom",
        ha="left",
        fontsize=7,
        zorder=5,
        bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.6", "alpha": 0.9},
    )
    if legend:
        handles = [
            plt.Line2D(
                [],
                [],
                color="black",
                ls="--",
                lw=1,
                marker="o",
                mfc="white",
                mec="black",
                label="Pareto front (non-dominated)",
            )
        ]
        if c_key and c_num is None and len(c_cats) <= 10:
            handles += [
                plt.Line2D([], [], color=cmap(k % 10), marker="o", ls="", label=lab(c_key, v))
                for k, v in enumerate(c_cats)
            ]
        if m_key:
            handles += [
                plt.Line2D(
                    [],
                    [],
                    color="gray",
                    marker=markers[k % len(markers)],
                    ls="",
                    label=lab(m_key, v),
                )
                for k, v in enumerate(order[m_key])
            ]
        ax.legend(
            handles=handles,
            fontsize=7.5,
            loc="best",
            ncols=2,
            title=" / ".join(k.split(".")[-1] for k in (c_key, m_key) if k),
            title_fontsize=8,
        )
    if ok.any():  # the offset scatter transforms do not enter autoscaling: add the data
        ax.update_datalim(np.column_stack([xs[ok], ys[ok]]))
        ax.autoscale_view()
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.margins(x=0.12, y=0.15)
    ax.set_xlabel(label(x) + "  (lower is better)")
    ax.set_ylabel(label(y) + "  (lower is better)")
    ax.set_title(
        textwrap.fill(f"{label(y)} vs {label(x)}: {int(front.sum())} non-dominated", 60),
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    return [
        {
            "run_id": done[i]["run_id"],
            "number": j + 1,
            "label": run_label(done[i]),
            x: float(xs[i]),
            y: float(ys[i]),
            "params": {k: done[i][k] for k in params},
        }
        for j, i in enumerate(fi.tolist())
    ]


def _effect_panel(
    ax: Any,
    key: str,
    done: list[dict[str, str]],
    ys: np.ndarray,
    ok: np.ndarray,
    cats: list[str],
    lab: Any = _short,
) -> None:
    """Metric vs one parameter: every run as a dot, the mean over the rest as a line."""
    vals = [r[key] for r in done]
    num = _numeric(vals)
    rng = np.random.default_rng(0)  # fixed jitter: the figure is reproducible
    if num is None or len(set(vals)) <= 12:
        levels = [c for c in cats if c in set(vals)] or list(dict.fromkeys(vals))
        if num is not None:
            levels = sorted(levels, key=float)
        pos = {c: i for i, c in enumerate(levels)}
        xp = np.array([pos[v] for v in vals], float)
        xs_plot = (
            np.array([float(c) for c in levels])
            if num is not None
            else np.arange(len(levels), dtype=float)
        )
        if num is not None:
            xp = num
            jitter = np.zeros(len(xp))
        else:
            jitter = rng.uniform(-0.12, 0.12, len(xp))
        ax.scatter((xp + jitter)[ok], ys[ok], s=10, alpha=0.35, color="tab:blue")
        means = [
            np.mean(ys[ok & (np.array(vals) == c)])
            if np.any(ok & (np.array(vals) == c))
            else np.nan
            for c in levels
        ]
        lo = [
            np.min(ys[ok & (np.array(vals) == c)]) if np.any(ok & (np.array(vals) == c)) else np.nan
            for c in levels
        ]
        hi = [
            np.max(ys[ok & (np.array(vals) == c)]) if np.any(ok & (np.array(vals) == c)) else np.nan
            for c in levels
        ]
        ax.fill_between(xs_plot, lo, hi, color="tab:blue", alpha=0.08, lw=0)
        ax.plot(
            xs_plot, means, color="tab:red", marker="o", lw=2, label="mean over other parameters"
        )
        if num is None:
            ax.set_xticks(np.arange(len(levels)))
            ax.set_xticklabels(
                [lab(c) for c in levels],
                rotation=20 if len(levels) > 3 else 0,
                ha="right" if len(levels) > 3 else "center",
                fontsize=8,
            )
    else:  # continuous (random sweeps): dots plus means in 8 equal-count bins
        ax.scatter(num[ok], ys[ok], s=10, alpha=0.45, color="tab:blue")
        edges = np.quantile(num[ok], np.linspace(0, 1, 9))
        idx = np.clip(np.searchsorted(edges, num, side="right") - 1, 0, 7)
        centers, means = [], []
        for b in range(8):
            sel = ok & (idx == b)
            if np.any(sel):
                centers.append(float(np.mean(num[sel])))
                means.append(float(np.mean(ys[sel])))
        ax.plot(centers, means, color="tab:red", marker="o", lw=2, label="binned mean")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    if num is not None:
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
    ax.set_title(key, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def plot_path(
    path: str | Path,
    out: str | Path | None = None,
    x: str = STEP_AXES[0],
    y: str = STEP_AXES[1],
    y2: str | None = "peak_facility_kw",
) -> dict[str, Any]:
    """`dcsim plot`: a run directory (timeseries.csv) or a sweep directory (index.csv)."""
    p = Path(path)
    if not p.is_dir():
        raise InputError("not a directory", file=str(p))
    o = Path(out) if out else None
    if o is not None and o.suffix.lower() != ".png":
        raise InputError("the output must be a .png file", field="--out")
    if (p / "index.csv").is_file():
        return plot_sweep(p, o, x, y, y2)
    if (p / "timeseries.csv").is_file():
        return plot_run_dir(p, o)
    raise InputError(
        "neither a run directory (timeseries.csv) nor a sweep directory (index.csv)", file=str(p)
    )
