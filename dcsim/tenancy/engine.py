"""The multi-tenant datacenter: training jobs and inference services on one fabric, one power
budget and one cooling plant, advanced in fixed steps.

Layout: one leaf switch (ToR) per rack, `accelerators_per_rack` hosts (one accelerator + NIC
each) per leaf, `spines` spines at `oversubscription` (leaf down:up). Racks stand in one row in
leaf order, so a job's placement sets both which spine links it crosses and which racks it
heats (row-end racks recirculate more: `dcsim.cooling` AirChain). Inference servers occupy the
last racks; training jobs use the rest.

Per step of dt seconds (`Engine.step`):
1. network: the running training jobs' all-reduces are solved together (`fabric.SharedFabric`,
   cached by running set and routings); a job's class is `comm` if its exposed communication is
   > 0 where it runs, else `compute`;
2. power: each accelerator draws `dcsim.power.DevicePowerModel.power_w(activity, f)` with the
   training activity while computing and the communication activity while stalled on exposed
   communication (the phases its `dcsim.workload.PhaseClock` books in the step, as `dcsim run`
   books its job; POLCA's phases: `dcsim.power.interval_activity`),
   inference servers draw the serving DES's GPU power at (rho, f) (`dcsim.polca.characterize`),
   idle accelerators idle power; plus host power, idling at half when its accelerator idles
   (`dcsim.power.host_power_w`), through the PSUs (`dcsim.power.rack_wall_power_w`), and the
   fabric's switches spread over the racks (`dcsim.power.fabric_switch_power_w`); the same
   models as `dcsim run` (`dcsim.sim`). The clock of a
   class is its cap, lowered by the plant's thermal throttle of the previous step on the racks
   it runs on (a synchronous job runs at its slowest rack);
3. budget (POLCA, arXiv 2308.12908): if IT power exceeds the facility budget the power brake
   drops every accelerator to the brake clock (288/1410 of f_max, not below f_min) for the whole
   step (conservative: POLCA's brake holds >= 10 s, then the row controller must cap);
4. cooling: rack wall power heats the `dcsim.cooling.CoolingPlant` under the weather; a
   chilled-water tank (`tank.ChilledWaterTank`) shifts chiller load; the chiller's power for
   the shifted load is the plant's own chiller model at this step's conditions;
5. grid: facility energy x hourly carbon (EIA-930) and price (`grid.GridSignal`).

Useful work of a step = accelerator-seconds of ideal work done (iterations x compute-only step
time at f_max x accelerators) + inference accelerator-seconds x served load x SLO attainment,
over the cluster's accelerator-seconds.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
from pydantic import Field, field_validator, model_validator

from dcsim.climate import WeatherOnly, WeatherSample
from dcsim.cooling import CoolingConfig, CoolingControls, CoolingPlant
from dcsim.cooling.plant import CoolingResult
from dcsim.errors import InputError
from dcsim.hardware import HardwareProfile, canonical_hardware, get_profile
from dcsim.network import load_topology
from dcsim.network.accelerator import accelerator_network
from dcsim.polca import polca_fraction
from dcsim.power import (
    PHASE_ACTIVITY,
    DevicePowerModel,
    FacilityConfig,
    fabric_switch_power_w,
    host_power_w,
    interval_activity,
    interval_energy,
    rack_wall_power_w,
    throttled_clock,
)
from dcsim.schema import StrictModel
from dcsim.tenancy.booking import BOOK_JOBS, O_N, S_N
from dcsim.tenancy.fabric import SharedFabric, Tenant
from dcsim.tenancy.grid import GridSignal
from dcsim.tenancy.tank import ChilledWaterTank, TankConfig
from dcsim.tenancy.workload import (
    GeneratorConfig,
    InferenceConfig,
    JobSpec,
    ServingModel,
    TrainingJob,
)
from dcsim.workload import PhaseBooking, PhaseClock

CLASSES = ("comm", "compute", "inference")
IDLE_ACTIVITY = PHASE_ACTIVITY["idle"]
PLACEMENTS = ("pack", "cool", "uplink")


class EngineConfig(StrictModel):
    """The facility: hardware, racks and fabric, tenants, budget, cooling, tank, grid region."""

    hardware: str = "H100-SXM"
    racks: int = Field(32, ge=2, le=512, description="racks = leaves (one ToR each)")
    accelerators_per_rack: int = Field(16, ge=1, le=256)
    spines: int = Field(8, ge=1, le=256)
    oversubscription: float = Field(2.0, ge=1, le=16, description="leaf down:up capacity")
    inference: InferenceConfig = Field(default_factory=InferenceConfig)
    workload: GeneratorConfig = Field(default_factory=GeneratorConfig)
    budget_fraction: float = Field(
        0.8, gt=0, le=2, description="facility IT budget / IT power with every accelerator at TDP"
    )
    cooling: CoolingConfig = Field(default_factory=CoolingConfig)
    climate: WeatherOnly = Field(
        default_factory=WeatherOnly, description="weather (carbon: the `region`'s hourly traces)"
    )
    tank: TankConfig = Field(default_factory=TankConfig)
    facility: FacilityConfig = Field(
        default_factory=FacilityConfig, description="UPS losses and fixed loads"
    )
    region: str = "CISO"

    @field_validator("hardware")
    @classmethod
    def _known_hardware(cls, v: str) -> str:
        return canonical_hardware(v)

    @model_validator(mode="after")
    def _room(self) -> EngineConfig:
        acc = get_profile(self.hardware).server.accelerators
        inf = self.inference.servers * acc
        train = self.racks * self.accelerators_per_rack - inf
        if train <= 0:
            raise ValueError("inference servers leave no accelerators for training")
        biggest = max(self.workload.mix.job_sizes)
        if biggest > train:
            raise ValueError(
                f"workload.mix.job_sizes has jobs of {biggest} accelerators but only {train} "
                "train (racks x accelerators_per_rack - inference servers x accelerators)"
            )
        return self


@dataclass
class Decisions:
    """One step's controls. Missing entries keep defaults (ECMP, f_max, config setpoints)."""

    routing: dict[str, str] = field(default_factory=dict)  # class -> policy
    clock: dict[str, float] = field(default_factory=dict)  # class -> clock fraction cap
    cooling: CoolingControls | None = None
    tank: float = 0.0  # -1 discharge .. +1 charge


