"""Shared fixtures: small, fast scenarios built from the default one."""

from __future__ import annotations

import os
from pathlib import Path

# Two xdist workers share two cores: keep torch/BLAS to one thread each, or they thrash.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A small cluster and a short episode keep whole-loop tests fast.
SMALL = {
    "cluster.servers": 8,
    "cluster.servers_per_rack": 2,
    "time.steps": 30,
    "time.dt_s": 60,
}


@pytest.fixture
def small_overrides() -> dict:
    return dict(SMALL)


@pytest.fixture
def tmp_out(tmp_path: Path) -> Path:
    return tmp_path / "runs"
