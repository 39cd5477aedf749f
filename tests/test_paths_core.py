"""Paths on the switch core (issue 17 point 2) are the paths of the old enumerator, link for
link and in the same order (tests/reference_paths.py), on every bundled topology, their
scale-up domains, multi-homed hosts (CloudMatrix UB planes, full mesh) and failed links."""

from __future__ import annotations

import numpy as np
import pytest
from reference_paths import ReferencePaths

from dcsim.errors import InputError
from dcsim.network import load_topology
from dcsim.network.topology import list_presets

SAMPLE = 3000  # seeded host pairs on fabrics with too many pairs to compare all


def _fabrics(preset):
    fab = load_topology(preset)
    return [fab] if fab.scale_up is None else [fab, fab.scale_up]


def _same(fab, ref, s: np.ndarray, t: np.ndarray) -> None:
    """Node pairs' paths equal (values, shape, order), enumerated in one batch each."""
    fab.ensure_paths(s, t)
    ref.ensure_paths(s, t)
    for a, b in zip(s.tolist(), t.tolist(), strict=True):
        got, want = fab._paths[(a, b)], ref._paths[(a, b)]
        assert got.shape == want.shape and np.array_equal(got, want), (a, b)


def _host_pairs(fab, rng) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair of path keys (ToR switches of single-homed hosts, else hosts), or
    all pairs among the first 24 hosts plus a seeded sample when there are too many."""
    keys = np.where(fab.host_single, fab.host_key, fab.host_nodes)
    u = np.unique(keys)
    if len(u) ** 2 <= 20_000:
        s, t = np.meshgrid(u, u, indexing="ij")
        return s.ravel(), t.ravel()
    first = keys[: min(24, len(keys))]
    s, t = np.meshgrid(first, first, indexing="ij")
    rs, rt = keys[rng.integers(0, len(keys), (2, SAMPLE))]
    return np.concatenate([s.ravel(), rs]), np.concatenate([t.ravel(), rt])


def _check(fab, seed: int = 0) -> None:
    ref = ReferencePaths(fab)
    for name in ("host_single", "host_key", "host_up", "host_down"):
        assert np.array_equal(getattr(fab, name), getattr(ref, name)), name
    rng = np.random.default_rng(seed)
    _same(fab, ref, *_host_pairs(fab, rng))
    # host-level paths (NIC links around the switch path), self pairs included
    n = fab.n_hosts
    pairs = np.concatenate([rng.integers(0, n, (200, 2)), np.arange(min(n, 5))[:, None] + [0, 0]])
    for a, b in pairs.tolist():
        assert np.array_equal(fab.paths(a, b), ref.paths(a, b)), (a, b)
    # arbitrary node pairs: switches to hosts, single-homed hosts (the full-graph branch)
    s, t = rng.integers(0, fab.n_nodes, (2, 300))
    _same(fab, ref, s, t)


@pytest.mark.parametrize("preset", list_presets(), ids=lambda p: p.stem)
def test_preset_paths_equal_reference(preset) -> None:
    for fab in _fabrics(preset):
        _check(fab)


LEAF_SPINE = {
    "kind": "leaf_spine",
    "leaves": 12,
    "spines": 6,
    "hosts_per_leaf": 4,
    "host_link_gbps": 400,
}


@pytest.mark.parametrize(
    "cfg",
    [
        {**LEAF_SPINE, "failures": {"fraction": 0.35, "seed": 3}},
        {**LEAF_SPINE, "failures": {"links": ["leaf0-spine0", "leaf0-spine1", "spine2-leaf5"]}},
        {"kind": "fat_tree", "k": 8, "host_link_gbps": 400, "failures": {"fraction": 0.3}},
        {
            "kind": "rail_optimized",
            "servers": 8,
            "gpus_per_server": 4,
            "servers_per_leaf": 4,
            "spines": 4,
            "host_link_gbps": 400,
            "failures": {"fraction": 0.25, "seed": 1},
        },
        {
            "kind": "ub_clos",
            "nodes": 6,
            "npus_per_node": 4,
            "planes": 3,
            "l2_per_plane": 4,
            "npu_link_gBps": 56,
            "failures": {"fraction": 0.3, "seed": 2},
        },
        {  # h0 and h5 keep one UB plane: single-homed hosts next to multi-homed ones
            "kind": "ub_clos",
            "nodes": 4,
            "npus_per_node": 4,
            "planes": 2,
            "l2_per_plane": 3,
            "npu_link_gBps": 56,
            "failures": {"links": ["h0-l1_n0_p0", "h5-l1_n1_p1", "l1_n2_p0-l2_p0_1"]},
        },
        {"kind": "full_mesh", "gpus": 12, "link_gBps": 64, "failures": {"fraction": 0.6}},
    ],
    ids=["leaf-spine-random", "leaf-spine-named", "fat-tree", "rail", "ub", "ub-mixed", "mesh"],
)
def test_failed_link_paths_equal_reference(cfg) -> None:
    fab = load_topology(cfg)
    if cfg["kind"] == "ub_clos" and "links" in cfg["failures"]:
        assert 0 < fab.host_single.sum() < fab.n_hosts  # really mixed
    _check(fab, seed=7)


def test_unreachable_pair_names_the_same_nodes(monkeypatch) -> None:
    """A leaf cut off from every spine: both enumerators refuse with the same message.

    Such a fabric is refused when built (`_check_connected`); the check is switched off here
    so the enumerators' own guard, kept for fabrics built by other means, is still tested."""
    import dcsim.network.topology as topo

    monkeypatch.setattr(topo, "_check_connected", lambda *a, **k: None)
    fab = load_topology(
        {**LEAF_SPINE, "spines": 2, "failures": {"links": ["leaf3-spine0", "leaf3-spine1"]}}
    )
    ref = ReferencePaths(fab)
    s = np.array([fab.host_key[0], fab.host_key[0], fab.host_key[13]])
    t = np.array([fab.host_key[13], fab.host_key[4], fab.host_key[0]])
    msgs = []
    for enum in (fab, ref):
        with pytest.raises(InputError, match="no path from") as exc:
            enum.ensure_paths(s, t)
        msgs.append(str(exc.value))
    assert msgs[0] == msgs[1]


