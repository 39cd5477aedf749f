"""The multi-tenant engine (dcsim.tenancy): coupling across layers, tank balance, grid data,
shared-fabric contention, job traces and the POLCA budget brake."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.climate import WeatherSample
from dcsim.errors import InputError
from dcsim.tenancy import (
    ChilledWaterTank,
    Decisions,
    Engine,
    EngineConfig,
    GridSignal,
    JobSpec,
    TankConfig,
    Tenant,
    load_job_trace,
)
from dcsim.tenancy.grid import PRICE_MEAN_USD_PER_MWH, REGIONS, UTC_OFFSET_H, carbon_table

W = WeatherSample(25.0, 18.0, 0.5)


def job(n: int, tokens: float = 4096.0, params: float = 1e10, arrival: float = 0.0) -> JobSpec:
    return JobSpec(
        arrival_s=arrival,
        accelerators=n,
        model_params=params,
        iterations=10**6,
        tokens_per_accelerator=tokens,
    )


def engine(specs: list[JobSpec], **cfg) -> Engine:
    c = EngineConfig(racks=8, accelerators_per_rack=16, inference={"servers": 0}, **cfg)
    e = Engine(c, specs, np.zeros(0), 300.0)
    e.reset_plant(W, 0.0)
    return e


# ------------------------------------------------------------------ coupling (issue 13.5)
def test_moving_a_job_across_the_spine_raises_exposed_comm_and_lowers_power():
    """Same job, same background: on one leaf vs split over two leaves of a 4:1 fabric."""
    out = {}
    for where, hosts in (("leaf", np.arange(16)), ("spine", np.r_[96:104, 112:120])):
        e = engine([job(16), job(32), job(32)], oversubscription=4.0)
        e.start_on(1, np.r_[16:24, 32:40, 48:56, 64:72])  # background crossing the spine
        e.start_on(2, np.r_[24:32, 40:48, 56:64, 72:80])
        e.start_on(0, hosts)
        e.ensure_solved()
        j = e.jobs[0]
        out[where] = (j.step().exposed_comm_s, e.accelerator_w(j, 1.0))
    assert out["spine"][0] > out["leaf"][0] * 1.5
    assert out["spine"][1] < out["leaf"][1]


def test_row_end_racks_raise_the_hottest_inlet_more_than_mid_row():
    hottest = {}
    for rack in (0, 4):  # row end (most recirculation) vs middle of the row
        e = engine([job(16, tokens=65536, params=1e9)])
        e.start_on(0, np.arange(16 * rack, 16 * rack + 16))
        for _ in range(6):
            r = e.step(W, Decisions())
        hottest[rack] = float(r.inlet_c.max())
    assert hottest[0] > hottest[4]


def test_a_cap_costs_comm_bound_jobs_less_throughput_than_compute_bound():
    e = engine([job(32, tokens=4096), job(32, tokens=65536)], oversubscription=4.0)
    e.start_on(0, np.r_[0:8, 16:24, 32:40, 48:56])  # crosses the spine: comm-bound
    e.start_on(1, np.r_[64:80, 80:96])
    comm, comp = e.jobs
    assert e.job_class(0) == "comm" and e.job_class(1) == "compute"

    def loss(j, f):
        return 1.0 - j.step(1.0).total_s / j.step(f).total_s

    for f in (0.9, 0.7, 0.5):
        assert loss(comm, f) < loss(comp, f)
    # and through the engine: the same cap on each class in turn, relative work lost
    work = {}
    for capped in ("none", "comm", "compute"):
        e2 = engine([job(32, tokens=4096), job(32, tokens=65536)], oversubscription=4.0)
        e2.start_on(0, np.r_[0:8, 16:24, 32:40, 48:56])
        e2.start_on(1, np.r_[64:80, 80:96])
        clock = {} if capped == "none" else {capped: 0.7}
        before = [j.done_iters for j in e2.jobs]
        e2.step(W, Decisions(clock=clock))
        work[capped] = [j.done_iters - b for j, b in zip(e2.jobs, before, strict=True)]
    lost_comm = 1 - work["comm"][0] / work["none"][0]
    lost_comp = 1 - work["compute"][1] / work["none"][1]
    assert 0 < lost_comm < lost_comp


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1, 1), min_size=1, max_size=60),
    st.floats(0, 1),
    st.floats(0, 2e6),
)
def test_tank_energy_balance_closes(cmds, soc0, load):
    tank = ChilledWaterTank(TankConfig(initial_soc=soc0, loss_per_day=0.2), 1e6)
    e0 = tank.energy_j
    net = 0.0
    for u in cmds:
        s = tank.step(u, load, 5e5, 300.0)
        assert s.charge_w >= 0 and s.discharge_w >= 0 and s.loss_w >= 0
        assert s.discharge_w <= load + 1e-9 and s.charge_w <= 5e5 + 1e-9
        assert 0.0 <= tank.energy_j <= tank.capacity_j
        net += (s.charge_w - s.discharge_w - s.loss_w) * 300.0
    assert tank.energy_j - e0 == pytest.approx(net, abs=1e-6 * tank.capacity_j)


def test_tank_sizing_and_engine_chiller_load_shift():
    tank = ChilledWaterTank(TankConfig(capacity_hours=2, delta_t_k=10), 1e6)
    assert tank.capacity_j == pytest.approx(2 * 3600 * 1e6)
    # rho c_p dT = 11.6 kWh_th per m^3 at 10 K (ASHRAE): 2 MWh_th -> ~172 m^3
    assert tank.volume_m3 == pytest.approx(2000.0 / 11.63, rel=1e-2)
    e = engine([job(64, tokens=65536)])
    e.start_on(0, np.arange(64))
    w = WeatherSample(35.0, 26.0, 0.5)  # chiller carries the load
    r = e.step(w, Decisions(tank=1.0))
    assert r.tank_charge_w > 0
    x = r.extra
    assert x["chiller_load_w"] > 0 and x["chiller_w"] > x["chiller_w_plant"]
    r = e.step(w, Decisions(tank=-1.0))
    assert r.tank_discharge_w > 0 and r.extra["chiller_w"] < r.extra["chiller_w_plant"]


# ------------------------------------------------------------------ fabric
def test_shared_fabric_contention_and_cache():
    """Eight 2-GPU jobs, each with one rank on leaf 0 and one on leaf 1 of a 4:1 fabric: their
    crossing flows share leaf 0's 8 uplinks; ECMP hashing collides, spraying balances them."""
    e = engine([job(2)] * 8, oversubscription=4.0)
    fab = e.fabric
    ecmp = [Tenant(i, np.array([i, 16 + i]), "ecmp", 2e10) for i in range(8)]
    spray = [Tenant(i, np.array([i, 16 + i]), "spray", 2e10) for i in range(8)]
    assert fab.contention(ecmp[:1]) == {0: 1.0}
    both = fab.contention(ecmp)
    assert min(both.values()) >= 1.0 and max(both.values()) > 1.0
    n = fab.solves
    t1 = fab.comm_times(ecmp)
    assert fab.solves == n + 1
    assert fab.comm_times(ecmp[::-1]) == t1 and fab.solves == n + 1  # cached by running set
    t2 = fab.comm_times(spray)
    assert max(t2.values()) < max(t1.values())
    with pytest.raises(InputError):
        fab.job_fabric("nonsense")


