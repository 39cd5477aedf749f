"""Golden outputs of the cooling plant: splitting it into subsystems kept every number.

`tests/golden/cooling_plant.json` was recorded from the single-function `CoolingPlant.step`
before it was split into air chain, liquid loop and water side (issue 11.4). The grid covers
three climates x air / liquid (trim on tower or air) x economizer auto / on / off, each a
rollout whose load, setpoints, CHW override and step length change every step, plus a chiller
capacity shortfall, explicit recirculation, clamped chiller curves and two short annual runs.
Every field of every `CoolingResult` is compared at a relative 1e-12: floating-point
reordering only; any physics change shows up far above that.
Re-record (only for an intended, documented physics change): `python tests/test_cooling_golden.py`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcsim.climate import ClimateConfig, WeatherSample
from dcsim.cooling import (
    CoolingConfig,
    CoolingControls,
    CoolingPlant,
    CoolingResult,
    simulate_period,
)

GOLDEN = Path(__file__).parent / "golden" / "cooling_plant.json"
N_RACKS = 4
RACK_W = 20e3
STEPS = 11
RTOL = 1e-12

# (dry bulb mean, amplitude, wet-bulb depression): cold-dry, temperate, hot-humid
CLIMATES = {"cold": (-4.0, 6.0, 2.0), "temperate": (16.0, 5.0, 5.0), "hot": (34.0, 4.0, 7.0)}
PLANTS = {
    "air": {"type": "air"},
    "liquid_tower": {"type": "liquid"},
    "liquid_air": {"type": "liquid", "liquid_fraction": 0.6, "liquid": {"trim_heat_sink": "air"}},
}
ECONOMIZER = ("auto", "on", "off")
SPECIAL = {
    "shortfall": {"chiller": {"capacity_w": 20e3}, "economizer": "off"},
    "recirc_clamp": {
        "air": {"recirculation": [0.0, 0.1, 0.3, 0.45]},
        "chiller": {"out_of_bounds": "clamp"},
        "chw_reset": False,
    },
    "hot_liquid_throttle": {
        "type": "liquid",
        "liquid": {"fws_supply_c": 45.0, "trim_heat_sink": "air"},
        "inlet_limit_c": 20.0,
    },
}


def _weather(climate: str, k: int) -> WeatherSample:
    mean, amp, dep = CLIMATES[climate]
    db = mean + amp * math.sin(0.9 * k)
    return WeatherSample(db, db - dep * (1.0 + 0.3 * math.cos(1.3 * k)), 0.5)


def _controls(k: int) -> CoolingControls | None:
    """Cycle: config setpoints, warm supply air, cold supply air + CHW override, econ override."""
    return [
        None,
        CoolingControls(supply_air_c=27.0),
        CoolingControls(supply_air_c=18.0, chw_supply_c=7.0),
        CoolingControls(supply_air_c=24.0, economizer="auto"),
        CoolingControls(chw_supply_c=16.0),
    ][k % 5]


def _loads(k: int) -> np.ndarray:
    base = 0.1 + 1.1 * (0.5 + 0.5 * math.sin(0.7 * k))  # 0.1 .. 1.2 of design
    return RACK_W * base * np.array([1.0, 0.8, 1.15, 0.3])


def _num(x: Any) -> Any:
    """14 significant digits (the comparison is at 1e-12) keep the fixture small."""
    if isinstance(x, bool | str) or x is None:
        return x
    if isinstance(x, dict):
        return {key: _num(v) for key, v in x.items()}
    if isinstance(x, list | tuple | np.ndarray):
        return [_num(v) for v in x]
    return float(f"{float(x):.14g}")


def _columns(results: list[CoolingResult]) -> dict[str, Any]:
    """Every field of every step, one list per field (per-rack fields: one list per step)."""
    out: dict[str, Any] = {}
    for name in CoolingResult.__slots__:
        values = [getattr(r, name) for r in results]
        if isinstance(values[0], dict):
            out[name] = {key: _num([v[key] for v in values]) for key in values[0]}
        else:
            out[name] = _num(values)
    return out


def _rollout(cfg: dict, climate: str) -> dict[str, Any]:
    plant = CoolingPlant(CoolingConfig(**cfg), N_RACKS, N_RACKS * RACK_W)
    plant.reset(_weather(climate, 0), _loads(0))
    results = []
    for k in range(STEPS):
        dt = (60.0, 300.0, 3600.0)[k % 3]
        results.append(plant.step(_loads(k), _weather(climate, k), dt, _controls(k)))
    return _columns(results)


def _cases() -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for climate in CLIMATES:
        for pname, pcfg in PLANTS.items():
            for econ in ECONOMIZER:
                cases[f"{climate}/{pname}/{econ}"] = _rollout({**pcfg, "economizer": econ}, climate)
    for name, cfg in SPECIAL.items():
        cases[f"hot/{name}"] = _rollout(cfg, "hot")
    cold = CoolingPlant(CoolingConfig(), N_RACKS, N_RACKS * RACK_W)  # reset without weather
    cases["no_weather_reset"] = _columns([cold.step(_loads(3), _weather("cold", 3), 60.0)])
    for ctype in ("air", "liquid"):
        res = simulate_period(
            CoolingConfig(type=ctype),
            ClimateConfig(),
            n_racks=N_RACKS,
            days=1.0,
            dt_s=1800.0,
            seed=3,
        )
        cases[f"annual/{ctype}"] = _num(res)
    return cases


def _assert_same(got: Any, want: Any, where: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for key in want:
            _assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, bool) or want is None or isinstance(want, str):
        assert got == want, where
    else:
        assert got == pytest.approx(want, rel=RTOL, abs=1e-9), where


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def current() -> dict[str, Any]:
    return json.loads(json.dumps(_cases()))  # same float round-trip as the recording


def test_golden_covers_the_grid(recorded):
    assert len(recorded) == len(CLIMATES) * len(PLANTS) * len(ECONOMIZER) + len(SPECIAL) + 3
    plant = [v for k, v in recorded.items() if not k.startswith("annual/")]
    assert sum(len(v["cooling_w"]) for v in plant) >= 300
    # the grid really exercises partial and full economizer, trim chiller, shortfall, throttling
    econ = [x for v in plant for x in v["economizer_fraction"]]
    assert any(0.0 < x < 1.0 for x in econ) and 1.0 in econ and 0.0 in econ
    assert any(x > 0 for v in plant for x in v["breakdown"]["trim_chiller_w"])
    assert any(min(t) < 1.0 for v in plant for t in v["throttle"])
    short = recorded["hot/shortfall"]
    assert max(short["chw_supply_c"]) > 20.0  # floated above every CHW setpoint in the grid


@pytest.mark.parametrize("case", sorted(json.loads(GOLDEN.read_text())) if GOLDEN.exists() else [])
def test_plant_matches_golden(case, recorded, current):
    _assert_same(current[case], recorded[case], case)


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(_cases(), separators=(",", ":")) + "\n")
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")
