"""Shared benchmark fixtures: the 16k-NIC leaf-spine and its inter-leaf permutation."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.network import load_topology
from dcsim.network.patterns import inter_tor_permutation

BIG = {
    "kind": "leaf_spine",
    "leaves": 128,
    "spines": 128,
    "hosts_per_leaf": 128,
    "host_link_gbps": 400,
}


@pytest.fixture(scope="module")
def perm16k():
    """128 leaves x 128 spines x 128 hosts (16,384 NICs, 65,536 links), random inter-leaf permutation."""
    fab = load_topology(BIG)
    src, dst = inter_tor_permutation(fab, np.random.default_rng(0))
    return fab, src, dst