# ------------------------------------------------------------------ grid
def test_grid_carbon_is_the_shipped_eia930_series():
    tab = carbon_table()
    means = {r: float(np.mean(v)) for r, v in tab.items()}
    published = {"BPAT": 55, "CISO": 256, "NYIS": 273, "ERCO": 347, "PJM": 363, "MISO": 441}
    for r, m in published.items():
        assert means[r] == pytest.approx(m, abs=1.0)
    for r in REGIONS:
        assert len(tab[r]) == 8760 and np.all(tab[r] > 0)
        g = GridSignal(r)
        k = 1000  # local hour k is UTC hour k - offset
        assert g.carbon(k * 3600.0) == pytest.approx(tab[r][k - UTC_OFFSET_H[r]])
        mid = g.carbon((k + 0.5) * 3600.0)
        lo, hi = sorted(tab[r][[k - UTC_OFFSET_H[r], k + 1 - UTC_OFFSET_H[r]]])
        assert lo - 1e-9 <= mid <= hi + 1e-9
        day = g.price(np.arange(0, 86400, 60.0))
        assert np.mean(day) == pytest.approx(PRICE_MEAN_USD_PER_MWH[r])  # cosine averages out
    with pytest.raises(InputError):
        GridSignal("XX")


# ------------------------------------------------------------------ traces
def test_job_trace_yaml_and_csv(tmp_path):
    y = tmp_path / "jobs.yaml"
    y.write_text(
        "jobs:\n"
        "  - {arrival_s: 60, accelerators: 16, model_params: 7.0e9, iterations: 100}\n"
        "  - {arrival_s: 0, accelerators: 8, model_params: 1.0e9, iterations: 50,"
        " deferrable: true, deadline_s: 86400}\n"
    )
    jobs = load_job_trace(y)
    assert [j.arrival_s for j in jobs] == [0, 60] and jobs[0].deferrable
    c = tmp_path / "jobs.csv"
    c.write_text("arrival_s,accelerators,model_params,iterations\n0,8,1e9,10\n")
    assert load_job_trace(c)[0].accelerators == 8
    bad = tmp_path / "bad.csv"
    bad.write_text("arrival_s,accelerators,model_params,iterations\n0,0,1e9,10\n")
    with pytest.raises(InputError) as ei:
        load_job_trace(bad)
    assert "bad.csv" in str(ei.value) and "accelerators" in str(ei.value)


