"""Training MFU per model-size class (issue 12.4), from published per-size measurements.

- A100: Korthikanti et al. 2022 (arXiv 2205.05198) Table 5, Megatron-LM with sequence
  parallelism and selective recompute: 22B 41.5 %, 175B 51.4 %, 530B 56.0 %, 1T 56.3 %.
- H100: NVIDIA Megatron-LM README, Megatron-Core r0.8.0 weak-scaling table (1.7B-462B, 41-49 %).
- Between published sizes: linear in ln(params); outside them: the end point (no extrapolation).
- Same-die profiles (H200 on H100, A100-PCIe on A100 SXM) take the curve times their MFU ratio.
- The scenario's `workload.mfu` still wins, and the summary says which one a run used.
"""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.config import load_scenario
from dcsim.errors import InputError
from dcsim.hardware import TrainingSpec, catalog, get_profile
from dcsim.sim import Simulation, summarize
from dcsim.workload import TrainingConfig, resolve_mfu
from tests.conftest import SMALL

KORTHIKANTI_A100 = {22e9: 0.415, 175e9: 0.514, 530e9: 0.560, 1e12: 0.563}
MEGATRON_CORE_H100 = {
    1.7e9: 0.41,
    7.1e9: 0.47,
    16e9: 0.49,
    32e9: 0.46,
    70e9: 0.42,
    119e9: 0.43,
    177e9: 0.44,
    314e9: 0.48,
    462e9: 0.47,
}


def mfu(name: str, params: float) -> float:
    return resolve_mfu(TrainingConfig(model_params=params), get_profile(name))[0]


def test_a100_mfu_rises_with_model_size_as_korthikanti_measured():
    # Today one value (0.50) for every size; Table 5 has 22B well below 175B.
    assert mfu("A100-80G", 22e9) < mfu("A100-80G", 175e9) < mfu("A100-80G", 530e9)
    assert mfu("A100-80G", 530e9) < mfu("A100-80G", 1e12)


@pytest.mark.parametrize(
    ("name", "table"), [("A100-80G", KORTHIKANTI_A100), ("H100-SXM", MEGATRON_CORE_H100)]
)
def test_published_points_are_returned_exactly(name, table):
    pts = get_profile(name).training.mfu_by_size
    assert pts is not None and {p.params: p.mfu.value for p in pts} == table
    for params, value in table.items():
        got, source = resolve_mfu(TrainingConfig(model_params=params), get_profile(name))
        assert got == pytest.approx(value, abs=1e-9)
        assert source.startswith("hardware profile") and "measured" in source
    for p in pts:
        assert p.mfu.source.strip() and p.mfu.confidence in ("high", "medium")


def test_between_points_linear_in_log_params_and_clamped_outside():
    lo, hi = 22e9, 175e9
    mid = math.sqrt(lo * hi)  # halfway in ln(N)
    assert mfu("A100-80G", mid) == pytest.approx((0.415 + 0.514) / 2, abs=1e-12)
    assert "interpolated" in get_profile("A100-80G").mfu_at(mid)[1]
    # below the smallest and above the largest measured size: the end values, not extrapolated
    assert mfu("A100-80G", 1e9) == 0.415 and mfu("A100-80G", 7e9) == 0.415
    assert mfu("A100-80G", 1e13) == 0.563
    assert "clamped" in get_profile("A100-80G").mfu_at(1e13)[1]
    assert mfu("H100-SXM", 1e8) == 0.41 and mfu("H100-SXM", 2e12) == 0.47


@pytest.mark.parametrize("name", ["A100-80G", "H100-SXM"])
def test_curve_is_monotone_between_points_and_inside_their_hull(name):
    pts = get_profile(name).training.mfu_by_size
    assert pts is not None
    for a, b in zip(pts, pts[1:], strict=False):
        grid = [a.params * (b.params / a.params) ** (k / 20) for k in range(21)]
        vals = [mfu(name, n) for n in grid]
        step = [y - x for x, y in zip(vals, vals[1:], strict=False)]
        rising = b.mfu.value >= a.mfu.value
        assert all((d >= -1e-15) if rising else (d <= 1e-15) for d in step)
        assert min(a.mfu.value, b.mfu.value) - 1e-12 <= min(vals)
        assert max(vals) <= max(a.mfu.value, b.mfu.value) + 1e-12
    # Korthikanti's A100 points rise with size, so the whole A100 curve does
    if name == "A100-80G":
        grid = [1e9 * 10 ** (k / 10) for k in range(41)]
        vals = [mfu(name, n) for n in grid]
        assert all(y >= x for x, y in zip(vals, vals[1:], strict=False))


