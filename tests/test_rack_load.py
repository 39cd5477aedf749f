"""dcsim.rack_load: the synthetic training/inference rack load and the rack power it draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.errors import InputError
from dcsim.hardware import get_profile
from dcsim.power import DevicePowerModel
from dcsim.rack_load import (
    RackLoadConfig,
    RackPower,
    inference_activity,
    rack_activity,
    rack_sizes,
    training_racks,
)
from dcsim.schema import validate_model

QUIET = {"training_sd": 0.0, "inference_sd": 0.0}


def _times(n: int, dt: float = 60.0, t0: float = 0.0) -> np.ndarray:
    return t0 + dt * np.arange(n) + 0.5 * dt


def test_defaults_and_sources() -> None:
    cfg = RackLoadConfig()
    assert cfg.training_activity == 0.85
    assert (
        cfg.inference_mean - cfg.inference_amplitude,
        cfg.inference_mean + cfg.inference_amplitude,
    ) == pytest.approx((0.2, 0.8))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"training_share": 1.5}, "rack_load.training_share"),
        ({"correlation_s": 0.0}, "rack_load.correlation_s"),
        ({"inference_peak_hour": 24.0}, "rack_load.inference_peak_hour"),
        ({"activity_min": 0.9, "activity_max": 0.5}, "rack_load"),
        ({"bogus": 1}, "rack_load.bogus"),
    ],
)
def test_bad_config_is_input_error(data: dict, field: str) -> None:
    with pytest.raises(InputError) as e:
        validate_model(RackLoadConfig, data, prefix="rack_load")
    assert (e.value.field or "").startswith(field)


def test_bad_call_is_input_error() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InputError):
        rack_activity(RackLoadConfig(), 0, _times(3), 60.0, rng)
    with pytest.raises(InputError):
        rack_activity(RackLoadConfig(), 2, _times(3), 0.0, rng)
    with pytest.raises(InputError):
        rack_sizes(0, 16)


def test_noise_free_load_is_the_closed_form() -> None:
    """Without noise: training racks at a_train, inference racks on m + A cos(2 pi (h - h_peak)/24)."""
    cfg = RackLoadConfig(**QUIET)
    t = np.arange(0, 2 * 86400, 3600.0)  # on the hour, two days
    a = rack_activity(cfg, 6, t, 3600.0, np.random.default_rng(0))
    assert a.shape == (len(t), 6)
    np.testing.assert_array_equal(a[:, :3], 0.85)
    hour = (t / 3600.0) % 24
    want = 0.5 + 0.3 * np.cos(2 * np.pi * (hour - 14) / 24)
    np.testing.assert_allclose(a[:, 3:], np.repeat(want[:, None], 3, axis=1))
    assert a[14, 4] == pytest.approx(0.8) and a[2, 4] == pytest.approx(0.2)  # peak 14 h, trough 2 h
    assert a[14 + 24, 5] == pytest.approx(a[14, 5])  # daily period
    np.testing.assert_allclose(inference_activity(cfg, t), a[:, 3])


@pytest.mark.parametrize(
    ("n", "share", "k"), [(64, 0.5, 32), (7, 0.5, 3), (10, 0.0, 0), (10, 1.0, 10)]
)
def test_training_share(n: int, share: float, k: int) -> None:
    mask = training_racks(RackLoadConfig(training_share=share), n)
    assert mask.sum() == k and mask[:k].all()  # the first racks train


def test_same_seed_same_load_and_different_seed_differs() -> None:
    cfg, t = RackLoadConfig(), _times(50)
    a = rack_activity(cfg, 8, t, 60.0, np.random.default_rng(3))
    np.testing.assert_array_equal(a, rack_activity(cfg, 8, t, 60.0, np.random.default_rng(3)))
    assert not np.array_equal(a, rack_activity(cfg, 8, t, 60.0, np.random.default_rng(4)))


def test_noise_is_an_ar1_with_the_configured_sd_and_correlation() -> None:
    """Stationary sd = training_sd, lag-1 autocorrelation = exp(-dt / tau) (Ornstein-Uhlenbeck)."""
    cfg = RackLoadConfig(training_share=1.0, training_activity=0.5, training_sd=0.05)
    dt, n = 300.0, 40_000
    a = rack_activity(cfg, 4, _times(n, dt), dt, np.random.default_rng(11))
    x = (a[200:] - 0.5) / 0.05  # skip the start from rest (a few tau)
    assert x.mean() == pytest.approx(0.0, abs=0.05)
    assert x.std() == pytest.approx(1.0, rel=0.03)
    phi = math.exp(-dt / 900.0)
    lag1 = np.mean([np.corrcoef(x[:-1, r], x[1:, r])[0, 1] for r in range(4)])
    assert lag1 == pytest.approx(phi, abs=0.01)


@settings(max_examples=40, deadline=None)
@given(
    lo=st.floats(0.0, 0.5),
    width=st.floats(0.05, 0.5),
    sd=st.floats(0.0, 1.0),
    share=st.floats(0, 1),
    seed=st.integers(0, 1000),
)
def test_activity_stays_in_bounds(lo, width, sd, share, seed) -> None:
    cfg = RackLoadConfig(
        activity_min=lo,
        activity_max=lo + width,
        training_sd=sd,
        inference_sd=sd,
        training_share=share,
    )
    a = rack_activity(cfg, 5, _times(30), 60.0, np.random.default_rng(seed))
    assert np.all((a >= lo) & (a <= lo + width))


@pytest.mark.parametrize(
    ("n", "per", "want"), [(1024, 16, [16] * 64), (200, 16, [16] * 12 + [8]), (5, 16, [5])]
)
def test_rack_sizes(n: int, per: int, want: list) -> None:
    got = rack_sizes(n, per)
    np.testing.assert_array_equal(got, want)
    assert got.sum() == n


def test_rack_power_is_device_law_plus_host_through_psu() -> None:
    prof = get_profile("H100-SXM")
    rp = RackPower.from_profile(prof, np.array([16.0, 8.0]))
    dev = DevicePowerModel.from_profile(prof)
    host = prof.server.host_power_w.value / prof.server.accelerators
    eta = prof.server.psu_efficiency.value
    a, f = np.array([0.3, 0.9]), np.array([1.0, 0.7])
    want = np.array([16.0, 8.0]) * (dev.power_w(a, f) + host) / eta
    np.testing.assert_allclose(rp.power_w(a, f), want, rtol=1e-12)
    # at full activity and clock: the design (TDP) load
    np.testing.assert_allclose(rp.power_w(np.ones(2), 1.0), rp.design_w(), rtol=1e-12)
    np.testing.assert_allclose(rp.design_w(), np.array([16.0, 8.0]) * (prof.tdp_w + host) / eta)
    # idle floor: activity 0 leaves P_idle + host
    np.testing.assert_allclose(
        rp.power_w(np.zeros(2)), np.array([16.0, 8.0]) * (prof.idle_w + host) / eta
    )


def test_rack_power_monotone_and_clock_floor() -> None:
    prof = get_profile("H100-SXM")
    rp = RackPower.from_profile(prof, np.array([16.0]))
    a = np.linspace(0, 1, 11)
    p = np.array([rp.power_w(np.array([x]), 1.0)[0] for x in a])
    assert np.all(np.diff(p) > 0)
    f = np.linspace(0.2, 1, 9)
    p = np.array([rp.power_w(np.array([0.8]), x)[0] for x in f])
    assert np.all(np.diff(p) > 0)
    f_min = prof.power.f_min_mhz.value / prof.power.f_max_mhz.value
    # the device cannot clock below f_min: a deeper throttle draws the f_min power
    assert rp.power_w(np.array([0.8]), 0.01)[0] == pytest.approx(
        rp.power_w(np.array([0.8]), f_min)[0]
    )
