"""`dcsim compare --baseline B --normalise-to U`: the normalised score (J - J_B) / (J_U - J_B)
with a 95% CI (issue 13.6), checked on synthetic episodes against closed forms."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.evaluation import Comparison, Evaluation, normalised_score
from dcsim.results import dumps_json

SEEDS = [10, 11, 12, 13]
J_BASE = np.array([0.0, 10.0, -5.0, 3.0])
GAP = np.array([2.0, 4.0, 6.0, 8.0])  # upper - baseline per seed


def _ev(name: str, returns: np.ndarray) -> Evaluation:
    return Evaluation(name, "synthetic", [{"return": float(j)} for j in returns], SEEDS)


BASE, UPPER = _ev("base", J_BASE), _ev("oracle", J_BASE + GAP)


def test_the_baseline_scores_zero_the_bound_one_and_a_proportional_agent_its_fraction():
    for frac in (0.0, 0.5, 1.0, -0.25):
        z = normalised_score(_ev("a", J_BASE + frac * GAP), BASE, UPPER)
        assert z["mean"] == pytest.approx(frac, abs=1e-12)
        assert z["ci95"] == pytest.approx(0.0, abs=1e-12)  # residuals d_a - r d_u vanish
        assert z["n"] == 4
    assert z["gap"] == pytest.approx(GAP.mean())
    half = stats.t.ppf(0.975, 3) * GAP.std(ddof=1) / 2.0
    assert z["gap_ci95"] == pytest.approx(half)


def test_score_is_the_ratio_of_mean_gains_with_the_linearised_ratio_interval():
    gain = np.array([1.0, 3.0, 2.0, 6.0])
    z = normalised_score(_ev("a", J_BASE + gain), BASE, UPPER)
    r = gain.sum() / GAP.sum()  # 12 / 20, not the mean of per-seed ratios (0.4375)
    assert z["mean"] == pytest.approx(0.6, abs=1e-12) == r
    resid = gain - r * GAP  # [-0.2, 0.6, -1.6, 1.2]
    half = stats.t.ppf(0.975, 3) * resid.std(ddof=1) / (2.0 * GAP.mean())
    assert z["ci95"] == pytest.approx(half, rel=1e-12)


def test_only_shared_seeds_count_and_an_undefined_score_is_null_in_strict_json():
    short = Evaluation("a", "synthetic", [{"return": 1.0}, {"return": 99.0}], [10, 99])
    z = normalised_score(short, BASE, UPPER)  # seed 99 has no baseline or bound
    assert z["n"] == 1 and z["mean"] == pytest.approx(1.0 / 2.0) and math.isnan(z["ci95"])
    flat = normalised_score(_ev("a", J_BASE + 1.0), BASE, _ev("tie", J_BASE))  # no gap
    assert math.isnan(flat["mean"])
    comp = Comparison(None, [BASE, UPPER, _ev("a", J_BASE + 1.0)], "base", "oracle")  # type: ignore[arg-type]
    assert set(comp.normalised()) == {"a"}  # neither the baseline nor the bound
    text = dumps_json({"flat": flat, "short": z, "scores": comp.normalised()})
    assert json.loads(text)["flat"]["mean"] is None  # strict JSON: no NaN token


ARGS = ["compare", "scenarios/tasks/powercap.yaml", "--agents", "polca,random", "-n", "3"]
ARGS += ["--max-steps", "20", "--baseline", "random", "--no-plot"]


def test_cli_adds_the_bound_and_reports_scores_in_json_csv_and_table(tmp_path):
    res = CliRunner().invoke(
        app, [*ARGS, "--normalise-to", "uncapped", "--json", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["upper"] == "uncapped" and "uncapped" in out["agents"]  # added
    assert out["normalised"]["metric"] == "return"
    (agent,) = out["normalised"]["scores"]
    m = {a: out["stats"][a]["return"]["mean"] for a in ("polca", "random", "uncapped")}
    z = out["normalised"]["scores"][agent]
    assert agent == "polca" and z["n"] == 3
    assert z["mean"] == pytest.approx((m["polca"] - m["random"]) / (m["uncapped"] - m["random"]))
    csv_text = next(tmp_path.rglob("compare.csv")).read_text()
    assert "norm_mean" in csv_text.splitlines()[0]
    table = CliRunner().invoke(
        app, [*ARGS, "--normalise-to", "uncapped", "--out", str(tmp_path / "t")]
    )
    assert table.exit_code == 0, table.output
    assert "normalised score" in table.output


def test_normalise_to_without_a_baseline_is_a_clean_error(tmp_path):
    args = ["compare", "scenarios/tasks/powercap.yaml", "--agents", "polca,uncapped", "-n", "2"]
    args += ["--max-steps", "5", "--normalise-to", "uncapped", "--no-plot", "--out", str(tmp_path)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "--baseline" in res.output and "Traceback" not in res.output
