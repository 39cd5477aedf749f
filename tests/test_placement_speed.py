"""Issue 17: Placement-v0's fast paths give collective_time's and route's numbers.

`JobFabric` routes every host pair of a small fabric in one call (ecmp, spray: each flow is
routed on its own, so alone or among all pairs it gets the same subflows), and times a
job's ring all-reduce alone from those routes by the first water-filling level instead of
calling `collective_time`. Both are checked against the readable calls, and whole rollouts
against the env with the fast paths off."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim import jobs
from dcsim.envs.placement import PlacementEnv
from dcsim.jobs import JobFabric
from dcsim.network import collective_time, load_topology, route
from dcsim.network.topology import resolve_topology_path


def _fabric(name: str):
    return load_topology(resolve_topology_path(name))


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch) -> None:
    """Each test fills its own per-process caches (they are shared by fabric and routing)."""
    monkeypatch.setattr(jobs, "_ISO_CACHE", {})
    monkeypatch.setattr(jobs, "_PATH_CACHE", {})
    monkeypatch.setattr(jobs, "_TABLE_CACHE", {})


@pytest.mark.parametrize(
    ("topo", "routing"),
    [
        ("leaf_spine_oversub.yaml", "ecmp"),
        ("leaf_spine_oversub.yaml", "ecmp:2"),
        ("leaf_spine_oversub.yaml", "spray"),
        ("fat_tree_k8.yaml", "ecmp"),
    ],
)
def test_all_pairs_routes_are_single_pair_routes(topo: str, routing: str) -> None:
    fab = _fabric(topo)
    jf = JobFabric(fab, routing)
    assert jf._has_table()
    assert jf._table is not None and len(jf._table.sptr) == jf.n_hosts**2 + 1
    rng = np.random.default_rng(0)
    for a, b in rng.choice(jf.n_hosts, (60, 2)):
        if a == b:
            continue
        r = route(fab, np.array([a]), np.array([b]), np.ones(1), routing=routing)
        rows, cols, data, n, lat = jf._path(int(a), int(b))
        got = np.zeros((fab.n_links, n))
        np.add.at(got, (rows, cols), data)
        np.testing.assert_array_equal(got, r.A.toarray())
        np.testing.assert_array_equal(lat, r.latency_s)


@pytest.mark.parametrize(
    ("topo", "routing"),
    [
        ("leaf_spine_oversub.yaml", "ecmp"),
        ("leaf_spine_oversub.yaml", "ecmp:2"),
        ("leaf_spine_oversub.yaml", "spray"),
        ("leaf_spine_small.yaml", "ecmp"),
        ("fat_tree_k8.yaml", "ecmp"),
    ],
)
def test_ring_alone_is_collective_time(topo: str, routing: str) -> None:
    """The ring all-reduce alone: (latency, s/byte) equal to collective_time's to 1e-12."""
    fab = _fabric(topo)
    jf = JobFabric(fab, routing)
    rng = np.random.default_rng(1)
    sets = [np.arange(jf.n_hosts), np.array([0, jf.n_hosts - 1])]
    sets += [np.sort(rng.choice(jf.n_hosts, p, replace=False)) for p in rng.integers(2, 33, 40)]
    for ranks in sets:
        res = collective_time(fab, "all-reduce", "ring", float(1 << 30), routing, ranks=ranks)
        got = jf._ring_alone(ranks)
        assert got is not None
        np.testing.assert_allclose(
            got, (res.latency_s, (res.time_s - res.latency_s) / 2**30), rtol=1e-12
        )


def test_ring_alone_runs_at_the_bottleneck_link() -> None:
    """4:1 oversubscribed leaves (8 x 400 Gb/s NICs, 4 x 200 Gb/s uplinks): a ring inside
    one leaf moves 2(p-1)/p bytes per byte at the NIC rate, one across leaves at the
    uplink rate; both as collective_time says."""
    fab = load_topology(
        {
            "kind": "leaf_spine",
            "name": "oversub4",
            "leaves": 4,
            "spines": 4,
            "hosts_per_leaf": 8,
            "host_link_gbps": 400,
            "oversubscription": 4.0,
        }
    )
    assert fab.scale_up is None
    jf = JobFabric(fab, "ecmp")
    nic, uplink = 400e9 / 8, 200e9 / 8
    for ranks, rate in ((np.arange(8), nic), (np.arange(0, 32, 4), uplink)):
        p = len(ranks)
        got = jf._ring_alone(ranks)
        assert got is not None
        assert got[1] == pytest.approx(2 * (p - 1) / p / rate, rel=1e-12)
        res = collective_time(fab, "all-reduce", "ring", float(1 << 30), "ecmp", ranks=ranks)
        assert got[0] == pytest.approx(res.latency_s, rel=1e-12)


def test_split_routing_keeps_collective_time() -> None:
    """split:K routes a flow among the others: no per-pair table, no shortcut; nor on a
    fabric with a scale-up domain, whose intra-domain flows collective_time puts on it."""
    jf = JobFabric(_fabric("leaf_spine_oversub.yaml"), "split:2")
    assert not jf._ring_fast and not jf._per_pair
    assert not JobFabric(_fabric("leaf_spine_256_oversub4.yaml"), "ecmp")._ring_fast


def _rollout(routing: str, fast: bool) -> list:
    env = PlacementEnv(n_jobs=60, routing=routing)
    if not fast:
        env.jf._ring_fast = env.jf._per_pair = env.jf._one_subflow = False
        env.jf._table = None
    obs, _ = env.reset(seed=3)
    out = [obs.tobytes()]
    for k in range(60):
        obs, r, _, trunc, info = env.step((k * 5 + k // 4) % 3)
        out.append((obs.tobytes(), r, repr(info)))
        if trunc:
            break
    return out


@pytest.mark.parametrize("routing", ["ecmp", "spray"])
def test_rollout_equals_readable_paths(routing: str, monkeypatch) -> None:
    fast = _rollout(routing, True)
    for cache in ("_ISO_CACHE", "_PATH_CACHE", "_TABLE_CACHE"):
        monkeypatch.setattr(jobs, cache, {})
    assert fast == _rollout(routing, False)
