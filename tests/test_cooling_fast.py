"""The compiled plant step (`dcsim.cooling.fast`) is `CoolingPlant.step`, fast.

The kernel restates the composition of the air chain, water side and supply-air lag over
(halls, racks) and compiles it with numba. It must give the readable path's numbers: every
output and the state after each step, to a relative 1e-12 (NumPy's SIMD exp and pow may differ
from libm's in the last bit, and the kernel writes u**3 as u*u*u), including the branches
(economizer off/auto/on, chiller shortfall, throttling, the liquid loop, the bare pump law,
Carnot out-of-bounds scaling). Its compiled code must equal its own Python source run without
numba, bitwise; and Cooling-v0 must step the same with the kernel, with the readable path,
and when numba is not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip(
    "dcsim.cooling.fast", exc_type=ImportError
)  # numba installed and not DCSIM_NO_JIT=1

from dcsim.climate import WeatherSample  # noqa: E402
from dcsim.cooling import CoolingConfig, CoolingControls, CoolingPlant, fast  # noqa: E402
from dcsim.envs.cooling import CoolingEnv  # noqa: E402

RTOL = 1e-12
PLANTS = {
    "air": {},
    "liquid": {"type": "liquid"},
    "bare_pumps_carnot": {
        "pumps": {"part_load_curve": None},
        "chiller": {"out_of_bounds": "carnot"},
        "tower": {"fan_part_load_curve": None},
    },
    "small_chiller": {"chiller": {"capacity_w": 1.5e5}},  # capacity shortfall: CHW floats up
}
WEATHER = [(-5.0, -7.0), (12.0, 8.0), (24.0, 18.0), (38.0, 27.0)]  # (dry bulb, wet bulb) C


def _close(a, b) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=1e-12))


@pytest.mark.parametrize("n", [*range(1, 40), 127, 128, 129, 200, 1000, 4099])
def test_pairwise_sum_equals_numpy_bitwise(n: int) -> None:
    a = np.random.default_rng(n).uniform(-1e4, 1e5, n)
    assert fast._pairwise(a[None], 0, n) == a.sum()


@pytest.mark.parametrize("case", sorted(PLANTS))
def test_kernel_equals_plant_step(case: str) -> None:
    """Random setpoints, modes and weather over 60 steps: outputs and state to 1e-12."""
    cfg = CoolingConfig.model_validate(PLANTS[case])
    n, design = 12, 12 * 30e3
    plant = CoolingPlant(cfg, n, design)
    rng = np.random.default_rng(1)
    p = rng.uniform(0.3, 1.0, n) * design / n
    plant.reset(WeatherSample(20.0, 15.0, 0.5), p)
    prm, rk = fast.plant_params(plant)
    racks = np.stack([plant.air.t_in, plant.air.t_rack, plant.air.u, np.zeros(n)])[:, None]
    racks = racks.copy()
    hall = np.zeros((1, fast.N_HALL))
    hall[0, :3] = plant.air.t_supply, plant.water.p_chiller_prev, plant.water.t_cond_prev
    modes = ("off", "auto", "on")
    seen = set()
    for k in range(60):
        db, wb = WEATHER[k % len(WEATHER)]
        sa, chw, m = rng.uniform(16, 28), rng.uniform(4, 20), int(rng.integers(0, 3))
        p = rng.uniform(0.05, 1.1, n) * design / n
        dt = float(rng.choice([1.0, 60.0, 900.0]))
        # the liquid loop runs before the kernel, from the plant's state (as in the env)
        liq = plant.liquid.step(plant.f_liq * float(p.sum()), db, hall[0, fast.S_TCOND])
        res = plant.step(p, WeatherSample(db, wb, 0.5), dt, CoolingControls(sa, chw, modes[m]))
        hall[0, 3:13] = (sa, chw, m, wb, db, liq.to_tower_w, liq.cdu_pump_w, liq.fws_pump_w,
                         liq.drycooler_fan_w, liq.trim_chiller_w)  # fmt: skip
        fast.step_halls(prm, rk, racks, hall, p[None], dt)
        o = hall[0]
        pairs = {
            "inlet": (racks[fast.X_TIN, 0], res.inlet_c),
            "exhaust": (racks[fast.X_TRACK, 0], res.outlet_c),
            "server_fan_w": (racks[fast.X_FAN, 0], res.server_fan_w),
            "cooling_w": (o[fast.O_COOLING], res.cooling_w),
            "water_l": (o[fast.O_WATER_L], res.water_l),
            "chw_supply_c": (o[fast.O_CHW_SUP], res.chw_supply_c),
            "economizer_fraction": (o[fast.O_ECON], res.economizer_fraction),
            "supply_air_c": (o[fast.O_SUPPLY], res.supply_air_c),
            "chiller_plr": (o[fast.O_PLR], res.chiller_plr),
            "crah_fan_w": (o[fast.O_CRAH], res.breakdown["crah_fan_w"]),
            "chiller_w": (o[fast.O_CHILLER], res.breakdown["chiller_w"]),
            "tower_fan_w": (o[fast.O_TOWER_FAN], res.breakdown["tower_fan_w"]),
            "heat_rejected_w": (o[fast.O_Q_REJ], res.extra["heat_rejected_w"]),
            "condenser_c": (o[fast.O_COND], res.extra["condenser_c"]),
            "tower_fan_speed": (o[fast.O_PHI], res.extra["tower_fan_speed"]),
            "evaporation_l": (o[fast.O_EVAP], res.extra["evaporation_l"]),
            "blowdown_l": (o[fast.O_BLOWDOWN], res.extra["blowdown_l"]),
            "it_heat_w": (o[fast.O_P_SUM] + o[fast.O_FAN_SUM], res.it_heat_w),
            "inlet_max": (o[fast.O_INLET_MAX], res.inlet_c.max()),
            "p_chiller_prev": (o[fast.S_PCH], plant.water.p_chiller_prev),
            "t_cond_prev": (o[fast.S_TCOND], plant.water.t_cond_prev),
            "fan_speed": (racks[fast.X_U, 0], plant.air.u),
        }
        for name, (got, want) in pairs.items():
            assert _close(got, want), (case, k, name, got, want)
        assert o[fast.O_P_SUM] == p.sum()  # NumPy's pairwise order
        assert _close(o[fast.O_INLET_SUM], res.inlet_c.sum())
        seen.add((modes[m], res.economizer_fraction > 0, res.chw_supply_c > chw))
    assert len(seen) >= 4, seen  # several branches of the water side were taken


@pytest.mark.parametrize("case", ["air", "bare_pumps_carnot", "small_chiller"])
def test_fast_plant_returns_the_plant_steps_result(case: str) -> None:
    """`fast.FastPlant.step` (the multi-tenant engine's plant step) against `CoolingPlant.step`
    on a twin plant: every field of the CoolingResult to 1e-12, hot inlets (thermal throttle)
    and default controls included, and the two plants' states stay together."""
    cfg = CoolingConfig.model_validate(PLANTS[case] | {"air": {"recirculation_mean": 0.25}})
    n, design = 10, 10 * 30e3
    twin, plant = CoolingPlant(cfg, n, design), CoolingPlant(cfg, n, design)
    rng = np.random.default_rng(3)
    p0 = rng.uniform(0.3, 1.0, n) * design / n
    for pl in (twin, plant):
        pl.reset(WeatherSample(20.0, 15.0, 0.5), p0)
    fp = fast.FastPlant(plant)
    modes = ("off", "auto", "on")
    hot = 0
    for k in range(50):
        db, wb = WEATHER[k % len(WEATHER)]
        ctl = (
            None
            if k % 7 == 0
            else CoolingControls(
                rng.uniform(16, 32), rng.uniform(4, 20), modes[int(rng.integers(0, 3))]
            )
        )
        if k == 20:  # a reset between steps: the fast plant takes the new state
            for pl in (twin, plant):
                pl.reset(WeatherSample(db, wb, 0.5), p0)
        p = rng.uniform(0.05, 1.2, n) * design / n
        want = twin.step(p, WeatherSample(db, wb, 0.5), 300.0, ctl)
        got = fp.step(p, WeatherSample(db, wb, 0.5), 300.0, ctl)
        for name in want.__slots__:
            a, b = getattr(got, name), getattr(want, name)
            if isinstance(b, dict):
                assert list(a) == list(b), name  # the same keys in the same order
                for key in b:
                    assert _close(a[key], b[key]), (case, k, name, key, a[key], b[key])
            else:
                assert _close(a, b), (case, k, name, a, b)
        hot += bool(want.throttle.min() < 1.0)
        assert _close(plant.air.t_rack, twin.air.t_rack) and _close(plant.air.u, twin.air.u)
        assert _close(plant.water.t_cond_prev, twin.water.t_cond_prev)
    assert hot > 0  # the run reached the thermal throttle


def test_fast_plant_steps_a_liquid_loop_on_the_readable_path() -> None:
    cfg = CoolingConfig.model_validate(PLANTS["liquid"])
    twin, plant = CoolingPlant(cfg, 6, 6 * 30e3), CoolingPlant(cfg, 6, 6 * 30e3)
    p = np.full(6, 25e3)
    for pl in (twin, plant):
        pl.reset(WeatherSample(20.0, 15.0, 0.5), p)
    want = twin.step(p, WeatherSample(30.0, 22.0, 0.4), 300.0)
    got = fast.FastPlant(plant).step(p, WeatherSample(30.0, 22.0, 0.4), 300.0)
    assert got.cooling_w == want.cooling_w and got.breakdown == want.breakdown


_PY_KERNEL = """
import json, numpy as np
from dcsim.cooling import CoolingConfig, CoolingPlant, fast
from dcsim.climate import WeatherSample
plant = CoolingPlant(CoolingConfig(), 6, 6 * 30e3)
p = np.linspace(0.2, 1.0, 6) * 30e3
plant.reset(WeatherSample(20.0, 15.0, 0.5), p)
prm, rk = fast.plant_params(plant)
racks = np.stack([plant.air.t_in, plant.air.t_rack, plant.air.u, np.zeros(6)])[:, None].copy()
hall = np.zeros((2, fast.N_HALL))
hall[:, :3] = plant.air.t_supply, plant.water.p_chiller_prev, plant.water.t_cond_prev
racks = np.concatenate([racks, racks], axis=1)
for k, (sa, chw, m, wb, db) in enumerate([(18, 6, 0, 24, 30), (27, 18, 1, 5, 9), (24, 14, 2, 10, 12),
                                          (22, 12, 1, -3, 0), (26, 16, 1, 12, 20)]):
    hall[:, 3:8] = sa, chw, m, wb, db
    hall[1, 6] += 1.0
    fast.step_halls(prm, rk, racks, hall, np.stack([p, p[::-1]]), 60.0)
print(json.dumps([racks.tolist(), hall.tolist()]))
"""


def test_compiled_kernel_equals_its_python_source_bitwise() -> None:
    """The same source run by numba and by the interpreter (NUMBA_DISABLE_JIT=1)."""
    outs = []
    for disable in ("0", "1"):
        env = {**__import__("os").environ, "NUMBA_DISABLE_JIT": disable}
        run = subprocess.run(
            [sys.executable, "-c", _PY_KERNEL], capture_output=True, text=True, env=env, check=True
        )
        outs.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert outs[0] == outs[1]


ENV_CASES = {
    "air": dict(n_accelerators=256, episode_steps=40),
    "throttled": dict(
        n_accelerators=200,
        episode_steps=40,
        cooling={"air": {"recirculation_mean": 0.45, "recirculation_spread": 0.1}},
    ),
    "liquid": dict(n_accelerators=512, episode_steps=40, cooling={"type": "liquid"}),
    "hot": dict(n_accelerators=128, episode_steps=40, climate={"weather": {"preset": "hot-humid"}}),
}


def _episode(env: CoolingEnv, acts: np.ndarray) -> list[tuple]:
    obs, _ = env.reset(seed=5)
    rows = [(obs, 0.0, {}, dict(env._last))]
    for a in acts:
        obs, r, _, trunc, info = env.step(a)
        rows.append((obs, r, info, dict(env._last), env.throttle_min))
        if trunc:
            break
    return rows


def _assert_same_episode(fast_rows: list[tuple], slow_rows: list[tuple]) -> None:
    assert len(fast_rows) == len(slow_rows)
    for k, (f, s) in enumerate(zip(fast_rows, slow_rows, strict=True)):
        # float32 observations of values equal to 1e-12: at most one float32 rounding apart
        assert np.allclose(f[0], s[0], rtol=2e-7, atol=1e-7), k
        assert _close(f[1], s[1]), k
        for key, v in s[3].items():
            assert _close(f[3][key], v), (k, key)
        for group in ("metrics", "reward_terms"):
            for key, v in s[2].get(group, {}).items():
                if isinstance(v, float):
                    assert _close(f[2][group][key], v), (k, group, key)
                else:
                    assert f[2][group][key] == v, (k, group, key)
        if len(s) > 4:
            assert _close(f[4], s[4]), k


@pytest.mark.parametrize("case", sorted(ENV_CASES))
def test_env_fast_equals_readable(case: str) -> None:
    kw = ENV_CASES[case]
    acts = np.random.default_rng(3).uniform(-1.1, 1.1, (45, 3)).astype(np.float32)
    acts[::4, :2] = 1.0  # warmest setpoints now and then (throttling in the hot cases)
    quick = CoolingEnv(**kw)
    readable = CoolingEnv(**kw)
    readable.use_fast = False
    got = _episode(quick, acts)
    assert quick._fast and not readable._fast
    want = _episode(readable, acts)
    _assert_same_episode(got, want)
    if case == "throttled":
        assert min(row[4] for row in want[1:]) < 1.0  # the throttle branch ran


def test_env_without_numba_takes_the_readable_path(monkeypatch) -> None:
    """numba missing (or DCSIM_NO_JIT=1): Cooling-v0 steps on `CoolingPlant.step`, with the
    same numbers."""
    import dcsim.jit as jit

    monkeypatch.setattr(jit, "_NUMBA", False)  # what dcsim.jit decides without numba
    monkeypatch.delitem(sys.modules, "dcsim.cooling.fast")
    kw = ENV_CASES["air"]
    acts = np.random.default_rng(4).uniform(-1, 1, (20, 3)).astype(np.float32)
    env = CoolingEnv(**kw)
    rows = _episode(env, acts)
    assert env._fast is False
    monkeypatch.undo()
    _assert_same_episode(_episode(CoolingEnv(**kw), acts), rows)


def test_compiled_array_code_equals_numpy_bitwise() -> None:
    """The batched env's array functions and Encoder's encode_rows give NumPy's numbers when
    numba compiles them (NaN, infinities and out-of-range values included)."""
    from dcsim.envs import vector
    from dcsim.envs.contract import compiled, encode_rows

    rng = np.random.default_rng(7)
    n_env = 9
    x = rng.normal(0, 30, (n_env, 19))
    x[0, :3] = np.nan, np.inf, -np.inf
    enc = CoolingEnv(n_accelerators=64)._encode
    args = (x, enc.offset, enc.scale, enc.low, enc.high)
    assert np.array_equal(compiled(encode_rows)(*args), encode_rows(*args))
    assert np.array_equal(compiled(encode_rows)(x[1], *args[1:]), encode_rows(x[1], *args[1:]))
    acts = rng.uniform(-1.5, 1.5, (n_env, 3))
    acts[0] = -1 / 3, 1 / 3, np.nan
    sp = (acts, np.array([18.0, 6.0]), np.array([9.0, 12.0]))
    assert np.array_equal(compiled(vector._setpoints)(*sp), vector._setpoints(*sp), equal_nan=True)
    hall = rng.uniform(1.0, 1e6, (n_env, vector.N_HALL))
    ci, thr, usd = (
        rng.uniform(0, 900, n_env),
        rng.uniform(0.5, 1, n_env),
        rng.uniform(0, 9, (2, n_env)),
    )
    w, c = rng.uniform(0, 5, 6), np.array([2e6, 27.0, 64.0, 30.0])
    last_a, last_b = np.zeros((n_env, 8)), np.zeros((n_env, 8))
    r_a = compiled(vector._outcome)(hall, ci, thr, usd, w, c, last_a)
    r_b = vector._outcome(hall, ci, thr, usd, w, c, last_b)
    assert np.array_equal(r_a, r_b) and np.array_equal(last_a, last_b)
    ov = (rng.normal(size=(n_env, 6)), last_a, rng.normal(size=(n_env, 4)), 27.0)
    v_a = compiled(vector._obs_values)(*ov, np.empty((n_env, 19)))
    assert np.array_equal(v_a, vector._obs_values(*ov, np.empty((n_env, 19))))


def test_envs_pickle_and_copy_mid_episode() -> None:
    """The compiled code is not part of an env's state: a pickled or deep-copied Cooling-v0
    (and batch) continues exactly as the original."""
    import copy
    import pickle

    from dcsim.envs.vector import CoolingVectorEnv

    acts = np.random.default_rng(8).uniform(-1, 1, (6, 2, 3)).astype(np.float32)
    env, venv = CoolingEnv(n_accelerators=64), CoolingVectorEnv(2, n_accelerators=64)
    env.reset(seed=1)
    venv.reset(seed=1)
    for a in acts[:3]:
        env.step(a[0])
        venv.step(a)
    for twin, vtwin in ((copy.deepcopy(env), copy.deepcopy(venv)),
                        (pickle.loads(pickle.dumps(env)), pickle.loads(pickle.dumps(venv)))):  # fmt: skip
        a_env, a_twin = copy.deepcopy(env), twin
        a_venv, a_vtwin = copy.deepcopy(venv), vtwin
        for a in acts[3:]:
            o1, r1, *_ = a_env.step(a[0])
            o2, r2, *_ = a_twin.step(a[0])
            assert np.array_equal(o1, o2) and r1 == r2
            v1, w1, *_ = a_venv.step(a)
            v2, w2, *_ = a_vtwin.step(a)
            assert np.array_equal(v1, v2) and np.array_equal(w1, w2)
