"""The README's architect walk-through (issue 18): the linked sweep's answer, as computed."""

from __future__ import annotations

import pytest

from dcsim.resources import bundled_dir
from dcsim.sweep import plan_sweep, run_sweep
from dcsim.viz.report import attach_costs, load_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("arch")
    plan = plan_sweep(bundled_dir("scenarios") / "sweeps" / "architect.yaml", ["steps=24"])
    assert len(plan.runs) == 9  # 3 linked systems x 3 fabrics
    run_sweep(plan, out)
    _, rs, _ = load_runs(out / "architect")
    attach_costs(rs)
    return {r.label: r for r in rs}


def test_b200_is_cheaper_per_run_and_h200_cheaper_per_hour(runs):
    b_air, h_liq = runs["leaf_spine_4k | B200 / air / 2"], runs["leaf_spine_4k | H200 / liquid / 8"]
    assert b_air.summary["mean_step_time_s"] == pytest.approx(2.04, rel=0.02)
    assert h_liq.summary["mean_step_time_s"] == pytest.approx(4.14, rel=0.02)
    assert h_liq.cost["cost_usd_per_accel_hour"] < 0.75 * b_air.cost["cost_usd_per_accel_hour"]
    assert b_air.cost["cost_usd_per_training_run"] < 0.75 * h_liq.cost["cost_usd_per_training_run"]


def test_air_and_liquid_b200_cost_the_same_and_liquid_emits_less(runs):
    air, liq = runs["leaf_spine_4k | B200 / air / 2"], runs["leaf_spine_4k | B200 / liquid / 8"]
    assert air.summary["pue"] > liq.summary["pue"] + 0.03  # hot-dry: air works harder
    assert liq.cost["capex_cooling_usd"] > air.cost["capex_cooling_usd"]
    ratio = liq.cost["cost_usd_per_training_run"] / air.cost["cost_usd_per_training_run"]
    assert ratio == pytest.approx(1.0, abs=0.02)
    assert liq.cost["carbon_kgco2e_per_training_run"] < air.cost["carbon_kgco2e_per_training_run"]


def test_oversubscription_costs_b200_but_not_h200_at_2_to_1(runs):
    def per_run(fabric: str, system: str) -> float:
        return runs[f"{fabric} | {system}"].cost["cost_usd_per_training_run"]

    b, h = "B200 / air / 2", "H200 / liquid / 8"
    assert per_run("leaf_spine_4k_oversub2", b) > 1.3 * per_run("leaf_spine_4k", b)
    assert per_run("leaf_spine_4k_oversub2", h) < per_run("leaf_spine_4k", h)  # free capex cut
    assert per_run("leaf_spine_4k_oversub4", h) > 1.3 * per_run("leaf_spine_4k", h)
    # README: "2:1 hides all but 0.8 % of the step's all-reduce"
    assert runs[f"leaf_spine_4k_oversub2 | {h}"].summary["exposed_comm_share"] < 0.01
