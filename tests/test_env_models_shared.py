"""Cooling-v0 and Placement-v0 call the models of `dcsim/` instead of restating them (issue 11.2).

- the env's power is the output of `dcsim.power` (and follows it when it changes);
- Placement-v0's compute time is `dcsim.workload`'s 6ND step time (and follows it);
- its contention equals max-min rates from the sparse solver on the routed flows;
- the dense fast path in `dcsim.network.flows` gives the sparse solver's rates;
- the two env files hold no model equations or constants.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import dcsim.power
import dcsim.workload
from dcsim.envs.cooling import CoolingEnv
from dcsim.envs.placement import PlacementEnv
from dcsim.hardware import get_profile
from dcsim.network import max_min_rates, route
from dcsim.network.flows import dense_max_min
from dcsim.power import PHASE_ACTIVITY, DevicePowerModel, server_wall_power_w

ENV_DIR = Path(dcsim.power.__file__).parent / "envs"


# ------------------------------------------------------------------ Cooling-v0 power
def test_cooling_rack_power_is_the_power_model() -> None:
    env = CoolingEnv(n_accelerators=200, accelerators_per_rack=16, episode_steps=5)
    env.reset(seed=2)
    prof = get_profile("H100-SXM")
    dev = DevicePowerModel.from_profile(prof)
    host = prof.server.host_power_w.value / prof.server.accelerators
    n = np.array([16.0] * 12 + [8.0])  # 200 = 12 full racks + 8
    np.testing.assert_array_equal(env.acc_per_rack, n)
    # throttles across the clock range, including below the device's lowest clock
    for thr in (1.0, 0.6, np.linspace(0.01, 1.0, env.n_racks)):
        env.throttle = np.broadcast_to(np.asarray(thr, dtype=float), (env.n_racks,))
        env.throttle_min = float(env.throttle.min())  # as the plant's step sets it
        want = server_wall_power_w(
            n * dev.power_w(env.activity[3], env.throttle),
            n * host,
            prof.server.psu_efficiency.value,
        )
        np.testing.assert_allclose(env._rack_power(3), want, rtol=1e-12)
    design = server_wall_power_w(n * prof.tdp_w, n * host, prof.server.psu_efficiency.value)
    assert env.design_it_w == pytest.approx(float(design.sum()), rel=1e-12)


def test_cooling_power_follows_the_power_model(monkeypatch) -> None:
    """If dcsim.power's device law changes, the env's rack power changes with it."""
    env = CoolingEnv(n_accelerators=64, episode_steps=5)
    env.reset(seed=0)
    before = env._rack_power(1).copy()
    orig = DevicePowerModel.power_w
    monkeypatch.setattr(DevicePowerModel, "power_w", lambda self, a, f=1.0: 2.0 * orig(self, a, f))
    prof = get_profile("H100-SXM")
    host = prof.server.host_power_w.value / prof.server.accelerators * 16
    eta = prof.server.psu_efficiency.value
    env.reset(seed=0)  # the full-clock power is precomputed per episode
    after = env._rack_power(1)
    np.testing.assert_allclose(after, 2.0 * before - host / eta, rtol=1e-12)


# ------------------------------------------------------------------ Placement-v0 physics
def _first_step(env: PlacementEnv, rule: int = 0):
    env.reset(seed=4)
    job = env.cluster.head
    _, _, _, _, info = env.step(rule)
    return job, info["metrics"]


def test_placement_compute_time_and_energy_are_the_shared_models() -> None:
    env = PlacementEnv(n_jobs=8)
    job, m = _first_step(env)
    prof = get_profile("H100-SXM")
    # 6 N D FLOPs per iteration on the job's GPUs at MFU 0.4 (Kaplan et al. 2020)
    tc = 6.0 * job.params * 4096.0 * job.gpus / (job.gpus * prof.peak_flops * 0.4)
    assert job.step_time().compute_s == pytest.approx(tc, rel=1e-12)
    comm = m["allreduce_s"]
    exposed = max(0.0, comm - 0.5 * tc)
    assert m["runtime_h"] * 3600 == pytest.approx(job.iterations * (tc + exposed), rel=1e-12)
    dev = DevicePowerModel.from_profile(prof)
    p_busy = float(dev.power_w(PHASE_ACTIVITY["training"]))
    p_comm = float(dev.power_w(PHASE_ACTIVITY["communication"]))
    energy = job.gpus * job.iterations * (tc * p_busy + exposed * p_comm)
    assert m["energy_kwh"] * 3.6e6 == pytest.approx(energy, rel=1e-12)


def test_placement_follows_the_step_time_model(monkeypatch) -> None:
    """Doubling dcsim.workload's FLOPs per step doubles the env's compute time."""
    env = PlacementEnv(n_jobs=8)
    job, _ = _first_step(env)
    base = job.step_time().compute_s
    orig = dcsim.workload.step_flops
    monkeypatch.setattr(dcsim.workload, "step_flops", lambda cfg: 2.0 * orig(cfg))
    assert job.step_time().compute_s == pytest.approx(2.0 * base, rel=1e-12)


def test_placement_follows_the_power_model(monkeypatch) -> None:
    env = PlacementEnv(n_jobs=8, reward_weights={"energy": 1.0})
    _, m0 = _first_step(env)
    # the model's array form and its scalar form (bitwise equal, tests/test_sim_fast.py),
    # which `dcsim.jobs.Job.energies_j` takes
    orig, orig_s = DevicePowerModel.power_w, DevicePowerModel.power_w_scalar
    monkeypatch.setattr(DevicePowerModel, "power_w", lambda self, a, f=1.0: 3.0 * orig(self, a, f))
    monkeypatch.setattr(
        DevicePowerModel, "power_w_scalar", lambda self, a, f: 3.0 * orig_s(self, a, f)
    )
    env = PlacementEnv(n_jobs=8, reward_weights={"energy": 1.0})
    _, m1 = _first_step(env)
    assert m1["energy_kwh"] == pytest.approx(3.0 * m0["energy_kwh"], rel=1e-12)


def _sparse_contention(env: PlacementEnv, src, dst) -> float:
    """Reference: route all flows at once, sparse max-min rates, slowest own flow."""
    fab, c = env.fabric, env.cluster

    def rates(s, d):
        r = route(fab, np.asarray(s), np.asarray(d), np.ones(len(s)), routing=env.routing)
        sub = max_min_rates(r.A, fab.link_cap)
        return np.bincount(r.parent, weights=sub, minlength=len(s))

    if len(src) == 0 or len(c.run_src) == 0:
        return 1.0
    shared = rates(np.r_[c.run_src, src], np.r_[c.run_dst, dst])[len(c.run_src) :].min()
    alone = rates(src, dst).min()
    return max(1.0, alone / shared)


@pytest.mark.parametrize("routing", ["ecmp", "spray"])
def test_placement_contention_equals_sparse_solver(routing: str) -> None:
    env = PlacementEnv(n_jobs=60, routing=routing, load=1.5)
    env.reset(seed=7)
    rng = np.random.default_rng(0)
    seen_contention = False
    done = False
    while not done:
        job = env.cluster.head
        rule = int(rng.integers(3))
        hosts = env.place(rule, job.gpus)
        src, dst = env.jf.ring_crossings(hosts)
        want = _sparse_contention(env, src, dst)
        _, _, _, done, info = env.step(rule)
        assert info["metrics"]["contention"] == pytest.approx(want, rel=1e-9)
        seen_contention |= want > 1.0 + 1e-6
    if routing == "ecmp":  # hash collisions on the 2:1 spine: shared links were exercised
        assert seen_contention


def test_placement_features_read_back_the_cluster_state() -> None:
    from dcsim.envs.contract import physical

    env = PlacementEnv(n_jobs=30, load=1.5)
    obs, _ = env.reset(seed=2)
    for k in range(20):
        c = env.cluster
        free_leaf = env.jf.free_per_leaf(c.free)
        for i in range(env.n_leaves):
            assert physical(obs, env.features, f"leaf{i}_free_gpus") == pytest.approx(free_leaf[i])
        assert physical(obs, env.features, "head_gpus") == pytest.approx(min(c.head.gpus, env.hpl))
        assert physical(obs, env.features, "queue_len") == pytest.approx(min(len(c.queue), 16))
        obs, *_ = env.step(k % 3)


# ------------------------------------------------------------------ dense fast path
@st.composite
def _instances(draw):
    n_l = draw(st.integers(1, 10))
    n_f = draw(st.integers(1, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    mask = rng.random((n_l, n_f)) < draw(st.floats(0.1, 0.9))
    weights = rng.choice([1.0, 0.5, 0.25, 1.0 / 3.0], size=(n_l, n_f))
    cap = rng.uniform(0.5, 10.0, n_l) * 10.0 ** rng.integers(0, 10, n_l)
    return mask * weights, cap


@settings(max_examples=300, deadline=None)
@given(_instances())
def test_dense_max_min_equals_sparse_solver(inst) -> None:
    A, cap = inst
    dense = dense_max_min(A, cap)
    sparse = max_min_rates(sp.csr_matrix(A), cap)
    np.testing.assert_array_equal(np.isinf(dense), np.isinf(sparse))
    fin = np.isfinite(sparse)
    np.testing.assert_allclose(dense[fin], sparse[fin], rtol=1e-9, atol=0)
    # and the rates are max-min fair: feasible, every flow has a saturated bottleneck link
    # on which no flow gets a higher rate
    r = np.where(fin, dense, 0.0)
    load = A @ r
    assert np.all(load <= cap * (1 + 1e-9))
    sat = load >= cap * (1 - 1e-9)
    for f in np.flatnonzero(fin):
        links = np.flatnonzero((A[:, f] > 0) & sat)
        assert any(r[f] >= r[A[link] > 0].max() * (1 - 1e-9) for link in links), f


def test_dense_max_min_known_instance() -> None:
    """Two flows on a 10-unit link, one continuing over a 4-unit link: 4 and 6."""
    A = np.array([[1.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(dense_max_min(A, np.array([10.0, 4.0])), [4.0, 6.0])
    # a sprayed flow (half its rate on each of two 3-unit links) gets 6; a flow on no link, inf
    A = np.array([[0.5, 0.0], [0.5, 0.0]])
    np.testing.assert_array_equal(dense_max_min(A, np.array([3.0, 3.0])), [6.0, np.inf])


# ------------------------------------------------------------------ no model in env files
# equations and constants that belong to dcsim/ (power law, 6ND, AR(1) load, solvers, draws)
FORBIDDEN = {
    r"\*\*\s*self\.alpha|\*\*\s*alpha": "DVFS power law",
    r"\b6(\.0)?\s*\*": "6 N D FLOPs",
    r"lfilter|standard_normal|lognormal|\.exponential\(|\.choice\(": "random load or job draws",
    r"def\s+\w*max_min|progressive filling": "a max-min solver",
    r"\bidle_w\b|\btdp_w\b|\bpsu_efficiency\b|host_power_w": "device/server power constants",
    r"PHASE_ACTIVITY\[": "phase activities",
}


@pytest.mark.parametrize("name", ["cooling.py", "placement.py"])
def test_env_file_holds_no_model(name: str) -> None:
    code = (ENV_DIR / name).read_text()
    found = [what for pat, what in FORBIDDEN.items() if re.search(pat, code)]
    assert not found, f"{name} restates {found}: call the model in dcsim/ instead"
