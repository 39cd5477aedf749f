"""Issue 17: Placement-v0's fast paths give collective_time's and route's numbers.

`JobFabric` routes every host pair of a small fabric in one call (ecmp, spray: each flow is
routed on its own, so alone or among all pairs it gets the same subflows), and times a
job's ring all-reduce alone from those routes by the first water-filling level instead of
calling `collective_time`. Both are checked against the readable calls, and whole rollouts
against the env with the fast paths off. Issue 17.3: `JobFabric`'s placement, ring level and
contention run as scalar kernels (`dcsim.jobs`, compiled by numba when installed); they give
the NumPy paths' numbers, interpreted and compiled, bitwise on the preset fabrics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dcsim.jit as jit
from dcsim import jobs
from dcsim.envs.placement import PlacementEnv
from dcsim.jit import Kernel
from dcsim.jobs import RULES, JobFabric
from dcsim.network import collective_time, load_topology, route
from dcsim.network.flows import DENSE_FILL, dense_max_min
from dcsim.network.topology import resolve_topology_path


def _fabric(name: str):
    return load_topology(resolve_topology_path(name))


# fabric and routing cases: ECMP, hashed splitting and spraying on leaf-spine and fat tree
CASES = [
    ("leaf_spine_oversub.yaml", "ecmp"),
    ("leaf_spine_oversub.yaml", "ecmp:2"),
    ("leaf_spine_oversub.yaml", "spray"),
    ("fat_tree_k8.yaml", "ecmp"),
    ("fat_tree_k8.yaml", "spray"),
]


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch) -> None:
    """Each test fills its own per-process caches (they are shared by fabric and routing)."""
    monkeypatch.setattr(jobs, "_ISO_CACHE", {})
    monkeypatch.setattr(jobs, "_PATH_CACHE", {})
    monkeypatch.setattr(jobs, "_TABLE_CACHE", {})


@pytest.mark.parametrize(
    ("topo", "routing"),
    CASES[:4],
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


# ------------------------------------------------------------------ scalar kernels (17.3)
MODES = ("numpy", "interpreted", "compiled")


@contextmanager
def mode(name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run `dcsim.jobs` on its NumPy paths (numba off), its kernels' Python forms, or its
    kernels compiled (skipped without numba)."""
    with monkeypatch.context() as m:
        if name == "numpy":
            m.setattr(jit, "_NUMBA", False)
        elif name == "interpreted":
            m.setattr(Kernel, "runner", lambda self, work: self.py)
        else:
            if not jit.numba_module():
                pytest.skip("numba is not installed or DCSIM_NO_JIT=1")
            m.setattr(Kernel, "runner", lambda self, work: self.compiled())
        yield


def _jobs_on(jf: JobFabric, rng: np.random.Generator) -> list[np.ndarray]:
    """Disjoint sorted rank sets of random sizes (2-16), as running jobs hold them."""
    perm, sets, at = rng.permutation(jf.n_hosts), [], 0
    for size in rng.integers(2, 17, int(rng.integers(2, 8))):
        if at + size > jf.n_hosts:
            break
        sets.append(np.sort(perm[at : at + size]))
        at += size
    return sets


def _fabric_calls(jf: JobFabric, seed: int) -> list:
    """place, _ring_alone and contention on random cluster states."""
    rng = np.random.default_rng(seed)
    out: list = []
    for _ in range(30):
        free = rng.random(jf.n_hosts) >= rng.uniform(0, 0.95)
        if free.any():
            g = int(rng.integers(1, np.count_nonzero(free) + 1))
            out.append([jf.place(rule, g, free) for rule in RULES])
        sets = _jobs_on(jf, rng)
        flows = [jf.ring_crossings(r) for r in sets]
        run_src = np.concatenate([f[0] for f in flows[:-1]])
        run_dst = np.concatenate([f[1] for f in flows[:-1]])
        out.append((jf._ring_alone(sets[-1]), jf.contention(run_src, run_dst, *flows[-1])))
    return out


@pytest.mark.parametrize(
    ("topo", "routing"),
    CASES,
)
def test_kernels_give_the_numpy_numbers(topo: str, routing: str, monkeypatch) -> None:
    """Placement, the ring's level and contention: bitwise the NumPy paths' numbers."""
    jf = JobFabric(_fabric(topo), routing)
    got = {}
    for name in MODES:
        with mode(name, monkeypatch):
            got[name] = repr(_fabric_calls(jf, 11))
    assert got["interpreted"] == got["numpy"]
    assert got["compiled"] == got["numpy"]


def test_kernels_on_split_weights_within_1e_12(monkeypatch) -> None:
    """Spray over 3 spines puts 1/3 of a flow on each: link loads round, so a load summed
    in another order than NumPy's (`A @ act` through BLAS) may differ in the last bit."""
    fab = load_topology(
        {
            "kind": "leaf_spine",
            "name": "three-spines",
            "leaves": 6,
            "spines": 3,
            "hosts_per_leaf": 6,
            "host_link_gbps": 400,
            "oversubscription": 2.0,
        }
    )
    jf = JobFabric(fab, "spray")
    with mode("numpy", monkeypatch):
        want = _fabric_calls(jf, 12)
    for name in MODES[1:]:
        with mode(name, monkeypatch):
            got = _fabric_calls(jf, 12)
        for a, b in zip(got, want, strict=True):
            if isinstance(a, list):
                assert repr(a) == repr(b)  # placements: integers
            else:
                (iso_a, cont_a), (iso_b, cont_b) = a, b
                np.testing.assert_allclose([*iso_a, cont_a], [*iso_b, cont_b], rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_l=st.integers(1, 10),
    n_f=st.integers(1, 14),
    split=st.booleans(),
)
def test_dense_fill_is_dense_max_min(seed: int, n_l: int, n_f: int, split: bool) -> None:
    """Random incidences with tied capacities: bitwise on weights 1, 1/2, 1/4; within
    1e-12 with 1/3 and continuous weights."""
    rng = np.random.default_rng(seed)
    wts = np.array([1.0, 0.5, 0.25, 1 / 3, 0.7] if split else [1.0, 0.5, 0.25])
    A = np.where(rng.random((n_l, n_f)) < 0.4, wts[rng.integers(0, len(wts), (n_l, n_f))], 0.0)
    cap = np.array([1.0, 2.0, 3.0, 7.3, 1e3])[rng.integers(0, 5, n_l)]
    want = dense_max_min(A, cap)
    for fn in filter(None, (DENSE_FILL.py, DENSE_FILL.compiled())):
        rate = np.empty(n_f)
        fn(A, cap, rate)
        if split:
            np.testing.assert_allclose(rate, want, rtol=1e-12)
        else:
            np.testing.assert_array_equal(rate, want)


def _episode(routing: str, seed: int) -> list:
    env = PlacementEnv(n_jobs=40, routing=routing)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out: list = [obs.tobytes()]
    while True:
        obs, r, _, trunc, info = env.step(env.action_space.sample())
        out.append((obs.tobytes(), r, repr(info)))
        if trunc:
            return out


@pytest.mark.parametrize("routing", ["ecmp", "spray"])
def test_rollouts_equal_through_kernels_and_numpy(routing: str, monkeypatch) -> None:
    """Whole episodes with random actions: the same observations, rewards and infos."""
    got = {}
    for name in MODES:
        with mode(name, monkeypatch):
            got[name] = [_episode(routing, seed) for seed in (0, 1)]
    assert got["interpreted"] == got["numpy"]
    assert got["compiled"] == got["numpy"]
