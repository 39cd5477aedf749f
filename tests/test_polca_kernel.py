"""Issue 17.3: the POLCA row's compiled loops (`dcsim.polca_kernel`) give the numbers of its
readable NumPy path (`RowSimulation.compiled = False`) bit for bit: the built load, whole
runs through brakes, PowerCap-v0 episodes with random actions, and each kernel's piece."""

from __future__ import annotations

import numpy as np
import pytest
from dcsim.agents.polca import PolcaController
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim import jit
from dcsim.envs.power_cap import PowerCapEnv
from dcsim.polca import (
    PeriodPower,
    RowConfig,
    RowSimulation,
    _interp_rows,
    _median,
    characterize,
    kernels,
)
from dcsim.power import TITANIUM_230V_REDUNDANT

needs_numba = pytest.mark.skipif(not jit.jit_enabled(), reason="numba absent or DCSIM_NO_JIT=1")


@pytest.fixture(scope="module")
def table():
    return characterize("A100-80G", "llama2-70b", sim_s=90.0, warmup_s=20.0)


@pytest.fixture(scope="module")
def fast():
    mod = kernels(load=True)
    assert mod is not None
    return mod


def test_kernels_follow_the_jit_switch() -> None:
    """Without numba (or with DCSIM_NO_JIT=1) the row keeps its NumPy path."""
    assert (kernels(load=True) is not None) == jit.jit_enabled()


def _row(cfg: RowConfig, table, compiled: bool, monkeypatch: pytest.MonkeyPatch):
    with monkeypatch.context() as m:
        m.setattr(RowSimulation, "compiled", compiled)  # _build_load runs in __init__
        sim = RowSimulation(cfg, table)
    sim.compiled = compiled
    return sim


STATE = ("counts", "rho", "_rw", "_ri_nf", "_host_w", "noise")
RUN = ("row_w", "f_eff", "p50_slowdown_s", "brake_on", "f_cmd", "pend_t", "pend_val")