class Booked(NamedTuple):
    """A running job's step: its busy share, phase booking and phase clock after the step."""

    share: float
    booking: PhaseBooking
    clock: PhaseClock


@dataclass
class StepResult:
    """Facility totals of one step (powers are step averages, W)."""

    it_w: float  # racks (after any brake) + server fans
    demand_w: float  # rack power the decisions asked for, before the brake (budget basis)
    cooling_w: float
    facility_w: float
    budget_w: float
    over_budget_w: float
    brake: bool
    work: float  # useful accelerator-seconds / cluster accelerator-seconds
    train_work: float
    inference_work: float
    tokens: float
    slo_attainment: float
    carbon_kg: float
    cost_usd: float
    carbon_g_per_kwh: float
    price_usd_per_mwh: float
    inlet_c: np.ndarray
    rack_w: np.ndarray
    inlet_excess_k: float  # hottest inlet above the ASHRAE recommended maximum, K
    tank_charge_w: float
    tank_discharge_w: float
    tank_loss_w: float
    tank_soc: float
    rho: float
    finished: list[int]
    accel_w: float = 0.0  # accelerators' power
    activity: float = 0.0  # mean accelerator activity (inference: its load rho)
    it_kwh: float = 0.0
    facility_kwh: float = 0.0
    water_l: float = 0.0  # the plant's water use for this step's heat
    clocks: dict[int, float] = field(default_factory=dict)  # running job -> clock fraction
    booked: dict[int, Booked] = field(default_factory=dict)  # running job -> its step
    cooling_breakdown: dict[str, float] = field(default_factory=dict)  # W, sums to cooling_w
    extra: dict[str, Any] = field(default_factory=dict)


class Signal(Protocol):
    """Grid carbon (g/kWh) and price (USD/MWh) at time t_s (s, a float or an array) on the
    engine's clock shifted by its origin t0 (`reset_plant`): `GridSignal` counts from 1 January
    00:00, `dcsim run`'s scenario carbon from the run's start."""

    def carbon(self, t_s: Any) -> Any: ...
    def price(self, t_s: Any) -> Any: ...


@dataclass
class Site:
    """A built facility the engine runs on: which rack each accelerator (fabric host i) sits
    in, the shared fabric, the plant and tank, the facility's power budget and its grid.

    `Site.of(cfg)` builds the multi-tenant layout (one leaf per rack, inference in the last
    racks); `dcsim.sim.Simulation` builds its scenario's (any fabric, servers filling racks in
    order) and runs its one training job on it."""

    profile: HardwareProfile
    fabric: SharedFabric
    host_rack: np.ndarray  # rack of accelerator i
    n_racks: int
    switch_w: float  # the fabric's switches (`fabric_switch_power_w`), spread over the racks
    design_it_w: float  # every accelerator at TDP, hosts busy, through the PSUs, + switches
    plant: CoolingPlant
    tank: TankConfig
    facility: FacilityConfig
    budget_w: float  # facility IT budget (POLCA brake above it); inf: none
    signal: Signal
    inference: InferenceConfig
    # Power is booked per unit of `unit` consecutive accelerators that always share a job (a
    # server for `dcsim run`, whose job takes whole servers; 1 for the multi-tenant engine,
    # whose jobs take single accelerators), each unit's host drawing `unit_host_w` at full
    # load (default: its accelerators' share of the server's host power).
    unit: int = 1
    unit_host_w: float | None = None

    @classmethod
    def of(cls, cfg: EngineConfig, fabric: SharedFabric | None = None) -> Site:
        """The multi-tenant facility of `cfg` (`fabric` reuses one built for the same config)."""
        prof = get_profile(cfg.hardware)
        shared = fabric if fabric is not None else SharedFabric(Engine.build_fabric(cfg))
        host_rack = shared.host_leaf  # one leaf per rack, racks in leaf order
        switch_w = fabric_switch_power_w(*shared.fabric.switch_ports())
        design_w = float(design_rack_w(prof, host_rack, cfg.racks, switch_w).sum())
        device = DevicePowerModel.from_profile(prof)
        return cls(
            profile=prof,
            fabric=shared,
            host_rack=host_rack,
            n_racks=cfg.racks,
            switch_w=switch_w,
            design_it_w=design_w,
            plant=CoolingPlant(cfg.cooling, cfg.racks, design_w, device.freq_for_scale),
            tank=cfg.tank,
            facility=cfg.facility,
            budget_w=cfg.budget_fraction * design_w,
            signal=GridSignal(cfg.region),
            inference=cfg.inference,
        )


