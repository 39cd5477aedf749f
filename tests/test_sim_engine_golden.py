"""Golden rollouts of the datacenter engine: `dcsim.sim.Simulation` (`dcsim run`, sweeps,
Datacenter-v0: the engine's one-tenant case) and the multi-tenant `dcsim.tenancy.Engine`
(CoDesign-v0).

Recorded while the two were separate code paths (before issue 13.1 moved their physics into
one place and then `Simulation` onto the engine), so a refactor that keeps the physics keeps
every number. Each Simulation case steps a scenario under a fixed control sequence that moves every
actuator (cap, routing, supply air, chilled water, economizer) and stores every StepRecord
field per step; the engine case is a CoDesign-v0 rollout (rewards, metric sums). The
comparison allows a relative 1e-9 for floating-point reordering only.
Re-record (only for an intended, documented change): `python tests/test_sim_engine_golden.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dcsim.config import load_scenario
from dcsim.sim import Controls, Simulation

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "sim_engine.json"
ECON = ("auto", "on", "off")


def _controls(k: int) -> Controls:
    return Controls(
        cap_frac=(1.0, 0.7, None, 0.55)[k % 4],
        routing=("ecmp", None, "spray", None, None)[k % 5] if k % 7 else "split:2",
        supply_air_c=None if k % 3 else 16.0 + k % 9,
        chw_supply_c=None if k % 4 else 7.0 + k % 11,
        economizer=ECON[k % 3] if k % 2 else None,
    )


def _sim(path: Path, overrides: dict, steps: int) -> dict:
    sim = Simulation(load_scenario(path, overrides))
    rows = [sim.step(_controls(k)).as_row() for k in range(steps)]
    return {key: [r[key] for r in rows] for key in rows[0]}


def sim_default() -> dict:
    return _sim(ROOT / "scenarios" / "default.yaml", {}, 40)


def sim_comm() -> dict:
    return _sim(ROOT / "scenarios" / "datacenter_comm.yaml", {}, 40)


def sim_short_dt_half_active() -> dict:
    """Intervals shorter than a phase (the DES books partial phases) and idle servers."""
    return _sim(
        ROOT / "scenarios" / "default.yaml", {"time.dt_s": 7.0, "workload.active_fraction": 0.5}, 40
    )


def engine_codesign() -> dict:
    from dcsim.envs.codesign import CoDesignEnv

    env = CoDesignEnv(
        episode_steps=30,
        engine={
            "racks": 8,
            "inference": {"servers": 2},
            "workload": {"mix": {"job_sizes": {8: 1}}},
        },
    )
    env.reset(seed=4)
    rng = np.random.default_rng(1)
    rewards, sums = [], {}
    for _ in range(30):
        a = rng.integers(0, env.nvec)
        _, r, _, trunc, info = env.step(a)
        rewards.append(float(r))
        for key, v in info["metrics"].items():
            sums[key] = sums.get(key, 0.0) + float(v)
        if trunc:
            break
    return {"rewards": rewards, "metric_sums": sums}


CASES = {
    "sim_default": sim_default,
    "sim_comm": sim_comm,
    "sim_short_dt_half_active": sim_short_dt_half_active,
    "engine_codesign": engine_codesign,
}


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


def _close(a, b, path: str) -> None:
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    else:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-9, err_msg=path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rollout_matches_golden(case, golden):
    _close(CASES[case](), golden[case], case)


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps({k: f() for k, f in sorted(CASES.items())}, indent=1) + "\n")
    print(f"wrote {GOLDEN}")