# ------------------------------------------------------------------ budget
def test_budget_overrun_trips_the_power_brake():
    specs = [job(64, tokens=65536), job(64, tokens=65536)]
    free_run = engine(specs, budget_fraction=1.0)  # the design load fits
    capped = engine(specs, budget_fraction=0.6)
    for e in (free_run, capped):
        e.start_on(0, np.arange(64))
        e.start_on(1, np.arange(64, 128))
    r0 = free_run.step(W, Decisions())
    r1 = capped.step(W, Decisions())
    assert not r0.brake and r1.brake and r1.over_budget_w > 0
    assert r1.it_w < r0.it_w and r1.train_work < r0.train_work
    # capping below the budget avoids the brake and keeps more work than braking
    ok = engine(specs, budget_fraction=0.6)
    ok.start_on(0, np.arange(64))
    ok.start_on(1, np.arange(64, 128))
    r2 = ok.step(W, Decisions(clock={"compute": 0.6, "comm": 0.6}))
    assert not r2.brake and r2.train_work > r1.train_work


def test_spray_alone_time_is_invariant_under_leaf_relabelling():
    """The fast path (canonical placement) gives the readable path's numbers for spraying."""
    e = engine([], oversubscription=4.0)
    fab = e.fabric
    assert fab.symmetric
    rng = np.random.default_rng(0)
    jf = fab.job_fabric("spray")
    for n in (2, 8, 24, 40):
        hosts = np.sort(rng.choice(128, size=n, replace=False))
        direct = jf.allreduce_alone_s(hosts, 3e9)
        canon = fab.canonical_hosts(hosts)
        assert len(canon) == n and not np.array_equal(canon, hosts)
        assert fab.alone_s(Tenant(0, hosts, "spray", 3e9)) == pytest.approx(direct, rel=1e-12)
        assert jf.allreduce_alone_s(canon, 3e9) == pytest.approx(direct, rel=1e-12)


