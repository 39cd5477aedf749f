"""Start-up cost (issue 17.5): building any env must not import scipy.signal or matplotlib.

`import scipy.signal` alone costs ~1-2 s CPU (its lfilter was replaced by `dcsim.stochastic.ar1`);
matplotlib belongs to `dcsim.viz` only. Checked in a fresh interpreter through sys.modules,
not by timing (no timed asserts in tests).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

ENVS = ("Cooling", "Datacenter", "PowerCap", "Placement", "FlowSplit")
HEAVY = ("scipy.signal", "matplotlib")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_envs_is_light() -> None:
    mods = _modules_after("import dcsim.envs")
    assert not [m for m in HEAVY if m in mods]


@pytest.mark.parametrize("env", ENVS)
def test_make_and_reset_is_light(env: str) -> None:
    mods = _modules_after(
        "import gymnasium as gym, dcsim.envs\n"
        f"e = gym.make('dcsim/{env}-v0')\ne.reset(seed=0)\ne.step(e.action_space.sample())"
    )
    assert not [m for m in HEAVY if m in mods], [m for m in HEAVY if m in mods]
