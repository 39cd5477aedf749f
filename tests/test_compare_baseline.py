"""`dcsim compare --baseline AGENT`: paired per-seed differences with a 95% CI (issue 19.8)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
from scipy import stats
from typer.testing import CliRunner

from dcsim.cli import app

ARGS = ["compare", "scenarios/tasks/powercap.yaml", "--agents", "polca,uncapped", "-n", "4"]
ARGS += ["--max-steps", "30", "--baseline", "random", "--no-plot"]


def test_paired_differences_in_json_csv_and_table(tmp_path):
    res = CliRunner().invoke(app, [*ARGS, "--json", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["baseline"] == "random" and out["agents"][0] == "random"  # added first
    base = out["episodes"]["random"]
    for agent in ("polca", "uncapped"):
        eps = out["episodes"][agent]
        for metric, d in out["paired"][agent].items():
            diffs = np.array([a[metric] - b[metric] for a, b in zip(eps, base, strict=True)])
            n = len(diffs)
            assert d["n"] == n == 4
            # the mean difference is the difference of means (same seeds, none missing)
            ma = out["stats"][agent][metric]["mean"]
            mb = out["stats"]["random"][metric]["mean"]
            assert math.isclose(d["mean"], ma - mb, rel_tol=1e-9, abs_tol=1e-9)
            # the paired half-width: t_{0.975, n-1} * s_d / sqrt(n) of the per-seed differences
            half = stats.t.ppf(0.975, n - 1) * diffs.std(ddof=1) / math.sqrt(n)
            assert math.isclose(d["ci95"], half, rel_tol=1e-9, abs_tol=1e-12)
    assert "random" not in out["paired"]  # no difference of the baseline with itself

    rows = list(csv.DictReader(open(next(tmp_path.rglob("compare.csv")), encoding="utf-8")))
    polca_return = next(r for r in rows if r["agent"] == "polca" and r["metric"] == "return")
    assert math.isclose(
        float(polca_return["diff_mean"]), out["paired"]["polca"]["return"]["mean"], rel_tol=1e-9
    )
    assert next(r for r in rows if r["agent"] == "random")["diff_mean"] == ""

    table = CliRunner().invoke(app, [*ARGS, "--out", str(tmp_path / "t")], env={"COLUMNS": "80"})
    assert table.exit_code == 0, table.output
    assert "paired difference vs random" in table.output


def test_an_unknown_baseline_agent_is_a_clean_error(tmp_path):
    res = CliRunner().invoke(
        app,
        ["compare", "scenarios/tasks/powercap.yaml", "--agents", "polca", "-n", "2"]
        + ["--max-steps", "5", "--baseline", "nonsense-agent", "--no-plot", "--out", str(tmp_path)],
    )
    assert res.exit_code == 2, res.output
    assert "nonsense-agent" in res.output and "Traceback" not in res.output