def design_rack_w(
    profile: HardwareProfile,
    unit_rack: np.ndarray,
    n_racks: int,
    switch_w: float,
    unit: int = 1,
    unit_host_w: float | None = None,
) -> np.ndarray:
    """Per-rack wall power with every accelerator at TDP and every host busy, through the
    PSUs, plus the racks' share of the switches: power units of `unit` accelerators in racks
    `unit_rack`, each unit's host `unit_host_w` (default its share of the server's host)."""
    srv = profile.server
    host_w = (
        srv.host_power_w.value / srv.accelerators * unit if unit_host_w is None else unit_host_w
    )
    return rack_wall_power_w(
        np.full(len(unit_rack), profile.tdp_w * unit),
        np.full(len(unit_rack), host_w),
        unit_rack,
        n_racks,
        srv.psu_efficiency.value,
        switch_w,
    )


class Engine:
    """State of the composed datacenter; `start_job` places, `step` advances."""

    def __init__(
        self,
        cfg: EngineConfig | Site,
        specs: Sequence[JobSpec | TrainingJob],
        rho: np.ndarray,
        dt_s: float,
        fabric: SharedFabric | None = None,
    ):
        """On a config's facility (`fabric` reuses a SharedFabric, and its caches, built for
        the same config) or on a built `Site`; jobs as specs or built `TrainingJob`s."""
        site = cfg if isinstance(cfg, Site) else Site.of(cfg, fabric)
        self.site = site
        prof = self.profile = site.profile
        self.dt = float(dt_s)
        self.host_rack = site.host_rack
        self.n_racks = site.n_racks
        self.n_acc = len(site.host_rack)
        self.per_rack = self.n_acc / self.n_racks  # accelerators per rack (mean)
        self.fabric = site.fabric
        self.device = DevicePowerModel.from_profile(prof)
        srv = prof.server
        self.host_w_per_acc = srv.host_power_w.value / srv.accelerators
        self.unit = k = site.unit
        if self.n_acc % k or (k > 1 and site.inference.servers):
            raise ValueError("power units must tile the accelerators; inference needs unit 1")
        self.n_units = self.n_acc // k
        self.unit_rack = self.host_rack[::k]  # a unit's accelerators share its rack
        self.unit_host_w = (
            self.host_w_per_acc * k if site.unit_host_w is None else float(site.unit_host_w)
        )
        self.psu_eff = srv.psu_efficiency.value
        self.f_min = self.device.f_min_frac
        self.brake_f = max(self.f_min, polca_fraction("brake"))
        self.p_idle = float(self.device.power_w(IDLE_ACTIVITY))
        self.p_idle_unit = self.p_idle * k
        self._racks: dict[int, np.ndarray] = {}
        self._sel: dict[int, slice | np.ndarray] = {}  # job -> its hosts as an index
        self._pw: dict[tuple[float, float], float] = {}
        # inference occupies the last racks
        inf = site.inference
        self.inf_acc = inf.servers * srv.accelerators
        self.inf_hosts = np.arange(self.n_acc - self.inf_acc, self.n_acc)
        self._inf_racks = np.unique(self.host_rack[self.inf_hosts])
        self.serving = ServingModel.build(prof.name, inf.model, inf.slo_s) if self.inf_acc else None
        # switches draw their (near-constant) power wherever they are; spread over the racks,
        # as in dcsim.sim
        self.switch_w = site.switch_w
        self.design_rack_w = design_rack_w(
            prof, self.unit_rack, self.n_racks, self.switch_w, k, self.unit_host_w
        )
        self.design_it_w = site.design_it_w
        self.budget_w = site.budget_w
        self.plant = site.plant
        # the plant steps through the compiled kernel (`dcsim.cooling.fast.FastPlant`, the
        # readable step's numbers to 1e-12) when numba is installed, unless this is off
        self.fast_plant = True
        self._plant_kernel: Any = None  # the FastPlant, or False (readable), on first step
        # the running jobs' step booked by the compiled `booking.book_jobs` when numba is
        # installed, unless this is off (then the readable loop in `_rack_power`)
        self.compiled_booking = True
        self._booking_set: tuple | None = None  # `_running_set`'s key and arrays
        dv = self.device
        self._dev = np.array([dv.f_min_frac, dv.v_floor_frac, dv.leak_share, dv.idle_w,
                              dv.dynamic_w, IDLE_ACTIVITY, float(k)])  # fmt: skip
        self.inlet_limit_c = self.plant.cfg.recommended_inlet_max_c
        self.tank = ChilledWaterTank(site.tank, self.plant.water.q_chw_design)
        self.grid = site.signal
        self.jobs = [
            s if isinstance(s, TrainingJob) else TrainingJob.from_spec(i, s, prof.peak_flops)
            for i, s in enumerate(specs)
        ]
        self.rho = np.asarray(rho, dtype=float)
        self._packed: dict[int, float] = {}
        self._latest: dict[int, float] = {}  # job -> latest start (constant per job)
        self.train_capacity = self.n_acc - self.inf_acc
        self.free = np.ones(self.n_acc, dtype=bool)
        self.free[self.inf_hosts] = False
        self.n_free = int(self.free.sum())  # free training accelerators (kept with `free`)
        self.t = 0.0
        self.t0 = 0.0
        self.k = 0
        self.next_arrival = 0
        self.queue: list[int] = []
        self.running: list[int] = []
        # `tenants()`, kept until the running set, a job's class or the routing changes
        self._tenant_list: list[Tenant] | None = None
        self._tenant_of: dict[tuple[int, str], Tenant] = {}  # (job, routing) -> its Tenant
        self.finished: list[int] = []
        self.routing = {c: "ecmp" for c in CLASSES}
        self.throttle = np.ones(self.n_racks)
        self._thr_seen: np.ndarray | None = None  # `_any_throttled`'s last array and answer
        self._thr_any = False
        self.last: StepResult | None = None
        self._classes: dict[int, str] = {}
        self._dirty = False
        self.queued_accelerators = 0
        self._admit()

    def _any_throttled(self) -> bool:
        """Whether some rack's clock is limited by its inlet (`throttle` < 1), worked out once
        per throttle array (the plant hands over a new one each step)."""
        thr = self.throttle
        if thr is not self._thr_seen:
            self._thr_seen, self._thr_any = thr, bool(thr.min() < 1.0)
        return self._thr_any

    def packed_comm(self, job_id: int) -> float:
        """The job's all-reduce alone on the first hosts of an empty fabric under ECMP (its
        packed ideal, for slowdowns and latest starts); solved on first use."""
        got = self._packed.get(job_id)
        if got is None:
            j = self.jobs[job_id]
            got = self._packed[job_id] = self.fabric.alone_s(
                Tenant(
                    j.id,
                    np.arange(j.spec.accelerators),
                    "ecmp",
                    j.grad_bytes,
                    j.spec.tensor_parallel,
                    j.spec.algorithm,
                )
            )
        return got

    # ------------------------------------------------------------ construction
    @staticmethod
    def build_fabric(cfg: EngineConfig):
        nic = accelerator_network(cfg.hardware).host_link_gbps
        return load_topology(
            {
                "kind": "leaf_spine",
                "name": "codesign",
                "leaves": cfg.racks,
                "spines": cfg.spines,
                "hosts_per_leaf": cfg.accelerators_per_rack,
                "host_link_gbps": nic,
                "oversubscription": cfg.oversubscription,
                "hop_latency_us": 0.6,
                "endpoint_latency_us": 5.0,
            }
        )

    def reset_plant(self, weather: WeatherSample, t0_s: float) -> None:
        self.t0 = float(t0_s)
        rack_w = self._rack_power({}, 1.0, self.rho[0] if len(self.rho) else 0.0)[0]
        self.plant.reset(weather, rack_w)
        self.tank.reset()

    # ------------------------------------------------------------ queue and placement
    def _admit(self) -> None:
        while (
            self.next_arrival < len(self.jobs)
            and self.jobs[self.next_arrival].spec.arrival_s <= self.t
        ):
            j = self.jobs[self.next_arrival]
            if j.spec.accelerators <= self.train_capacity:
                self.queue.append(j.id)
                self.queued_accelerators += j.spec.accelerators
            self.next_arrival += 1

    def latest_start_s(self, job_id: int) -> float:
        """Deadline minus the packed-alone runtime at f_max (inf without a deadline)."""
        got = self._latest.get(job_id)
        if got is None:
            j = self.jobs[job_id]
            dl = j.spec.deadline_s
            got = math.inf if dl is None else dl - j.ideal_runtime_s(self.packed_comm(job_id))
            self._latest[job_id] = got
        return got

    def can_defer(self, job_id: int) -> bool:
        """A deferrable job before its latest start."""
        return self.jobs[job_id].spec.deferrable and self.t < self.latest_start_s(job_id)

    def fits(self, job_id: int) -> bool:
        return self.jobs[job_id].spec.accelerators <= self.n_free

    def place(self, rule: str, gpus: int, inlet: np.ndarray | None = None) -> np.ndarray:
        """Hosts for `gpus` under a rule: `pack` (best-fit, fewest leaves: `dcsim.jobs`), `cool`
        (coolest racks first), `uplink` (racks whose uplinks carry the fewest ring flows first);
        `cool` and `uplink` take a single rack when one in their first half fits."""
        if rule not in PLACEMENTS:
            raise InputError(f"unknown placement '{rule}'; expected one of {PLACEMENTS}")
        if rule == "pack":
            return self.fabric.base.place("pack", gpus, self.free)
        fpl = self.fabric.base.free_per_leaf(self.free)
        if rule == "cool":
            t_in = self.plant.t_in if inlet is None else inlet
            score = np.asarray(t_in, dtype=float)
        else:
            score = self.fabric.uplink_load(self.tenants())
        order = np.lexsort((-fpl, score))  # by score, then most free
        order = order[fpl[order] > 0]
        half = order[: max(1, len(order) // 2)]
        single = half[fpl[half] >= gpus]
        take = np.zeros(self.n_racks, dtype=np.int64)
        if len(single):
            take[single[0]] = gpus
        else:
            left = gpus
            for leaf in order:
                n = min(left, int(fpl[leaf]))
                take[leaf] = n
                left -= n
                if left == 0:
                    break
        hosts = [
            np.flatnonzero(self.free & (self.host_rack == leaf))[: take[leaf]]
            for leaf in np.flatnonzero(take)
        ]
        return np.sort(np.concatenate(hosts))

    def start_job(self, job_id: int, rule: str = "pack") -> bool:
        """Start a queued job under a placement rule; False if it does not fit now."""
        if job_id not in self.queue or not self.fits(job_id):
            return False
        self.start_on(job_id, self.place(rule, self.jobs[job_id].spec.accelerators))
        return True

    def start_on(self, job_id: int, hosts: np.ndarray) -> None:
        """Start a queued job on the given free hosts (placement chosen by the caller)."""
        j = self.jobs[job_id]
        hosts = np.sort(np.asarray(hosts, dtype=np.int64))
        if job_id not in self.queue:
            raise InputError(f"job {job_id} is not queued", field="job")
        if len(hosts) != j.spec.accelerators or not self.free[hosts].all():
            raise InputError(f"job {job_id} needs {j.spec.accelerators} free hosts", field="hosts")
        k = self.unit
        if k > 1:  # whole units: k consecutive hosts from a multiple of k
            first = hosts[::k]
            whole = len(hosts) % k == 0 and not np.any(first % k)
            if not (whole and np.array_equal(hosts, (first[:, None] + np.arange(k)).ravel())):
                raise InputError(f"job {job_id} must take whole power units of {k}", field="hosts")
        j.hosts = hosts
        self.free[j.hosts] = False
        self.n_free -= len(j.hosts)
        j.start_s = self.t
        self.queue.remove(job_id)
        self.queued_accelerators -= j.spec.accelerators
        self.running.append(job_id)
        self._dirty = True
        self._tenant_list = None

    # ------------------------------------------------------------ network
    def tenants(self) -> list[Tenant]:
        """The running jobs as the fabric sees them (with their class's routing)."""
        if self._tenant_list is not None:
            return self._tenant_list
        out = []
        made = self._tenant_of
        for i in self.running:
            routing = self.routing[self._classes.get(i, "compute")]
            t = made.get((i, routing))
            if t is None:  # a job's hosts never change: one Tenant per job and routing
                j = self.jobs[i]
                t = made[(i, routing)] = Tenant(
                    i, j.hosts, routing, j.grad_bytes, j.spec.tensor_parallel, j.spec.algorithm
                )
            out.append(t)
        self._tenant_list = out
        return out

    def _refresh_comm(self) -> None:
        """Solve the running set; classify jobs (comm-bound if exposed comm > 0).

        A class picks the routing, and the routing changes the comm time that decides the
        class, so this repeats until no class changes (at most 3 solves; a job whose class
        flips each time keeps the last one)."""
        self._dirty = False
        for _ in range(3):
            times = self.fabric.comm_times(self.tenants())
            changed = False
            for i in self.running:
                j = self.jobs[i]
                j.comm_s = times[i]
                cls = "comm" if j.is_comm_bound() else "compute"
                changed |= self._classes.get(i) != cls
                self._classes[i] = cls
            self._tenant_list = None
            if not changed:
                return

    def ensure_solved(self) -> None:
        """Re-solve the fabric if jobs started since the last solve."""
        if self._dirty:
            self._refresh_comm()

    def accelerators_by_class(self) -> dict[str, int]:
        """Accelerators of the running training jobs per class (comm, compute)."""
        self.ensure_solved()
        out = {"comm": 0, "compute": 0}
        cls = self._classes
        for i in self.running:
            out[cls.get(i, "compute")] += self.jobs[i].spec.accelerators
        return out

    def job_class(self, job_id: int) -> str:
        self.ensure_solved()
        return self._classes.get(job_id, "compute")

    def set_routing(self, routing: dict[str, str]) -> None:
        new = {**self.routing, **routing}
        if new != self.routing:
            self.routing = new
            self._tenant_list = None
            self._refresh_comm()

    # ------------------------------------------------------------ power
    def _job_clock(self, j: TrainingJob, cap: float) -> float:
        racks = self._racks.get(j.id)
        if racks is None:
            racks = self._racks[j.id] = np.unique(self.host_rack[j.hosts])
        return throttled_clock(cap, float(self.throttle[racks].min()), self.f_min)

    def _clocks(self, caps: dict[str, float]) -> dict[int, float]:
        """Each running job's clock: its class's cap, lowered by the slowest rack it runs on
        (looked up only while some rack is throttled: the clock at an unthrottled rack is
        `throttled_clock(cap, 1.0, f_min)` whatever the job)."""
        self.ensure_solved()
        cls = self._classes
        if self._any_throttled():
            return {
                i: self._job_clock(self.jobs[i], caps[cls.get(i, "compute")]) for i in self.running
            }
        free = {c: throttled_clock(cap, 1.0, self.f_min) for c, cap in caps.items()}
        return {i: free[cls.get(i, "compute")] for i in self.running}

    def accelerator_w(self, j: TrainingJob, f: float) -> float:
        """Mean power of one of the job's accelerators over an iteration at clock f: its compute
        and exposed-communication phases (`dcsim.power.interval_activity`)."""
        st = j.step(f)
        a = interval_activity(st.compute_s, st.exposed_comm_s, st.total_s, j.a_compute, j.a_comm)
        return float(self.device.power_w(a, f))

    def _host_sel(self, j: TrainingJob) -> slice | np.ndarray:
        """The job's power units as an index: a slice when they are consecutive (as packed
        jobs' mostly are; a slice assignment costs a third of a fancy one), else an array."""
        got = self._sel.get(j.id)
        if got is None:
            h = j.hosts[:: self.unit] // self.unit
            whole = len(h) > 0 and int(h[-1]) - int(h[0]) == len(h) - 1
            got = self._sel[j.id] = slice(int(h[0]), int(h[-1]) + 1) if whole else h
        return got

    def _power_w(self, a: float, f: float) -> float:
        """`DevicePowerModel.power_w` (its scalar twin, bitwise equal) memoised: most steps
        repeat a job's (activity, clock)."""
        got = self._pw.get((a, f))
        if got is None:
            if len(self._pw) > 4096:
                self._pw.clear()
            got = self._pw[(a, f)] = self.device.power_w_scalar(a, f)
        return got

    def _rack_power(
        self, clocks: dict[int, float], inf_clock: float, rho: float
    ) -> tuple[np.ndarray, dict[int, Booked], float, float]:
        """Per-rack wall power, each running job's booking of the step (not yet applied), the
        accelerators' power and their mean activity (inference servers: their load rho).

        A job runs until the step's end or its last iteration, its phases booked by its
        `dcsim.workload.PhaseClock` (as `dcsim.sim` books its job), and idles after; its
        accelerators draw the phases' mean activity (`dcsim.power.interval_activity`). A host
        (its share of the server's CPUs, DRAM, NICs) is busy for its job's share of the step,
        for the serving load rho on inference servers (as `dcsim.polca`'s row), and idles
        otherwise (`dcsim.power.host_power_w`)."""
        k = self.unit
        acc_w = np.full(self.n_units, self.p_idle_unit)  # per unit of k accelerators
        host_busy = np.zeros(self.n_units)
        booked: dict[int, Booked] = {}
        busy = 0.0  # sum of activity - idle activity over accelerators
        dt = self.dt
        book_fn = BOOK_JOBS.compiled() if self.compiled_booking and self.running else None
        if book_fn is not None:  # the readable loop below, compiled (tests/test_tenancy.py)
            static, units, uoff = self._running_set()
            jobs = self.jobs
            rows = []
            for i in self.running:
                j = jobs[i]
                f = clocks.get(i, 1.0)
                st, ph = j.step(f), j.phase
                rows.append((f, st.compute_s, st.exposed_comm_s, ph.comm, ph.left, j.remaining))
            out = np.empty((len(rows), O_N))
            busy = book_fn(np.array(rows, dtype=float), static, units, uoff, self._dev, dt, acc_w,
                        host_busy, out)  # fmt: skip
            for i, (share, c_s, m_s, iters, done, comm, left) in zip(
                self.running, out.tolist(), strict=True
            ):
                booked[i] = Booked(
                    share, PhaseBooking(c_s, m_s, iters, int(done)), PhaseClock(comm != 0.0, left)
                )
        else:  # the readable loop
            for i in self.running:
                j = self.jobs[i]
                f = clocks.get(i, 1.0)
                st = j.step(f)
                span = min(dt, j.remaining * st.total_s)
                book, clock = j.phase.advance(st, span)
                booked[i] = Booked(span / dt, book, clock)
                a = interval_activity(book.compute_s, book.comm_s, dt, j.a_compute, j.a_comm)
                at = self._host_sel(j)
                acc_w[at] = self._power_w(a, f) * k
                host_busy[at] = span / dt
                busy += (a - IDLE_ACTIVITY) * j.spec.accelerators
        if self.serving is not None and self.inf_acc:
            per_gpu = self.serving.gpu_power_w(rho, inf_clock) / self.profile.server.accelerators
            acc_w[self.inf_hosts] = per_gpu
            host_busy[self.inf_hosts] = rho
            busy += (rho - IDLE_ACTIVITY) * self.inf_acc
        rack_w = rack_wall_power_w(
            acc_w,
            host_power_w(self.unit_host_w, host_busy),
            self.unit_rack,
            self.n_racks,
            self.psu_eff,
            self.switch_w,
        )
        return rack_w, booked, float(acc_w.sum()), IDLE_ACTIVITY + busy / self.n_acc

    def _running_set(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`book_jobs`' constants of the running set (kept until it changes): per job its
        activities and accelerators, and its power units as one index array with offsets."""
        key = tuple(self.running)
        got = self._booking_set
        if got is None or got[0] != key:
            jobs = [self.jobs[i] for i in key]
            static = np.array([(j.a_compute, j.a_comm, j.spec.accelerators) for j in jobs],
                              dtype=float).reshape(len(jobs), S_N)  # fmt: skip
            sel = [self._host_sel(j) for j in jobs]
            parts = [np.arange(s.start, s.stop) if isinstance(s, slice) else s for s in sel]
            units = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
            uoff = np.zeros(len(parts) + 1, dtype=np.int64)
            np.cumsum([len(p) for p in parts], out=uoff[1:])
            got = self._booking_set = (key, static, units, uoff)
        return got[1], got[2], got[3]

    # ------------------------------------------------------------ step
    def _plant_step(
        self, rack_w: np.ndarray, weather: WeatherSample, controls: CoolingControls | None
    ) -> CoolingResult:
        """`CoolingPlant.step` over dt: compiled (`FastPlant`) when numba is installed and
        `fast_plant` is on (decided at the first step), else the readable step."""
        fp = self._plant_kernel
        if fp is None:
            fp = False
            if self.fast_plant:
                try:
                    from dcsim.cooling.fast import FastPlant
                except ImportError:  # numba missing or DCSIM_NO_JIT=1
                    pass
                else:
                    fp = FastPlant(self.plant)
            self._plant_kernel = fp
        if fp:
            return fp.step(rack_w, weather, self.dt, controls)
        return self.plant.step(rack_w, weather, self.dt, controls)

    def step(self, weather: WeatherSample, d: Decisions) -> StepResult:
        """Advance one step of dt under the decisions (routing applies before the step)."""
        if d.routing:
            self.set_routing(d.routing)
        self.ensure_solved()
        caps = {c: min(1.0, max(self.f_min, float(d.clock.get(c, 1.0)))) for c in CLASSES}
        rho = float(self.rho[min(self.k, len(self.rho) - 1)]) if len(self.rho) else 0.0
        inf_f = 1.0
        if self.inf_acc:
            inf_throttle = (
                float(self.throttle[self._inf_racks].min()) if self._any_throttled() else 1.0
            )
            inf_f = max(self.f_min, min(caps["inference"], inf_throttle))
        clocks = self._clocks(caps)
        rack_w, booked, accel_w, activity = self._rack_power(clocks, inf_f, rho)
        it_w = demand_w = float(rack_w.sum())
        over = max(0.0, demand_w - self.budget_w)
        brake = over > 0.0
        if brake:  # POLCA power brake for the step
            clocks = {i: self.brake_f for i in self.running}
            inf_f = self.brake_f
            rack_w, booked, accel_w, activity = self._rack_power(clocks, inf_f, rho)
            it_w = float(rack_w.sum())
        # ---- progress of training jobs
        train_work = 0.0
        done: list[int] = []
        for i in self.running:
            j = self.jobs[i]
            b = booked[i]
            j.phase = b.clock
            iters = min(j.remaining, b.booking.iterations)
            j.done_iters += iters
            train_work += iters * j.ideal_compute_s * j.spec.accelerators
            if j.remaining <= 1e-9:
                j.end_s = self.t + b.share * self.dt
                done.append(i)
        # ---- inference
        if self.serving is not None and self.inf_acc:
            slo = self.serving.slo_attainment(rho, inf_f)
            tokens = (
                self.serving.tokens_per_s(rho)
                * self.inf_acc
                / self.profile.server.accelerators
                * self.dt
            )
            inf_work = self.inf_acc * self.dt * min(rho, 1.0) * slo
        else:
            slo, tokens, inf_work = 1.0, 0.0, 0.0
        # ---- cooling and tank
        res = self._plant_step(rack_w, weather, d.cooling)
        self.throttle = res.throttle
        chiller_w = float(res.breakdown["chiller_w"])
        q_ch = chiller_w * res.chiller_cop
        chiller = self.plant.water.chiller
        cond = float(res.extra["condenser_c"])
        headroom = 0.0  # the chiller's spare capacity, asked only to charge the tank
        if d.tank > 0.0:
            headroom = max(chiller.power(max(q_ch, 1.0), res.chw_supply_c, cond)[2] - q_ch, 0.0)
        ts = self.tank.step(d.tank, q_ch, headroom, self.dt)
        breakdown = res.breakdown
        if ts.charge_w == 0.0 and ts.discharge_w == 0.0:  # the plant's own answer
            p_ch, cooling_w = chiller_w, res.cooling_w
        else:  # the chiller's power at the load the tank leaves it
            q_new = q_ch + ts.charge_w - ts.discharge_w
            p_ch = chiller.power(q_new, res.chw_supply_c, cond)[0] if q_new > 0 else 0.0
            cooling_w = res.cooling_w - chiller_w + p_ch
            breakdown = {**breakdown, "chiller_w": p_ch}
        tmid = self.t0 + self.t + 0.5 * self.dt
        ci = float(self.grid.carbon(tmid))
        price = float(self.grid.price(tmid))
        en = interval_energy(
            it_w,
            float(res.server_fan_w.sum()),
            cooling_w,
            self.design_it_w,
            self.site.facility,
            self.dt,
            ci,
            price,
        )
        inlet = res.inlet_c
        # ---- bookkeeping
        for i in done:
            self.running.remove(i)
            self.free[self.jobs[i].hosts] = True
            self.n_free += len(self.jobs[i].hosts)
            self.finished.append(i)
            self._classes.pop(i, None)
            for key in [k for k in self._tenant_of if k[0] == i]:
                del self._tenant_of[key]
            self._tenant_list = None
        self.t += self.dt
        self.k += 1
        self._admit()
        if done:
            self._refresh_comm()
        cap_s = self.n_acc * self.dt
        r = StepResult(
            it_w=en.it_w,
            demand_w=demand_w,
            cooling_w=cooling_w,
            facility_w=en.facility_w,
            budget_w=self.budget_w,
            over_budget_w=over,
            brake=brake,
            work=(train_work + inf_work) / cap_s,
            train_work=train_work / cap_s,
            inference_work=inf_work / cap_s,
            tokens=tokens,
            slo_attainment=slo,
            carbon_kg=en.carbon_kg,
            cost_usd=en.cost_usd,
            carbon_g_per_kwh=ci,
            price_usd_per_mwh=price,
            inlet_c=inlet,
            rack_w=rack_w,
            inlet_excess_k=max(0.0, float(inlet.max()) - self.inlet_limit_c),
            tank_charge_w=ts.charge_w,
            tank_discharge_w=ts.discharge_w,
            tank_loss_w=ts.loss_w,
            tank_soc=ts.soc,
            rho=rho,
            finished=done,
            accel_w=accel_w,
            activity=activity,
            it_kwh=en.it_kwh,
            facility_kwh=en.facility_kwh,
            water_l=float(res.water_l),
            clocks=clocks,
            booked=booked,
            cooling_breakdown=breakdown,
            extra={"chiller_load_w": q_ch, "chiller_w_plant": chiller_w, "chiller_w": p_ch},
        )
        self.last = r
        return r

    # ------------------------------------------------------------ metrics
    def job_metrics(self) -> dict[str, float]:
        """JCT and slowdown (JCT / packed-alone runtime at f_max) of finished jobs; waits."""
        jct, slow, late = [], [], 0
        for i in self.finished:
            j = self.jobs[i]
            assert j.end_s is not None
            c = j.end_s - j.spec.arrival_s
            jct.append(c)
            slow.append(c / j.ideal_runtime_s(self.packed_comm(i)))
            if j.spec.deadline_s is not None and j.end_s > j.spec.deadline_s:
                late += 1
        for i in self.queue + self.running:
            dl = self.jobs[i].spec.deadline_s
            if dl is not None and self.t > dl:
                late += 1
        return {
            "jobs_finished": float(len(self.finished)),
            "jct_mean_s": float(np.mean(jct)) if jct else math.nan,
            "slowdown_mean": float(np.mean(slow)) if slow else math.nan,
            "deadline_misses": float(late),
            "queued": float(len(self.queue)),
            "running": float(len(self.running)),
        }

    def snapshot(self) -> Engine:
        """A deep copy of the mutable state (jobs, queue, placement, plant, tank, throttle) for
        lookahead controllers. Parts never mutated after construction (config, fabric and its
        caches, serving model, grid, device, load series) are shared, not copied: copying them
        costs time, and the fabric's caches are pure functions of their keys."""
        shared = (
            self.fabric,
            self.serving,
            self.grid,
            self.device,
            self.profile,
            self.rho,
            self.host_rack,
            self.inf_hosts,
            self.design_rack_w,
            self.site.facility,
            self.site.inference,
            self.site.tank,
        )
        memo: dict[int, Any] = {id(x): x for x in shared if x is not None}
        return copy.deepcopy(self, memo)


__all__ = ["CLASSES", "PLACEMENTS", "Decisions", "Engine", "EngineConfig", "StepResult"]
