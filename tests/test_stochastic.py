"""The NumPy AR(1) filter equals scipy.signal.lfilter (its former implementation) to round-off."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.stochastic import ar1


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 3000),
    phi=st.floats(0.0, 0.9999),
    gain=st.floats(0.01, 10.0),
    init=st.floats(-5.0, 5.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_lfilter(n: int, phi: float, gain: float, init: float, seed: int) -> None:
    lfilter = pytest.importorskip("scipy.signal").lfilter
    e = np.random.default_rng(seed).standard_normal(n)
    ref = lfilter([gain], [1.0, -phi], e, zi=[init])[0]
    np.testing.assert_allclose(ar1(e, phi, gain, init), ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("phi", [0.0, 0.3, 0.9, 0.999999])
def test_matches_lfilter_along_an_axis_with_array_init(phi: float) -> None:
    lfilter = pytest.importorskip("scipy.signal").lfilter
    rng = np.random.default_rng(1)
    e = rng.standard_normal((5000, 7))
    zi = rng.standard_normal((1, 7))
    ref = lfilter([0.5], [1.0, -phi], e, axis=0, zi=zi)[0]
    np.testing.assert_allclose(ar1(e, phi, 0.5, zi[0]), ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ar1(e.T, phi, 0.5, zi[0], axis=1), ref.T, rtol=1e-9, atol=1e-9)


def test_stationary_variance_of_the_ou_discretisation() -> None:
    # x[k] = phi x[k-1] + sqrt(1 - phi^2) eps: unit variance, lag-1 autocorrelation phi.
    phi = 0.9
    e = np.random.default_rng(0).standard_normal(400_000)
    x = ar1(e, phi, np.sqrt(1 - phi**2))
    assert np.var(x) == pytest.approx(1.0, abs=0.02)
    assert np.corrcoef(x[1:], x[:-1])[0, 1] == pytest.approx(phi, abs=0.005)


@pytest.mark.parametrize("phi", [-0.1, 1.0, 1.5])
def test_unstable_coefficient_refused(phi: float) -> None:
    with pytest.raises(ValueError):
        ar1(np.ones(3), phi)
