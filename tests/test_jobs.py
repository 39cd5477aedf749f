"""dcsim.jobs: job arrivals and sizes, step time and energy, placement rules, contention, FIFO."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.errors import InputError
from dcsim.hardware import get_profile
from dcsim.jobs import (
    DEFAULT_SIZES,
    RULES,
    FifoCluster,
    JobFabric,
    JobMixConfig,
    generate_jobs,
    mean_duration_s,
)
from dcsim.network import collective_time, load_topology
from dcsim.network.topology import resolve_topology_path
from dcsim.power import PHASE_ACTIVITY, DevicePowerModel
from dcsim.schema import validate_model

PEAK = get_profile("H100-SXM").peak_flops


@pytest.fixture(scope="module")
def jf() -> JobFabric:
    """The 2:1 oversubscribed leaf-spine: 64 GPUs on 8 leaves of 8."""
    return JobFabric(load_topology(resolve_topology_path("leaf_spine_oversub.yaml")), "ecmp")


# ------------------------------------------------------------------ workload
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"job_sizes": {0: 1.0}}, "jobs.job_sizes"),
        ({"job_sizes": {4: -0.5, 8: 1.0}}, "jobs.job_sizes"),
        ({"job_sizes": {4: 0.0}}, "jobs.job_sizes"),
        ({"load": 0.0}, "jobs.load"),
        ({"mfu": 1.2}, "jobs.mfu"),
        ({"overlap": -0.1}, "jobs.overlap"),
        ({"nope": 1}, "jobs.nope"),
    ],
)
def test_bad_mix_is_input_error(data: dict, field: str) -> None:
    with pytest.raises(InputError) as e:
        validate_model(JobMixConfig, data, prefix="jobs")
    assert (e.value.field or "").startswith(field)


def test_sizes_larger_than_cluster_refused() -> None:
    with pytest.raises(InputError, match="1..16 GPUs") as e:
        generate_jobs(JobMixConfig(), 10, 16, PEAK, np.random.default_rng(0))
    assert e.value.field == "job_sizes"
    with pytest.raises(InputError) as e:
        generate_jobs(JobMixConfig(), 0, 64, PEAK, np.random.default_rng(0))
    assert e.value.field == "n_jobs"
    with pytest.raises(InputError) as e:
        validate_model(JobMixConfig, {"params_min": 2e10}, prefix="jobs")
    assert (e.value.field or "").startswith("jobs")  # model-level check


def test_generator_is_seeded_and_sorted() -> None:
    cfg = JobMixConfig()
    a = generate_jobs(cfg, 50, 64, PEAK, np.random.default_rng(1))
    b = generate_jobs(cfg, 50, 64, PEAK, np.random.default_rng(1))
    c = generate_jobs(cfg, 50, 64, PEAK, np.random.default_rng(2))
    assert [(j.gpus, j.params, j.iterations, j.arrival_s) for j in a] == [
        (j.gpus, j.params, j.iterations, j.arrival_s) for j in b
    ]
    assert [j.arrival_s for j in a] != [j.arrival_s for j in c]
    arr = np.array([j.arrival_s for j in a])
    assert np.all(np.diff(arr) > 0) and arr[0] > 0
    assert [j.id for j in a] == list(range(50))


def test_size_mix_model_grid_and_offered_load() -> None:
    """Sizes follow job_sizes; models on the 0.1 B grid; offered GPU-time / capacity ~ load."""
    cfg = JobMixConfig(load=0.7)
    n, gpus = 6000, 64
    jobs = generate_jobs(cfg, n, gpus, PEAK, np.random.default_rng(5))
    g = np.array([j.gpus for j in jobs])
    for size, p in DEFAULT_SIZES.items():
        assert np.mean(g == size) == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n))
    params = np.array([j.params for j in jobs])
    np.testing.assert_allclose(params / 1e8, np.round(params / 1e8), atol=1e-9)
    assert params.min() >= 2e8 and params.max() <= 1.31e10
    work = sum(j.gpus * j.iterations * j.step_time().compute_s for j in jobs)
    span = jobs[-1].arrival_s
    assert work / (gpus * span) == pytest.approx(0.7, rel=0.05)  # Poisson: sd ~ 1/sqrt(n)
    iters = np.array([j.iterations for j in jobs])
    assert np.median(iters) == pytest.approx(2000, rel=0.08)  # log-normal median


def test_step_time_is_6nd_and_energy_is_the_power_model() -> None:
    cfg = JobMixConfig(mfu=0.5, overlap=0.25, tokens_per_gpu=2048.0)
    job = generate_jobs(cfg, 3, 64, PEAK, np.random.default_rng(0))[0]
    tc = 6.0 * job.params * 2048.0 / (PEAK * 0.5)  # per GPU: 6 N D / (peak * MFU)
    assert job.step_time().compute_s == pytest.approx(tc, rel=1e-12)
    assert job.grad_bytes == 2.0 * job.params  # BF16 gradients, no tensor parallelism
    for comm in (0.0, 0.1 * tc, 0.25 * tc, 2.0 * tc):
        runtime, st_ = job.runtime_s(comm)
        exposed = max(0.0, comm - 0.25 * tc)
        assert st_.exposed_comm_s == pytest.approx(exposed, abs=1e-15)
        assert runtime == pytest.approx(job.iterations * (tc + exposed), rel=1e-12)
        dev = DevicePowerModel.from_profile(get_profile("H100-SXM"))
        p_c = float(dev.power_w(PHASE_ACTIVITY["training"]))
        p_x = float(dev.power_w(PHASE_ACTIVITY["communication"]))
        e = job.gpus * job.iterations * (tc * p_c + exposed * p_x)
        assert job.energy_j(st_, dev) == pytest.approx(e, rel=1e-12)
    jobs = generate_jobs(cfg, 20, 64, PEAK, np.random.default_rng(0))
    assert mean_duration_s(jobs) == pytest.approx(
        np.mean([j.iterations * j.step_time().compute_s for j in jobs])
    )


# ------------------------------------------------------------------ fabric and placement
def test_fabric_shape(jf: JobFabric) -> None:
    assert (jf.n_hosts, jf.n_leaves, jf.hosts_per_leaf) == (64, 8, 8)
    np.testing.assert_array_equal(jf.uplinks, 4)  # 2:1 oversubscribed: 8 down, 4 up
    np.testing.assert_array_equal(jf.host_leaf, np.repeat(np.arange(8), 8))


def test_rules_place_where_they_say(jf: JobFabric) -> None:
    free = np.ones(64, dtype=bool)
    assert len(np.unique(jf.host_leaf[jf.place("pack", 8, free)])) == 1
    assert len(np.unique(jf.host_leaf[jf.place("spread", 8, free)])) == 8
    np.testing.assert_array_equal(jf.place("first-fit", 5, free), np.arange(5))
    free[:4] = False  # leaf 0 half full: best fit puts a 4-GPU job there
    assert set(jf.host_leaf[jf.place("pack", 4, free)]) == {0}
    with pytest.raises(InputError, match="unknown placement rule"):
        jf.place("random", 2, free)
    with pytest.raises(InputError, match="free"):
        jf.place("pack", 61, free)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    busy=st.floats(0, 0.9),
    rule=st.sampled_from(RULES),
    data=st.data(),
)
def test_placement_uses_exactly_g_free_hosts(jf: JobFabric, seed, busy, rule, data) -> None:
    rng = np.random.default_rng(seed)
    free = rng.random(64) >= busy
    if not free.any():
        return
    g = data.draw(st.integers(1, int(free.sum())))
    hosts = jf.place(rule, g, free)
    assert len(hosts) == g == len(np.unique(hosts))
    assert free[hosts].all() and np.all(np.diff(hosts) > 0)
    fpl = jf.free_per_leaf(free)
    used = len(np.unique(jf.host_leaf[hosts]))
    if rule == "pack":  # fewest leaves possible
        need = int(np.searchsorted(np.cumsum(np.sort(fpl)[::-1]), g)) + 1
        assert used == need
    if rule == "spread":  # as many leaves as possible
        assert used == min(g, int(np.sum(fpl > 0)))


def test_ring_crossings_count_leaf_boundaries(jf: JobFabric) -> None:
    src, dst = jf.ring_crossings(np.arange(8))
    assert len(src) == 0  # one leaf: ring stays inside
    hosts = np.array([0, 1, 8, 9, 17])  # leaves 0, 1, 2
    src, dst = jf.ring_crossings(hosts)
    np.testing.assert_array_equal(src, [1, 9, 17])
    np.testing.assert_array_equal(dst, [8, 17, 0])
    assert len(jf.ring_crossings(np.array([3]))[0]) == 0


def test_allreduce_alone_is_collective_time_and_linear(jf: JobFabric) -> None:
    ranks = np.array([0, 1, 8, 9, 17])
    for n in (1e8, 3e9):
        ref = collective_time(jf.fabric, "all-reduce", "ring", n, "ecmp", ranks=ranks).time_s
        assert jf.allreduce_alone_s(ranks, n) == pytest.approx(ref, rel=1e-9)
    assert jf.packed_allreduce_s(1, 1e9) == 0.0
    assert jf.packed_allreduce_s(8, 1e9) == pytest.approx(jf.allreduce_alone_s(np.arange(8), 1e9))


def test_contention_closed_form(jf: JobFabric) -> None:
    """One crossing flow per leaf pair on 400G links: alone 1, the 2:1 spine shares."""
    none = np.zeros(0, np.int64)
    src, dst = jf.ring_crossings(np.array([0, 8]))
    assert jf.contention(none, none, src, dst) == 1.0
    assert jf.contention(src, dst, none, none) == 1.0
    # a second job's ring flows leave leaf 0 and enter leaf 1 the same way: with its 4
    # uplinks, ECMP may or may not put them on the same spine; contention is 1 or 2.
    s2, d2 = jf.ring_crossings(np.array([1, 9]))
    c = jf.contention(src, dst, s2, d2)
    assert c == pytest.approx(1.0) or c == pytest.approx(2.0)
    # spray: 8 flows leaf 0 -> leaf 1 share its 4 x 400G uplinks (2:1 under 8 x 400G NICs)
    spray = JobFabric(jf.fabric, "spray")
    c = spray.contention(np.arange(1, 8), np.arange(9, 16), np.array([0]), np.array([8]))
    assert c == pytest.approx(2.0, rel=1e-9)  # alone 400G (its NIC), shared 1600G / 8
    c = spray.contention(np.arange(1, 4), np.arange(9, 12), np.array([0]), np.array([8]))
    assert c == pytest.approx(1.0, rel=1e-9)  # 4 flows fit the uplinks at NIC rate


def test_fragmentation(jf: JobFabric) -> None:
    free = np.ones(64, dtype=bool)
    assert jf.fragmentation(free) == 0.0
    assert jf.fragmentation(np.zeros(64, dtype=bool)) == 0.0
    free = np.zeros(64, dtype=bool)
    free[[0, 8, 16, 24]] = True  # 4 free GPUs, one per leaf: best block 1 of min(4, 8)
    assert jf.fragmentation(free) == pytest.approx(0.75)


# ------------------------------------------------------------------ FIFO scheduling
def test_fifo_cluster_runs_every_job_in_order(jf: JobFabric) -> None:
    jobs = generate_jobs(JobMixConfig(load=1.5), 80, 64, PEAK, np.random.default_rng(3))
    c = FifoCluster(jf, jobs)
    c.advance()
    starts = []
    busy_until = np.zeros(64)
    while c.head is not None:
        job = c.head
        assert job.gpus <= c.free.sum()
        assert c.now >= job.arrival_s
        hosts = jf.place("pack", job.gpus, c.free)
        runtime, _ = job.runtime_s(0.0)
        assert np.all(busy_until[hosts] <= c.now + 1e-9)  # no GPU runs two jobs at once
        busy_until[hosts] = c.now + runtime
        started, src, _ = c.start_head(hosts, runtime)
        assert started is job and len(c.run_src) >= len(src)
        busy = sum(len(h) for _, _, h, _, _ in c.running)
        assert busy + int(c.free.sum()) == 64  # GPUs conserved
        starts.append((job.id, c.now))
        c.advance()
    assert [s[0] for s in starts] == list(range(80))  # FIFO: start order = arrival order
    assert np.all(np.diff([s[1] for s in starts]) >= 0)
