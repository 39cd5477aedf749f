"""Whole-loop speed: Simulation steps, the default `dcsim run`, and a 100k-GPU data-parallel all-reduce.

Run: pytest benchmarks/bench_sim.py --benchmark-only
"""

from __future__ import annotations

import numpy as np

from dcsim.config import load_scenario
from dcsim.network import collective_time, load_topology
from dcsim.runner import simulate
from dcsim.sim import Simulation


def test_sim_step_default_256_gpus(benchmark):
    sim = Simulation(load_scenario(None))
    benchmark(sim.step)


def test_default_day_through_env(benchmark):
    loaded = load_scenario(None)
    benchmark.pedantic(lambda: simulate(loaded, "reactive"), rounds=2, iterations=1)


def test_dp_allreduce_100k_gpus_8_rails(benchmark):
    def run():
        fab = load_topology(
            {
                "kind": "leaf_spine",
                "leaves": 1563,
                "spines": 32,
                "hosts_per_leaf": 64,
                "host_link_gbps": 400,
                "oversubscription": 2.0,
            }
        )
        dev = np.arange(100_000)
        groups = np.stack([dev[dev % 8 == j] for j in range(8)])
        return collective_time(fab, "all-reduce", "ring", 17.5e9, "ecmp", 0, ranks=groups)

    benchmark.pedantic(run, rounds=1, iterations=1)
