"""`dcsim run` and `dcsim validate` end to end through the Typer app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dcsim.cli import app

runner = CliRunner()
SMALL_ARGS = ["--set", "cluster.servers=8", "--set", "cluster.servers_per_rack=2", "--steps", "20"]


def test_run_writes_complete_run_directory(tmp_out):
    res = runner.invoke(app, ["run", *SMALL_ARGS, "--out", str(tmp_out), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    run_dir = tmp_out / "default" / out["run_id"]
    assert str(run_dir.resolve()) == out["run_dir"]
    for name in (
        "config.resolved.yaml",
        "manifest.json",
        "summary.json",
        "timeseries.csv",
        "timeseries.png",
    ):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["steps"] == 20
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in (
        "it_energy_kwh",
        "facility_energy_kwh",
        "pue",
        "carbon_kg",
        "mean_tokens_per_s",
        "violation_steps",
    ):
        assert key in summary
    assert summary["pue"] >= 1.0
    assert (run_dir / "timeseries.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = (run_dir / "timeseries.csv").read_text().splitlines()
    assert len(lines) == 21
    # No partial directories left behind.
    assert not [p for p in (tmp_out / "default").iterdir() if p.name.startswith(".")]


def test_run_is_byte_identical_for_same_seed(tmp_path):
    a = runner.invoke(
        app, ["run", *SMALL_ARGS, "--out", str(tmp_path / "a"), "--json", "--no-plot"]
    )
    b = runner.invoke(
        app, ["run", *SMALL_ARGS, "--out", str(tmp_path / "b"), "--json", "--no-plot"]
    )
    ra, rb = json.loads(a.stdout), json.loads(b.stdout)
    assert ra["run_id"] == rb["run_id"]
    fa = (tmp_path / "a" / "default" / ra["run_id"] / "summary.json").read_bytes()
    fb = (tmp_path / "b" / "default" / rb["run_id"] / "summary.json").read_bytes()
    assert fa == fb


def test_run_table_output(tmp_out):
    res = runner.invoke(app, ["run", *SMALL_ARGS, "--out", str(tmp_out), "--agent", "reactive"])
    assert res.exit_code == 0, res.output
    for word in (
        "IT energy",
        "facility energy",
        "PUE",
        "carbon",
        "throughput",
        "thermal violations",
    ):
        assert word in res.stdout


def test_every_command_has_help():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("run", "validate", "hardware"):
        assert cmd in res.stdout
        sub = runner.invoke(app, [cmd, "--help"])
        assert sub.exit_code == 0, cmd


def test_resolved_config_reruns_to_the_same_summary(tmp_path):
    """config.resolved.yaml is a complete scenario: running it again gives the same summary."""
    a = runner.invoke(
        app, ["run", *SMALL_ARGS, "--out", str(tmp_path / "a"), "--json", "--no-plot"]
    )
    ra = json.loads(a.stdout)
    resolved = tmp_path / "a" / "default" / ra["run_id"] / "config.resolved.yaml"
    b = runner.invoke(
        app,
        [
            "run",
            str(resolved),
            "--steps",
            "20",
            "--out",
            str(tmp_path / "b"),
            "--json",
            "--no-plot",
        ],
    )
    assert b.exit_code == 0, b.output
    assert json.loads(b.stdout)["summary"] == ra["summary"]


def test_dense_air_racks_are_called_out(tmp_path):
    """4 B200 servers per rack (~44 kW) is beyond air; liquid cooling with 75% to cold plates is fine."""
    dense = [
        "--set",
        "cluster.hardware=B200",
        "--set",
        "cluster.servers=8",
        "--set",
        "cluster.servers_per_rack=4",
        "--steps",
        "2",
        "--no-plot",
        "--out",
        str(tmp_path),
    ]
    # refused (exit 2) unless the scenario allows it (issue 15.5)
    refused = runner.invoke(app, ["run", *dense, "--json"])
    assert refused.exit_code == 2 and "allow_over_density" in " ".join(refused.output.split())
    allow = ["--set", "cooling.allow_over_density=true"]
    air = runner.invoke(app, ["run", *dense, *allow, "--json"])
    assert json.loads(air.stdout)["system"]["air_density_note"].startswith("error: air would carry")
    table = runner.invoke(app, ["run", *dense, *allow])
    assert "use cooling.type: liquid" in " ".join(table.stdout.split())
    liquid = runner.invoke(app, ["run", *dense, "--set", "cooling.type=liquid", "--json"])
    assert json.loads(liquid.stdout)["system"]["air_density_note"] == ""
