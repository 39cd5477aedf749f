"""Issue 17 point 2: building a 100k-accelerator scenario, whose first step enumerates the
equal-cost paths of the data-parallel all-reduce (pytest-benchmark, CPU time and peak RSS).

Run: pytest benchmarks/bench_paths.py -q -s -p no:xdist   (prints CPU-s and peak RSS)
Each figure comes from a fresh interpreter (in the child: CPU time of the build alone, peak
RSS of the whole process as its VmHWM, since ru_maxrss survives exec from the parent), so a
benchmark never inherits another's caches or memory. The scenario is the default one (70B training, H100, TP 8) on 12,500
servers = 100,000 GPUs; the build is `Simulation(load_scenario(...))` plus its first step
time, i.e. the gradient all-reduce over 8 rail rings of 12,500 ranks, routed with ECMP.
`test_enumerate_paths_cold` times `Fabric.ensure_paths` alone (fabric compiled untimed) on
three patterns: one pair per target, all-to-many, and multi-homed NPUs.
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
import numpy as np
t0 = time.process_time()
from dcsim.config import load_scenario
from dcsim.network import load_topology
from dcsim.sim import Simulation
import dcsim
out = {"code": dcsim.__file__, "import_cpu_s": time.process_time() - t0}
case, arg = sys.argv[1], json.loads(sys.argv[2])
if case == "scenario":  # the whole build; its first step time needs the all-reduce
    t1 = time.process_time()
    sim = Simulation(load_scenario(None, {"cluster.servers": 12500, "cluster.topology": arg}))
    out["cpu_s"] = time.process_time() - t1
    out["comm_s"] = sim.comm_time(sim.sc.workload.routing)  # cached by the build
    out["hosts"] = sim.fabric.n_hosts
else:  # paths only, of node pairs on a fabric compiled beforehand
    fab = load_topology(arg)
    if case == "permutation":  # random inter-leaf permutation's leaf pairs
        from dcsim.network.patterns import inter_tor_permutation
        src, dst = inter_tor_permutation(fab, np.random.default_rng(0))
        s, t = fab.host_key[src], fab.host_key[dst]
    elif case == "rings":  # 8 rail rings over all hosts: host i -> i + 8
        dev = np.arange(fab.n_hosts - fab.n_hosts % 8).reshape(-1, 8).T
        s, t = fab.host_key[dev.ravel()], fab.host_key[np.roll(dev, -1, axis=1).ravel()]
    else:  # "npus": every ordered pair of the first 96 hosts (12 CloudMatrix nodes)
        s, t = (x.ravel() for x in np.meshgrid(fab.host_nodes[:96], fab.host_nodes[:96]))
    t1 = time.process_time()
    fab.ensure_paths(s, t)
    out["cpu_s"] = time.process_time() - t1
    out["pairs"] = len(set(zip(s.tolist(), t.tolist())))
use = resource.getrusage(resource.RUSAGE_SELF)
# this process's own high-water mark: Linux keeps ru_maxrss across exec, so it would report
# the parent's (pytest's) peak when that was larger; VmHWM belongs to the new image
try:
    with open("/proc/self/status") as f:
        hwm_kb = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))
except (OSError, StopIteration):  # not Linux
    hwm_kb = use.ru_maxrss
out["peak_rss_mb"] = hwm_kb / 1024
out["process_user_s"], out["process_sys_s"] = use.ru_utime, use.ru_stime
print(json.dumps(out))
"""


def _child(case: str, arg: object) -> dict:
    """Run one case in a fresh interpreter (BENCH_PATHS_PYTHONPATH: another checkout)."""
    env = dict(os.environ)
    other = os.environ.get("BENCH_PATHS_PYTHONPATH")
    if other:
        env["PYTHONPATH"] = other + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, case, json.dumps(arg)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=other or None,  # `python -c` puts the working directory first on sys.path
    )
    return json.loads(out.stdout.splitlines()[-1])


def _report(benchmark, name: str, got: dict) -> None:
    benchmark.extra_info.update(got)
    what = f"{got['hosts']:,} hosts" if "hosts" in got else f"{got['pairs']:,} node pairs"
    extra = f", all-reduce {got['comm_s']:.3f} s" if "comm_s" in got else ""
    print(
        f"\n  {name}: {what}, {got['cpu_s']:.3f} CPU-s (+ imports {got['import_cpu_s']:.2f}), "
        f"peak RSS {got['peak_rss_mb']:.0f} MB{extra}; whole process user "
        f"{got['process_user_s']:.2f} s, system {got['process_sys_s']:.2f} s ({got['code']})"
    )


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_build_100k_gpu_scenario(benchmark, name: str) -> None:
    got = benchmark.pedantic(_child, args=("scenario", TOPOLOGIES[name]), rounds=1, iterations=1)
    _report(benchmark, name, got)
    assert got["hosts"] >= 100_000 and got["comm_s"] > 0


NIC = {"host_link_gbps": 400}
PATH_CASES = {
    # the 100k leaf-spine's 8 rail rings: 1,563 leaf pairs (one per target leaf)
    "rings_100k_leaf_spine": ("rings", {**TOPOLOGIES["leaf_spine"], **NIC}),
    # 128 leaves x 128 spines x 128 hosts, random inter-leaf permutation (bench_network.py)
    "permutation_16k": (
        "permutation",
        {"kind": "leaf_spine", "leaves": 128, "spines": 128, "hosts_per_leaf": 128, **NIC},
    ),
    # CloudMatrix384, multi-homed NPUs (7 UB planes): 96 x 96 NPU pairs, 112 paths each
    "npus_cloudmatrix384": ("npus", "ub_cloudmatrix384"),
}


@pytest.mark.parametrize("name", list(PATH_CASES))
def test_enumerate_paths_cold(benchmark, name: str) -> None:
    case, arg = PATH_CASES[name]
    got = benchmark.pedantic(_child, args=(case, arg), rounds=1, iterations=1)
    _report(benchmark, name, got)
    assert got["pairs"] > 1000