def test_default_inference_fleet_is_provisioned_for_its_burst():
    """The default load keeps the SLO at the daily peak: base peak x the burst's 99.9th
    percentile stays below rho 1, where the serving DES starts missing the SLO (so SLO
    violations are not unavoidable for every policy, as they were at a base peak of 0.8)."""
    import math

    from dcsim.polca import RowConfig
    from dcsim.tenancy.workload import InferenceConfig, ServingModel

    cfg = InferenceConfig()
    s = RowConfig().burst_sigma
    p999 = math.exp(3.09 * s - 0.5 * s * s)
    assert (cfg.mean_load + cfg.amplitude) * p999 <= 1.0
    serving = ServingModel.build("H100-SXM", cfg.model, cfg.slo_s)
    assert serving.slo_attainment(1.0, 1.0) >= 0.95  # the SLO holds up to rho 1 at f_max


# ------------------------------------------------------------------ one physics with dcsim.sim
def test_idle_engine_draws_idle_accelerators_half_hosts_and_its_switches():
    """With nothing running, a rack draws idle accelerators, hosts at HOST_IDLE_FRAC (Barroso)
    through the PSUs, plus its share of the fabric's switches: the idle server of `dcsim.sim`."""
    from dcsim.power import HOST_IDLE_FRAC, fabric_switch_power_w

    e = engine([])
    rack_w = e._rack_power({}, 1.0, 0.0)[0]
    prof = e.profile
    host = prof.server.host_power_w.value / prof.server.accelerators
    per_acc = (prof.power.idle_w.value + HOST_IDLE_FRAC * host) / prof.server.psu_efficiency.value
    switch_w = fabric_switch_power_w(*e.fabric.fabric.switch_ports())
    assert switch_w > 0
    np.testing.assert_allclose(rack_w, e.per_rack * per_acc + switch_w / e.n_racks, rtol=1e-12)
    assert e.design_it_w == pytest.approx(
        e.n_acc * (prof.tdp_w + host) / prof.server.psu_efficiency.value + switch_w, rel=1e-12
    )


def test_job_compute_slows_by_the_memory_bound_time_scale():
    """A clock cap stretches only the compute-bound share of a step ((1 - m)/f + m, Zeus), as
    in `dcsim run`: the engine's step time is `dcsim.workload.training_step_time` at it."""
    e = engine([job(16)])
    j = e.jobs[0]
    m = j.workload.memory_bound_fraction
    assert m > 0
    for f in (0.5, 0.8):
        ratio = j.step(f, 0.0).compute_s / j.step(1.0, 0.0).compute_s
        assert ratio == pytest.approx((1 - m) / f + m, rel=1e-12)


def test_a_step_inside_the_compute_phase_draws_compute_power():
    """The engine books a job's phases like `dcsim.sim` (`dcsim.workload.PhaseClock`): steps
    shorter than the compute phase book compute only, the exposed communication after it
    draws less power, and the iterations booked are the time run over the step time."""
    c = EngineConfig(
        racks=8, accelerators_per_rack=16, inference={"servers": 0}, oversubscription=4.0
    )
    hosts = np.r_[0:8, 16:24, 32:40, 48:56]  # across the spine: comm-bound
    probe = Engine(c, [job(32, tokens=1024.0)], np.zeros(0), 1.0)
    probe.start_on(0, hosts)
    probe.ensure_solved()
    st = probe.jobs[0].step()
    assert st.exposed_comm_s > 0
    e = Engine(c, [job(32, tokens=1024.0)], np.zeros(0), 0.5 * st.compute_s)
    e.reset_plant(W, 0.0)
    e.start_on(0, hosts)
    e.ensure_solved()
    books, rack_w = [], []
    for _ in range(3):
        w, booked = e._rack_power({0: 1.0}, 1.0, 0.0)[:2]
        books.append(booked[0].booking)
        rack_w.append(float(w.sum()))
        e.step(W, Decisions())
    assert books[0].compute_s == books[1].compute_s == pytest.approx(e.dt, rel=1e-12)
    assert books[0].comm_s == books[1].comm_s == 0.0
    assert books[2].comm_s == pytest.approx(min(e.dt, st.exposed_comm_s), rel=1e-12)
    assert rack_w[2] < rack_w[0] == pytest.approx(rack_w[1], rel=1e-12)
    run = sum(b.compute_s + b.comm_s for b in books)
    assert e.jobs[0].done_iters == pytest.approx(run / st.total_s, rel=1e-12)


