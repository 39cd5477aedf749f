"""Concurrent collectives (one per group of ranks) share the fabric: the DP rails of a TP job."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.errors import InputError
from dcsim.network import collective_time, load_topology


def fabric(oversub: float):
    return load_topology(
        {
            "kind": "leaf_spine",
            "leaves": 16,
            "spines": 8,
            "hosts_per_leaf": 16,
            "host_link_gbps": 400,
            "oversubscription": oversub,
        }
    )


def rails(n_servers: int = 32, per_server: int = 8) -> np.ndarray:
    dev = np.arange(n_servers * per_server)
    return np.stack([dev[dev % per_server == j] for j in range(per_server)])


def test_rails_on_non_blocking_fabric_run_at_full_speed():
    f = fabric(1.0)
    one = collective_time(f, size_bytes=2**30, routing="spray", ranks=rails()[0]).time_s
    eight = collective_time(f, size_bytes=2**30, routing="spray", ranks=rails()).time_s
    assert eight == pytest.approx(one, rel=1e-6)


def test_rails_share_oversubscribed_uplinks():
    """4:1 leaf: 16 NICs x 400G down, 1.6 Tb/s up. With 2 servers per leaf each of the 8 rail rings
    sends one flow off the leaf (3.2 Tb/s): the bandwidth term doubles versus one rail alone."""
    f = fabric(4.0)
    n = 2**30
    one = collective_time(f, size_bytes=n, routing="spray", ranks=rails()[0])
    eight = collective_time(f, size_bytes=n, routing="spray", ranks=rails())
    bw_one = one.time_s - one.latency_s
    bw_eight = eight.time_s - eight.latency_s
    assert bw_eight / bw_one == pytest.approx(2.0, rel=0.02)


def test_groups_must_be_disjoint_hosts():
    f = fabric(1.0)
    with pytest.raises(InputError, match="distinct"):
        collective_time(f, ranks=[[0, 1, 2], [2, 3, 4]])


def test_sim_oversubscription_slows_training_comm():
    """Default job: 32 DGX, 2 per leaf, 8 rail rings. Each leaf sends 8 x 400G off-leaf: a 2:1 leaf
    (3.2 Tb/s up) just carries it, a 4:1 leaf (1.6 Tb/s) halves the rate."""
    from dcsim.config import load_scenario
    from dcsim.sim import Simulation

    def comm(topo: str) -> float:
        return Simulation(
            load_scenario(None, {"cluster.topology": topo, "time.steps": 1})
        ).comm_time("spray")

    c1, c2, c4 = (
        comm(t)
        for t in (
            "leaf_spine_256.yaml",
            "leaf_spine_256_oversub2.yaml",
            "leaf_spine_256_oversub4.yaml",
        )
    )
    assert c2 == pytest.approx(c1, rel=1e-9)
    assert c4 == pytest.approx(2 * c1, rel=0.02)