def test_path_cap_keeps_the_first_paths_in_order(monkeypatch) -> None:
    """With the cap below the number of equal-cost paths, the kept ones are the reference's
    first MAX_PATHS (the walk drops prefixes past the cap early)."""
    import reference_paths

    import dcsim.network.topology as topo

    for cap in (1, 3, 7):
        monkeypatch.setattr(topo, "MAX_PATHS", cap)
        monkeypatch.setattr(reference_paths, "MAX_PATHS", cap)
        for cfg in (
            {"kind": "fat_tree", "k": 8, "host_link_gbps": 400},
            {
                "kind": "ub_clos",
                "nodes": 4,
                "npus_per_node": 4,
                "planes": 3,
                "l2_per_plane": 4,
                "npu_link_gBps": 56,
            },
        ):
            fab = load_topology(cfg)
            assert max(len(p) for p in [fab.paths(0, fab.n_hosts - 1)]) == cap
            _check(fab, seed=cap)


def test_distances_live_on_the_switch_core() -> None:
    """Single-homed hosts are not in the BFS graph (one node per switch), and the search
    toward a leaf stops at its spines when the sources are other leaves: it keeps the leaf
    and its 6 spines, where the old enumerator held a distance for every node."""
    fab = load_topology({**LEAF_SPINE, "hosts_per_leaf": 64})
    assert fab._core.m == fab.n_switches == 18
    fab.ensure_paths(fab.host_key[:1], fab.host_key[-1:])
    (nodes, d), depth = fab._core._found[int(fab._core.index[fab.host_key[-1]])], 1
    assert fab._core.nodes[nodes].tolist() == [fab.host_key[-1]] + list(
        range(fab.n_nodes - 6, fab.n_nodes)
    )
    assert d.tolist() == [0] + [1] * 6 and set(fab._core._depth.values()) == {depth}
    ub = load_topology("ub_cloudmatrix384")  # multi-homed NPUs are core nodes
    assert ub._core.m == ub.n_nodes


def test_paths_asked_piecemeal_equal_one_batch(monkeypatch) -> None:
    """The BFS toward a target stops at the level its sources need and resumes for farther
    sources asked later; target batches split on a small distance budget. Both give the
    reference's paths (fat-tree: same edge, same pod and other pod for one target)."""
    import dcsim.network.topology as topo

    monkeypatch.setattr(topo, "_DIST_ENTRIES", 100)  # a few targets per batch
    fab = load_topology({"kind": "fat_tree", "k": 8, "host_link_gbps": 400})
    ref = ReferencePaths(fab)
    nodes = fab.host_nodes
    for a in np.random.default_rng(5).permutation(len(nodes))[:40].tolist():
        for b in (0, 5, 17, 127):
            _same(fab, ref, nodes[[a]], nodes[[b]])
    switches = np.flatnonzero(fab.node_tier > 0)
    s, t = np.meshgrid(switches, switches, indexing="ij")
    _same(fab, ref, s.ravel(), t.ravel())