def test_cached_tenants_and_uplink_load_equal_a_fresh_computation():
    """`Engine.tenants()` and `SharedFabric.uplink_load` are cached across steps; after every
    step of a busy episode (jobs starting and finishing, routing changing) they equal what a
    fresh computation gives, so no invalidation is missed."""
    from dcsim.agents import make_agent

    from dcsim.envs.codesign import CoDesignEnv

    env = CoDesignEnv(
        engine={
            "racks": 8,
            "accelerators_per_rack": 8,
            "spines": 2,
            "inference": {"servers": 1},
            "workload": {"mix": {"load": 2.0, "job_sizes": {8: 0.5, 16: 0.5}}},
        }
    )
    agent = make_agent("random", env)
    obs, _ = env.reset(seed=3)
    env.action_space.seed(3)
    e = env.engine
    seen = 0
    for _ in range(60):
        obs, *_ = env.step(agent.predict(obs))
        e.tenants()
        for job in list(e.queue)[:1]:  # a start between steps (as `place` sees the set)
            e.start_job(job, "pack")
        cached = e.tenants()
        e._tenant_list = None
        fresh = e.tenants()
        assert [(t.id, t.routing, t.hosts.tolist()) for t in cached] == [
            (t.id, t.routing, t.hosts.tolist()) for t in fresh
        ]
        want = np.zeros(e.fabric.n_leaves)
        for t in fresh:
            src, _ = e.fabric.crossings(t)
            want += np.bincount(e.fabric.host_leaf[src], minlength=e.fabric.n_leaves)
        got = e.fabric.uplink_load(cached)
        assert np.array_equal(got, want / np.maximum(e.fabric.base.uplinks, 1))
        seen += len(fresh)
    assert seen > 60  # jobs were running


def test_serving_lookups_are_the_vectorized_bilinear_bitwise():
    """The engine's per-step serving lookups (one point on Python floats) return the same
    floats as `dcsim.polca.bilinear` over the table, grid points and clipping included."""
    from dcsim.polca import bilinear
    from dcsim.tenancy.workload import ServingModel

    sm = ServingModel.build("H100-SXM", "llama2-70b", 20.0)
    t = sm.table
    rng = np.random.default_rng(5)
    rho = np.concatenate([rng.uniform(-0.2, 1.5, 400), t.rho_grid, [t.rho_grid[-1] + 1.0]])
    f = np.concatenate([rng.uniform(0.1, 1.2, 400), t.f_grid, [0.0]])
    f = rng.choice(f, len(rho))  # grid points and out-of-range clocks among random ones
    want_p = bilinear(t, t.gpu_power_w, rho, f)
    want_s = bilinear(t, sm.slo_frac, rho, f)
    for k in range(len(rho)):
        assert sm.gpu_power_w(float(rho[k]), float(f[k])) == want_p[k], k
        assert sm.slo_attainment(float(rho[k]), float(f[k])) == want_s[k], k


def test_a_throttled_rack_slows_only_the_jobs_on_it():
    """The plant's thermal throttle of the previous step lowers the clock of every job with a
    host on that rack to its limit (`throttled_clock`; a synchronous job runs at its slowest
    rack); a job elsewhere keeps its class's cap."""
    from dcsim.power import throttled_clock

    e = engine([job(16), job(16)])
    e.start_on(0, np.arange(16))  # rack 0
    e.start_on(1, np.arange(32, 48))  # rack 2
    cap = 0.9
    d = Decisions(clock={"comm": cap, "compute": cap})
    thr = np.ones(e.n_racks)
    thr[0] = 0.6
    e.throttle = thr
    r = e.step(W, d)
    assert r.clocks[0] == throttled_clock(cap, 0.6, e.f_min) < cap
    assert r.clocks[1] == throttled_clock(cap, 1.0, e.f_min) == cap


