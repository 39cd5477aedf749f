"""Device, server, rack and switch power: closed forms, monotonicity, caps, conservation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.errors import InputError
from dcsim.hardware import get_profile
from dcsim.power import (
    PHASE_ACTIVITY,
    PHASE_ACTIVITY_SOURCES,
    TITANIUM_230V_REDUNDANT,
    DevicePowerModel,
    aggregate_w,
    pdu_input_power_w,
    rack_power_w,
    row_power_w,
    server_power_from_profile,
    server_wall_power_w,
    switch_power_w,
)

H100 = get_profile("H100-SXM")
M = DevicePowerModel.from_profile(H100)
unit = st.floats(0.0, 1.0, allow_nan=False)
freq = st.floats(M.f_min_frac, 1.0, allow_nan=False)


def test_endpoints_match_profile() -> None:
    assert M.power_w(0.0, 1.0) == pytest.approx(H100.power.idle_w.value)
    assert M.power_w(1.0, 1.0) == pytest.approx(H100.power.tdp_w.value)
    # closed form at interior points: leakage s_L V + switching (1 - s_L) V^2 f, V = max(0.62, f)
    s_l = (3 - M.alpha) / 2
    assert s_l == pytest.approx(0.3)
    a = 0.4
    for f, v in ((0.7, 0.7), (0.5, 0.62)):  # above and below the voltage floor
        expect = M.idle_w + (M.tdp_w - M.idle_w) * a * (s_l * v + (1 - s_l) * v**2 * f)
        assert M.power_w(a, f) == pytest.approx(expect, rel=1e-12)


def test_busy_power_slope_at_fmax_is_the_measured_alpha() -> None:
    """Near f_max the split reproduces the measured f^alpha law (Zeus, POLCA): d ln S/d ln f = alpha
    at f = 1, and S(0.9) is within 1 % of 0.9^alpha, so caps near f_max act as before."""
    h = 1e-6
    slope = (np.log(M.clock_scale(1.0)) - np.log(M.clock_scale(1.0 - h))) / -np.log(1.0 - h)
    assert slope == pytest.approx(M.alpha, rel=1e-4)
    assert float(M.clock_scale(0.9)) == pytest.approx(0.9**M.alpha, rel=0.01)


def test_low_clock_power_sits_above_the_pure_power_law() -> None:
    """Issue 16.2: leakage at the rail voltage and the V/F floor keep busy power well above
    f^alpha at low clocks (the old model: S = f^alpha all the way down)."""
    for f in (0.6, 0.4, 0.25):
        assert float(M.clock_scale(f)) > 1.15 * f**M.alpha
    # below the floor only f falls: S is linear in f (zero second difference) ...
    f = np.array([0.2, 0.35, 0.5])
    s = M.clock_scale(f)
    assert s[2] - 2 * s[1] + s[0] == pytest.approx(0.0, abs=1e-12)
    # ... and never below the leakage at the floor voltage
    assert float(M.clock_scale(M.f_min_frac)) > M.leak_share * M.v_floor_frac


@given(y=st.floats(0.0, 1.0, allow_nan=False))
def test_freq_for_scale_inverts_clock_scale(y: float) -> None:
    f = float(M.freq_for_scale(y))
    lo = float(M.clock_scale(M.f_min_frac))
    if y >= lo:
        assert float(M.clock_scale(f)) == pytest.approx(y, abs=1e-9)
    else:
        assert f == pytest.approx(M.f_min_frac)


def test_alpha_outside_the_split_range_is_rejected() -> None:
    for bad in (1.0, 3.5):
        with pytest.raises(InputError, match="alpha"):
            DevicePowerModel(tdp_w=400, idle_w=50, f_max_mhz=1000, f_min_mhz=100, alpha=bad)
    with pytest.raises(InputError, match="voltage floor"):
        DevicePowerModel(tdp_w=400, idle_w=50, f_max_mhz=1000, f_min_mhz=100, v_floor_frac=0.0)


@given(a1=unit, a2=unit, f=freq)
def test_power_monotone_in_activity(a1: float, a2: float, f: float) -> None:
    lo, hi = sorted((a1, a2))
    assert M.power_w(lo, f) <= M.power_w(hi, f) + 1e-9


@given(a=unit, f1=freq, f2=freq)
def test_power_monotone_in_frequency(a: float, f1: float, f2: float) -> None:
    lo, hi = sorted((f1, f2))
    assert M.power_w(a, lo) <= M.power_w(a, hi) + 1e-9
    assert M.idle_w - 1e-9 <= M.power_w(a, lo) <= M.tdp_w + 1e-9


@settings(max_examples=200)
@given(cap=st.floats(0.0, 900.0, allow_nan=False), a=unit)
def test_cap_picks_highest_fitting_frequency(cap: float, a: float) -> None:
    f = float(M.freq_for_cap(cap, a))
    assert M.f_min_frac - 1e-12 <= f <= 1.0
    if M.cap_feasible(cap, a):
        assert M.power_w(a, f) <= cap + 1e-6  # never exceeded in steady state
        if f < 1.0:  # and it is the highest such clock: a bit faster would exceed the cap
            assert M.power_w(a, min(1.0, f * 1.001)) > cap - 1e-6
    else:
        assert f == pytest.approx(M.f_min_frac)


def test_vectorized_broadcast() -> None:
    a = np.linspace(0, 1, 11)[:, None]
    f = np.linspace(M.f_min_frac, 1, 5)[None, :]
    p = M.power_w(a, f)
    assert p.shape == (11, 5)
    caps = np.full((11, 5), 400.0)
    assert M.freq_for_cap(caps, a).shape == (11, 5)


def test_time_scale_roofline_limits() -> None:
    f = np.array([0.5, 0.8, 1.0])
    np.testing.assert_allclose(M.time_scale(f, 0.0), 1 / f)
    np.testing.assert_allclose(M.time_scale(f, 1.0), 1.0)
    assert np.all(M.time_scale(f, 0.3) >= 1.0)


def test_throttle_slows_compute_bound_more() -> None:
    f, p, ts_c = M.throttle(350.0, 0.95, 0.0)
    _, _, ts_m = M.throttle(350.0, 0.95, 0.9)
    assert p <= 350.0 + 1e-9 and f < 1
    assert ts_c > ts_m >= 1.0


def test_phase_activity_sourced_and_ordered() -> None:
    assert set(PHASE_ACTIVITY) == set(PHASE_ACTIVITY_SOURCES)
    assert PHASE_ACTIVITY["idle"] < PHASE_ACTIVITY["decode"] < PHASE_ACTIVITY["training"]
    assert PHASE_ACTIVITY["training"] <= PHASE_ACTIVITY["prefill"] <= 1.0


def test_energy_is_integral_of_power() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 1000)
    f = rng.uniform(M.f_min_frac, 1, 1000)
    dt = rng.uniform(0.01, 1, 1000)
    e = M.energy_j(a, f, dt).sum()
    # integrate the step function with a fine trapezoid on a sampled grid
    t_edges = np.concatenate([[0.0], np.cumsum(dt)])
    grid = np.linspace(0, t_edges[-1], 400_001)
    idx = np.clip(np.searchsorted(t_edges, grid, side="right") - 1, 0, 999)
    p = M.power_w(a[idx], f[idx])
    assert np.trapezoid(p, grid) == pytest.approx(e, rel=2e-4)


def test_psu_curve_hits_certification_points_and_drops_at_light_load() -> None:
    pts = TITANIUM_230V_REDUNDANT
    np.testing.assert_allclose(pts(np.array(pts.load_frac)), pts.efficiency)
    assert pts(0.02) < pts(0.10) < pts(0.5)
    assert pts(0.0) == 0.0
    # input = output + losses, always above output
    out = np.linspace(100, 20_000, 50)
    inp = pts.input_w(out, 19_800)
    assert np.all(inp > out)


def test_server_wall_power_constant_psu() -> None:
    assert server_wall_power_w(5600.0, 2000.0, 0.95) == pytest.approx(7600 / 0.95)
    with pytest.raises(InputError):
        server_wall_power_w(1.0, 1.0, 1.5)
    with pytest.raises(InputError):
        server_wall_power_w(1.0, 1.0, TITANIUM_230V_REDUNDANT)


def test_dgx_h100_training_power_near_measured() -> None:
    """DGX H100: 8.4 kW measured peak in training, 10.2 kW rated (DESIGN.md)."""
    p = float(server_power_from_profile(H100, np.full(8, PHASE_ACTIVITY["training"])))
    assert 6500 < p < 10_200
    full = float(server_power_from_profile(H100, np.ones(8)))
    assert full <= H100.server.rated_power_w.value * 1.02


def test_aggregation_conserves_power() -> None:
    rng = np.random.default_rng(1)
    server = rng.uniform(1000, 9000, (3, 64))
    racks = rack_power_w(server, 4)
    rows = row_power_w(racks, 8)
    assert racks.shape == (3, 16) and rows.shape == (3, 2)
    np.testing.assert_allclose(rows.sum(-1), server.sum(-1))
    g = rng.integers(0, 5, 64)
    np.testing.assert_allclose(aggregate_w(server[0], g, 5).sum(), server[0].sum())
    assert pdu_input_power_w(1000.0) > 1000.0
    assert pdu_input_power_w(1000.0, 1.0, None) == pytest.approx(1000.0)


def test_switch_power_scales_with_ports_and_load() -> None:
    p64 = float(switch_power_w(64, 400))
    assert 600 < p64 < 1800  # 1U 64x400G class box with optics
    assert switch_power_w(32, 400) < p64 < switch_power_w(64, 800)
    assert switch_power_w(64, 400, 1.0) > p64
    # traffic-dependent share is small (Mahadevan et al. 2009)
    assert switch_power_w(64, 400, 1.0) / p64 < 1.05
    with pytest.raises(InputError):
        switch_power_w(-1, 400)


def test_bad_model_parameters_rejected() -> None:
    with pytest.raises(InputError):
        DevicePowerModel(tdp_w=100, idle_w=200, f_max_mhz=1000, f_min_mhz=100)
    with pytest.raises(InputError):
        DevicePowerModel(tdp_w=400, idle_w=50, f_max_mhz=1000, f_min_mhz=2000)


def test_cluster_phase_activity_vectorized() -> None:
    from dcsim.power import PHASES, activity_of, phase_index, training_activity

    phases = np.array(["training", "decode", "idle", "prefill"] * 256)
    a = activity_of(phases)
    assert a.shape == (1024,)
    p = M.power_w(a, 1.0)
    assert p[2] == pytest.approx(M.idle_w) and p[3] > p[0] > p[1] > p[2]
    np.testing.assert_array_equal(activity_of(phase_index(phases)), a)
    assert activity_of(np.arange(len(PHASES))).size == len(PHASES)
    with pytest.raises(InputError):
        activity_of(["training", "sleeping"])
    # communication dips lower training power, more exposed comm -> lower activity
    t = training_activity(np.array([0.0, 0.2, 0.5]))
    assert t[0] == pytest.approx(PHASE_ACTIVITY["training"]) and np.all(np.diff(t) < 0)