@pytest.mark.parametrize("params", [1e9, 7e9, 22e9, 70e9, 175e9, 405e9, 3e12])
def test_same_die_profiles_follow_their_reference_curve(params):
    assert mfu("H200", params) == mfu("H100-SXM", params)  # same GH100 die and clocks
    pcie, sxm = get_profile("A100-PCIe"), get_profile("A100-80G")
    assert mfu("A100-PCIe", params) == pytest.approx(
        mfu("A100-80G", params) * pcie.mfu / sxm.mfu, rel=1e-12
    )
    assert mfu("A100-PCIe", params) < mfu("A100-80G", params)  # the 250 W clock never helps


@pytest.mark.parametrize("name", sorted(catalog()))
def test_every_profile_resolves_a_sourced_mfu_at_any_size(name):
    prof = get_profile(name)
    t = prof.training
    if t.mfu_size_curve_of is not None:
        assert get_profile(t.mfu_size_curve_of).training.mfu_by_size is not None
    for params in (1e9, 70e9, 1e12):
        v, source = prof.mfu_at(params)
        assert 0.2 <= v <= 0.6 and source.startswith("hardware profile")
        if t.mfu_by_size is None and t.mfu_size_curve_of is None:
            assert v == prof.mfu and "one value" in source


def test_scenario_mfu_still_wins_and_summary_says_which():
    over = dict(SMALL, **{"time.steps": 2, "cluster.hardware": "A100-80G"})
    over["workload.model_params"] = 22e9
    own = Simulation(load_scenario(None, over))
    forced = Simulation(load_scenario(None, dict(over, **{"workload.mfu": 0.3})))
    assert (own.mfu, own.mfu_source) == (0.415, "hardware profile: measured 22B")
    s_own = summarize([own.step() for _ in range(2)], own)
    s_forced = summarize([forced.step() for _ in range(2)], forced)
    assert (s_own["mfu"], s_own["mfu_source"]) == (0.415, "hardware profile: measured 22B")
    assert (s_forced["mfu"], s_forced["mfu_source"]) == (0.3, "scenario")
    ratio = forced._step_time(1.0, "ecmp").compute_s / own._step_time(1.0, "ecmp").compute_s
    assert ratio == pytest.approx(0.415 / 0.3)


def _pt(params: float, value: float) -> dict:
    return {"params": params, "mfu": {"value": value, "source": "test"}}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"mfu_by_size": [_pt(2e9, 0.4), _pt(1e9, 0.3)]}, "must increase strictly"),
        ({"mfu_by_size": [_pt(1e9, 0.4), _pt(2e9, 1.3)]}, "mfu must be in (0, 1]"),
        ({"mfu_by_size": [_pt(1e9, 0.4)]}, "at least 2"),
        (
            {"mfu_by_size": [_pt(1e9, 0.4), _pt(2e9, 0.5)], "mfu_size_curve_of": "H100-SXM"},
            "not both",
        ),
    ],
)
def test_bad_size_table_is_refused_with_the_reason(extra, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("]", r"\]")):
        TrainingSpec.model_validate({"mfu": {"value": 0.4, "source": "test"}, **extra})


def test_curve_of_an_unknown_profile_is_a_clear_error():
    prof = get_profile("H200")
    bad = prof.model_copy(
        update={"training": prof.training.model_copy(update={"mfu_size_curve_of": "TPU-v9"})}
    )
    with pytest.raises(InputError, match="TPU-v9.*mfu_by_size") as e:
        bad.mfu_at(70e9)
    assert e.value.field == "training.mfu_size_curve_of"


def test_hardware_show_lists_the_size_table_with_sources():
    res = CliRunner().invoke(app, ["hardware", "show", "A100-80G"])
    assert res.exit_code == 0, res.output
    assert "training.mfu_by_size[22B].mfu" in res.stdout and "0.415" in res.stdout
    assert "training.mfu_by_size[1T].mfu" in res.stdout and "MfuPoint(" not in res.stdout
    assert "22B GPT 41.5 %" in res.stdout.replace("\n", " ")
