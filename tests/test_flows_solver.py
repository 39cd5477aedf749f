"""The event-driven water-filling solver, the event loop and their compiled small-fabric
kernels (numba, when installed) against the classic one-pass-per-level progressive filling (tests/reference_maxmin.py, dcsim's solver before issue 17):
same rates and finish times to 1e-12 on random incidence matrices (ties, zero capacities,
flows on no link, split-path weights) and on routed preset fabrics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_maxmin import reference_max_min_rates, reference_run_flows

import dcsim.jit as jit
import dcsim.network.flows as flows
from dcsim.errors import InputError
from dcsim.network import load_topology, max_min_rates, route, run_flows
from dcsim.network.patterns import inter_tor_permutation, shuffled_ring
from dcsim.network.topology import TOPOLOGY_DIR

RTOL = 1e-12
# weights a split flow puts on a link (1/P of P paths, a stripe over ports) and capacities
# with many exact ties (small integers) plus zero-capacity links
WEIGHTS = [1.0, 1.0, 1.0, 0.5, 0.25, 1 / 3, 0.7]
CAPS = [0.0, 1.0, 2.0, 3.0, 4.0, 10.0, 0.5, 7.3, 1e3]


def assert_same(new: np.ndarray, ref: np.ndarray) -> None:
    """Equal to 1e-12 relative (absolute 1e-12 of the largest finite value where a link's
    residual cancels to rounding noise); inf (a flow on no link) at the same places."""
    assert new.shape == ref.shape
    np.testing.assert_array_equal(np.isinf(new), np.isinf(ref))
    fin = np.isfinite(ref)
    scale = float(np.abs(ref[fin]).max()) if fin.any() else 0.0
    np.testing.assert_allclose(new[fin], ref[fin], rtol=RTOL, atol=RTOL * scale)


# (first candidate batch, pool) of the NumPy solver: the defaults, and tiny ones so that
# small problems run the partial-candidate paths (pool selection, row gathers, runs cut by
# stale links); (0, 0): the compiled kernel small fabrics take when numba is installed
BATCHES = [(flows._FIRST_BATCH, flows._POOL), (1, 2), (2, 8), (0, 0)]


@contextmanager
def batches(first: int, pool: int) -> Iterator[None]:
    old = flows._FIRST_BATCH, flows._POOL, jit._NUMBA
    if first:  # the NumPy solver, numba switched off
        flows._FIRST_BATCH, flows._POOL, jit._NUMBA = first, pool, False
    try:
        yield
    finally:
        flows._FIRST_BATCH, flows._POOL, jit._NUMBA = old


@st.composite
def problems(draw):
    """Random links x flows incidence with tied weights and capacities, and an active set."""
    n_l = draw(st.integers(1, 12))
    n_f = draw(st.integers(0, 16))
    dens = draw(st.sampled_from([0.15, 0.3, 0.6]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    mask = rng.random((n_l, n_f)) < dens
    wts = np.array(WEIGHTS)[rng.integers(0, len(WEIGHTS), (n_l, n_f))]
    if draw(st.booleans()):  # continuous weights too
        wts = np.where(rng.random((n_l, n_f)) < 0.5, wts, rng.uniform(0.05, 1.0, (n_l, n_f)))
    A = np.where(mask, wts, 0.0)
    cap = np.array(CAPS)[rng.integers(0, len(CAPS), n_l)]
    if draw(st.booleans()):
        cap = np.where(rng.random(n_l) < 0.5, cap, rng.uniform(0.1, 100.0, n_l))
    active = rng.random(n_f) < draw(st.sampled_from([0.5, 1.0]))
    return A, cap, active


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_rates_equal_reference_on_random_incidence(prob) -> None:
    A, cap, active = prob
    As = sp.csr_matrix(A)
    ref_all = reference_max_min_rates(As, cap)
    ref_act = reference_max_min_rates(As, cap, active)
    for first, pool in BATCHES:
        with batches(first, pool):
            assert_same(max_min_rates(As, cap), ref_all)
            assert_same(max_min_rates(As, cap, active), ref_act)


def test_known_cases_ties_zero_capacity_no_link_and_inactive() -> None:
    # link 0 (cap 2) carries flows 0, 1; link 1 (cap 0) carries flow 2; flow 3 crosses none;
    # link 2 (cap 3) carries flows 0 (weight 1/2) and 4: two levels, a zero level, inf
    A = sp.csr_matrix(
        np.array(
            [
                [1.0, 1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 0.0, 0.0],
                [0.5, 0.0, 0.0, 0.0, 1.0],
            ]
        )
    )
    cap = np.array([2.0, 0.0, 3.0])
    np.testing.assert_array_equal(max_min_rates(A, cap), [1.0, 1.0, 0.0, np.inf, 2.5])
    act = np.array([True, False, True, True, True])
    np.testing.assert_array_equal(max_min_rates(A, cap, act), [2.0, 0.0, 0.0, np.inf, 2.0])


def test_weight_lost_to_cancellation_is_summed_again() -> None:
    """Flow 1 puts 1e-20 of its rate on link 0: once flow 0 freezes, 1 - 1 leaves link 0
    with no weight by subtraction; the solver re-sums it (else flow 1 never froze)."""
    A = sp.csr_matrix(np.array([[1.0, 1e-20], [1.0, 0.0]]))
    cap = np.array([1.0, 0.5])
    assert_same(max_min_rates(A, cap), reference_max_min_rates(A, cap))
    np.testing.assert_allclose(max_min_rates(A, cap), [0.5, 0.5e20], rtol=RTOL)


def _routed(preset: str, routing: str, pattern: str, seed: int):
    fab = load_topology(TOPOLOGY_DIR / f"{preset}.yaml")
    rng = np.random.default_rng(seed)
    if pattern == "perm":
        src, dst = inter_tor_permutation(fab, rng)
    else:
        src, dst = shuffled_ring(fab, rng)
    size = rng.choice([1e6, 2e6, 4e6], len(src)) if seed % 2 else np.full(len(src), 1e6)
    return fab, route(fab, src, dst, size, routing=routing, seed=seed)


PRESET_CASES = [
    (preset, routing, pattern, seed)
    for preset, pattern in [
        ("leaf_spine_small", "perm"),
        ("leaf_spine_256_oversub2", "perm"),
        ("fat_tree_k8", "ring"),
        ("rail_optimized", "ring"),
        ("ub_cloudmatrix384", "ring"),
    ]
    for routing in ["ecmp", "ecmp:2", "ecmp:4", "spray", "split:2"]
    for seed in (0, 1)
    # the reference event loop needs ~20 s here (one full solve per completion)
    if (preset, routing, seed) != ("ub_cloudmatrix384", "ecmp:4", 1)
]


@pytest.mark.parametrize("preset,routing,pattern,seed", PRESET_CASES)
def test_rates_and_finish_times_equal_reference_on_preset_fabrics(preset, routing, pattern, seed):
    fab, r = _routed(preset, routing, pattern, seed)
    ref = reference_max_min_rates(r.A, fab.link_cap)
    for first, pool in BATCHES:
        with batches(first, pool):
            assert_same(max_min_rates(r.A, fab.link_cap), ref)
    finish, link_bytes, events = reference_run_flows(r.A, fab.link_cap, r.size)
    for first, pool in (BATCHES[0], BATCHES[-1]):  # the NumPy loop, the compiled one
        with batches(first, pool):
            run = run_flows(r.A, fab.link_cap, r.size)
        assert_same(run.finish_s, finish)
        np.testing.assert_array_equal(run.link_bytes, link_bytes)
        assert run.n_events == events
        assert 1 <= run.n_rate_solves <= run.n_events


@st.composite
def flow_sets(draw):
    A, cap, _ = draw(problems())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cap = np.where(cap > 0, cap, 1.0)  # every flow must progress (zero capacity raises)
    n_f = A.shape[1]
    size = np.array([0.0, 1.0, 1.0, 1.0, 2.0, 5.0, 0.3])[rng.integers(0, 7, n_f)]
    if draw(st.booleans()):
        size = rng.uniform(0.1, 10.0, n_f)
    return A, cap, size


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_sets())
def test_finish_times_equal_reference_event_loop(prob) -> None:
    A, cap, size = prob
    As = sp.csr_matrix(A)
    finish, link_bytes, events = reference_run_flows(As, cap, size)
    for first, pool in BATCHES:
        with batches(first, pool):
            run = run_flows(As, cap, size)
        assert_same(run.finish_s, finish)
        np.testing.assert_allclose(run.link_bytes, link_bytes, rtol=RTOL)
        assert run.n_events == events
        assert run.n_rate_solves <= max(events, 1)


@pytest.mark.parametrize("routing", ["ecmp", "ecmp:2", "ecmp:4"])
def test_equal_size_phase_is_solved_once(routing) -> None:
    """Equal-size flows with unequal max-min rates (ECMP collisions) finish at several
    instants, but the fastest finish first and cross no link of a slower flow's
    bottleneck level, so one solve gives every finish time."""
    fab = load_topology(TOPOLOGY_DIR / "leaf_spine_256_oversub2.yaml")
    src, dst = inter_tor_permutation(fab, np.random.default_rng(3))
    r = route(fab, src, dst, np.full(len(src), 1e8), routing=routing)
    finish, _, events = reference_run_flows(r.A, fab.link_cap, r.size)
    assert events > 1  # collisions: several completion instants
    for first, pool in (BATCHES[0], BATCHES[-1]):  # the NumPy loop, the compiled one
        with batches(first, pool):
            run = run_flows(r.A, fab.link_cap, r.size)
        assert run.n_events == events
        assert run.n_rate_solves == 1
        assert_same(run.finish_s, finish)


def test_zero_capacity_path_cannot_progress() -> None:
    A = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(RuntimeError, match="zero capacity"):
        run_flows(A, np.array([1.0, 0.0]), np.array([1.0, 1.0]))


@pytest.mark.parametrize(
    "cap,A,field",
    [
        (np.array([1.0, -1.0]), np.eye(2), "cap"),
        (np.array([1.0, np.inf]), np.eye(2), "cap"),
        (np.array([1.0]), np.eye(2), "cap"),
        (np.array([1.0, 1.0]), -np.eye(2), "A"),
    ],
)
def test_bad_capacities_and_weights_name_the_field(cap, A, field) -> None:
    with pytest.raises(InputError) as exc:
        max_min_rates(sp.csr_matrix(A), cap)
    assert exc.value.field == field
