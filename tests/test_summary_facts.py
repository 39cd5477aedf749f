"""Fabric facts visible (issue 12.6, summaries and plots): a run's summary, the `dcsim run`
table, a sweep's index.csv and its figure say which routing, NIC line rate and MFU set the
step time, and how much of the step the data-parallel all-reduce left exposed."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.config import load_scenario
from dcsim.sim import Simulation, summarize
from dcsim.sweep import HEADLINE, plan_sweep, run_sweep
from tests.conftest import SMALL

FACTS = ("mfu", "mfu_source", "routing", "nic_gbps", "exposed_comm_share")
# a communication-bound job: small batch, nothing overlaps the all-reduce
COMM = {"workload.global_batch_tokens": 262144, "workload.overlap": 0.0}


def run_summary(n: int = 3, **over):
    sim = Simulation(load_scenario(None, {**SMALL, **over}))
    recs = [sim.step() for _ in range(n)]
    return sim, recs, summarize(recs, sim)


def test_summary_carries_routing_nic_and_exposed_share():
    sim, recs, s = run_summary(**COMM, **{"workload.routing": "spray"})
    assert s["routing"] == "spray"
    assert s["nic_gbps"] == pytest.approx(sim.fabric.host_link_Bps() * 8 / 1e9)
    st = sim._step_time(recs[-1].freq_frac, "spray")
    # no overlap: the whole all-reduce is exposed, so the share is comm / (compute + comm)
    assert st.exposed_comm_s == pytest.approx(st.comm_s)
    assert s["exposed_comm_share"] == pytest.approx(st.exposed_comm_s / st.total_s)
    assert 0 < s["exposed_comm_share"] < 1


def test_hidden_communication_has_zero_exposed_share():
    _, _, s = run_summary(**{"workload.overlap": 1.0})
    assert s["exposed_comm_share"] == 0.0


def test_run_table_shows_the_facts_within_80_columns(tmp_path):
    args = ["run", "--steps", "2", "--no-plot", "--out", str(tmp_path)]
    for k, v in SMALL.items():
        args += ["--set", f"{k}={v}"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    for label in ("MFU", "MFU from", "routing", "NIC per accelerator", "exposed DP comm"):
        assert label in res.output
    assert "hardware profile" in res.output and "400 Gb/s" in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80


@pytest.mark.parametrize(
    ("hardware", "nics", "scale_up"),
    [("H100-SXM", "8 x 400 Gb/s", "8 x NVLink4"), ("A100-80G", "8 x 200 Gb/s", "8 x NVLink3")],
)
def test_run_table_says_which_nics_and_scale_up_domain(tmp_path, hardware, nics, scale_up):
    """Issue 12.1: the summary says which NICs and scale-up domain the run was built with
    (the hardware profile's: DGX A100 has 200G HDR NICs and NVLink3)."""
    args = ["run", "--steps", "1", "--no-plot", "--out", str(tmp_path)]
    for k, v in {**SMALL, "cluster.hardware": hardware}.items():
        args += ["--set", f"{k}={v}"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert f"NICs per server │ {nics}" in text, text
    assert f"scale-up domain │ {scale_up}" in text, text


def test_sweep_index_and_plot_carry_the_facts(tmp_path):
    assert set(FACTS) <= set(HEADLINE)
    sweep = tmp_path / "s.yaml"
    sweep.write_text(
        "name: facts\nmethod: grid\nsteps: 2\nseeds: [0]\n"
        "parameters:\n  workload.routing: [ecmp, spray]\n"
        "  cluster.servers: [8]\n  workload.overlap: [0.0]\n"
        "  workload.global_batch_tokens: [262144]\n"
    )
    result = run_sweep(plan_sweep(sweep), tmp_path / "out")
    assert result.counts()["failed"] == 0
    rows = list(csv.DictReader((tmp_path / "out" / "facts" / "index.csv").open()))
    assert {r["routing"] for r in rows} == {"ecmp", "spray"}
    assert all(r["mfu_source"].startswith("hardware profile") for r in rows)
    assert all(float(r["nic_gbps"]) > 0 for r in rows)
    assert all(float(r["exposed_comm_share"]) > 0 for r in rows)
    try:
        from dcsim.viz.sweep import fabric_facts, plot_sweep
    except ImportError:  # before the plots moved into dcsim.viz
        from dcsim.sweep_plots import fabric_facts, plot_sweep  # type: ignore[no-redef]
    line = fabric_facts(rows, ["workload.routing"])
    assert "routing ecmp/spray" in line and "Gb/s" in line and "exposed DP comm" in line
    assert plot_sweep(tmp_path / "out" / "facts")["runs"] == 2