@needs_numba
@pytest.mark.parametrize(
    "kw, controller",
    [
        ({"n_servers": 45, "baseline_servers": 20, "control_period_s": 2.0, "seed": 2}, True),
        ({"n_servers": 150, "baseline_servers": 65, "seed": 4}, False),  # > 128: pairwise halves
        ({"n_servers": 7, "baseline_servers": 3, "control_period_s": 1.5, "seed": 1}, True),
    ],
)
def test_row_runs_as_the_numpy_path(
    table, fast, kw: dict, controller: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load (its renewal counts and table places) and a run through brake onsets and
    releases: every array, event and RNG draw of the NumPy path."""
    cfg = RowConfig(horizon_s=400.0, **kw)
    a, b = (_row(cfg, table, c, monkeypatch) for c in (True, False))
    for k in STATE:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    ra, rb = (s.run(PolcaController() if controller else None, brake=True) for s in (a, b))
    for k in RUN:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    assert ra.brake_onsets_s == rb.brake_onsets_s and ra.brake_triggers_s == rb.brake_triggers_s
    assert (ra.cap_events, ra.brake_events) == (rb.cap_events, rb.brake_events)
    assert ra.brake_events > 0 and a._rng.random() == b._rng.random()
    assert a.observe() == b.observe()


@needs_numba
def test_a_nan_clock_in_a_block_as_the_numpy_path(
    table, fast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NaN clock landing inside a block of over-budget ticks: the block's peak is NaN
    (np.max), so neither path walks it or trips the brake."""
    cfg = RowConfig(n_servers=80, baseline_servers=30, horizon_s=60.0, seed=1)
    rows = [_row(cfg, table, c, monkeypatch) for c in (True, False)]
    for sim in rows:
        sim.start()
        sim.pend_val[4], sim.pend_t[4] = np.nan, 3.0
        sim.advance(20.0)
    a, b = rows
    for k in RUN:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    assert a.brake_triggers == b.brake_triggers
    assert a.row_w[0] > a._brake_w and np.isnan(a.row_w[3])


def _rollout(env: PowerCapEnv, seed: int, nan_share: float = 0.0) -> list:
    rng = np.random.default_rng(seed)
    out: list = []
    for ep in range(2):
        obs, info = env.reset(seed=seed + ep)
        out.append((obs.tobytes(), repr(info)))
        while True:
            a = rng.uniform(-1.1, 1.1, 2).astype(np.float32)
            a[rng.random(2) < nan_share] = np.nan  # a broken policy's NaN clocks
            obs, r, term, trunc, info = env.step(a)
            out.append((obs.tobytes(), np.float64(r).tobytes(), term, trunc, repr(info)))
            if trunc:
                break
    return out


@needs_numba
@pytest.mark.parametrize(
    "kw, nan_share",
    [
        ({"horizon_s": 300.0}, 0.0),
        ({"n_servers": 80, "baseline_servers": 30, "horizon_s": 300.0}, 0.0),  # brakes
        ({"n_servers": 75, "baseline_servers": 30, "horizon_s": 100.0, "control_period_s": 0.7}, 0),
        ({"n_servers": 80, "baseline_servers": 30, "horizon_s": 200.0}, 0.05),
    ],
)
def test_power_cap_episodes_as_the_numpy_path(
    fast, kw: dict, nan_share: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole episodes with random actions (NaN ones too): observations, rewards, flags and
    info, bitwise (repr: NaN equals NaN)."""
    env = PowerCapEnv(**kw)
    got = _rollout(env, 5, nan_share)
    assert env._compiled  # its first step loaded the kernels
    env = PowerCapEnv(**kw)
    env._compiled = False  # the NumPy encoder, and no kernels loaded by the env
    monkeypatch.setattr(RowSimulation, "compiled", False)
    assert got == _rollout(env, 5, nan_share) and len(got) > 70


@needs_numba
@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1.0, 40_000.0), min_size=1, max_size=40))
def test_psu_input_is_the_curves(fast, dc: list[float]) -> None:
    """`PSUEfficiencyCurve.input_w` (np.interp, extrapolated past 100 %), at its points too."""
    rated = 18_000.0
    x, loss, slope = TITANIUM_230V_REDUNDANT.loss_points()
    out = np.array(dc + [p * rated for p in x] + [0.0])
    want = TITANIUM_230V_REDUNDANT.input_w(out, rated)
    got = [fast._psu_input_w(v, rated, x, loss, slope) for v in out]
    np.testing.assert_array_equal(got, want)


@needs_numba
@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-0.5, 1.8), min_size=1, max_size=40))
def test_segment_is_interp_rows(table, fast, xs: list[float]) -> None:
    for grid in (table.rho_grid, table.f_grid[::-1].copy(), np.array([0.2, 1.0])):
        x = np.array(xs + list(grid))
        k, w = _interp_rows(grid, x)
        got = [fast._segment(grid, v) for v in x]
        np.testing.assert_array_equal([g[0] for g in got], k)
        np.testing.assert_array_equal([g[1] for g in got], w)


@needs_numba
def test_reductions_are_the_numpy_ones(table, fast, monkeypatch: pytest.MonkeyPatch) -> None:
    """`weigh` (masks empty, any, all; weights all zero), `median_of`, `period_power` (over
    and under the budget, > 128 ticks) and the renewal counts with arrival times exactly on
    interval edges."""
    sim = _row(RowConfig(n_servers=40, horizon_s=300.0, seed=3), table, False, monkeypatch)
    rng = np.random.default_rng(0)
    sim.start()
    sim.row_w[:] = sim.budget_w * rng.uniform(0.8, 1.2, sim.T)
    sim.brake_on[:] = rng.random(sim.T) < 0.3
    for t0, t1 in ((0, 300), (3, 8), (10, 12), (299, 300)):
        got = fast.period_power(sim.row_w, sim.brake_on, t0, t1, sim.budget_w)
        assert PeriodPower(*got) == sim.period_power(t0, t1)
    s = rng.uniform(0.9, 3.0, (300, 40))
    sim._counts_f[10:12] = 0.0
    for t0, t1 in ((0, 60), (3, 8), (10, 12), (59, 60)):  # 60 ticks x 40: > 128 cells
        for mask in (rng.random(40) < 0.5, np.ones(40, bool), np.zeros(40, bool)):
            want = sim._weigh(s[t0:t1], t0, t1, mask) if mask.any() else 1.0
            assert fast.weigh(s, sim._counts_f, t0, t1, mask) == want
    for n in (1, 2, 7, 30):
        x = rng.choice([0.2, 0.35, 0.5, 1.0], 40)
        idx = np.sort(rng.choice(40, n, replace=False))
        assert fast.median_of(x, idx) == _median(x[idx])
    gaps = rng.gamma(0.84, 1 / 0.84, (5, 300))
    arrivals = np.cumsum(gaps, axis=1)
    edges = np.sort(np.concatenate([[0.0], arrivals[0, ::7], rng.uniform(0, 400, 50)]))
    counts = np.empty((edges.size - 1, 5), dtype=np.int32)
    fast.renewal_counts(gaps, edges, counts)
    want = np.stack([np.diff(np.searchsorted(a, edges)) for a in arrivals], axis=1)
    np.testing.assert_array_equal(counts, want)
