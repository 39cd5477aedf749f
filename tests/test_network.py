"""Network fabric: topologies, routing, max-min fairness and collectives against closed forms
and published results (nccl-tests busbw factors; Addanki et al. arXiv 2407.00550)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.errors import InputError
from dcsim.network import (
    alpha_beta_ring_allreduce,
    bipartite_edge_colouring,
    collective_time,
    list_presets,
    load_topology,
    max_min_rates,
    parse_size,
    route,
)
from dcsim.network.patterns import inter_tor_permutation, shuffled_ring, traffic_time

ROOT = Path(__file__).resolve().parents[1]
GiB = float(1 << 30)


def leaf_spine(L=4, S=4, h=4, gbps=400.0, lat=0.0, end=0.0, **kw):
    return load_topology(
        {
            "kind": "leaf_spine",
            "leaves": L,
            "spines": S,
            "hosts_per_leaf": h,
            "host_link_gbps": gbps,
            "hop_latency_us": lat,
            "endpoint_latency_us": end,
            **kw,
        }
    )


# ------------------------------------------------------------------ topologies
def test_every_preset_loads_and_is_connected():
    presets = list_presets()
    assert {
        "leaf_spine_small.yaml",
        "leaf_spine_oversub.yaml",
        "fat_tree_k8.yaml",
        "rail_optimized.yaml",
        "nvlink_h100.yaml",
        "ub_cloudmatrix384.yaml",
        "full_mesh_mi300x.yaml",
    } <= {p.name for p in presets}
    for p in presets:
        fab = load_topology(p)
        s = fab.summary()
        assert s["n_hosts"] > 1 and s["bisection_bw_GBps"] > 0
        assert np.all(fab.link_cap > 0)
        # every host reaches host 0 and the last host
        assert len(fab.paths(0, fab.n_hosts - 1)) >= 1


def test_leaf_spine_small_matches_spec():
    fab = load_topology(ROOT / "topologies" / "leaf_spine_small.yaml")
    assert (fab.n_hosts, fab.n_switches, fab.n_links) == (64, 12, 2 * (64 + 8 * 4))
    assert fab.oversubscription == pytest.approx(1.0)
    # spine links derived from the ratio: 8 x 400 / 4 = 800 Gb/s = 100 GB/s
    up = [i for i, n in enumerate(fab.link_names) if n.startswith("leaf0->spine")]
    assert np.allclose(fab.link_cap[up], 100e9)
    over = load_topology(ROOT / "topologies" / "leaf_spine_oversub.yaml")
    assert over.oversubscription == pytest.approx(2.0)
    assert over.bisection_bw_Bps == pytest.approx(fab.bisection_bw_Bps / 2)


def test_leaf_spine_bisection_equals_max_flow_across_half_cut():
    fab = leaf_spine(L=4, S=2, h=4, gbps=400.0, oversubscription=2.0)
    g = nx.DiGraph()
    for s, d, c in zip(fab.link_src, fab.link_dst, fab.link_cap, strict=True):
        g.add_edge(int(s), int(d), capacity=float(c))
    half = fab.n_hosts // 2
    for h in range(half):
        g.add_edge("S", int(fab.host_nodes[h]), capacity=float("inf"))
    for h in range(half, fab.n_hosts):
        g.add_edge(int(fab.host_nodes[h]), "T", capacity=float("inf"))
    assert nx.maximum_flow_value(g, "S", "T") == pytest.approx(fab.bisection_bw_Bps)


def test_fat_tree_and_ub_clos_path_counts():
    ft = load_topology({"kind": "fat_tree", "k": 4, "host_link_gbps": 100})
    assert (ft.n_hosts, ft.n_switches) == (16, 20)
    assert len(ft.paths(0, 15)) == 4  # inter-pod: (k/2)^2 cores
    assert len(ft.paths(0, 2)) == 2  # same pod, other edge: k/2 aggs
    assert len(ft.paths(0, 1)) == 1  # same edge
    ub = load_topology(ROOT / "topologies" / "ub_cloudmatrix384.yaml")
    assert ub.n_hosts == 384 and ub.n_switches == 48 * 7 + 7 * 16
    assert len(ub.paths(0, 8)) == 7 * 16 and len(ub.paths(0, 1)) == 7
    assert ub.summary()["host_bw_GBps"] == pytest.approx(392.0)


def test_paths_are_valid_shortest_walks():
    fab = load_topology(ROOT / "topologies" / "rail_optimized.yaml")
    for a, b in [(0, 1), (0, 8), (3, 200), (255, 0)]:
        P = fab.paths(a, b)
        assert fab.link_src[P[:, 0]].tolist() == [fab.host_nodes[a]] * len(P)
        assert fab.link_dst[P[:, -1]].tolist() == [fab.host_nodes[b]] * len(P)
        assert np.all(fab.link_dst[P[:, :-1]] == fab.link_src[P[:, 1:]])
        assert len({tuple(p) for p in P.tolist()}) == len(P)


@pytest.mark.parametrize("preset", ["rail_optimized", "leaf_spine_small", "fat_tree_k8"])
def test_n_paths_counts_the_paths(preset):
    """`Fabric.n_paths` (FlowSplit-v0's observation) is `len(paths)`, multi-homed hosts too."""
    fab = load_topology(ROOT / "topologies" / f"{preset}.yaml")
    last = fab.n_hosts - 1
    for a, b in [(0, 1), (0, 8), (3, last), (last, 0), (2, 2)]:
        assert fab.n_paths(a, b) == len(fab.paths(a, b))


@pytest.mark.parametrize(
    "data, field",
    [
        (
            {
                "kind": "leaf_spine",
                "leaves": 2,
                "spines": 2,
                "hosts_per_leaf": 2,
                "host_link_gbps": -400,
            },
            "host_link_gbps",
        ),
        (
            {
                "kind": "leaf_spine",
                "leaves": 2,
                "spines": 2,
                "hosts_per_leaf": 2,
                "host_link_gbps": 400,
                "colour": 1,
            },
            "colour",
        ),
        (
            {
                "kind": "leaf_spine",
                "leaves": "x",
                "spines": 2,
                "hosts_per_leaf": 2,
                "host_link_gbps": 400,
            },
            "leaves",
        ),
        ({"kind": "torus", "n": 4}, "kind"),
        ({"leaves": 2}, "kind"),
        ({"kind": "fat_tree", "k": 5, "host_link_gbps": 100}, "<root>"),
        (
            {
                "kind": "leaf_spine",
                "leaves": 2,
                "spines": 2,
                "hosts_per_leaf": 2,
                "host_link_gbps": 400,
                "failures": {"links": ["leaf0-spine9"]},
            },
            "failures.links.0",
        ),
        (
            {
                "kind": "leaf_spine",
                "leaves": 2,
                "spines": 2,
                "hosts_per_leaf": 2,
                "host_link_gbps": 400,
                "spine_link_gbps": 400,
                "oversubscription": 3,
            },
            "<root>",
        ),
    ],
)
def test_bad_topology_names_the_field(data, field):
    with pytest.raises(InputError) as exc:
        load_topology(data)
    assert exc.value.field == field


def test_bad_yaml_file_names_the_file(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("kind: leaf_spine\nleaves: 2\nspines: 2\nhosts_per_leaf: 2\nhost_link_gbps: 0\n")
    with pytest.raises(InputError) as exc:
        load_topology(p)
    assert exc.value.file == str(p) and exc.value.field == "host_link_gbps"


# ------------------------------------------------------------------ max-min fairness
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_max_min_rates_are_feasible_and_bottlenecked(seed):
    rng = np.random.default_rng(seed)
    L, F = int(rng.integers(2, 8)), int(rng.integers(1, 12))
    A = (rng.random((L, F)) < 0.4).astype(float)
    A[rng.integers(0, L, F), np.arange(F)] = 1.0  # every flow crosses a link
    A *= rng.choice([1.0, 0.5], size=A.shape)
    cap = rng.uniform(1, 10, L)
    r = max_min_rates(sp.csr_matrix(A), cap)
    load = A @ r
    assert np.all(load <= cap * (1 + 1e-9))
    # max-min optimality: each flow has a saturated link on which no flow gets more rate
    sat = load >= cap * (1 - 1e-9)
    for f in range(F):
        links = np.flatnonzero((A[:, f] > 0) & sat)
        assert any(r[f] >= r[A[k] > 0].max() * (1 - 1e-9) for k in links)


def test_two_flows_share_a_link_equally():
    fab = leaf_spine(L=2, S=1, h=2)
    res = traffic_time(fab, [0, 1], [2, 3], 1e9, "ecmp")
    # both cross leaf0->spine0 at 800/... uplink = 2*400/1 Gb/s = 100 GB/s: each NIC-bound at 50 GB/s
    assert res.time_s == pytest.approx(1e9 / 50e9)
    fab2 = leaf_spine(L=2, S=1, h=2, oversubscription=2.0)  # uplink 50 GB/s shared by two
    assert traffic_time(fab2, [0, 1], [2, 3], 1e9, "ecmp").time_s == pytest.approx(2e9 / 50e9)


# ------------------------------------------------------------------ collectives vs closed forms
@pytest.mark.parametrize("routing", ["ecmp", "spray", "split:4", "colour"])
def test_ring_allreduce_equals_alpha_beta_on_nonblocking_fabric(routing):
    fab = load_topology(ROOT / "topologies" / "leaf_spine_small.yaml")
    res = collective_time(fab, "all-reduce", "ring", GiB, routing=routing)
    alpha = (
        fab.endpoint_latency_s + 4 * fab.config.hop_latency_us * 1e-6
    )  # host-leaf-spine-leaf-host
    ref = alpha_beta_ring_allreduce(fab.n_hosts, GiB, alpha, 50e9)
    assert res.time_s == pytest.approx(ref, rel=0.01)
    assert res.n_steps == 2 * (fab.n_hosts - 1) and res.n_solves == 1


@pytest.mark.parametrize(
    "preset, bw", [("nvlink_h100.yaml", 450e9 * 0.822), ("full_mesh_mi300x.yaml", 64e9)]
)
def test_ring_allreduce_closed_form_on_scale_up_domains(preset, bw):
    fab = load_topology(ROOT / "topologies" / preset)
    res = collective_time(fab, "all-reduce", "ring", GiB)
    hops = fab.paths(0, 1).shape[1]
    alpha = fab.endpoint_latency_s + hops * fab.config.hop_latency_us * 1e-6
    assert res.time_s == pytest.approx(
        alpha_beta_ring_allreduce(fab.n_hosts, GiB, alpha, bw), rel=0.01
    )


P16 = 16


@pytest.mark.parametrize(
    "coll, algo, routing, ratio",
    [
        ("all-reduce", "ring", "ecmp", 1.0),
        ("all-reduce", "halving-doubling", "spray", 1.0),
        ("all-reduce", "direct", "spray", 1.0),
        # each rank sends ~2n over its NIC in the double binary tree: busbw = (p-1)/p B
        ("all-reduce", "double-binary-tree", "spray", (P16 - 1) / P16),
        ("all-gather", "ring", "ecmp", 1.0),
        ("all-gather", "halving-doubling", "spray", 1.0),
        ("all-gather", "direct", "spray", 1.0),
        ("reduce-scatter", "ring", "ecmp", 1.0),
        ("reduce-scatter", "halving-doubling", "spray", 1.0),
        ("reduce-scatter", "direct", "spray", 1.0),
        ("all-to-all", "direct", "spray", 1.0),
        ("all-to-all", "pairwise", "spray", 1.0),
        ("broadcast", "ring", "ecmp", 1.0),
        ("broadcast", "double-binary-tree", "spray", 1.0),
        # van de Geijn scatter + all-gather moves 2(p-1)/p n: half a pipelined broadcast
        ("broadcast", "halving-doubling", "spray", P16 / (2 * (P16 - 1))),
    ],
)
def test_busbw_matches_nccl_tests_factors(coll, algo, routing, ratio):
    """With zero latency on a non-blocking fabric, busbw (nccl-tests PERFORMANCE.md factors:
    2(p-1)/p all-reduce, (p-1)/p all-gather/reduce-scatter/all-to-all, 1 broadcast) of a
    bandwidth-optimal algorithm equals the NIC bandwidth."""
    fab = leaf_spine(L=4, S=4, h=4)
    assert fab.n_hosts == P16
    res = collective_time(fab, coll, algo, GiB, routing=routing)
    assert res.busbw_Bps == pytest.approx(ratio * 50e9, rel=1e-6)


def test_link_bytes_are_conserved():
    fab = leaf_spine(L=4, S=2, h=4)
    p = fab.n_hosts
    for algo in ("ring", "halving-doubling"):
        res = collective_time(fab, "all-reduce", algo, GiB, routing="spray")
        up = np.isin(fab.link_src, fab.host_nodes)
        # every rank sends 2(p-1)/p * n bytes in ring and Rabenseifner all-reduce
        assert res.link_load[up].sum() == pytest.approx(p * 2 * (p - 1) / p * GiB, rel=1e-9)


def test_halving_doubling_non_power_of_two_folds_extra_ranks():
    fab = leaf_spine(L=3, S=2, h=2)  # 6 ranks = 4 + 2 extra
    res = collective_time(fab, "all-reduce", "hd", GiB, routing="spray")
    up = np.isin(fab.link_src, fab.host_nodes)
    # 2 extra ranks fold in (2n) and get the result back (2n); the 4-rank core moves 4 * 2 * 3/4 * n
    assert res.link_load[up].sum() == pytest.approx((4 + 6) * GiB)
    with pytest.raises(InputError):
        collective_time(fab, "all-gather", "halving-doubling", GiB)


def test_hierarchical_and_multichannel_ring_on_rail_optimized():
    """Both algorithms match their alpha-beta closed forms within 1%; auto picks the faster.
    (The flat ring used to cross the NICs inside a server; it now runs NCCL's multi-channel
    rings over NVLink and all 8 NICs, which beats hierarchical at this size.)"""
    from dcsim.network import (
        alpha_beta_hierarchical_allreduce,
        alpha_beta_multichannel_ring_allreduce,
    )

    fab = load_topology(ROOT / "topologies" / "rail_optimized.yaml")
    flat = collective_time(fab, "all-reduce", "ring", GiB, routing="ecmp")
    hier = collective_time(fab, "all-reduce", "hierarchical", GiB, routing="ecmp")
    su = fab.scale_up
    a_up = su.endpoint_latency_s + 2 * su.config.hop_latency_us * 1e-6
    a_out = (
        fab.endpoint_latency_s + 4 * fab.config.hop_latency_us * 1e-6
    )  # host-leaf-spine-leaf-host
    args = (8, 32, GiB, a_up, 450e9 * 0.822, a_out, 50e9)
    assert hier.time_s == pytest.approx(alpha_beta_hierarchical_allreduce(*args), rel=0.01)
    assert flat.time_s == pytest.approx(alpha_beta_multichannel_ring_allreduce(*args), rel=0.01)
    auto = collective_time(fab, "all-reduce", "auto", GiB, routing="ecmp")
    assert auto.time_s == min(flat.time_s, hier.time_s)
    assert set(auto.candidates) == {"ring", "hierarchical"}
    assert hier.congestion == pytest.approx(1.0)  # per-rail rings never share a link
    assert [p["fabric"] for p in hier.phases] == ["scale-up", "scale-out", "scale-up"]
    with pytest.raises(InputError):
        collective_time(
            load_topology(ROOT / "topologies" / "leaf_spine_small.yaml"),
            "all-reduce",
            "hierarchical",
            GiB,
        )


def test_more_bytes_more_time_and_oversubscription_never_helps():
    rng = np.random.default_rng(3)
    ranks = rng.permutation(64)
    fab = load_topology(ROOT / "topologies" / "leaf_spine_small.yaml")
    over = load_topology(ROOT / "topologies" / "leaf_spine_oversub.yaml")
    times = [
        collective_time(fab, size_bytes=s, ranks=ranks, routing="spray").time_s
        for s in (1e6, 1e8, 1e9)
    ]
    assert times[0] < times[1] < times[2]
    for r in ("ecmp", "spray"):
        assert (
            collective_time(over, ranks=ranks, routing=r).time_s
            >= collective_time(fab, ranks=ranks, routing=r).time_s
        )


def test_same_seed_same_numbers_and_seed_changes_ecmp():
    fab = load_topology(ROOT / "topologies" / "leaf_spine_small.yaml")
    ranks = np.random.default_rng(0).permutation(64)
    a = collective_time(fab, ranks=ranks, routing="ecmp", seed=5)
    b = collective_time(fab, ranks=ranks, routing="ecmp", seed=5)
    assert a.time_s == b.time_s and np.array_equal(a.link_load, b.link_load)
    times = {collective_time(fab, ranks=ranks, routing="ecmp", seed=s).time_s for s in range(6)}
    assert len(times) > 1


def test_bad_collective_inputs():
    fab = leaf_spine()
    for kw in (
        {"collective": "gather"},
        {"algorithm": "butterfly"},
        {"routing": "split:0"},
        {"routing": "hash"},
        {"size_bytes": -1},
        {"ranks": [0, 0, 1]},
        {"ranks": [0, 99]},
        {"collective": "all-gather", "algorithm": "double-binary-tree"},
    ):
        with pytest.raises(InputError):
            collective_time(fab, **kw)
    assert parse_size("1GiB") == GiB and parse_size("4MB") == 4e6
    with pytest.raises(InputError):
        parse_size("lots")


# ------------------------------------------------------------------ routing: Addanki et al.
@pytest.mark.parametrize("n", [8, 16, 32])
def test_ecmp_at_least_twice_spraying_on_inter_leaf_permutations(n):
    """N = S = h leaf-spine, random inter-leaf permutations: per-flow ECMP collisions make
    it 3-6x slower than ideal spraying (Addanki et al. Fig. 1); we require >= 2x on average."""
    fab = leaf_spine(L=n, S=n, h=n)
    ratios = []
    for seed in range(3):
        src, dst = inter_tor_permutation(fab, np.random.default_rng(seed))
        e = traffic_time(fab, src, dst, 1e8, "ecmp", seed).time_s
        s = traffic_time(fab, src, dst, 1e8, "spray", seed).time_s
        ratios.append(e / s)
    assert np.mean(ratios) >= 2.0
    assert traffic_time(fab, src, dst, 1e8, "spray").congestion == pytest.approx(1.0)


@pytest.mark.parametrize("n", [8, 16])
@pytest.mark.parametrize("pattern", ["ring", "permutation"])
def test_colouring_and_splitting_match_spraying_max_congestion(n, pattern):
    fab = leaf_spine(L=n, S=n, h=n)
    for seed in range(2):
        rng = np.random.default_rng(seed)
        src, dst = shuffled_ring(fab, rng) if pattern == "ring" else inter_tor_permutation(fab, rng)
        spray = traffic_time(fab, src, dst, 1e8, "spray").max_work_s
        assert traffic_time(fab, src, dst, 1e8, "colour").max_work_s == pytest.approx(
            spray, rel=1e-9
        )
        assert traffic_time(fab, src, dst, 1e8, "colour:2").max_work_s == pytest.approx(
            spray, rel=1e-9
        )
        for k in (2, 4, 8):
            greedy = traffic_time(fab, src, dst, 1e8, f"split:{k}").max_work_s
            assert spray * (1 - 1e-9) <= greedy <= spray * (1 + 1 / k) * (1 + 1e-9)
        assert traffic_time(fab, src, dst, 1e8, "ecmp", seed).max_work_s > spray


def test_failed_spine_link_slows_spraying_by_at_most_S_over_S_minus_1():
    n = 8
    base = leaf_spine(L=n, S=n, h=n)
    failed = leaf_spine(L=n, S=n, h=n, failures={"links": ["leaf0-spine3"]})
    assert failed.failed == ["leaf0-spine3"] and failed.n_links == base.n_links - 2
    for seed in range(3):
        src, dst = inter_tor_permutation(base, np.random.default_rng(seed))
        t0 = traffic_time(base, src, dst, 1e8, "spray").time_s
        t1 = traffic_time(failed, src, dst, 1e8, "spray").time_s
        assert t0 * (1 - 1e-9) <= t1 <= t0 * n / (n - 1) * (1 + 1e-9)
        assert t1 > t0 * (1 + 1e-6)  # leaf0's 8 flows now share 7 uplinks
    frac = leaf_spine(L=n, S=n, h=n, failures={"fraction": 0.25, "seed": 1})
    assert len(frac.failed) == 16 and frac.bisection_bw_Bps == pytest.approx(
        0.75 * base.bisection_bw_Bps
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_edge_colouring_is_proper_and_balanced(seed):
    rng = np.random.default_rng(seed)
    nu, nv, C = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 5))
    E = int(rng.integers(1, 40))
    u, v = rng.integers(0, nu, E), rng.integers(0, nv, E)
    col = bipartite_edge_colouring(u, v, C)
    assert col.min() >= 0 and col.max() < C
    for side in (u, v):
        for x in np.unique(side):
            d = int(np.sum(side == x))
            counts = np.bincount(col[side == x], minlength=C)
            assert counts.max() <= -(-d // C)


def test_route_incidence_carries_each_flow_once_on_its_nic():
    fab = leaf_spine(L=4, S=4, h=4)
    src, dst = inter_tor_permutation(fab, np.random.default_rng(0))
    up = np.isin(fab.link_src, fab.host_nodes)
    for r in ("ecmp", "spray", "split:3", "colour:2"):
        R = route(fab, src, dst, np.full(len(src), 1.0), r)
        per_flow = np.bincount(R.parent, weights=np.asarray(R.A[up].sum(axis=0)).ravel() * R.size)
        assert np.allclose(per_flow, 1.0)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(2, 5),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([0.5, 1.0, 3.0]),
    st.sampled_from(["ecmp", "ecmp:2", "spray", "split:2", "colour", "colour:3"]),
    st.integers(0, 1000),
    st.floats(0.0, 0.3),
)
def test_any_leaf_spine_pattern_respects_nic_bound_and_capacity(L, S, h, over, routing, seed, fail):
    """Random fabrics (with random failed cables), patterns and policies: no link carries more
    than capacity x time, and nothing beats the NIC lower bound."""
    try:
        fab = leaf_spine(
            L=L, S=S, h=h, oversubscription=over, failures={"fraction": fail, "seed": seed}
        )
        rng = np.random.default_rng(seed)
        src = rng.integers(0, fab.n_hosts, 3 * fab.n_hosts)
        dst = rng.integers(0, fab.n_hosts, 3 * fab.n_hosts)
        size = rng.uniform(1e6, 1e8, len(src))
        res = traffic_time(fab, src, dst, size, routing, seed)
    except InputError as exc:  # too many failures can disconnect a leaf: a clear error
        assert exc.field == "failures.fraction"  # found when the fabric is built
        return
    net = src != dst
    out = np.bincount(src[net], weights=size[net], minlength=fab.n_hosts)
    inn = np.bincount(dst[net], weights=size[net], minlength=fab.n_hosts)
    bound = max(out.max(), inn.max()) / 50e9
    assert res.time_s >= bound * (1 - 1e-9)
    assert np.all(res.link_load <= fab.link_cap * res.time_s * (1 + 1e-9))
