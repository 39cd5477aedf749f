"""The compiled network kernels (issue 17.3, `dcsim.jit`) against the NumPy paths
and the reference: the same incidence from `route_columns` as from `route`, the same routes
with and without numba, rates and finish times of the compiled event loop equal to the
classic solver (tests/reference_maxmin.py) to 1e-12, and the same FlowSplit-v0 episodes.
Without numba installed the interpreted kernels are checked and the compiled halves skip."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_maxmin import reference_max_min_rates, reference_run_flows
from test_flows_solver import assert_same, flow_sets, problems

import dcsim.jit as jit
import dcsim.network.flows as flows
import dcsim.network.routing as routing_mod
from dcsim.envs.flow_split import FlowSplitEnv
from dcsim.errors import InputError
from dcsim.network import load_topology, patterns, route, run_flows
from dcsim.network.patterns import inter_tor_permutation, tor_demand
from dcsim.network.routing import Columns, route_columns, routed_columns
from dcsim.network.topology import TOPOLOGY_DIR, FailureConfig

HAVE_NUMBA = bool(jit.numba_module())
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")


@contextmanager
def numpy_only() -> Iterator[None]:
    """Run with numba switched off: every caller takes its NumPy path."""
    old = jit._NUMBA
    jit._NUMBA = False
    try:
        yield
    finally:
        jit._NUMBA = old


def _fabrics():
    for preset in ("leaf_spine_small", "leaf_spine_256_oversub2", "fat_tree_k8", "rail_optimized"):
        fab = load_topology(TOPOLOGY_DIR / f"{preset}.yaml")
        yield preset, fab
    base = load_topology(TOPOLOGY_DIR / "leaf_spine_small.yaml")
    cfg = base.config.model_copy(update={"failures": FailureConfig(fraction=0.1, seed=3)})
    yield "leaf_spine_small-failed", load_topology(cfg)  # path shapes differ per ToR pair


FABRICS = list(_fabrics())
ROUTINGS = ["ecmp", "ecmp:3", "spray", "split:1", "split:3", "colour", "colour:2"]


@pytest.mark.parametrize("name,fab", FABRICS, ids=[n for n, _ in FABRICS])
def test_route_columns_is_the_route_incidence(name, fab) -> None:
    """Same CSC arrays, parents and sizes as `route` (canonical), flows to themselves and
    repeated pairs included, with and without numba; `routed_columns` (a collective step's
    scipy-free route) also keeps `route`'s subflow order and gives its path latencies."""
    rng = np.random.default_rng(0)
    for trial in range(3):
        m = int(rng.integers(1, 120))
        src = rng.integers(0, fab.n_hosts, m)
        dst = rng.integers(0, fab.n_hosts, m)
        dst[: m // 4] = src[: m // 4]
        size = rng.uniform(1e5, 1e8, m)
        for routing in ROUTINGS:
            r = route(fab, src, dst, size, routing, seed=trial)
            A = r.A.tocsc()
            A.sort_indices()
            for mode in ("compiled", "numpy"):
                with numpy_only() if mode == "numpy" else _nothing():
                    c = route_columns(fab, src, dst, size, routing, seed=trial)
                    in_order, lat = routed_columns(fab, src, dst, size, routing, seed=trial)
                np.testing.assert_array_equal(lat, r.latency_s)
                for got in (c, in_order):
                    for have, want in [
                        (got.indptr, A.indptr),
                        (got.indices, A.indices),
                        (got.data, A.data),
                        (got.parent, r.parent),
                        (got.size, r.size),
                    ]:
                        np.testing.assert_array_equal(have, want, err_msg=f"{routing} {mode}")


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@pytest.mark.parametrize("bad", [-1, 64])
@pytest.mark.parametrize("routing", ["ecmp", "ecmp:2", "split:2", "colour"])
def test_route_columns_refuses_hosts_out_of_range(bad, routing) -> None:
    """A host index out of range is an InputError (the compiled kernels check it before
    they index with it), with numba on and off, also on a fabric whose path memo is still
    empty (the first call enumerates the missing pairs)."""
    fab = load_topology(TOPOLOGY_DIR / f"{FABRICS[0][0]}.yaml")  # its own, memo empty
    src, dst = np.array([0, 1, 2]), np.array([5, bad, 9])
    for mode in ("compiled", "numpy"):
        with numpy_only() if mode == "numpy" else _nothing():
            with pytest.raises(InputError, match="out of range"):
                route_columns(fab, src, dst, np.ones(3), routing)
            with pytest.raises(InputError, match="out of range"):
                route_columns(fab, dst, src, np.ones(3), routing)


@needs_numba
@pytest.mark.parametrize("name,fab", [FABRICS[0], FABRICS[-1]], ids=[FABRICS[0][0], FABRICS[-1][0]])
def test_interpreted_route_kernels_give_the_compiled_columns(name, fab, monkeypatch) -> None:
    """`route_columns` with every kernel run as Python (a cold start, `Kernel.runner`) gives
    the compiled kernels' arrays: the fused split/colour pass (`_stub_kernel`) included."""
    rng = np.random.default_rng(4)
    src = rng.integers(0, fab.n_hosts, 60)
    dst = rng.integers(0, fab.n_hosts, 60)
    dst[:10] = src[:10]
    size = rng.uniform(1e5, 1e8, 60)
    assert routing_mod._STUB.compiled() is not None
    compiled = {r: route_columns(fab, src, dst, size, r, seed=1) for r in ROUTINGS}
    monkeypatch.setattr(jit, "_cold_spent", 0.0)
    monkeypatch.setattr(jit.Kernel, "runner", lambda self, work: self._timed_py)
    for routing, want in compiled.items():
        got = route_columns(fab, src, dst, size, routing, seed=1)
        for field in ("indptr", "indices", "data", "parent", "size"):
            np.testing.assert_array_equal(
                getattr(got, field), getattr(want, field), err_msg=f"{routing} {field}"
            )


@needs_numba
@pytest.mark.parametrize("name,fab", FABRICS, ids=[n for n, _ in FABRICS])
def test_collective_step_without_scipy_equals_route_and_run_flows(name, fab, monkeypatch) -> None:
    """`_solve_step` on CSC arrays (numba on) gives the scipy route's times and link bytes
    bit for bit (the collective timing behind Datacenter-v0 and CoDesign-v0 start-up)."""
    from dcsim.network import collectives

    ranks = np.random.default_rng(5).permutation(fab.n_hosts)[: min(32, fab.n_hosts)]
    for routing in ("ecmp", "spray", "split:2", "colour"):
        kw = dict(size_bytes=64e6, routing=routing, ranks=ranks)
        fast = collectives.collective_time(fab, "all-reduce", "ring", **kw)
        monkeypatch.setattr(collectives, "jit_enabled", lambda: False)
        slow = collectives.collective_time(fab, "all-reduce", "ring", **kw)
        monkeypatch.undo()
        assert fast.time_s == slow.time_s and fast.latency_s == slow.latency_s, routing
        np.testing.assert_array_equal(fast.link_load, slow.link_load)


@needs_numba
@pytest.mark.parametrize("name,fab", FABRICS, ids=[n for n, _ in FABRICS])
def test_compiled_split_and_colouring_route_as_the_numpy_path(name, fab) -> None:
    rng = np.random.default_rng(1)
    src = rng.integers(0, fab.n_hosts, 150)
    dst = rng.integers(0, fab.n_hosts, 150)
    size = rng.uniform(1e5, 1e8, 150)
    for routing in ("split:1", "split:4", "colour", "colour:3"):
        fast = route(fab, src, dst, size, routing, seed=2)
        with numpy_only():
            slow = route(fab, src, dst, size, routing, seed=2)
        assert (fast.A != slow.A).nnz == 0
        for a, b in [(fast.parent, slow.parent), (fast.size, slow.size)]:
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(fast.latency_s, slow.latency_s)


@needs_numba
@pytest.mark.parametrize("preset", ["leaf_spine_small", "leaf_spine_256_oversub2"])
def test_compiled_inter_tor_permutation_draws_as_numpy(preset, monkeypatch) -> None:
    """The compiled inter-ToR permutation (numba's Generator.permutation on the same bit
    generator) gives the NumPy path's hosts and leaves the generator in the same state
    (its buffered 32-bit half included); interpreted too."""
    fab = load_topology(TOPOLOGY_DIR / f"{preset}.yaml")
    kern = patterns._TOR_PERMUTATION
    assert kern.runner(fab.n_hosts) is kern.compiled() is not None  # the path taken

    def draw(seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
        rng = np.random.default_rng(seed)
        rng.integers(5)  # a 32-bit half left in the buffer, as the env's earlier draws do
        src, dst = inter_tor_permutation(fab, rng)
        return src, dst, rng.bit_generator.state

    for seed in range(10):
        want = draw(seed)
        with numpy_only():
            runs = [draw(seed)]
        with monkeypatch.context() as m:
            m.setattr(jit, "_cold_spent", 0.0)
            m.setattr(jit.Kernel, "runner", lambda self, work: self._timed_py)
            runs.append(draw(seed))
        for got in runs:
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
            assert got[2] == want[2]


@needs_numba
def test_compiled_tor_demand_counts_as_numpy(monkeypatch) -> None:
    """`tor_demand` (FlowSplit-v0's ToR-pair and uplink loads) compiled, interpreted and on
    the NumPy path: the same counts and the same busiest pair (the first of equals)."""
    assert patterns._TOR_DEMAND.compiled() is not None
    rng = np.random.default_rng(6)
    tor = np.repeat(np.arange(8), 8)
    cases = [(np.arange(8), np.arange(8)[::-1] % 8)]  # all inside ToR 0: zeros
    for m in (1, 2, 7, 64, 240):
        cases.append((rng.integers(0, 64, m), rng.integers(0, 64, m)))
    for src, dst in cases:
        want = tor_demand(tor, 8, src, dst)
        with numpy_only():
            assert tor_demand(tor, 8, src, dst) == want
        assert patterns._TOR_DEMAND.py(tor, 8, src, dst) == want


def _kernel_rates(A, cap, active=None) -> np.ndarray:
    """The progressive-filling kernel, interpreted (no numba needed)."""
    csc = sp.csc_matrix(A)
    csc.sort_indices()
    act = np.ones(A.shape[1], dtype=bool) if active is None else active
    return flows._FILL_RATES.py(
        csc.indptr.astype(np.int64), csc.indices.astype(np.int64), csc.data, cap, act
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_interpreted_kernel_rates_equal_reference(prob) -> None:
    A, cap, active = prob
    As = sp.csr_matrix(A)
    assert_same(_kernel_rates(As, cap), reference_max_min_rates(As, cap))
    assert_same(_kernel_rates(As, cap, active), reference_max_min_rates(As, cap, active))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_sets())
def test_interpreted_event_loop_equals_reference(prob) -> None:
    A, cap, size = prob
    csc = sp.csc_matrix(A)
    csc.sort_indices()
    finish, _, link_bytes, events, solves, ok = flows._RUN.py(
        csc.indptr.astype(np.int64),
        csc.indices.astype(np.int64),
        csc.data,
        cap,
        size,
        np.zeros(len(size), dtype=bool),
        False,
        len(size),
    )
    ref, ref_bytes, ref_events = reference_run_flows(sp.csr_matrix(A), cap, size)
    assert ok
    assert_same(finish, ref)
    np.testing.assert_allclose(link_bytes, ref_bytes, rtol=1e-12)
    assert events == ref_events and solves <= max(events, 1)


@needs_numba
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_sets())
def test_compiled_run_flows_with_until_equals_the_numpy_loop(prob) -> None:
    """A watched subset (a collective among background flows): same finish times,
    bytes left, events and link bytes as the NumPy event loop."""
    A, cap, size = prob
    As = sp.csr_matrix(A)
    until = np.arange(len(size)) % 2 == 0
    fast = run_flows(As, cap, size, until=until)
    with numpy_only():
        slow = run_flows(As, cap, size, until=until)
    assert_same(fast.finish_s, slow.finish_s)
    assert fast.remaining is not None and slow.remaining is not None
    np.testing.assert_allclose(
        fast.remaining, slow.remaining, rtol=1e-9, atol=1e-9 * size.max(initial=0)
    )
    np.testing.assert_allclose(fast.link_bytes, slow.link_bytes, rtol=1e-9)
    assert fast.n_events == slow.n_events


@needs_numba
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_sets(), st.integers(0, 8))
def test_run_beside_is_run_columns_on_the_joined_columns(prob, n_first) -> None:
    """`run_beside` (a collective next to background flows, one compiled call) gives bit for
    bit what `run_columns` gives on the joined columns watching the first flows; the
    kernel interpreted too."""
    A, cap, size = prob
    csc = sp.csc_matrix(A)
    csc.sort_indices()
    ip, ii, dd = csc.indptr.astype(np.int64), csc.indices.astype(np.int64), csc.data
    n = min(n_first, len(size))
    cut = ip[n]
    first = Columns(ip[: n + 1], ii[:cut], dd[:cut], np.arange(n), size[:n])
    rest = Columns(ip[n:] - cut, ii[cut:], dd[cut:], np.arange(len(size) - n), size[n:])
    run = flows.run_columns(ip, ii, dd, cap, size, until=np.arange(len(size)) < n, bytes_of=n)
    assert run.remaining is not None
    t = float(run.finish_s[:n].max()) if n else 0.0
    want = (t, run.link_bytes, run.remaining[n:], run.n_events)
    got = flows.run_beside(first, size[:n], rest, size[n:], cap)
    interpreted = flows._BESIDE.py(
        first.indptr, first.indices, first.data, size[:n],
        rest.indptr, rest.indices, rest.data, size[n:], cap,
    )  # fmt: skip
    for have in (got, interpreted[:4]):
        assert have[0] == want[0] and have[3] == want[3]
        np.testing.assert_array_equal(have[1], want[1])
        np.testing.assert_array_equal(have[2], want[2])


@needs_numba
def test_flow_split_episode_is_the_same_with_and_without_numba() -> None:
    """An episode of random actions (every policy and split, background traffic, failures):
    rewards, metrics and observations as with the NumPy paths (relative 1e-9)."""

    def episode() -> tuple[list[float], list[np.ndarray], list[float]]:
        env = FlowSplitEnv(episode_steps=40)
        obs, _ = env.reset(seed=11)
        acts = np.random.default_rng(3).integers(0, 4, (40, 2))
        rewards, obss, times = [], [obs], []
        for a in acts:
            obs, r, _, _, info = env.step(a)
            rewards.append(r)
            obss.append(obs)
            times.append(info["metrics"]["time_s"])
        return rewards, obss, times

    fast = episode()
    with numpy_only():
        slow = episode()
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-9)
    np.testing.assert_allclose(np.stack(fast[1]), np.stack(slow[1]), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(fast[2], slow[2], rtol=1e-9)