# sha256 of node names + link names ("u->v", link-id order) of each preset as compiled by the
# list-of-tuples builders before issue 17 (commit ecbfcb0): the array builders keep every id
LINK_ORDER = {
    "fat_tree_k8": "7b9c11cb1c757bdd",
    "full_mesh_mi300x": "b1c850a1fb2d4671",
    "leaf_spine_256": "bea9485c26978cb8",
    "leaf_spine_256_oversub2": "bea9485c26978cb8",
    "leaf_spine_256_oversub4": "bea9485c26978cb8",
    "leaf_spine_4k": "75f4a9460117c0d3",
    "leaf_spine_4k_oversub2": "75f4a9460117c0d3",
    "leaf_spine_4k_oversub4": "75f4a9460117c0d3",
    "leaf_spine_large": "3ee342b69362d8a1",
    "leaf_spine_oversub": "57316a4526896971",
    "leaf_spine_small": "57316a4526896971",
    "nvlink_gb200_nvl72": "f0bddadf5a3e8e14",
    "nvlink_h100": "f58fae5bdad1f926",
    "rail_optimized": "5b145e70bc18ca13",
    "ub_cloudmatrix384": "ee58e70622120ff8",
}


@pytest.mark.parametrize("preset", list_presets(), ids=lambda p: p.stem)
def test_array_builders_keep_node_and_link_ids(preset) -> None:
    import hashlib

    fab = load_topology(preset)
    text = "\n".join(fab.node_names + fab.link_names)
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == LINK_ORDER[preset.stem]


def _random_config(rng) -> dict:
    kind = ["leaf_spine", "fat_tree", "rail_optimized", "ub_clos", "full_mesh"][rng.integers(5)]
    if kind == "leaf_spine":
        cfg = {"leaves": int(rng.integers(2, 9)), "spines": int(rng.integers(1, 6))}
        cfg |= {"hosts_per_leaf": int(rng.integers(1, 4)), "host_link_gbps": 400}
    elif kind == "fat_tree":
        cfg = {"k": int(rng.choice([4, 6])), "host_link_gbps": 400}
    elif kind == "rail_optimized":
        spl = int(rng.integers(1, 4))
        cfg = {"servers": spl * int(rng.integers(1, 4)), "servers_per_leaf": spl}
        cfg |= {"gpus_per_server": int(rng.integers(1, 4)), "spines": int(rng.integers(1, 5))}
        cfg |= {"host_link_gbps": 400}
    elif kind == "ub_clos":
        cfg = {"nodes": int(rng.integers(1, 5)), "npus_per_node": int(rng.integers(1, 4))}
        cfg |= {"planes": int(rng.integers(1, 4)), "l2_per_plane": int(rng.integers(1, 4))}
        cfg |= {"npu_link_gBps": 56}
    else:
        cfg = {"gpus": int(rng.integers(2, 9)), "link_gBps": 64}
    failures = {"fraction": float(rng.uniform(0, 0.5)), "seed": int(rng.integers(100))}
    return {"kind": kind, **cfg, "failures": failures}


@pytest.mark.parametrize("seed", range(40))
def test_random_fabrics_and_batches_equal_reference(seed: int, monkeypatch) -> None:
    """Random small fabrics with random failed cables; random node pairs asked in random
    batches (the BFS stops, two-hop tests and in-link scans see every mix of sources).
    Fabrics the failures cut in two are kept (build-time check off) to test both guards."""
    import dcsim.network.topology as topo

    monkeypatch.setattr(topo, "_check_connected", lambda *a, **k: None)
    rng = np.random.default_rng(seed)
    fab = load_topology(_random_config(rng))
    ref = ReferencePaths(fab)
    s, t = rng.integers(0, fab.n_nodes, (2, 120))
    cuts = np.sort(rng.integers(0, len(s), 3))
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(s)], strict=True):
        try:
            ref.ensure_paths(s[a:b], t[a:b])
        except InputError:  # a cut-off node; which pair is named first may differ
            with pytest.raises(InputError, match="no path from"):
                fab.ensure_paths(s[a:b], t[a:b])
            return
        _same(fab, ref, s[a:b], t[a:b])


def test_ecmp_picks_from_unexpanded_paths_the_expanded_ones() -> None:
    """ECMP routing no longer expands (flows x paths x hops) between single-homed hosts:
    a flow's chosen path from _StubPaths equals that row of the full array, which equals
    Fabric.paths of the pair."""
    from dcsim.network.routing import _path_buckets, _StubPaths

    fab = load_topology({"kind": "fat_tree", "k": 6, "host_link_gbps": 400})
    rng = np.random.default_rng(4)
    src, dst = rng.integers(0, fab.n_hosts, (2, 400))
    n = 0
    for idx, M, _, _, _ in _path_buckets(fab, src, dst, lazy=True):
        assert isinstance(M, _StubPaths)
        full = M.full()
        assert full.shape == M.shape
        choice = rng.integers(0, M.shape[1], len(idx))
        assert np.array_equal(M.pick(choice), full[np.arange(len(idx)), choice])
        for k, i in enumerate(idx[:20].tolist()):
            assert np.array_equal(full[k], fab.paths(src[i], dst[i]))
        n += len(idx)
    assert n == np.sum(src != dst)
