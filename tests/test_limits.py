"""Physical limits (issue 18.3): rack power against its budget and the training job's memory
per accelerator against HBM are checked when a scenario is built; a violation is an InputError
(exit 2, field path) unless the scenario explicitly allows it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.config import load_scenario
from dcsim.errors import InputError
from dcsim.limits import RACK_LIMIT_KW, activation_bytes, memory_footprint, model_shape, pdu_kw
from dcsim.sim import Simulation
from dcsim.workload import TrainingConfig, gradient_bytes_per_rank

runner = CliRunner()


def build(**over) -> Simulation:
    return Simulation(load_scenario(None, {"time.steps": 1, **over}))


# ----------------------------------------------------------------------------- closed forms
def test_pdu_rating_is_three_phase_power_at_the_continuous_rating():
    # sqrt(3) x 415 V x 60 A x 0.8 = 34.50 kW; single phase 230 V 32 A at 80 %: 5.89 kW
    assert pdu_kw(415, 60) == pytest.approx(34.50, abs=0.01)
    assert pdu_kw(230, 32, phases=1) == pytest.approx(5.888, abs=0.001)
    assert RACK_LIMIT_KW["air"].value == pytest.approx(2 * 34.5, abs=0.1)  # N+1 of three PDUs


def test_model_states_follow_the_zero_paper_per_stage():
    """Psi = N/TP; (2 + 2 + 12) Psi at stage 0, each stage shards one more state over DP."""
    cfg = TrainingConfig(model_params=70e9, tensor_parallel=8)
    psi, dp = 70e9 / 8, 32
    expect = {
        0: 16 * psi,
        1: 4 * psi + 12 * psi / dp,
        2: 2 * psi + 14 * psi / dp,
        3: 16 * psi / dp,
    }
    totals = []
    for z, states in expect.items():
        m = memory_footprint(cfg.model_copy(update={"zero_stage": z}), 256, 80)
        assert m.weights + m.gradients + m.optimizer == pytest.approx(states, rel=1e-12)
        assert m.data_parallel == dp
        totals.append(m.total)
    assert totals == sorted(totals, reverse=True)  # each stage needs less memory


def test_activations_follow_korthikanti_table_2():
    """Selective recompute + sequence parallel: 34 s b h L / t bytes; without SP s b h L
    (10 + 24/t); full recompute keeps 2 s b h L; no recompute adds 5 a s / h."""
    cfg = TrainingConfig(model_params=175e9, hidden_size=12288, seq_len=2048, tensor_parallel=8)
    h, layers = model_shape(cfg)
    assert h == 12288 and layers == pytest.approx(175e9 / (12 * 12288**2))
    sbhl = 2048 * 1 * 12288 * layers
    assert activation_bytes(cfg) == pytest.approx(34 * sbhl / 8)
    no_sp = cfg.model_copy(update={"sequence_parallel": False})
    assert activation_bytes(no_sp) == pytest.approx(sbhl * (10 + 24 / 8))
    full = cfg.model_copy(update={"recompute": "full", "sequence_parallel": False})
    assert activation_bytes(full) == pytest.approx(2 * sbhl)
    none = cfg.model_copy(update={"recompute": "none"})
    heads = 12288 / 128
    assert activation_bytes(none) == pytest.approx(sbhl * (34 + 5 * heads * 2048 / 12288) / 8)
    # twice the micro-batch, twice the activations
    mb2 = cfg.model_copy(update={"micro_batch_size": 2})
    assert activation_bytes(mb2) == pytest.approx(2 * activation_bytes(cfg))


def test_default_width_gives_the_gpt3_aspect_ratio():
    h, layers = model_shape(TrainingConfig(model_params=175e9))
    assert h == pytest.approx(12288, rel=0.01) and layers == pytest.approx(96, rel=0.03)


def test_zero3_moves_half_again_the_bytes():
    cfg = TrainingConfig()
    z3 = cfg.model_copy(update={"zero_stage": 3})
    assert gradient_bytes_per_rank(z3) == pytest.approx(1.5 * gradient_bytes_per_rank(cfg))
    a = build(**{"workload.zero_stage": 1}).comm_time("ecmp")
    b = build(**{"workload.zero_stage": 3}).comm_time("ecmp")
    assert b > 1.3 * a


# ----------------------------------------------------------------------------- scenarios
def test_default_scenario_fits_and_reports_its_margins():
    lim = build().limits.as_dict()
    assert lim["rack_power_fits"] and lim["memory_fits"]
    assert lim["rack_kw"] == pytest.approx(2 * 10.2)  # 2 DGX H100 at their 10.2 kW nameplate
    assert 40 < lim["memory_gb_per_accelerator"] < 80


def test_a_70b_model_on_two_servers_does_not_fit_in_h100_memory():
    with pytest.raises(InputError) as e:
        build(**{"cluster.servers": 2})
    assert e.value.field == "workload.model_params"
    assert "GB per accelerator" in e.value.message and "80 GB HBM" in e.value.message
    assert "allow_memory_overflow" in e.value.message
    # the same job fits on H200's 141 GB, and runs when explicitly allowed
    assert build(**{"cluster.servers": 2, "cluster.hardware": "H200"}).limits.memory.fits
    sim = build(**{"cluster.servers": 2, "workload.allow_memory_overflow": True})
    assert not sim.limits.memory.fits


def test_memory_counts_only_the_servers_running_the_job():
    # 25 % of 32 servers active: DP 8 instead of 32, more optimizer state per GPU
    full = build().limits.memory
    part = build(**{"workload.active_fraction": 0.25}).limits.memory
    assert part.data_parallel == 8 and part.optimizer == pytest.approx(4 * full.optimizer)


def test_rack_power_over_the_pdu_budget_is_refused():
    """8 DGX H200 per air rack: 81.6 kW nameplate > 69 kW (three 60 A 415 V PDUs, N+1)."""
    dense = {"cluster.hardware": "H200", "cluster.servers_per_rack": 8}
    with pytest.raises(InputError) as e:
        build(**dense)
    assert e.value.field == "cluster.servers_per_rack"
    assert "81.6 kW per rack" in e.value.message and "69.0 kW" in e.value.message
    # a liquid-cooled, busbar-fed rack (132 kW) carries it; so does an explicit allowance
    assert build(**dense, **{"cooling.type": "liquid"}).limits.rack.fits
    # (67.5 kW by air is also over the air-density limit: allowed too, issue 15.5)
    over = {"cluster.allow_over_power": True, "cooling.allow_over_density": True}
    assert not build(**dense, **over).limits.rack.fits


def test_scenario_rack_limit_overrides_the_default():
    with pytest.raises(InputError, match=r"20\.4 kW per rack exceeds .* 15\.0 kW"):
        build(**{"cluster.rack_power_limit_kw": 15})
    assert build(**{"cluster.rack_power_limit_kw": 21}).limits.rack.limit_kw == 21


def test_gb200_nvl72_rack_fits_its_liquid_budget():
    sim = build(
        **{
            "cluster.hardware": "GB200",
            "cluster.servers": 18,
            "cluster.servers_per_rack": 18,
            "cluster.topology": "nvlink_gb200_nvl72.yaml",
            "workload.tensor_parallel": 4,
            "cooling.type": "liquid",
        }
    )
    assert sim.limits.rack.rack_kw == pytest.approx(18 * 7.3)
    assert sim.limits.rack.fits


def test_cli_refuses_with_exit_2_and_the_field(tmp_path):
    res = runner.invoke(
        app, ["run", "--set", "cluster.servers=2", "--steps", "1", "--out", str(tmp_path)]
    )
    assert res.exit_code == 2
    assert "workload.model_params" in res.output and "Traceback" not in res.output
    ok = runner.invoke(
        app,
        [
            *("run", "--set", "cluster.servers=2", "--set", "workload.allow_memory_overflow=true"),
            *("--steps", "1", "--no-plot", "--json", "--out", str(tmp_path)),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["summary"]["pue"] >= 1.0


def test_memory_controls_show_in_the_run_facts():
    """Every memory field changes the reported footprint (controls mean what they say)."""
    base = build().describe()["limits"]["memory_gb_per_accelerator"]
    for over in (
        {"workload.zero_stage": 2},
        {"workload.optimizer_bytes_per_param": 16.0},
        {"workload.seq_len": 8192},
        {"workload.micro_batch_size": 2},
        {"workload.hidden_size": 8192},
        {"workload.sequence_parallel": False},
        {"workload.recompute": "full"},
        {"workload.gradient_bytes_per_param": 4.0},
    ):
        got = build(**over).describe()["limits"]["memory_gb_per_accelerator"]
        assert got != pytest.approx(base, rel=1e-6), over
