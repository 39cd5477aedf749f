"""The shipped serving tables are exactly what the serving DES computes today (issue 17.5:
first `gym.make` of PowerCap-v0 / reset of CoDesign-v0 without ~1 s of DES)."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim import serving_tables
from dcsim.polca import characterize, characterize_fresh, full_args


def _same(a, b) -> None:
    for name in ("rho_grid", "f_grid", "gpu_power_w", "gpu_power_std_w"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for name in ("lambda_sat", "n_gpus", "host_w"):
        assert getattr(a, name) == getattr(b, name), name
    assert np.array_equal(a.rated_w, b.rated_w, equal_nan=True)
    assert len(a.e2e_samples) == len(b.e2e_samples)
    for ra, rb in zip(a.e2e_samples, b.e2e_samples, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(ra, rb, strict=True))


@pytest.mark.parametrize(
    "kw", serving_tables.SHIPPED, ids=lambda kw: "-".join(map(str, kw.values()))
)
def test_shipped_table_equals_a_fresh_characterisation(kw):
    """Fails after any change to the serving physics: run `python -m dcsim.serving_tables`."""
    full = full_args(**kw)
    shipped = serving_tables.load(serving_tables.call_args(full))
    assert shipped is not None, "missing: run `python -m dcsim.serving_tables`"
    _same(shipped, characterize_fresh(**full))
    _same(characterize(**kw), shipped)


def test_the_store_holds_exactly_the_shipped_tables():
    want = {
        serving_tables.path_for(serving_tables.call_args(full_args(**kw))).name
        for kw in serving_tables.SHIPPED
    }
    have = {p.name for p in serving_tables.STORE.glob("*.npz")}
    assert have == want


def test_other_inputs_miss_the_store(monkeypatch):
    """Another seed, or an edited hardware profile, is computed fresh, never served stale."""
    base = full_args(**serving_tables.SHIPPED[1])
    assert serving_tables.load(serving_tables.call_args(base | {"seed": 7})) is None
    import dcsim.hardware

    real = dcsim.hardware.get_profile

    def edited(name):
        prof = real(name)
        return prof.model_copy(update={"description": prof.description + " (edited)"})

    monkeypatch.setattr(dcsim.hardware, "get_profile", edited)
    assert serving_tables.load(serving_tables.call_args(base)) is None
