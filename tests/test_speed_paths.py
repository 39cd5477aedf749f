"""Fast paths give the same numbers as the readable ones (issue 17: one source of truth).

Each fast path is checked against the computation it replaced, over random inputs, for exact
(bitwise) equality unless stated.
"""

from __future__ import annotations

import numpy as np

from dcsim.climate import DAY_S, CarbonIntensity


def _carbon_reference(c: CarbonIntensity, t_s: np.ndarray) -> np.ndarray:
    """The lookup as it was: np.interp(period=...), which sorts the series on every call."""
    tau = c.offset_s + np.asarray(t_s, dtype=float)
    base = np.interp(np.mod(tau, c.period_s), c.tau_s, c.values, period=c.period_s)
    if c.amplitude:
        hour = np.mod(tau / 3600.0, 24.0)
        base = base * (1.0 + c.amplitude * np.cos(2 * np.pi * (hour - c.peak_hour) / 24.0))
    return base


def test_carbon_lookup_equals_periodic_interp() -> None:
    rng = np.random.default_rng(1)
    for trial in range(100):
        n = int(rng.integers(2, 50))
        tau = np.sort(rng.uniform(0, 1e5, n))
        tau -= tau[0]
        period = tau[-1] + rng.uniform(1, 1e4)
        amp = rng.uniform(0, 0.9) * (trial % 2)
        c = CarbonIntensity(tau, rng.uniform(0, 900, n), period, rng.uniform(0, 1e6), amp, 19.0)
        t = np.concatenate([rng.uniform(-1e7, 1e7, 300), tau, tau + period, [-1e-20, 0.0]])
        assert np.array_equal(c.at_many(t), _carbon_reference(c, t)), trial
        assert c.at(float(t[0])) == _carbon_reference(c, t[:1])[0]
    flat = CarbonIntensity(np.array([0.0, DAY_S]), np.array([400.0, 400.0]), DAY_S, 0.0, 0.3, 19)
    t = rng.uniform(-1e7, 1e7, 300)
    assert np.array_equal(flat.at_many(t), _carbon_reference(flat, t))
