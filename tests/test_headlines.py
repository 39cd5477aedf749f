"""The README's headline numbers, pinned (issue 11.6).

Every expected value is in the tables below, each with the README (or docs/models.md) line it
pins. Tolerances are the rounding of the quoted number (half a unit of its last digit), so a
test fails exactly when the printed number would no longer be true. When a model change moves
a number on purpose, update the README line and the table together.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from statistics import mean

import pytest
from typer.testing import CliRunner

from dcsim.cli import app

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- expected values
# README "Power and POLCA" (`dcsim reproduce polca`, default options):
POLCA = {
    # "the unoversubscribed row peaks at 62% of provisioned power (paper: ~79%)"
    "baseline_peak_pct": (62.3, 0.5),
    # "Without any capping the row already admits +60% servers" (a point of the 5 % grid: exact)
    "uncapped_safe_extra_pct": (60.0, 0.0),
    # "POLCA [...] also admits **+60%** with zero brakes and high-priority P50 impact under 1%"
    "best_extra_pct": (60.0, 0.0),
    # "so in this model capping adds nothing over the uncapped baseline"
    "polca_gain_pct": (0.0, 0.0),
    # "at that count it costs low-priority median latency +8.2% and high-priority P99 +1.6%"
    "frontier_lp_p50_impact_pct": (8.2, 0.05),
    "frontier_hp_p99_impact_pct": (1.6, 0.05),
    # "rescaled to the paper's 79% baseline peak our frontier is +26%"
    "extra_pct_at_paper_peak": (26.1, 0.5),
}
POLCA_HP_P50_IMPACT_MAX_PCT = 1.0  # "high-priority P50 impact under 1%"

# README "Cooling and climate": "Annual PUE for the default plant: air 1.06-1.17, liquid
# 1.03-1.07 across the four climate presets (cooling only)"; per climate, to 3 decimals, from
# docs/models.md: "annual PUE air / liquid = temperate 1.079 / 1.028, hot-dry 1.106 / 1.060,
# hot-humid 1.171 / 1.072, cold 1.064 / 1.026" (`dcsim cooling compare`).
ANNUAL_PUE = {
    ("temperate", "air"): 1.079,
    ("temperate", "liquid"): 1.028,
    ("hot-dry", "air"): 1.106,
    ("hot-dry", "liquid"): 1.060,
    ("hot-humid", "air"): 1.171,
    ("hot-humid", "liquid"): 1.072,
    ("cold", "air"): 1.064,
    ("cold", "liquid"): 1.026,
}
ANNUAL_PUE_TOL = 0.0005
ANNUAL_PUE_README_RANGE = {"air": (1.06, 1.17), "liquid": (1.03, 1.07)}

# README "Sweeps", codesign example (scenarios/sweeps/codesign.yaml), mean step time in s:
# "at 2:1, ECMP hash collisions already expose communication on the fast parts
# (H100 step 4.14 -> 5.14 s, [...]; B200 2.49 -> 3.51 s, [...]), and at 4:1 [...] (B200 5.54 s"
# and "MI300X [...] is slower than H100 (4.54 vs 4.14 s)"
NONBLOCKING, OVERSUB2, OVERSUB4 = (
    "leaf_spine_256.yaml",
    "leaf_spine_256_oversub2.yaml",
    "leaf_spine_256_oversub4.yaml",
)
CODESIGN_STEP_S = {
    ("H100-SXM", NONBLOCKING): 4.14,
    ("H100-SXM", OVERSUB2): 5.14,
    ("B200", NONBLOCKING): 2.49,
    ("B200", OVERSUB2): 3.51,
    ("B200", OVERSUB4): 5.54,
    ("MI300X", NONBLOCKING): 4.54,
}
CODESIGN_STEP_TOL_S = 0.005
# "Liquid cooling lowers the mean PUE from about 1.23 to 1.10-1.19" (air: mean of all air runs;
# liquid: mean per climate, lowest and highest)
CODESIGN_AIR_MEAN_PUE = 1.23
CODESIGN_LIQUID_CLIMATE_PUE_RANGE = (1.10, 1.19)
CODESIGN_PUE_TOL = 0.005
# "A100 -> H100 -> B200 buy speed with power", "MI300X [...] is slower than H100" (slowest first)
CODESIGN_SPEED_ORDER = ("A100-80G", "MI300X", "H100-SXM", "B200")
# "the front is a single run (B200, non-blocking fabric, liquid cooling, cold)"
CODESIGN_FRONT = ("B200", NONBLOCKING, "liquid", "cold")


# ----------------------------------------------------------------------------- POLCA
@pytest.mark.slow  # ~60 s: the full default sweep (17 server counts x 4 h), as the command runs it
def test_polca_row_matches_readme() -> None:
    from dcsim.polca import reproduce_paper

    # Exactly `dcsim reproduce polca` with its defaults: 40 A100 servers serving Llama-2-70B,
    # 4 h, mean load 0.6, half high priority, 40 s cap delay, +0..80 % servers in 5 % steps.
    report = reproduce_paper()
    s = report.summary
    for key, (want, tol) in POLCA.items():
        assert s[key] == pytest.approx(want, abs=tol), key
    # Every count up to the frontier: zero brakes and < 1 % high-priority P50 impact.
    upto = [r for r in report.rows if r.extra_pct <= s["best_extra_pct"]]
    assert upto and all(r.brake_events == 0 for r in upto)
    assert all(r.hp_p50_impact_pct < POLCA_HP_P50_IMPACT_MAX_PCT for r in upto)
    # ... and the next count fails one of them (a frontier, not the end of the sweep).
    nxt = [r for r in report.rows if r.extra_pct > s["best_extra_pct"]]
    assert nxt and not nxt[0].ok
    assert not s["frontier_at_sweep_end"]


# ----------------------------------------------------------------------------- annual PUE
def test_annual_pue_per_climate_matches_readme() -> None:
    res = CliRunner().invoke(app, ["cooling", "compare", "--json"])
    assert res.exit_code == 0, res.output
    got = {(r["climate"], r["type"]): r["pue"] for r in json.loads(res.stdout)}
    assert set(got) == set(ANNUAL_PUE), "the four climate presets x air/liquid"
    for key, want in ANNUAL_PUE.items():
        assert got[key] == pytest.approx(want, abs=ANNUAL_PUE_TOL), key
    # The README's two-decimal range is the docs' three-decimal values rounded half up (hot-humid
    # air computes 1.1646 -> docs 1.165 -> README 1.17).
    for typ, (lo, hi) in ANNUAL_PUE_README_RANGE.items():
        vals = [v for (_, t), v in ANNUAL_PUE.items() if t == typ]
        assert lo - 0.005 <= min(vals) < lo + 0.005, typ
        assert hi - 0.005 <= max(vals) < hi + 0.005, typ


# ----------------------------------------------------------------------------- codesign sweep
@pytest.fixture(scope="module")
def codesign() -> list[tuple[dict, dict]]:
    """All 90 runs of the README's codesign sweep, computed in memory (~10 s)."""
    from dcsim.sweep import execute, plan_sweep

    plan = plan_sweep(ROOT / "scenarios" / "sweeps" / "codesign.yaml")
    out = []
    for spec in plan.runs:
        res = execute(spec)
        assert res.status == "complete", res.error
        out.append((spec.params, res.summary))
    return out


