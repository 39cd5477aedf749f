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


def _encode_reference(features, values) -> np.ndarray:
    """contract.encode as it was: one Python expression per feature, np.where, np.clip."""
    x = np.array([(float(values[f.name]) - f.offset) / f.scale for f in features])
    low = np.array([f.low for f in features])
    high = np.array([f.high for f in features])
    return np.clip(np.where(np.isnan(x), 0.0, x), low, high).astype(np.float32)


def test_encoder_equals_reference_encode() -> None:
    from dcsim.envs.contract import Encoder, Feature, encode

    rng = np.random.default_rng(2)
    feats = tuple(
        Feature(f"f{i}", "1", float(rng.uniform(0.1, 1e4)), -10.0, 10.0, float(rng.normal()))
        for i in range(17)
    )
    enc = Encoder(feats)
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300]
    for _ in range(300):
        vals = rng.normal(0, 10 ** rng.uniform(-2, 6), 17)
        vals[rng.random(17) < 0.1] = rng.choice(special)
        named = {f.name: float(v) for f, v in zip(feats, vals, strict=True)}
        want = _encode_reference(feats, named)
        assert np.array_equal(encode(feats, named), want, equal_nan=True)
        assert np.array_equal(enc(vals.tolist()), want, equal_nan=True)
    batch = rng.normal(0, 100, (5, 17))
    assert np.array_equal(enc(batch), np.stack([enc(row.tolist()) for row in batch]))


def test_unthrottled_rack_power_is_the_power_law_at_full_clock() -> None:
    """Cooling-v0 uses power_w(activity, 1.0) for the episode while no rack throttles."""
    from dcsim.hardware import get_profile
    from dcsim.rack_load import RackPower

    rng = np.random.default_rng(3)
    rp = RackPower.from_profile(get_profile("H100-SXM"), np.array([16.0] * 7 + [5.0]))
    act = rng.uniform(-0.2, 1.2, (50, 8))
    full = rp.power_w(act, 1.0)
    for k in range(50):
        assert np.array_equal(full[k], rp.power_w(act[k], np.ones(8)))


def test_throttle_shortcut_equals_the_law() -> None:
    """thermal_throttle returns ones without evaluating the law when nothing is over a limit."""
    from dcsim.cooling import CoolingConfig, thermal_throttle

    cfg = CoolingConfig()
    rng = np.random.default_rng(4)
    for _ in range(200):
        inlet = rng.uniform(cfg.inlet_limit_c - 15, cfg.inlet_limit_c, (3, 16))
        excess = np.maximum(inlet - cfg.inlet_limit_c, 0.0)
        law = np.clip(1.0 - excess / cfg.throttle_headroom_k, 0.0, 1.0) ** (
            1.0 / cfg.throttle_dvfs_alpha
        )
        assert np.array_equal(thermal_throttle(cfg, inlet, None), law)
        assert np.array_equal(thermal_throttle(cfg, inlet[0], None), law[0])


def test_step_record_row_equals_asdict() -> None:
    from dataclasses import asdict, fields

    from dcsim.sim import StepRecord

    names = [f.name for f in fields(StepRecord) if f.name != "extra"]
    rec = StepRecord(**{n: float(i) for i, n in enumerate(names)}, extra={"cooling_x_w": 1.5})
    want = asdict(rec)
    want.update(want.pop("extra"))
    got = rec.as_row()
    assert got == want and list(got) == list(want)
    got["cooling_x_w"] = 0.0
    assert rec.extra["cooling_x_w"] == 1.5  # a copy, as asdict gave


def test_action_mappings_equal_the_array_formula() -> None:
    """Cooling-v0 / Datacenter-v0 map actions with scalar math: same as the NumPy formula."""
    from dcsim.envs.cooling import CoolingEnv
    from dcsim.envs.datacenter import ACTION_NAMES, DatacenterEnv

    rng = np.random.default_rng(5)
    cool, dc = CoolingEnv(n_accelerators=16), DatacenterEnv(steps=2)
    for _ in range(300):
        a = rng.uniform(-1.5, 1.5, 3).astype(np.float32)
        if rng.random() < 0.1:
            a[rng.integers(3)] = np.nan
        x = np.clip(np.asarray(a, dtype=np.float64), -1.0, 1.0)
        c = cool.to_controls(a)
        phys = cool.low + (x[:2] + 1.0) * 0.5 * (cool.high - cool.low)
        np.testing.assert_array_equal([c.supply_air_c, c.chw_supply_c], phys)
        b = np.concatenate([a, rng.uniform(-1.5, 1.5, 2).astype(np.float32)])
        d = dc.to_controls(b)
        phys = dc.low + (x + 1.0) * 0.5 * (dc.high - dc.low)
        np.testing.assert_array_equal([d.supply_air_c, d.chw_supply_c, d.cap_frac], phys)
        # choices: equal bins of [-1, 1], the top edge in the last bin
        for name, got, choices in (
            ("routing", d.routing, dc.routings),
            ("economizer", d.economizer, ("off", "auto", "on")),
        ):
            i = ACTION_NAMES.index(name)
            n = len(choices)
            k = np.floor((np.clip(float(b[i]), -1.0, 1.0) + 1.0) / 2.0 * n)
            assert got == choices[min(int(k), n - 1)]
