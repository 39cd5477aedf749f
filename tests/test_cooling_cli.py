"""`dcsim cooling ...` commands and the annual plant simulation behind them."""

from __future__ import annotations

import json

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
    res = runner.invoke(app, ["cooling", "year", "--days", "1", "--rack-kw", "50"])
    assert res.exit_code == 0, res.output
    assert "PUE" in res.stdout and "error: air would carry" in res.stdout


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
