"""Plots an architect reads (issue 19.7): no offset notation, dot plots that zoom to the data,
titles with cooling/climate/fabric/routing, the start-up transient located and marked."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.figure
import numpy as np
import pytest

import dcsim.viz  # noqa: F401  (sets the axis formatter defaults)


@pytest.fixture
def saved_figures(monkeypatch):
    """Figures passed to savefig, kept for inspection (the PNG is still written)."""
    figs = []
    original = matplotlib.figure.Figure.savefig

    def keep(self, *args, **kwargs):
        figs.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    return figs


def test_flat_series_get_no_offset_notation(tmp_path, saved_figures):
    from dcsim.viz.cooling import plot_period

    t = np.arange(24 * 30) * 3600.0
    series = {
        "t_s": t,
        "dry_bulb_c": 10 + np.sin(t / 86400),
        "wet_bulb_c": 8 + np.sin(t / 86400),
        "pue": 1.2301 + 3e-4 * (t / t[-1]),  # flat: varies in the 4th decimal only
        "economizer_fraction": np.zeros_like(t),
    }
    plot_period(
        {"series": series, "summary": {"pue": 1.23, "wue_l_per_kwh": 0.1}}, tmp_path / "p.png"
    )
    for ax in saved_figures[-1].axes:
        for axis in (ax.xaxis, ax.yaxis):
            assert axis.get_major_formatter().get_offset() == "", axis


def test_compare_dots_zoom_to_pue_not_to_zero(tmp_path, saved_figures):
    from dcsim.viz.compare import plot_comparison

    stats = {
        a: {"pue": {"mean": m, "ci95": 0.01}, "return": {"mean": -m, "ci95": 0.1}}
        for a, m in (("fixed", 1.21), ("reactive", 1.08))
    }
    plot_comparison(stats, tmp_path / "c.png", "t", baseline="fixed")
    (ax,) = [a for a in saved_figures[-1].axes if a.get_title() == "pue"]
    lo, hi = ax.get_ylim()
    assert 1.0 < lo < 1.07 and 1.22 < hi < 1.3  # the axis shows the difference, not 0..1.2
    assert not ax.patches  # dots with error bars, no bars


def test_run_title_names_cooling_climate_fabric_and_routing():
    from dcsim.viz.timeseries import run_facts

    cfg = {
        "cooling": {"type": "liquid", "supply_air_setpoint_c": 24.0},
        "climate": {"weather": {"preset": "hot-dry"}},
        "cluster": {"topology": "leaf_spine_256_oversub2.yaml"},
        "workload": {"routing": "spray"},
    }
    facts = run_facts(cfg)
    for word in (
        "cooling liquid",
        "climate hot-dry",
        "fabric leaf_spine_256_oversub2",
        "routing spray",
    ):
        assert word in facts, facts


@pytest.mark.parametrize("tau_h", [0.1, 0.25, 0.5])
def test_warmup_ends_at_three_time_constants_of_a_first_order_response(tau_h):
    from dcsim.viz.timeseries import warmup_end

    t = np.arange(0, 6, 1 / 60)  # 6 h at 1 min
    inlet = 28.0 + (22.0 - 28.0) * np.exp(-t / tau_h)  # from 22 C toward 28 C
    # 95 % of the move is reached at t = tau ln 20 = 3.0 tau
    assert math.isclose(warmup_end(t, inlet), tau_h * math.log(20), abs_tol=1 / 60)
    assert warmup_end(t, np.full_like(t, 25.0)) == 0.0  # no transient, nothing marked


def test_run_plot_marks_warmup_and_violations(tmp_path, saved_figures):
    from dcsim.viz.timeseries import plot_run_timeseries

    t = np.arange(0, 4 * 3600, 60.0)
    inlet = 28.0 + (26.0 - 28.0) * np.exp(-t / 900.0)
    zeros = np.zeros_like(t)
    rows = [
        {
            "t_s": t[i],
            "facility_w": 1e5,
            "it_w": 9e4,
            "cooling_w": 1e4,
            "pue": 1.11,
            "outdoor_c": 15.0,
            "wetbulb_c": 10.0,
            "supply_air_c": 22.0,
            "inlet_max_c": inlet[i],
            "tokens_per_s": 1e5,
            "cap_frac": 1.0,
            "freq_frac": 1.0,
            "x": zeros[i],
        }
        for i in range(len(t))
    ]
    plot_run_timeseries(rows, tmp_path / "r.png", "run", 27.0, {"cooling": {"type": "air"}})
    fig = saved_figures[-1]
    labels = [
        t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
    ]
    assert any(lbl.startswith("warm-up from idle start") for lbl in labels), labels
    assert any(lbl.startswith("above the limit") for lbl in labels), labels
    assert "cooling air" in fig.axes[0].get_title()


def test_sweep_runs_at_one_spot_stay_visible_and_distinct(tmp_path, saved_figures):
    """H100-SXM and H200 share peak BF16 and TDP, so their runs coincide: both colours must
    show (spread sideways), and every run must lie inside the panel's axis limits."""
    import yaml
    from typer.testing import CliRunner

    from dcsim.cli import app
    from dcsim.resources import find_bundled

    sweep = {
        "name": "same-spot",
        "base": str(find_bundled("scenarios", "training_base.yaml", ("sweeps",))),
        "method": "grid",
        "parameters": {
            "cluster.hardware": ["H100-SXM", "H200", "B200"],
            "cooling.type": ["air", "liquid"],
        },
        "steps": 4,
    }
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(sweep))
    runner = CliRunner()
    assert runner.invoke(app, ["sweep", str(f), "--out", str(tmp_path / "o")]).exit_code == 0
    res = runner.invoke(app, ["plot", str(tmp_path / "o" / "same-spot")])
    assert res.exit_code == 0, res.output
    ax = saved_figures[-1].axes[0]  # the first Pareto panel
    points = [c for c in ax.collections if len(c.get_offsets()) == 1]
    assert len(points) == 6
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    pixels = set()
    for c in points:
        x, y = c.get_offsets()[0]
        assert x0 <= x <= x1 and y0 <= y <= y1
        px = c.get_offset_transform().transform((x, y))
        pixels.add((round(px[0]), round(px[1])))
    assert len(pixels) == 6  # no run hidden under another
    assert any("spread sideways" in t.get_text() for t in ax.texts)
