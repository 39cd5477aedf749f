"""`dcsim reproduce fire-flyer` (issue 18.7): Fire-Flyer 2 vs DGX A100 with dcsim's models, the
paper's numbers side by side (An et al., SC'24, arXiv 2408.14158)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.config import scenario_from_dict
from dcsim.cost import network_inventory
from dcsim.fireflyer import pcie_mfu, per_nic_inventory, reproduce, scenarios
from dcsim.hardware import get_profile
from dcsim.sim import Simulation

runner = CliRunner()


def test_pcie_clock_and_mfu_follow_the_sxm_power_model():
    """The GA100 die capped at the 250 W board power: S(f) = (250 - 50) / (350 a) with the A100
    SXM split S = 0.3 f + 0.7 f^3 above the voltage floor (leakage share (3 - 2.4) / 2)."""
    f_gemm, _ = pcie_mfu(activity=1.0, memory_bound_fraction=0.0)
    assert 0.62 < f_gemm < 1.0  # above the floor: the cubic branch
    assert 0.3 * f_gemm + 0.7 * f_gemm**3 == pytest.approx(200 / 350, rel=1e-9)
    f, mfu = pcie_mfu()
    assert 0.3 * f + 0.7 * f**3 == pytest.approx(200 / (350 * 0.93), rel=1e-9)
    assert mfu == pytest.approx(0.50 / (0.85 / f + 0.15), rel=1e-9)
    # the profile's MFU is this derivation, rounded (one source of truth)
    assert get_profile("A100-PCIe").mfu == pytest.approx(mfu, abs=0.005)


def test_fire_flyer_host_cables_are_counted_per_nic():
    sc = scenarios(nodes=32, steps=2)
    ff = Simulation(scenario_from_dict(sc["Fire-Flyer 2"]))
    raw = network_inventory(ff.fabric)
    inv = per_nic_inventory(raw, ff)
    leaves, spines = 2, 20  # ceil(256 GPUs / 160 per leaf), 20 spines; spine links 160*25/20=200G
    assert inv.ports == {200: 32 + 2 * leaves * spines}
    assert inv.optics == {200: 2 * 32 + 2 * leaves * spines}
    dgx = Simulation(scenario_from_dict(sc["DGX A100"]))
    same = network_inventory(dgx.fabric)
    assert per_nic_inventory(same, dgx) is same  # one NIC per GPU: nothing to recount


@pytest.fixture(scope="module")
def report():
    return reproduce(nodes=256, steps=2)


def test_reproduction_sets_our_ratios_next_to_the_papers(report):
    dgx, ff = report.systems
    assert (dgx.gpus, ff.gpus) == (2048, 2048) and dgx.nics == 8 * ff.nics
    rows = {r["metric"]: r for r in report.rows}
    gemm = rows["GEMM throughput (PCIe / DGX)"]["dcsim"]
    train = rows["training throughput, tokens/s (FF / DGX)"]["dcsim"]
    assert 0.75 < gemm < 0.85  # paper ~0.83
    compute_only = get_profile("A100-PCIe").mfu / get_profile("A100-80G").mfu
    assert 0.5 < train < compute_only - 0.05  # the 1-NIC fabric exposes more all-reduce
    assert ff.exposed_comm_share > dgx.exposed_comm_share
    capex = rows["construction cost, capex (FF / DGX)"]["dcsim"]
    assert 0.4 < capex < 0.7  # paper: half
    assert ff.capex_network_usd < dgx.capex_network_usd / 4
    power = rows["facility power (FF / DGX)"]["dcsim"]
    assert 0.5 < power < 0.7  # paper: -40 % energy
    for r in report.rows:
        assert r["why"] and (r["paper"] is None or 0 < r["paper"] <= 1)


def test_cli_prints_the_comparison_as_json():
    res = runner.invoke(app, ["reproduce", "fire-flyer", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert "2408.14158" in d["paper"] and len(d["rows"]) == 6
    assert [s["hardware"] for s in d["systems"]] == ["A100-80G", "A100-PCIe"]
