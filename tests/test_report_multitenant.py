"""`dcsim report` of multitenant runs and sweeps (dcsim.viz.report_multitenant): the facility's
totals and the jobs' table agree with summary.json and jobs.csv; no single-job cost section
or error text."""

from __future__ import annotations

import base64
import csv
import html
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.config import SCENARIO_DIR
from dcsim.runner import run_multitenant
from dcsim.viz.report import load_runs, render_report
from dcsim.viz.report_multitenant import JOB_ROWS, WIDE, facility_table, job_list, read_jobs

SCENARIO = SCENARIO_DIR / "multitenant.yaml"
# a small, busy facility (tests/test_multitenant_run.py): 64 H100, jobs arriving within 6 h
SMALL = {
    "engine.racks": 8,
    "engine.accelerators_per_rack": 8,
    "engine.spines": 2,
    "engine.inference.servers": 1,
    "engine.workload.mix.load": 2.0,
    "engine.workload.horizon_s": 21600,
    "engine.workload.mix.job_sizes": {8: 0.5, 16: 0.3, 32: 0.2},
}
# what the single-job report printed on a multitenant run
WRONG = ("Input should be", "no cost:", "not recorded", "peak MW", "per training run</h2>")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    res = run_multitenant(
        SCENARIO, dict(SMALL), tmp_path_factory.mktemp("mt"), hours=6.0, plot=False
    )
    assert res.run_dir is not None
    return res.run_dir


def _cells(page: str) -> list[list[str]]:
    """Every table body row's cells as plain text (header rows have none)."""
    rows = [
        [html.unescape(re.sub("<[^>]+>", "", c)) for c in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page)
    ]
    return [r for r in rows if r]


def _num(text: str) -> float:
    """1,191.7 kWh -> 1191.7; $90.23 -> 90.23; 100.0% -> 1.0."""
    v = float(re.sub(r"[^0-9.eE+-]", "", text.replace(",", "").split()[0]))
    return v / 100 if text.endswith("%") else v


def test_run_report_has_the_facility_and_jobs_of_the_run_and_no_cost_errors(run_dir):
    page = render_report(run_dir)
    for bad in WRONG:
        assert bad not in page, bad
    s = json.loads((run_dir / "summary.json").read_text())
    kv = {r[0]: r[1] for r in _cells(page) if len(r) == 2}
    # every facility number is the summary's, to the digits printed
    for label, key, tol in (
        ("facility energy", "facility_energy_kwh", 0.05),
        ("IT energy", "it_energy_kwh", 0.05),
        ("PUE (energy-weighted)", "pue", 5e-4),
        ("carbon", "carbon_kg", 0.05),
        ("electricity cost", "cost_usd", 0.005),
        ("useful work (share of cluster)", "useful_work", 5e-4),
        ("hottest inlet over limit", "thermal_k_min", 0.05),
        ("IT power over budget", "over_budget_kw_min", 0.05),
        ("power brakes", "brakes", 0),
        ("SLO violation", "slo_violation_min", 0.5),
        ("inference SLO attainment", "slo_attainment", 5e-4),
        ("training jobs finished", "jobs_finished", 0),
    ):
        assert _num(kv[label]) == pytest.approx(s[key], abs=tol), label
    # the jobs table counts jobs.csv and agrees with the engine's own summary
    jobs = read_jobs(run_dir)
    assert jobs and s["jobs_finished"] > 0
    rows = {r[0]: r[1:] for r in _cells(page) if len(r) == 10}
    arrived, started, finished, _, jct, _, _, slow, _ = rows["all arrived"]
    assert (int(arrived), int(started), int(finished)) == (
        len(jobs),
        s["jobs_started"],
        s["jobs_finished"],
    )
    assert float(jct) == pytest.approx(s["jct_mean_h"], rel=5e-3)
    assert float(slow) == pytest.approx(s["slowdown_mean"], rel=5e-3)
    for group, key in (
        ("running at the end", "jobs_running_at_end"),
        ("not started by the end", "jobs_queued_at_end"),
    ):  # a group no job is in has no row
        assert int(rows.get(group, ["0"])[0]) == s[key], group
    assert f"every job ({len(jobs)})" in page
    # the time series is the one embedded figure; sources and config are there
    imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(imgs) == 1 and base64.b64decode(imgs[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Hardware profile H100-SXM" in page and "EIA-930" in page
    assert "resolved config of" in page and "kind: multitenant" in page
    res = CliRunner().invoke(app, ["report", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert (run_dir / "report.html").read_text() == page


def test_sweep_report_puts_each_run_beside_the_others(tmp_path):
    from dcsim.sweep import plan_sweep, run_sweep

    params = {k: {"values": [v]} for k, v in SMALL.items()}
    params["region"] = {"values": ["BPAT", "MISO"]}
    params["hours"] = {"values": [2]}
    f = tmp_path / "mt.yaml"
    spec = {"name": "mt", "base": str(SCENARIO), "parameters": params, "agent": "composite"}
    f.write_text(json.dumps(spec))
    run_sweep(plan_sweep(f), tmp_path / "out")
    sweep = tmp_path / "out" / "mt"
    tasks: list[tuple[str, int]] = []
    page = render_report(sweep, on_start=lambda label, n: tasks.append((label, n)))
    for bad in WRONG:
        assert bad not in page, bad
    assert tasks == [("reading runs", 2), ("drawing figures", 3)]
    assert page.count("data:image/png;base64,") == 3  # the sweep's figure, two time series
    _, runs, _ = load_runs(sweep)
    carbon = next(r for r in _cells(page) if r[0] == "carbon")
    assert carbon[1:] == [f"{r.summary['carbon_kg']:,.1f} kg CO2" for r in runs]
    assert _num(carbon[2]) > _num(carbon[1])  # MISO's coal and gas over BPAT's hydro
    assert [r[:2] for r in _cells(page) if r[1:2] == ["all arrived"]] == [
        ["1: BPAT", "all arrived"],
        ["2: MISO", "all arrived"],
    ]


def test_many_runs_and_many_jobs_stay_readable(run_dir):
    """Past WIDE runs, one row per run; past JOB_ROWS jobs, the list stops and says so."""
    _, (r,), _ = load_runs(run_dir)
    table = facility_table([r] * (WIDE + 1))
    assert len(_cells(table)) == WIDE + 1 and "<th>design</th>" in table
    jobs = read_jobs(run_dir)
    assert jobs
    many = (jobs * (JOB_ROWS // len(jobs) + 2))[: JOB_ROWS + 7]
    text = job_list(many)
    assert len(_cells(text)) == JOB_ROWS and "and 7 more jobs in jobs.csv" in text
    assert "<details open>" not in text  # a long list starts closed
    started = next(j for j in jobs if j["start_h"] != "")
    at_once = {**started, "wait_h": 0.0}  # started the moment it arrived: waited 0 h, not "-"
    assert _cells(job_list([at_once]))[0][6] == "0"


def test_job_rows_match_jobs_csv(run_dir):
    """Each listed job is the jobs.csv row: wait + JCT columns as written, unstarted marked."""
    page = render_report(run_dir)
    listed = {int(c[0]): c for c in _cells(page) if len(c) == 10 and c[0].isdigit()}
    with open(run_dir / "jobs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(listed) == [int(j["job_id"]) for j in rows]
    for j in rows:
        c = listed[int(j["job_id"])]
        assert int(c[2]) == int(j["accelerators"])
        if j["jct_h"]:
            assert float(c[7]) == pytest.approx(float(j["jct_h"]), rel=5e-3)
        else:
            assert c[7] == "-"
        if not j["start_h"]:
            assert c[4] == "not started"
