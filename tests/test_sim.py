"""Whole-loop physics of the Simulation: determinism, conservation, monotonicity, bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.config import load_scenario
from dcsim.sim import Controls, Simulation, summarize
from dcsim.workload import TrainingConfig, training_step_time
from tests.conftest import SMALL


def make(**over) -> Simulation:
    o = dict(SMALL)
    o.update(over)
    return Simulation(load_scenario(None, o))


def run(sim: Simulation, n: int, controls: Controls | None = None):
    return [sim.step(controls) for _ in range(n)]


def test_same_seed_same_numbers():
    a = [r.as_row() for r in run(make(), 20)]
    b = [r.as_row() for r in run(make(), 20)]
    assert a == b


def test_reset_replays_exactly():
    sim = make()
    a = [r.as_row() for r in run(sim, 15)]
    sim.reset()
    b = [r.as_row() for r in run(sim, 15)]
    assert a == b


def test_pue_at_least_one_and_finite():
    recs = run(make(), 30)
    for r in recs:
        assert np.isfinite(r.pue) and r.pue >= 1.0
        assert all(np.isfinite(v) for v in r.as_row().values())


def test_power_sums_close():
    """Facility power = IT + UPS loss (no-load + proportional + square-law, on the UPS rating)
    + cooling + fixed loads; IT = accelerators + host + fans + switches >= accelerators."""
    sim = make()
    pw = sim.sc.power
    rated = pw.ups_sizing_factor * sim.design_it_w
    for r in run(sim, 10):
        x = r.it_w / rated
        ups_loss = rated * (
            pw.ups_no_load_loss + pw.ups_proportional_loss * x + pw.ups_square_loss * x * x
        )
        fixed = pw.fixed_load_w_per_kw * sim.design_it_w / 1e3
        assert r.facility_w == pytest.approx(r.it_w + ups_loss + r.cooling_w + fixed, rel=1e-12)
        assert r.it_w > r.accel_w
        parts = sum(
            v
            for k, v in r.extra.items()
            if k.startswith("cooling_") and k != "cooling_server_fans_w"
        )
        if parts:
            assert parts == pytest.approx(r.cooling_w, rel=1e-6)


def test_energy_is_power_times_time():
    sim = make()
    recs = run(sim, 10)
    for r in recs:
        assert r.it_kwh == pytest.approx(r.it_w * sim.dt / 3.6e6)
        assert r.carbon_kg == pytest.approx(r.facility_kwh * r.carbon_g_per_kwh / 1000)


def test_more_load_more_power():
    idle = summarize(run(make(**{"workload.active_fraction": 0.0}), 10), make())
    half = summarize(run(make(**{"workload.active_fraction": 0.5}), 10), make())
    full = summarize(run(make(**{"workload.active_fraction": 1.0}), 10), make())
    assert idle["it_energy_kwh"] < half["it_energy_kwh"] < full["it_energy_kwh"]
    assert idle["facility_energy_kwh"] < half["facility_energy_kwh"] < full["facility_energy_kwh"]
    assert idle["mean_tokens_per_s"] == 0.0 < half["mean_tokens_per_s"]


def test_power_cap_lowers_power_and_throughput():
    full = run(make(), 10, Controls(cap_frac=1.0))
    capped = run(make(), 10, Controls(cap_frac=0.6))
    assert capped[-1].accel_w < full[-1].accel_w
    assert capped[-1].tokens_per_s < full[-1].tokens_per_s
    assert capped[-1].freq_frac < full[-1].freq_frac
    # A cap bounds each accelerator's draw.
    sim = make()
    r = run(sim, 5, Controls(cap_frac=0.6))[-1]
    assert r.accel_w / sim.n_dev <= 0.6 * sim.profile.tdp_w + 1e-6


def test_throughput_matches_closed_form_step_time():
    """At steady state the SimPy job completes iterations at 1 / (compute + exposed comm)."""
    sim = make(**{"time.steps": 60})
    recs = run(sim, 60)
    st_ = sim._step_time(recs[-1].freq_frac, sim.routing)
    expected = sim.sc.workload.global_batch_tokens / st_.total_s
    measured = np.mean([r.tokens_per_s for r in recs[10:]])
    assert measured == pytest.approx(expected, rel=0.02)
    total_time = sum(r.iterations for r in recs) * st_.total_s
    assert total_time == pytest.approx(60 * sim.dt, rel=0.02)


@settings(max_examples=40, deadline=None)
@given(
    comm=st.floats(0, 100),
    overlap=st.floats(0, 1),
    scale=st.floats(1, 5),
    n=st.integers(1, 4096),
)
def test_step_time_properties(comm, overlap, scale, n):
    cfg = TrainingConfig(overlap=overlap, mfu=0.4)
    s = training_step_time(cfg, n, 989e12, scale, comm)
    assert s.total_s >= s.compute_s
    assert s.total_s >= comm - 1e-9 or s.exposed_comm_s == 0
    assert s.exposed_comm_s == pytest.approx(max(0.0, comm - overlap * s.compute_s))
    # 6ND / (n * peak * mfu) closed form
    assert s.compute_s == pytest.approx(
        6 * cfg.model_params * cfg.global_batch_tokens / (n * 989e12 * cfg.mfu) * scale
    )


def test_hotter_supply_air_raises_inlets():
    cool = run(make(), 20, Controls(supply_air_c=18.0))
    warm = run(make(), 20, Controls(supply_air_c=24.0))
    assert warm[-1].inlet_max_c > cool[-1].inlet_max_c
