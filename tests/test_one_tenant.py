"""The single-job scenario of `dcsim run` is the multi-tenant engine's one-tenant case (issue
13.1): `dcsim.sim.Simulation` steps a `dcsim.tenancy.Engine` built on the scenario's system
(a `Site`: any fabric, servers filling racks, no budget, no tank) with its one job, and an
engine built from an `EngineConfig` of the same racks, fabric, cooling, climate and grid
(the multi-tenant layout, `Site.of`) reproduces it step by step (IT, cooling and facility
power, hottest inlet, iterations, carbon) under the same controls.

Covered: the default scenario (communication hidden) and Datacenter-v0's 4:1 fabric where the
all-reduce is exposed and the routing is a control: the engine's all-reduce of its one tenant
(one per DP group, `Tenant.dp_groups`, with the scenario's algorithm) is
`dcsim.network.dp_allreduce`'s, incl. a double binary tree (`auto` picks ring on these fabrics).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dcsim.config import load_scenario
from dcsim.cooling import CoolingControls
from dcsim.network import dp_allreduce
from dcsim.power import FacilityConfig
from dcsim.sim import Controls, Simulation
from dcsim.tenancy import Decisions, Engine, EngineConfig, JobSpec, SharedFabric, Tenant
from dcsim.workload import gradient_bytes_per_rank

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
# grid carbon: the engine's carbon source
BASE = {"climate.carbon.source": "grid", "climate.carbon.region": "CISO"}


def pair(scenario: str, overrides: dict) -> tuple[Simulation, Engine]:
    """The scenario's Simulation and the engine built on the same system (the Simulation's own
    loaded fabric, NICs and scale-up domain included; racks = its leaves) with its one job."""
    sim = Simulation(load_scenario(SCENARIOS / scenario, {**BASE, **overrides}))
    sc = sim.sc
    w = sc.workload
    per_rack = sc.cluster.servers_per_rack * sim.acc_per_server
    fabric = sim.fabric.config
    cfg = EngineConfig(
        hardware=sc.cluster.hardware,
        racks=sim.n_racks,
        accelerators_per_rack=per_rack,
        spines=fabric.spines,
        oversubscription=fabric.oversubscription,
        inference={"servers": 0},
        budget_fraction=2.0,  # dcsim run has no facility budget
        cooling=sc.cooling,
        climate={"weather": sc.climate.weather},
        facility=FacilityConfig(**{k: getattr(sc.power, k) for k in FacilityConfig.model_fields}),
        region=sc.climate.carbon.region,
    )
    n = sim.n_active * sim.acc_per_server
    spec = JobSpec(
        arrival_s=0.0,
        accelerators=n,
        model_params=w.model_params,
        iterations=10**9,
        tokens_per_accelerator=w.global_batch_tokens / n,
        tensor_parallel=w.tensor_parallel,
        mfu=sim.mfu,
        overlap=w.overlap,
        algorithm=w.algorithm,
    )
    e = Engine(cfg, [spec], np.zeros(0), sim.dt, fabric=SharedFabric(sim.fabric))
    assert fabric.leaves == e.n_racks and e.fabric.fabric.n_hosts == sim.fabric.n_hosts
    e.reset_plant(sim.weather.at(0.0), sim.year_offset_s)
    e.start_on(0, np.arange(n))
    return sim, e


def controls(k: int, sim: Simulation) -> tuple[Controls, Decisions]:
    """The same actuators both ways: a power cap is the clock it sets at compute activity, and
    the job's routing is its class's (whichever class it falls in)."""
    cap = (1.0, 0.7, 0.85, 0.55)[k % 4]
    routing = ("ecmp", "spray", "split:4", "ecmp", "colour")[k % 5]
    sa = 16.0 + k % 9
    chw = None if k % 4 else 7.0 + k % 11
    econ = ("auto", "on", "off")[k % 3]
    f = float(sim.power.freq_for_cap(cap * sim.profile.tdp_w, sim.a_compute))
    return (
        Controls(cap_frac=cap, routing=routing, supply_air_c=sa, chw_supply_c=chw, economizer=econ),
        Decisions(
            routing={"comm": routing, "compute": routing},
            clock={"comm": f, "compute": f},
            cooling=CoolingControls(supply_air_c=sa, chw_supply_c=chw, economizer=econ),
        ),
    )


CASES = {
    "default": ("default.yaml", {}),
    "half the servers idle": ("default.yaml", {"workload.active_fraction": 0.5}),
    "hot climate, warm air (racks throttle)": (
        "default.yaml",
        {
            "climate.weather.preset": "hot-humid",
            "cooling.air.recirculation_mean": 0.45,
            "cooling.air.recirculation_spread": 0.1,
        },
    ),
    "exposed all-reduce on a 4:1 fabric": ("datacenter_comm.yaml", {}),
    "exposed all-reduce, TP 4, double binary tree": (
        "datacenter_comm.yaml",
        {
            "workload.tensor_parallel": 4,
            "workload.algorithm": "double-binary-tree",
            "workload.allow_memory_overflow": True,
        },
    ),
    "exposed all-reduce, TP 2 (DP peers share NVLink)": (
        "datacenter_comm.yaml",
        {"workload.tensor_parallel": 2, "workload.allow_memory_overflow": True},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_tenant_engine_reproduces_the_simulation(case):
    sim, e = pair(*CASES[case])
    job = e.jobs[0]
    e.ensure_solved()
    assert job.comm_s == pytest.approx(sim.comm_time(sim.routing), rel=1e-12)
    exposed = False
    throttled = False
    for k in range(40):
        c, d = controls(k, sim)
        rec = sim.step(c)
        done = job.done_iters
        r = e.step(sim.weather.at(rec.t_s + 0.5 * sim.dt), d)
        got = {
            "it_w": r.it_w,
            "cooling_w": r.cooling_w,
            "facility_w": r.facility_w,
            "inlet_max_c": float(r.inlet_c.max()),
            "inlet_mean_c": float(r.inlet_c.mean()),
            "iterations": job.done_iters - done,
            "carbon_kg": r.carbon_kg,
        }
        for key, v in got.items():
            assert v == pytest.approx(getattr(rec, key), rel=1e-9, abs=1e-12), (k, key)
        assert job.comm_s == pytest.approx(sim.comm_time(sim.routing), rel=1e-12)
        throttled |= rec.throttle_min < 1.0
        exposed |= rec.exposed_comm_s > 0
    assert throttled == ("throttle" in case)
    assert exposed == ("exposed" in case)


def test_dcsim_run_steps_the_engine_with_one_tenant():
    """`Simulation.step` is the engine's step: its one job runs on the first active servers'
    accelerators, and every record is the engine's result (power, cooling, carbon, the job's
    iterations and clock)."""
    sim = Simulation(load_scenario(SCENARIOS / "datacenter_comm.yaml"))
    e = sim.engine
    assert isinstance(e, Engine) and e.running == [0] and len(e.jobs) == 1
    n = sim.n_active * sim.acc_per_server
    np.testing.assert_array_equal(e.jobs[0].hosts, np.arange(n))
    assert e.budget_w == float("inf") and e.tank.capacity_j == 0.0
    for k in range(20):
        c, _ = controls(k, sim)
        done = e.jobs[0].done_iters
        rec = sim.step(c)
        r = e.last
        assert r is not None and e.k == k + 1
        assert (rec.it_w, rec.facility_w, rec.cooling_w) == (r.it_w, r.facility_w, r.cooling_w)
        assert (rec.carbon_kg, rec.freq_frac) == (r.carbon_kg, r.clocks[0])
        assert rec.iterations == pytest.approx(e.jobs[0].done_iters - done, rel=1e-12)
        assert rec.exposed_comm_s == e.jobs[0].step(rec.freq_frac).exposed_comm_s


def test_idle_cluster_is_the_engine_without_jobs():
    sim = Simulation(load_scenario(SCENARIOS / "default.yaml", {"workload.active_fraction": 0.0}))
    assert sim.engine is not None and sim.engine.jobs == []
    rec = sim.step()
    assert rec.iterations == 0.0 and rec.tokens_per_s == 0.0 and rec.it_w > 0.0


@pytest.mark.parametrize(
    ("topology", "hardware", "overrides", "seed"),
    [
        # several NICs per NPU (UB plane): the engine's fabric carries the one job, no placement
        ("ub_cloudmatrix384", "Ascend-910C", {"cluster.servers": 48, "cooling.type": "liquid"}, 0),
        # the scenario's seed salts ECMP's hash: the engine routes with it
        ("leaf_spine_256_oversub4", "H100-SXM", {}, 1),
    ],
)
def test_engine_fabric_times_the_job_as_dp_allreduce(topology, hardware, overrides, seed):
    over = {
        "cluster.topology": topology,
        "cluster.hardware": hardware,
        "cluster.servers_per_rack": 2,
        "workload.tensor_parallel": 1,
        "workload.allow_memory_overflow": True,
        "seed": seed,
        **overrides,
    }
    sim = Simulation(load_scenario(SCENARIOS / "default.yaml", over))
    w = sim.sc.workload
    n = sim.n_active * sim.acc_per_server
    fab = SharedFabric(sim.fabric, seed)
    for routing in ("ecmp", "spray"):
        want = dp_allreduce(
            sim.fabric, n, sim.acc_per_server, 1, gradient_bytes_per_rank(w), w.algorithm,
            routing, seed,
        )  # fmt: skip
        assert want is not None
        t = Tenant(0, np.arange(n), routing, gradient_bytes_per_rank(w), 1, w.algorithm)
        assert fab.alone_s(t) == pytest.approx(want.time_s, rel=1e-12)
        assert sim.comm_time(routing) == pytest.approx(want.time_s, rel=1e-12)
    if seed:  # a different hash salt routes differently on an oversubscribed fabric
        t0 = Tenant(0, np.arange(n), "ecmp", gradient_bytes_per_rank(w), 1, w.algorithm)
        assert SharedFabric(sim.fabric, 0).alone_s(t0) != fab.alone_s(t0)


def test_dcsim_run_books_power_per_server_and_refuses_split_servers():
    """`dcsim run`'s engine books power per server (`Site.unit`), so a job must take whole
    servers; the multi-tenant engine's unit is one accelerator."""
    from dcsim.errors import InputError
    from dcsim.tenancy.workload import TrainingJob

    sim = Simulation(load_scenario(SCENARIOS / "default.yaml"))
    site = sim.engine.site
    assert site.unit == sim.acc_per_server == 8 and sim.engine.n_units == sim.n_servers
    w = sim.sc.workload
    job = TrainingJob.of_workload(0, w, 8, sim.profile.peak_flops, sim.mfu)
    e = Engine(site, [job], np.zeros(0), sim.dt)
    with pytest.raises(InputError, match="whole power units of 8"):
        e.start_on(0, np.arange(4, 12))
    e.start_on(0, np.arange(8, 16))
    assert e.running == [0]


def test_resets_with_new_seeds_keep_one_fabric():
    """The ECMP hash follows the seed; a reset with a new seed drops the last seed's fabric
    and all-reduce times (an env reset with ever new seeds keeps one, not one per seed)."""
    sim = Simulation(load_scenario(SCENARIOS / "datacenter_comm.yaml"))
    times = {}
    for seed in (0, 1, 2, 3, 1):
        sim.reset(seed=seed)
        times[seed] = sim.comm_time("ecmp")
        assert len(sim._fabrics) == 1 and {k[0] for k in sim._comm} == {seed}
    assert times[1] != times[0]  # the seeded hash routes differently (as dp_allreduce does)
