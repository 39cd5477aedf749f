"""`dcsim run|validate|sweep|plot` on `kind: multitenant` scenarios (dcsim.tenancy.scenario):
outputs, determinism, controls that must matter, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.config import SCENARIO_DIR

runner = CliRunner()
SCENARIO = str(SCENARIO_DIR / "multitenant.yaml")
# a small, busy facility: 64 H100 in 8 racks, 1 inference server, jobs arriving within 6 h
SMALL = {
    "engine.racks": 8,
    "engine.accelerators_per_rack": 8,
    "engine.spines": 2,
    "engine.inference.servers": 1,
    "engine.workload.mix.load": 2.0,
    "engine.workload.horizon_s": 21600,
    "engine.workload.mix.job_sizes": "{8: 0.5, 16: 0.3, 32: 0.2}",
}


def sets(extra: dict | None = None) -> list[str]:
    out: list[str] = []
    for k, v in {**SMALL, **(extra or {})}.items():
        out += ["--set", f"{k}={v}"]
    return out


def strict(text: str) -> dict:
    def refuse(c: str) -> None:
        raise ValueError(f"non-strict JSON constant {c}")

    return json.loads(text, parse_constant=refuse)


def run(tmp: Path, *args: str, extra: dict | None = None, hours: str = "6") -> dict:
    res = runner.invoke(
        app,
        ["run", SCENARIO, *sets(extra), "--hours", hours, "--out", str(tmp), "--json", *args],
    )
    assert res.exit_code == 0, res.output
    return strict(res.stdout)


def test_run_writes_run_folder_that_adds_up(tmp_path):
    out = run(tmp_path)
    d = Path(out["run_dir"])
    for name in ("config.resolved.yaml", "manifest.json", "summary.json", "jobs.csv"):
        assert (d / name).is_file(), name
    assert (d / "timeseries.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s = strict((d / "summary.json").read_text())
    assert s == out["summary"]
    assert s["steps"] == 72 and s["agent"] == "composite"  # 6 h of 5-min steps
    with open(d / "timeseries.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 72
    # the summary is the sum of the steps (energy conservation between files)
    for key, col in (("facility_energy_kwh", "facility_kwh"), ("carbon_kg", "carbon_kg")):
        assert s[key] == pytest.approx(sum(float(r[col]) for r in rows), rel=1e-9)
    assert s["pue"] == pytest.approx(s["facility_energy_kwh"] / s["it_energy_kwh"])
    assert s["pue"] > 1.0
    with open(d / "jobs.csv", newline="") as fh:
        jobs = list(csv.DictReader(fh))
    assert jobs, "jobs arrive within 6 h"
    finished = [j for j in jobs if j["finish_h"]]
    assert len(finished) == s["jobs_finished"]
    for j in finished:  # JCT = finish - arrival; slowdown >= 1 (ideal is packed, alone, f_max)
        assert float(j["jct_h"]) == pytest.approx(float(j["finish_h"]) - float(j["arrival_h"]))
        assert float(j["slowdown"]) >= 1.0 - 1e-9
    assert sum(1 for j in jobs if j["start_h"]) == s["jobs_started"]


def test_table_fits_80_columns_and_shows_defaults(tmp_path):
    res = runner.invoke(
        app,
        ["run", SCENARIO, *sets(), "--hours", "2", "--out", str(tmp_path), "--no-plot"],
        env={"COLUMNS": "80"},
    )
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.stdout.splitlines()) <= 80
    for text in ("agent composite", "CISO", "temperate", "IT power budget", "routing", "setpoint"):
        assert text in res.stdout, text


def test_same_seed_same_summary_other_seed_differs(tmp_path):
    a = run(tmp_path / "a", "--no-plot")
    b = run(tmp_path / "b", "--no-plot")
    assert a["run_id"] == b["run_id"]
    assert (Path(a["run_dir"]) / "summary.json").read_bytes() == (
        Path(b["run_dir"]) / "summary.json"
    ).read_bytes()
    c = run(tmp_path / "c", "--no-plot", "--seed", "1")
    assert c["summary"]["facility_energy_kwh"] != a["summary"]["facility_energy_kwh"]


def test_hours_and_set_change_the_result(tmp_path):
    short = run(tmp_path, "--no-plot", hours="3")["summary"]
    long = run(tmp_path, "--no-plot", hours="6")["summary"]
    assert (short["steps"], long["steps"]) == (36, 72)
    assert long["facility_energy_kwh"] > short["facility_energy_kwh"]
    # the same work on a dirtier grid emits more: region is a pure carbon control here
    clean = run(tmp_path, "--no-plot", extra={"region": "BPAT"})["summary"]
    dirty = run(tmp_path, "--no-plot", extra={"region": "MISO"})["summary"]
    assert dirty["useful_work"] == clean["useful_work"]
    assert dirty["facility_energy_kwh"] == clean["facility_energy_kwh"]
    assert dirty["carbon_kg"] > 3 * clean["carbon_kg"]


def test_lower_power_budget_lowers_work(tmp_path):
    """The composite agent admits a job only under POLCA's level-2 threshold of the budget."""
    work = [
        run(tmp_path, "--no-plot", extra={"engine.budget_fraction": b})["summary"]["useful_work"]
        for b in (0.8, 0.5, 0.35)
    ]
    assert work[0] >= work[1] > work[2]


