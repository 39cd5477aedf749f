"""Power, inference serving and POLCA benchmarks (pytest-benchmark).

Run: pytest benchmarks/bench_power.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.hardware import get_profile
from dcsim.inference import RooflineCost, gamma_zipf_requests, get_llm, simulate_serving
from dcsim.polca import RowConfig, RowSimulation, characterize
from dcsim.power import DevicePowerModel, rack_power_w, server_wall_power_w

A100 = get_profile("A100-80G")
M = DevicePowerModel.from_profile(A100)
N_DEV = 100_000  # a 100k-accelerator cluster


@pytest.fixture(scope="module")
def cluster() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, N_DEV), rng.uniform(300, 400, N_DEV)


def test_bench_device_power_100k(benchmark, cluster) -> None:
    a, _ = cluster
    out = benchmark(M.power_w, a, 0.9)
    assert out.shape == (N_DEV,)


def test_bench_freq_for_cap_100k(benchmark, cluster) -> None:
    a, cap = cluster
    out = benchmark(M.freq_for_cap, cap, a)
    assert out.shape == (N_DEV,)


def test_bench_cluster_to_racks_100k(benchmark, cluster) -> None:
    a, _ = cluster

    def chain() -> np.ndarray:
        dev = M.power_w(a, 1.0).reshape(-1, 8).sum(axis=1)  # servers
        wall = server_wall_power_w(dev, 1500.0, 0.95)
        return rack_power_w(wall, 4)

    out = benchmark(chain)
    assert out.shape == (N_DEV // 32,)


def test_bench_serving_des_10min(benchmark) -> None:
    cost = RooflineCost(A100, get_llm("llama2-70b"))
    tr = gamma_zipf_requests(600.0, seed=0, rate_factor=0.8)
    res = benchmark.pedantic(
        simulate_serving, args=(tr, cost, 1.0), kwargs={"horizon_s": 600.0}, rounds=3
    )
    benchmark.extra_info["iterations"] = res.iterations
    assert res.completed.sum() > 0


def test_bench_polca_row_4h_60_servers(benchmark) -> None:
    table = characterize()
    from dcsim.agents.polca import PolcaController

    def run() -> float:
        return RowSimulation(RowConfig(n_servers=60), table).run(PolcaController()).peak_frac

    benchmark.pedantic(run, rounds=2)


def test_bench_characterize(benchmark) -> None:
    benchmark.pedantic(characterize.__wrapped__, kwargs={"sim_s": 150.0}, rounds=1)