def test_a_job_inside_one_leaf_does_not_re_solve_the_fabric():
    """Only jobs whose ring crosses a spine share links: starting one that stays on its leaf
    keeps the others' all-reduce times and runs no new joint solve."""
    e = engine([job(2)] * 9, oversubscription=4.0)
    fab = e.fabric
    crossing = [Tenant(i, np.array([i, 16 + i]), "ecmp", 2e10) for i in range(8)]
    inside = Tenant(8, np.array([32, 33]), "ecmp", 2e10)  # both ranks on leaf 2
    t1 = fab.comm_times(crossing)
    n = fab.solves
    t2 = fab.comm_times([*crossing, inside])
    assert fab.solves == n
    assert {i: t2[i] for i in t1} == t1
    assert t2[8] == fab.alone_s(inside) > 0


def test_compiled_booking_equals_the_readable_loop_bitwise():
    """The running jobs' step booked by the compiled `book_jobs` and by the engine's readable
    per-job loop: a CoDesign-v0 episode stretch (jobs starting, finishing, throttled and
    braked steps alike) gives the same observations, rewards and metrics, bit for bit."""
    from dcsim.agents import make_agent

    from dcsim.envs.codesign import CoDesignEnv
    from dcsim.tenancy.booking import BOOK_JOBS

    if BOOK_JOBS.compiled() is None:
        pytest.skip("numba not installed (or DCSIM_NO_JIT=1): only the readable loop runs")
    runs = []
    for compiled_booking in (True, False):
        env = CoDesignEnv(engine={"racks": 16, "inference": {"servers": 4}})
        agent = make_agent("composite", env)
        obs, _ = env.reset(seed=11)
        env.engine.compiled_booking = compiled_booking
        agent.reset()
        rows = []
        for _ in range(160):
            obs, r, _, _, info = env.step(agent.predict(obs))
            rows.append((obs.tobytes(), r, sorted(info["metrics"].items())))
        runs.append(rows)
        assert max(float(m["running_jobs"]) for m in (dict(x[2]) for x in rows)) >= 3
    assert runs[0] == runs[1]


def test_book_jobs_compiled_equals_its_python_source():
    """`book_jobs` compiled and interpreted: the same bookings, power and busy sum, bitwise,
    on jobs mid-compute, mid-communication, at an iteration's start and finishing."""
    from dcsim.tenancy.booking import BOOK_JOBS, J_N, O_N, S_N, book_jobs

    fn = BOOK_JOBS.compiled()
    if fn is None:
        pytest.skip("numba not installed (or DCSIM_NO_JIT=1)")
    rng = np.random.default_rng(5)
    n = 9
    jobs = np.empty((n, J_N))
    jobs[:, 0] = rng.uniform(0.3, 1.0, n)  # clock
    jobs[:, 1] = rng.uniform(0.5, 40.0, n)  # compute s
    jobs[:, 2] = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0.1, 20.0, n))  # exposed s
    jobs[:, 3] = rng.random(n) < 0.5  # in the communication phase
    jobs[:, 4] = np.where(rng.random(n) < 0.3, 1.0, rng.uniform(0.01, 1.0, n))  # left
    jobs[:, 5] = np.where(rng.random(n) < 0.3, rng.uniform(0.1, 3.0, n), 1e6)  # remaining
    static = np.column_stack([rng.uniform(0.6, 1.0, n), rng.uniform(0.2, 0.5, n),
                              rng.integers(1, 9, n)]).astype(float)  # fmt: skip
    assert static.shape[1] == S_N
    units = rng.permutation(64)[: 4 * n].astype(np.int64)
    uoff = np.arange(0, 4 * n + 1, 4, dtype=np.int64)
    dev = np.array([0.2, 0.65, 0.3, 90.0, 610.0, 0.07, 1.0])
    results = []
    for f in (fn, book_jobs):
        acc_w, busy_w, out = np.full(64, 90.0), np.zeros(64), np.empty((n, O_N))
        busy = f(jobs, static, units, uoff, dev, 300.0, acc_w, busy_w, out)
        results.append((busy, acc_w.tobytes(), busy_w.tobytes(), out.tobytes()))
    assert results[0] == results[1]
