"""CLI: dcsim topology show/list and dcsim collective (JSON, tables, heat map, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dcsim.cli import app

runner = CliRunner()
TOPO = Path(__file__).resolve().parents[1] / "topologies"


def test_topology_show_json_and_table():
    r = runner.invoke(app, ["topology", "show", str(TOPO / "leaf_spine_oversub.yaml"), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["n_hosts"] == 64 and s["oversubscription"] == 2.0 and s["bisection_bw_GBps"] == 800.0
    r = runner.invoke(app, ["topology", "show", "leaf_spine_small"])
    assert r.exit_code == 0 and "bisection" in r.output
    r = runner.invoke(app, ["topology", "list", "--json"])
    assert r.exit_code == 0 and any(t["file"] == "fat_tree_k8.yaml" for t in json.loads(r.stdout))


def test_collective_json_and_plot(tmp_path):
    png = tmp_path / "heat.png"
    r = runner.invoke(
        app,
        [
            "collective",
            "--topology",
            str(TOPO / "leaf_spine_small.yaml"),
            "--collective",
            "all-reduce",
            "--algorithm",
            "ring",
            "--size",
            "256MiB",
            "--routing",
            "split:4",
            "--seed",
            "1",
            "--shuffle",
            "--json",
            "--plot",
            str(png),
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (
        out["time_s"] > 0
        and out["busbw_GBps"] <= 50.0 + 1e-9
        and 0 < out["max_link_util"] <= 1.0 + 1e-9
    )
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    r = runner.invoke(app, ["collective", "-t", "nvlink_h100", "-c", "all-gather", "-s", "1GiB"])
    assert r.exit_code == 0 and "busbw" in r.output


def test_collective_bad_input_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: leaf_spine\nleaves: 2\nspines: 2\nhosts_per_leaf: 2\nhost_link_gbps: -1\n"
    )
    for args in (
        ["collective", "--topology", str(bad)],
        ["collective", "--size", "big"],
        ["collective", "--routing", "magic"],
        ["collective", "--algorithm", "hierarchical"],
        ["collective", "--ranks", "1"],
        ["topology", "show", "missing.yaml"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert "Traceback" not in r.output


def test_collective_default_says_why_routings_tie_and_hardware_sets_the_nic():
    """Issue 12: the default host-order ring ties under every routing; the CLI says why.
    --hardware builds a hardware-bound preset with that chip's NIC."""
    r = runner.invoke(app, ["collective", "--json"])
    assert r.exit_code == 0, r.output
    assert "at most one flow" in json.loads(r.stdout)["routing_note"]
    r = runner.invoke(app, ["collective", "--shuffle", "--json"])
    assert json.loads(r.stdout)["routing_note"] == ""
    r = runner.invoke(
        app, ["topology", "show", "leaf_spine_256", "--hardware", "A100-80G", "--json"]
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["host_bw_GBps"] == 25.0 and s["diameter_hops"] == 4 and "A100-80G" in s["nic"]
    r = runner.invoke(app, ["topology", "show", "leaf_spine_small", "--hardware", "A100-80G"])
    assert r.exit_code == 2 and "override_reason" in r.output