def step_times(runs: list[tuple[dict, dict]]) -> dict[tuple[str, str], float]:
    """Mean step time per (hardware, topology); cooling and climate must not change it."""
    by: dict[tuple[str, str], set[float]] = defaultdict(set)
    for p, s in runs:
        by[(p["cluster.hardware"], p["cluster.topology"])].add(s["mean_step_time_s"])
    assert all(len(v) == 1 for v in by.values()), "step time depends on cooling or climate"
    return {k: v.pop() for k, v in by.items()}


def test_codesign_step_times_match_readme(codesign) -> None:
    t = step_times(codesign)
    for key, want in CODESIGN_STEP_S.items():
        assert t[key] == pytest.approx(want, abs=CODESIGN_STEP_TOL_S), key
    # "H100 and H200 coincide: [...] both have the same 989 TFLOPS and 700 W"
    for topo in (NONBLOCKING, OVERSUB2, OVERSUB4):
        assert t[("H200", topo)] == t[("H100-SXM", topo)]
        speeds = [t[(hw, topo)] for hw in CODESIGN_SPEED_ORDER]
        assert speeds == sorted(speeds, reverse=True), topo


def test_codesign_pue_and_front_match_readme(codesign) -> None:
    air = [s["pue"] for p, s in codesign if p["cooling.type"] == "air"]
    assert mean(air) == pytest.approx(CODESIGN_AIR_MEAN_PUE, abs=CODESIGN_PUE_TOL)
    by_climate: dict[str, list[float]] = defaultdict(list)
    for p, s in codesign:
        if p["cooling.type"] == "liquid":
            by_climate[p["climate.weather.preset"]].append(s["pue"])
    means = [mean(v) for v in by_climate.values()]
    lo, hi = CODESIGN_LIQUID_CLIMATE_PUE_RANGE
    assert min(means) == pytest.approx(lo, abs=CODESIGN_PUE_TOL)
    assert max(means) == pytest.approx(hi, abs=CODESIGN_PUE_TOL)
    # Energy per token vs step time: one run is best on both axes.
    best_energy = min(codesign, key=lambda ps: ps[1]["energy_per_token_j"])
    p, s = best_energy
    assert (
        p["cluster.hardware"],
        p["cluster.topology"],
        p["cooling.type"],
        p["climate.weather.preset"],
    ) == CODESIGN_FRONT
    assert s["mean_step_time_s"] == min(x["mean_step_time_s"] for _, x in codesign)