def test_agent_override_changes_the_run(tmp_path):
    comp = run(tmp_path, "--no-plot")["summary"]
    fifo = run(tmp_path, "--no-plot", "--agent", "fifo-pack")["summary"]
    assert fifo["agent"] == "fifo-pack"
    assert fifo["routing_comm"] == "ecmp" and comp["routing_comm"] == "spray"


@pytest.mark.parametrize(
    "args, expect",
    [
        (["--set", "engine.racks=many"], "field 'engine.racks': Input should be a valid integer"),
        (["--set", "bogus=1"], "field 'bogus': unknown field"),
        (["--set", "region=Mars"], "unknown grid region 'Mars'"),
        (["--set", "engine.hardware=B200-SXM"], "field 'engine.hardware': Value error, unknown"),
        (["--set", "engine.region=PJM"], "engine.region is set by the top-level `region`"),
        # the engine's carbon is its region's hourly trace: no carbon section to set
        (["--set", "engine.climate.carbon.region=PJM"], "'engine.climate.carbon': unknown field"),
        (["--agent", "nope"], "unknown agent 'nope'; expected one of: composite, fifo-pack"),
        (["--steps", "3"], "a multitenant scenario's duration is `hours`"),
    ],
)
def test_bad_command_line_exits_2(tmp_path, args, expect):
    res = runner.invoke(app, ["run", SCENARIO, "--hours", "1", "--out", str(tmp_path), *args])
    assert res.exit_code == 2, res.output
    assert expect in res.stderr and "Traceback" not in res.output


def test_bad_field_in_file_names_file_and_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        Path(SCENARIO).read_text().replace("budget_fraction: 0.8", "budget_fraction: -1")
    )
    for cmd in (["run", str(bad), "--out", str(tmp_path)], ["validate", str(bad)]):
        res = runner.invoke(app, cmd)
        assert res.exit_code == 2, res.output
        assert str(bad) in res.stderr and "engine.budget_fraction" in res.stderr
        assert "greater than 0" in res.stderr and "Traceback" not in res.output


def test_validate_knows_multitenant():
    res = runner.invoke(
        app,
        ["validate", SCENARIO, str(SCENARIO_DIR / "sweeps" / "multitenant.yaml"), "--json"],
    )
    assert res.exit_code == 0, res.output
    assert [r["kind"] for r in strict(res.stdout)] == ["multitenant", "sweep"]


def test_single_job_run_refuses_hours(tmp_path):
    res = runner.invoke(app, ["run", "--hours", "2", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "applies to multitenant scenarios" in res.stderr


def test_plot_redraws_run_folder(tmp_path):
    d = Path(run(tmp_path, "--no-plot", hours="2")["run_dir"])
    assert not (d / "timeseries.png").exists()
    res = runner.invoke(app, ["plot", str(d), "--json"])
    assert res.exit_code == 0, res.output
    assert strict(res.stdout)["rows"] == 24
    assert (d / "timeseries.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_two_points_on_processes(tmp_path):
    sweep = tmp_path / "mt.yaml"
    params = {k: {"values": [v]} for k, v in SMALL.items() if k != "engine.workload.mix.job_sizes"}
    params["engine.workload.mix.job_sizes"] = {"values": [{8: 0.5, 16: 0.3, 32: 0.2}]}
    params["region"] = {"values": ["BPAT", "MISO"]}
    params["hours"] = {"values": [3]}
    sweep.write_text(
        json.dumps({"name": "mt", "base": SCENARIO, "parameters": params})  # base's agent
    )
    out = tmp_path / "o"
    res = runner.invoke(
        app, ["sweep", str(sweep), "--executor", "local", "--workers", "2", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((out / "mt" / "sweep.json").read_text())["agent"] == "composite"
    with open(out / "mt" / "index.csv", newline="") as fh:
        rows = {r["region"]: r for r in csv.DictReader(fh)}
    assert {r["status"] for r in rows.values()} == {"complete"}
    assert float(rows["MISO"]["carbon_kg"]) > float(rows["BPAT"]["carbon_kg"])
    assert rows["MISO"]["useful_work"] == rows["BPAT"]["useful_work"]
    for r in rows.values():  # each point keeps its per-job table, as `dcsim run` does
        with open(out / "mt" / "runs" / r["run_id"] / "jobs.csv", newline="") as fh:
            jobs = list(csv.DictReader(fh))
        assert jobs and sum(j["finish_h"] != "" for j in jobs) == int(float(r["jobs_finished"]))
    res = runner.invoke(app, ["plot", str(out / "mt"), "--x", "carbon_kg", "--y", "useful_work"])
    assert res.exit_code == 0, res.output
    assert (out / "mt" / "sweep.png").is_file()
    res = runner.invoke(app, ["plot", str(out / "mt"), "--json"])  # default axes: carbon vs JCT
    assert res.exit_code == 0, res.output
    front = json.loads(res.output)
    assert front["x"] == "carbon_kg" and front["y"] == "jct_mean_h", front
    res = runner.invoke(app, ["plot", str(out / "mt"), "--x", "pue", "--y", "energy_per_token_j"])
    assert res.exit_code == 2 and "no run reports 'energy_per_token_j'" in res.output


def test_codesign_start_day_pins_reset():
    import gymnasium as gym

    import dcsim.envs  # noqa: F401

    env = gym.make("dcsim/CoDesign-v0", start_day=100, episode_steps=2)
    days = {env.reset(seed=s)[1]["start_day"] for s in range(3)}
    env.close()
    assert days == {100}
