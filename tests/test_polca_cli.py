"""`dcsim reproduce polca`: JSON output, table output, bad input exit code."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dcsim.cli import app

runner = CliRunner()
ARGS = [
    "reproduce",
    "polca",
    "--quick",
    "--servers",
    "10",
    "--max-extra",
    "40",
    "--step",
    "20",
    "--hours",
    "0.2",
]


def test_reproduce_polca_json(tmp_path) -> None:
    png = tmp_path / "polca.png"
    res = runner.invoke(app, [*ARGS, "--json", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert [r["n_servers"] for r in d["rows"]] == [10, 12, 14]
    assert {"best_extra_pct", "uncapped_safe_extra_pct", "verdict", "paper"} <= set(d)
    assert d["paper"]["extra_servers_pct"] == 30.0
    for r in d["rows"]:
        assert r["peak_pct"] >= r["avg_pct"] > 0
        # caps and brakes fire only once the row crossed 80 % / 100 % of its budget
        assert r["cap_events"] == 0 or r["peak_pct"] > 80.0
        assert r["brake_events"] == 0 or r["peak_pct"] > 100.0
        assert r["ok"] == (r["brake_events"] == 0 and r["hp_p50_impact_pct"] < 1.0)
    assert png.is_file() and png.stat().st_size > 1000


def test_reproduce_polca_table() -> None:
    res = runner.invoke(app, ARGS)
    assert res.exit_code == 0, res.output
    assert "POLCA" in res.output and "30%" in res.output


def test_reproduce_polca_bad_input_exit_2() -> None:
    res = runner.invoke(app, ["reproduce", "polca", "--mean-load", "5"])
    assert res.exit_code == 2


def test_quick_is_a_smoke_test_without_a_frontier_headline() -> None:
    """Issue 16.3: --quick says it is a smoke test and headlines no frontier."""
    res = runner.invoke(app, [*ARGS, "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["smoke_test"] is True
    assert "Smoke test" in d["verdict"] and "not a frontier" in d["verdict"]
    assert "admits" not in d["verdict"]  # no "POLCA admits +X%" headline
