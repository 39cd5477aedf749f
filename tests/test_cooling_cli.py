"""`dcsim cooling ...` commands and the annual plant simulation behind them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.climate import ClimateConfig, WeatherConfig
from dcsim.cooling import CoolingConfig, simulate_period

runner = CliRunner()


def test_year_json_and_plot(tmp_path):
    png = tmp_path / "year.png"
    res = runner.invoke(app, ["cooling", "year", "--days", "3", "--json", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["hours"] == pytest.approx(72.0)
    assert 1.0 <= s["pue"] < 1.6
    assert s["it_mwh"] > 0 and s["water_m3"] > 0
    assert png.is_file() and png.stat().st_size > 10_000


def test_year_table_and_density_warning():
    """Issue 15.5: 50 kW air racks are refused (exit 2, clear message, no traceback) unless
    --allow-over-density; allowed, the table still shows the density error note."""
    res = runner.invoke(app, ["cooling", "year", "--days", "1", "--rack-kw", "50"])
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert "50.0 kW per rack" in out and "cooling.allow_over_density" in out
    assert "Traceback" not in res.output
    res = runner.invoke(
        app, ["cooling", "year", "--days", "1", "--rack-kw", "50", "--allow-over-density"]
    )
    assert res.exit_code == 0, res.output
    assert "PUE" in res.stdout and "error: air would carry" in res.stdout
    assert "chiller COP" in res.stdout  # annual chiller COP and its range (issue 15.2)


@pytest.mark.parametrize(
    "args",
    [["--type", "water"], ["--climate", "mars"], ["--economizer", "maybe"], ["--country", "ZZ"]],
)
def test_bad_input_exits_2(args):
    res = runner.invoke(app, ["cooling", "year", "--days", "1", *args])
    assert res.exit_code == 2
    assert "Traceback" not in res.output


def test_carbon_and_presets_json():
    res = runner.invoke(app, ["cooling", "carbon", "--json"])
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    assert {"country", "g_per_kwh", "source"} <= set(rows[0])
    res = runner.invoke(app, ["cooling", "presets", "--json"])
    assert set(json.loads(res.stdout)) == {"temperate", "hot-dry", "hot-humid", "cold"}


def test_compare_json_liquid_beats_air():
    res = runner.invoke(app, ["cooling", "compare", "--days", "2", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    by = {(r["climate"], r["type"]): r for r in rows}
    for name in ("temperate", "hot-dry", "hot-humid", "cold"):
        assert by[(name, "liquid")]["pue"] < by[(name, "air")]["pue"]
        assert by[(name, "liquid")]["wue_l_per_kwh"] < by[(name, "air")]["wue_l_per_kwh"]


def test_annual_pue_ordering_by_climate():
    """Hot-humid (no economizer hours) > hot-dry > temperate > cold; all in the hyperscale-to-average band."""
    pue = {}
    for name in ("cold", "temperate", "hot-dry", "hot-humid"):
        clim = ClimateConfig(weather=WeatherConfig(preset=name))
        s = simulate_period(CoolingConfig(), clim, n_racks=8, days=365, dt_s=3 * 3600.0)["summary"]
        pue[name] = s["pue"]
        assert 1.03 < s["pue"] < 1.6
    assert pue["cold"] < pue["temperate"] < pue["hot-dry"] < pue["hot-humid"]


def test_sweep_over_dense_air_row_fails_with_the_message(tmp_path):
    """Issue 15.5: in a sweep, a 4 x B200 (~44 kW) air rack is a failed row naming
    cooling.allow_over_density; the liquid row and the allowed air row complete."""
    import yaml

    from dcsim.sweep import plan_sweep, read_index, run_sweep

    base = Path(__file__).resolve().parents[1] / "scenarios" / "sweeps" / "training_base.yaml"
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "dense",
                "base": str(base),
                "method": "grid",
                "parameters": {
                    "cluster.hardware": ["B200"],
                    "cluster.servers": [8],
                    "cluster.servers_per_rack": [4],
                    "cooling.type": ["air", "liquid"],
                    "cooling.allow_over_density": [False, True],
                },
                "steps": 2,
            }
        )
    )
    rows = read_index(run_sweep(plan_sweep(sweep), tmp_path / "out").sweep_dir)
    assert len(rows) == 4
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["cooling.type"] == "air"
    assert failed[0]["cooling.allow_over_density"] in ("False", "false")
    assert "allow_over_density" in failed[0]["error"] and "kW per rack" in failed[0]["error"]
