"""Issue 17: the POLCA row in blocks of ticks and PowerCap-v0's leaner step give the numbers
of the per-tick SimPy row and the step of before (tests/reference_polca.py) bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from dcsim.agents.polca import PolcaController
from reference_polca import ReferenceRow, reference_power_cap_env

from dcsim.envs.power_cap import PowerCapEnv
from dcsim.polca import TICK_BLOCK, RowConfig, RowSimulation, _median, characterize


@pytest.fixture(scope="module")
def table():
    return characterize("A100-80G", "llama2-70b", sim_s=90.0, warmup_s=20.0)


def _rollout(env, seed: int, steps: int) -> list:
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    out: list = [obs.tobytes(), repr(info)]
    for _ in range(steps):
        obs, r, term, trunc, info = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        out.append((obs.tobytes(), r, term, trunc, repr(info)))
        if trunc:
            break
    return out


@pytest.mark.parametrize(
    "kw",
    [
        {"horizon_s": 300.0},
        {"n_servers": 80, "baseline_servers": 30, "horizon_s": 300.0},  # brakes engage, release
        {"n_servers": 70, "horizon_s": 120.0, "control_period_s": 2.5},  # fractional clock
        {"n_servers": 75, "baseline_servers": 30, "horizon_s": 100.0, "control_period_s": 0.7},
    ],
)
def test_power_cap_env_matches_per_tick_reference(kw: dict) -> None:
    """Observations, rewards, flags and every info entry, bit for bit, to truncation."""
    fast, ref = PowerCapEnv(**kw), reference_power_cap_env(**kw)
    a, b = _rollout(fast, 3, 500), _rollout(ref, 3, 500)
    assert len(a) > 20 and a == b
    if kw.get("n_servers", 60) >= 75:  # the case exercises the brake's transitions
        assert fast.sim is not None and fast.sim.brake_events > 0


def _same(r1, r2) -> None:
    for k in ("row_power_w", "f_eff", "hp_cell_weights", "lp_cell_weights"):
        np.testing.assert_array_equal(getattr(r1, k), getattr(r2, k))
    for k in ("cap_events", "brake_events", "brake_seconds", "capped_seconds"):
        assert getattr(r1, k) == getattr(r2, k)
    assert r1.brake_onsets_s == r2.brake_onsets_s
    assert r1.brake_triggers_s == r2.brake_triggers_s


@pytest.mark.parametrize("period", [2.0, 1.5, 0.5])  # 1.5, 0.5: control instants on ticks
def test_run_with_controller_matches_reference(table, period: float) -> None:
    cfg = RowConfig(
        n_servers=45, baseline_servers=20, horizon_s=400.0, control_period_s=period, seed=2
    )
    r1 = RowSimulation(cfg, table).run(PolcaController(), brake=True)
    r2 = ReferenceRow(cfg, table).run(PolcaController(), brake=True)
    _same(r1, r2)
    assert r1.cap_events > 0


def test_brake_only_run_matches_reference(table) -> None:
    """A whole horizon (several TICK_BLOCKs) with many brake transitions, no controller."""
    cfg = RowConfig(n_servers=40, baseline_servers=20, horizon_s=600.0, seed=5)
    assert cfg.horizon_s > 4 * TICK_BLOCK
    r1 = RowSimulation(cfg, table).run(None, brake=True)
    _same(r1, ReferenceRow(cfg, table).run(None, brake=True))
    assert r1.brake_events > 3


def test_blocks_equal_single_ticks(table) -> None:
    """advance(dt) over many ticks at once == one tick per call, commands in between."""
    cfg = RowConfig(n_servers=45, baseline_servers=20, horizon_s=500.0, seed=9)
    sims = [RowSimulation(cfg, table), RowSimulation(cfg, table)]
    rng = np.random.default_rng(0)
    cmds = np.minimum(rng.uniform(0.2, 1.6, (6, 2)), 1.0)
    for s in sims:
        s.start(brake=True)
    for lp, hp in cmds:
        sims[0].command(lp, hp)
        sims[0].advance(83.0)
        sims[1].command(lp, hp)
        for _ in range(83):
            sims[1].advance(1.0)
    a, b = sims
    assert a.t_idx == b.t_idx == 498 and a.now == b.now
    for k in ("row_w", "f_eff", "brake_on", "f_cmd", "pend_t", "pend_val"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert a.brake_events == b.brake_events > 0


def test_slowdowns_is_slowdown_per_group(table) -> None:
    sim = RowSimulation(RowConfig(n_servers=12, horizon_s=60.0, seed=1), table)  # no brake
    sim.start()
    sim.command(0.5, 0.8)
    sim.advance(40.0)
    hp = sim.priority_high
    got = sim.slowdowns(3, 40, hp, ~hp, np.zeros(12, bool))
    assert got == [sim.slowdown(3, 40, hp), sim.slowdown(3, 40, ~hp), 1.0]
    assert got[0] != got[1]


@pytest.mark.parametrize("n", [1, 2, 5, 30, 31])
def test_median_is_numpys(n: int) -> None:
    x = np.random.default_rng(n).choice([0.2, 0.35, 0.5, 0.9, 1.0], n)
    assert _median(x) == float(np.median(x))


def test_recorded_scores_are_the_readable_slowdown(table) -> None:
    """`slowdowns` reads the scores recorded as the row ticked (`p50_slowdown_s`): the same
    numbers as `slowdown`, which interpolates the table at the row's loads and f_eff."""
    from dcsim.polca import bilinear

    cfg = RowConfig(n_servers=45, baseline_servers=20, horizon_s=300.0, seed=3)
    sim = RowSimulation(cfg, table)
    sim.start()
    for lp, hp in np.random.default_rng(1).uniform(0.2, 1.0, (20, 2)):
        sim.command(lp, hp)
        sim.advance(7.0)
    t = sim.t_idx
    want = bilinear(table, table.p50_slowdown, sim.rho[:t], sim.f_eff[:t])
    np.testing.assert_array_equal(sim.p50_slowdown_s[:t], want)
    assert sim.brake_events > 0 and want.min() < want.max()
    with pytest.raises(ValueError, match="run"):
        sim.slowdowns(0, t + 1, sim.priority_high)


def test_interp_rows_is_the_reference_on_edges(table) -> None:
    """The segment search on the inner grid equals the clipped search of before, at grid
    points, outside the range and for 2-point grids."""
    from reference_polca import _interp_rows as ref

    from dcsim.polca import _interp_rows

    rng = np.random.default_rng(0)
    for grid in (table.rho_grid, table.f_grid[::-1].copy(), np.array([0.2, 1.0])):
        x = np.concatenate([grid, rng.uniform(grid[0] - 0.5, grid[-1] + 0.5, 500)])
        for got, want in zip(_interp_rows(grid, x), ref(grid, x), strict=True):
            np.testing.assert_array_equal(got, want)
