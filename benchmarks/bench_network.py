"""Network fabric speed (pytest-benchmark).

Run: pytest benchmarks/bench_network.py --benchmark-only -q
Targets (issue 3 point 7), one core: one max-min solve of 16k flows on a 128-leaf fabric
and a 4,096-GPU ring all-reduce under ECMP, each < 0.5 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import BIG
from dcsim.network import collective_time, load_topology, max_min_rates, route, run_flows
from dcsim.network.patterns import inter_tor_permutation
from dcsim.network.topology import TOPOLOGY_DIR


@pytest.mark.parametrize("routing", ["ecmp", "spray"])
def test_one_solve_16k_flows_128_leaves(benchmark, perm16k, routing):
    fab, src, dst = perm16k
    r = route(fab, src, dst, np.full(len(src), 1e8), routing)
    rates = benchmark(max_min_rates, r.A, fab.link_cap)
    assert len(rates) == 16384 and np.all(rates > 0)


def test_route_16k_flows_ecmp_cold(benchmark):
    """Routing from a freshly compiled fabric: 16k leaf pairs' paths enumerated and cached."""

    def cold():
        fab = load_topology(BIG)
        src, dst = inter_tor_permutation(fab, np.random.default_rng(0))
        return route(fab, src, dst, np.full(len(src), 1e8), "ecmp")

    benchmark.pedantic(cold, rounds=3, iterations=1)


def test_run_16k_flows_to_completion_ecmp(benchmark, perm16k):
    fab, src, dst = perm16k
    r = route(fab, src, dst, np.full(len(src), 1e8), "ecmp")
    run = benchmark.pedantic(run_flows, args=(r.A, fab.link_cap, r.size), rounds=3, iterations=1)
    assert run.n_events > 1


def test_ring_allreduce_4096_gpus_ecmp_cold(benchmark):
    """Load the 4,096-GPU fabric and time a 1 GiB ring all-reduce (8,190 steps, one solve)."""

    def cold():
        fab = load_topology(TOPOLOGY_DIR / "leaf_spine_large.yaml")
        return collective_time(fab, "all-reduce", "ring", 1 << 30, routing="ecmp")

    res = benchmark.pedantic(cold, rounds=5, iterations=1)
    assert res.n_ranks == 4096 and res.n_solves == 1


def test_ring_allreduce_4096_gpus_ecmp_shuffled(benchmark):
    """Same, random rank order: 3,968 inter-leaf flows collide under ECMP (many flow events)."""
    fab = load_topology(TOPOLOGY_DIR / "leaf_spine_large.yaml")
    ranks = np.random.default_rng(0).permutation(4096)
    res = benchmark.pedantic(
        collective_time,
        args=(fab, "all-reduce", "ring", 1 << 30, "ecmp", 0, ranks),
        rounds=3,
        iterations=1,
    )
    assert res.congestion > 1


def test_colour_assignment_16k_flows(benchmark, perm16k):
    fab, src, dst = perm16k
    benchmark.pedantic(
        route, args=(fab, src, dst, np.full(len(src), 1e8), "colour"), rounds=1, iterations=1
    )
