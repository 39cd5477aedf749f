"""SN40L memory tiers and the SN40L paper's CoE comparisons (issue 16.4)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.inference import get_llm
from dcsim.rdu import (
    PAPER,
    TOLERANCE,
    CoEServer,
    MemoryTiers,
    experts_held,
    nodes_for,
    reproduce_sn40l,
    switch_time_s,
)

EXPERT = get_llm("llama2-7b").weight_bytes  # 13.48 GB in BF16


def test_node_tiers_from_profile() -> None:
    t = MemoryTiers.sn40l_node()
    assert t.ddr_bytes == pytest.approx(8 * 1.5e12)
    assert t.hbm_bytes == pytest.approx(8 * 64e9)
    assert t.sram_bytes == pytest.approx(8 * 520 * 2**20)
    assert t.sram_bytes < t.hbm_bytes < t.ddr_bytes  # three tiers, growing capacity


def test_footprint_closed_form() -> None:
    rdu, dgx = MemoryTiers.sn40l_node(), MemoryTiers.dgx("H100-SXM")
    assert experts_held(rdu, EXPERT) == int(12e12 // EXPERT) == 890
    assert experts_held(dgx, EXPERT) == int(640e9 // EXPERT) == 47
    assert nodes_for(dgx, 150, EXPERT) == 4 and nodes_for(rdu, 150, EXPERT) == 1


def test_switch_time_is_bytes_over_bandwidth() -> None:
    rdu = MemoryTiers.sn40l_node()
    assert switch_time_s(rdu, EXPERT) == pytest.approx(EXPERT / 1e12)
    with pytest.raises(ValueError):
        switch_time_s(MemoryTiers.dgx("A100-80G"), EXPERT)  # needs a host link


def test_reproduces_paper_headlines_within_tolerance() -> None:
    rep = reproduce_sn40l()
    got = {r.metric: r for r in rep.rows}
    assert got["footprint reduction vs DGX H100-SXM"].ours == PAPER["footprint_reduction_max"]
    assert got["model switching speed-up vs DGX H100-SXM"].ours == pytest.approx(15.625)
    assert got["model switching speed-up vs DGX A100-80G"].ours == pytest.approx(31.25)
    assert all(abs(r.rel_error) <= TOLERANCE for r in rep.rows)


def test_coe_server_pays_switches_only_on_misses() -> None:
    s = CoEServer()
    one = s.cost.batch_latency(1, 100, 50)[1]
    t = s.serve([(0, 100, 50), (0, 100, 50), (1, 100, 50)])
    assert s.misses == 2
    assert t == pytest.approx(3 * one + 2 * s.switch_s)
    # more experts than HBM slots: cycling through them misses every time (LRU)
    s2 = CoEServer()
    n = s2.hbm_slots + 1
    s2.serve([(i % n, 10, 2) for i in range(3 * n)])
    assert s2.misses == 3 * n


def test_cli_reproduce_sn40l() -> None:
    r = CliRunner().invoke(app, ["reproduce", "sn40l", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert len(d["rows"]) == 4 and all(x["within_tolerance"] for x in d["rows"])
    r = CliRunner().invoke(app, ["reproduce", "sn40l"])
    assert r.exit_code == 0 and "footprint" in r.output
