"""Issue 17 point 2: building a 100k-accelerator scenario, whose first step enumerates the
equal-cost paths of the data-parallel all-reduce (pytest-benchmark, CPU time and peak RSS).

Run: pytest benchmarks/bench_paths.py -q -s -p no:xdist   (prints CPU-s and peak RSS)
Each figure comes from a fresh interpreter (`resource.getrusage` in the child: CPU time of
the build alone, peak RSS of the whole process), so a benchmark never inherits another's
caches or memory. The scenario is the default one (70B training, H100, TP 8) on 12,500
servers = 100,000 GPUs; the build is `Simulation(load_scenario(...))` plus its first step
time, i.e. the gradient all-reduce over 8 rail rings of 12,500 ranks, routed with ECMP.
Set BENCH_PATHS_PYTHONPATH to a checkout's root to measure that code instead (the "before"
column of benchmarks/RESULTS.md: `git archive <commit> dcsim | tar -x -C /tmp/before`).
Targets (issue 17): < 2 s CPU and < 300 MB peak RSS. Figures: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

TOPOLOGIES = {
    # 1,563 leaves x 64 hosts (100,032 NICs), 32 spines, 2:1: the scenario
    "leaf_spine": {
        "kind": "leaf_spine",
        "leaves": 1563,
        "spines": 32,
        "hosts_per_leaf": 64,
        "oversubscription": 2.0,
    },
    # k = 74: 101,306 hosts, 2,738 edge + 2,738 aggregation + 1,369 core switches
    "fat_tree": {"kind": "fat_tree", "k": 74},
    # DGX SuperPOD style: 12,512 servers in 391 scalable units of 32, 3,128 rail leaves
    "rail_optimized": {
        "kind": "rail_optimized",
        "servers": 12512,
        "gpus_per_server": 8,
        "servers_per_leaf": 32,
        "spines": 64,
    },
}

_CHILD = """
import json, resource, sys, time
t0 = time.process_time()
from dcsim.config import load_scenario
from dcsim.sim import Simulation
t1 = time.process_time()
sim = Simulation(load_scenario(None, {"cluster.servers": 12500,
                                      "cluster.topology": json.loads(sys.argv[1])}))
comm_s = sim.comm_time(sim.sc.workload.routing)  # cached: computed by the build
t2 = time.process_time()
import dcsim
print(json.dumps({"code": dcsim.__file__, "import_cpu_s": t1 - t0, "build_cpu_s": t2 - t1, "comm_s": comm_s,
                  "hosts": sim.fabric.n_hosts,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _build(topology: dict) -> dict:
    env = dict(os.environ)
    other = os.environ.get("BENCH_PATHS_PYTHONPATH")
    if other:
        env["PYTHONPATH"] = other + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(topology)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=other or None,  # `python -c` puts the working directory first on sys.path
    )
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_build_100k_gpu_scenario(benchmark, name: str) -> None:
    got = benchmark.pedantic(_build, args=(TOPOLOGIES[name],), rounds=1, iterations=1)
    benchmark.extra_info.update(got)
    print(
        f"\n  {name}: {got['hosts']:,} hosts, build {got['build_cpu_s']:.2f} CPU-s "
        f"(+ imports {got['import_cpu_s']:.2f}), peak RSS {got['peak_rss_mb']:.0f} MB, "
        f"all-reduce {got['comm_s']:.3f} s ({got['code']})"
    )
    assert got["hosts"] >= 100_000 and got["comm_s"] > 0


def test_paths_of_the_ring_cold_fabric(benchmark) -> None:
    """In process: enumerate the switch paths of the 100k rail rings on a fresh fabric
    (paths only, no routing or solve)."""
    import numpy as np

    from dcsim.network import load_topology

    def cold() -> int:
        fab = load_topology({**TOPOLOGIES["leaf_spine"], "host_link_gbps": 400})
        dev = np.arange(100_000).reshape(-1, 8).T  # 8 rails of 12,500 ranks
        src, dst = dev.ravel(), np.roll(dev, -1, axis=1).ravel()
        fab.ensure_paths(fab.host_key[src], fab.host_key[dst])
        return len(fab._paths)

    pairs = benchmark.pedantic(cold, rounds=2, iterations=1)
    assert pairs > 1500
