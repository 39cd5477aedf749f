"""The Simulation: `dcsim run`'s one training job on its scenario's datacenter, stepped one
control interval at a time: the multi-tenant engine's one-tenant case (issue 13.1).

The scenario builds the system (hardware profile, any fabric with its NICs and scale-up domain,
servers filling racks in order, the cooling plant, weather and carbon) and hands it to
`dcsim.tenancy.Engine` as a `Site` with one `TrainingJob` on the first active accelerators,
no facility budget and no chilled-water tank. Each interval the engine books the job's
iterations with `dcsim.workload.PhaseClock` at the clock the power cap sets (lowered by the
plant's thermal throttle of the previous interval), draws accelerator, host and rack power,
steps the plant and books facility energy and carbon; this module turns the controls into the
engine's decisions and its result into a `StepRecord` (timeseries.csv) and run totals.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from dcsim.climate import build_carbon, build_weather
from dcsim.config import TOPOLOGY_DIR, LoadedScenario, resolve_path
from dcsim.cooling import CoolingControls, CoolingPlant, check_air_density
from dcsim.cost import load_hourly_prices, price_sums, run_cost
from dcsim.errors import InputError, input_context
from dcsim.hardware import get_profile
from dcsim.limits import check_limits
from dcsim.network import load_topology
from dcsim.network.accelerator import AcceleratorNetwork
from dcsim.network.topology import list_presets, resolve_topology_path
from dcsim.power import DevicePowerModel, fabric_switch_power_w, server_wall_power_w
from dcsim.tenancy.engine import Decisions, Engine, Site
from dcsim.tenancy.fabric import SharedFabric, Tenant
from dcsim.tenancy.tank import TankConfig
from dcsim.tenancy.workload import InferenceConfig, TrainingJob
from dcsim.workload import (
    PhaseBooking,
    PhaseClock,
    StepTime,
    comm_activity,
    compute_activity,
    resolve_mfu,
    step_flops,
)


@dataclass(slots=True)
class Controls:
    """Actuator settings for one interval; None keeps the current value."""

    supply_air_c: float | None = None
    chw_supply_c: float | None = None
    economizer: str | None = None
    cap_frac: float | None = None
    routing: str | None = None


IDLE_BOOKING = PhaseBooking(0.0, 0.0, 0.0, 0)  # no job: nothing booked
NO_TANK = TankConfig(capacity_hours=0.0)  # dcsim run's plant has no chilled-water storage
NO_INFERENCE = InferenceConfig(servers=0)


class ScenarioCarbon:
    """The scenario's carbon source (`dcsim.climate`) as the engine's grid signal: carbon at
    t seconds from the run's start (t0 = 0); prices are booked by `RunTotals`, not per step."""

    def __init__(self, sim: Simulation):
        self.sim = sim

    def carbon(self, t_s: float) -> float:
        return float(self.sim.carbon.at(t_s))

    def price(self, t_s: float) -> float:
        return 0.0


@dataclass(slots=True)
class StepRecord:
    """What one interval produced; every field is a finite float (timeseries.csv columns)."""

    t_s: float
    outdoor_c: float
    wetbulb_c: float
    carbon_g_per_kwh: float
    supply_air_c: float
    cap_frac: float
    freq_frac: float
    throttle_min: float
    activity: float
    it_w: float
    accel_w: float
    cooling_w: float
    facility_w: float
    pue: float
    inlet_max_c: float
    inlet_mean_c: float
    violation_c: float
    step_time_s: float
    exposed_comm_s: float
    tokens_per_s: float
    iterations: float
    it_kwh: float
    facility_kwh: float
    carbon_kg: float
    water_l: float
    extra: dict[str, float] = field(default_factory=dict)

    def as_row(self) -> dict[str, float]:
        # the fields in order, then extra's items (asdict's deep copy was ~30 % of an env step)
        row = dict(zip(_ROW_FIELDS, _row_values(self), strict=True))
        row.update(self.extra)
        return row


_ROW_FIELDS = tuple(f.name for f in fields(StepRecord) if f.name != "extra")
_row_values = operator.attrgetter(*_ROW_FIELDS)  # one C call for the fields' values


class Simulation:
    """One datacenter running one training job, stepped one control interval at a time."""

    engine: Engine  # built by `reset` (the constructor's last step)

    def __init__(self, loaded: LoadedScenario, seed: int | None = None):
        self.loaded = loaded
        self.sc = sc = loaded.scenario
        self.seed = sc.seed if seed is None else seed
        self.profile = get_profile(sc.cluster.hardware)
        self.power = DevicePowerModel.from_profile(self.profile)
        self.acc_per_server = sc.cluster.accelerators_per_server or self.profile.server.accelerators
        self.n_servers = sc.cluster.servers
        self.n_dev = self.n_servers * self.acc_per_server
        self.n_racks = math.ceil(self.n_servers / sc.cluster.servers_per_rack)
        self.server_rack = np.arange(self.n_servers) // sc.cluster.servers_per_rack
        self.n_active = int(round(sc.workload.active_fraction * self.n_servers))
        self.active = np.arange(self.n_servers) < self.n_active
        self.dt = sc.time.dt_s
        self.t0 = 0.0  # t = 0 is climate.weather.start_day_of_year at start_hour

        src = str(loaded.source) if loaded.source else None
        # read before the run so a bad price file fails at once with its field path
        self.electricity_prices = load_hourly_prices(sc, loaded.base_dir, src)
        topo = sc.cluster.topology
        # the accelerator's own NICs and scale-up domain (hardware profile) shape the fabric
        self.accel_net = AcceleratorNetwork.from_profile(self.profile, self.acc_per_server)
        if isinstance(topo, str):
            path = resolve_topology_path(resolve_path(topo, loaded.base_dir, TOPOLOGY_DIR))
            if not path.is_file():  # name the scenario field; errors inside name the topology file
                presets = ", ".join(p.stem for p in list_presets())
                raise InputError(
                    f"topology '{topo}' not found next to the scenario, in the current directory "
                    f"or among the bundled presets ({presets})",
                    file=src,
                    field="cluster.topology",
                )
            self.fabric = load_topology(path, self.accel_net)  # errors name the topology file
        else:
            with input_context(src, "cluster.topology"):
                self.fabric = load_topology(topo, self.accel_net)
        if self.acc_per_server % sc.workload.tensor_parallel:
            raise InputError(
                f"tensor_parallel {sc.workload.tensor_parallel} must divide the {self.acc_per_server} "
                "accelerators of a server (TP stays inside the scale-up domain)",
                file=src,
                field="workload.tensor_parallel",
            )
        if self.fabric.n_hosts < self.n_dev:
            raise InputError(
                f"topology has {self.fabric.n_hosts} hosts (NICs) but the cluster has {self.n_dev} "
                f"accelerators ({self.n_servers} servers x {self.acc_per_server}); "
                "expected a fabric with at least one host per accelerator",
                file=src,
                field="cluster.topology",
            )
        self.switch_w = fabric_switch_power_w(*self.fabric.switch_ports())
        # accelerator i is fabric host i; servers fill racks in order
        self.rack_of = self.server_rack[np.arange(self.n_dev) // self.acc_per_server]
        self._fabrics: dict[int, SharedFabric] = {}  # the seed's fabric with its caches
        self._comm: dict[tuple[int, str], float] = {}  # (seed, routing) -> all-reduce s

        # Host (CPUs, DRAM, NICs) scales with the server size; it idles at
        # dcsim.power.HOST_IDLE_FRAC of its loaded power (dcsim.power.host_power_w).
        self.host_w = (
            self.profile.server.host_power_w.value
            * self.acc_per_server
            / self.profile.server.accelerators
        )
        self.psu_eff = self.profile.server.psu_efficiency.value
        server_peak = server_wall_power_w(
            self.acc_per_server * self.profile.tdp_w, self.host_w, self.psu_eff
        )
        self.design_it_w = float(server_peak) * self.n_servers + self.switch_w
        # rack power and per-accelerator memory within their limits (dcsim.limits), or refused
        self.limits = check_limits(
            sc,
            self.profile,
            self.acc_per_server,
            self.n_active * self.acc_per_server,
            float(server_peak),
            src,
        )
        with input_context(src, "cooling"):
            self.plant = CoolingPlant(
                sc.cooling, self.n_racks, self.design_it_w, self.power.freq_for_scale
            )
        with input_context(src, "climate"):
            self.weather = build_weather(sc.climate, loaded.base_dir, self.seed)
            self.carbon = build_carbon(sc.climate, loaded.base_dir, self.seed)
        # MFU: the scenario's workload.mfu, else the chip's sourced MFU at this model size; phase
        # activities: the scenario's, else dcsim.power.PHASE_ACTIVITY.
        self.mfu, self.mfu_source = resolve_mfu(sc.workload, self.profile)
        self.a_compute = compute_activity(sc.workload)
        self._f_cap: dict[float, float] = {}  # cap W -> clock; the activity is fixed per run
        self.a_comm = comm_activity(sc.workload)
        self.job = self._new_job()
        # Reference throughput: the job at full clock, no throttling (normalizes rewards).
        self.ref_tokens_per_s = self._tokens_per_s(self._step_time(1.0, sc.workload.routing))
        self.reset()

    # ------------------------------------------------------------ job model
    def _new_job(self) -> TrainingJob | None:
        """The scenario's training job on the first active servers' accelerators (None when
        no server is active), as the engine runs it (`TrainingJob.of_workload`)."""
        if self.n_active == 0:
            return None
        n = self.n_active * self.acc_per_server
        return TrainingJob.of_workload(0, self.sc.workload, n, self.profile.peak_flops, self.mfu)

    def _shared_fabric(self) -> SharedFabric:
        fab = self._fabrics.get(self.seed)
        if fab is None:
            fab = self._fabrics[self.seed] = SharedFabric(self.fabric, self.seed)
        return fab

    def _tenant(self, routing: str) -> Tenant | None:
        j = self.job
        if j is None:
            return None
        hosts = np.arange(j.spec.accelerators)
        return Tenant(0, hosts, routing, j.grad_bytes, j.spec.tensor_parallel, j.spec.algorithm)

    def comm_time(self, routing: str) -> float:
        """DP gradient all-reduce time on the fabric under a routing policy: the engine's
        all-reduce of its one tenant alone (`SharedFabric.alone_s`, cached per routing).

        All DP groups (one per TP rank, dcsim.network.data_parallel_groups) all-reduce
        at once and contend for the fabric; DP peers inside one scale-up domain talk
        over it (NVLink/UB), as NCCL/HCCL do (dcsim.network.dp_allreduce).
        """
        key = (self.seed, routing)
        got = self._comm.get(key)
        if got is None:
            t = self._tenant(routing)
            got = self._comm[key] = 0.0 if t is None else self._shared_fabric().alone_s(t)
        return got

    def _dp_algorithm(self, routing: str) -> str:
        """Which all-reduce algorithm the job's DP groups run (and auto's candidates)."""
        t = self._tenant(routing)
        if t is None or self.comm_time(routing) == 0.0:
            return "none (one rank per DP group)"
        fab = self._shared_fabric()
        algo, cands = fab.algorithms.get(fab.alone_key(t), (self.sc.workload.algorithm, {}))
        if not cands:
            return algo
        return algo + " (auto: " + ", ".join(f"{a} {x:.3g} s" for a, x in cands.items()) + ")"

    @property
    def network_facts(self) -> dict[str, Any]:
        """Which NIC, scale-up domain and DP all-reduce algorithm the run used (for summaries)."""
        a = self.accel_net
        su = self.fabric.scale_up
        routing = self.sc.workload.routing
        # a scale-up topology (NVLink switch, UB Clos, mesh) is itself one domain of all hosts
        dom = su if su is not None or self.fabric.nic_note else self.fabric
        return {
            "nic": self.fabric.nic_note or "the topology is a scale-up fabric (no NICs)",
            "nic_gbps": a.nic_gbps,
            "nics_per_server": a.nics_per_server,
            "host_link_gbps": self.fabric.host_link_Bps() * 8 / 1e9,
            "scaleup": a.scaleup_technology,
            "scaleup_domain": dom.n_hosts if dom is not None else 1,
            "scaleup_gBps": dom.host_link_Bps() / 1e9 if dom is not None else 0.0,
            "routing": routing,
            "dp_algorithm": self._dp_algorithm(routing),
        }

    def _step_time(self, freq_frac: float, routing: str) -> StepTime:
        if self.job is None:
            return StepTime(0.0, 0.0, 0.0)
        return self.job.step(float(freq_frac), self.comm_time(routing))

    def _tokens_per_s(self, st: StepTime) -> float:
        if self.n_active == 0:
            return 0.0
        return self.sc.workload.global_batch_tokens / st.total_s

    # ------------------------------------------------------------ state (the engine's)
    @property
    def t(self) -> float:
        return self.engine.t

    @t.setter
    def t(self, v: float) -> None:
        self.engine.t = v

    @property
    def k(self) -> int:
        return self.engine.k

    @k.setter
    def k(self, v: int) -> None:
        self.engine.k = v

    @property
    def throttle(self) -> np.ndarray:
        """Per-rack thermal clock limit from the previous interval (the plant's)."""
        return self.engine.throttle

    @throttle.setter
    def throttle(self, v: np.ndarray) -> None:
        self.engine.throttle = v

    @property
    def phase(self) -> PhaseClock:
        """Where the job is in its iteration (`dcsim.workload.PhaseClock`)."""
        return self.job.phase if self.job is not None else PhaseClock()

    @phase.setter
    def phase(self, v: PhaseClock) -> None:
        if self.job is not None:
            self.job.phase = v

    # ------------------------------------------------------------ stepping
    def reset(self, seed: int | None = None) -> None:
        """A fresh engine on this system: the job placed on its accelerators at t = 0, the
        plant at rest under the idle cluster."""
        if seed is not None and seed != self.seed:
            self.seed = seed
            self.weather = build_weather(self.sc.climate, self.loaded.base_dir, seed)
            self.carbon = build_carbon(self.sc.climate, self.loaded.base_dir, seed)
            # the ECMP hash is seeded: the fabric and all-reduce times of this seed only (an
            # env reset with ever new seeds must not keep one fabric per seed)
            self._fabrics.clear()
            self._comm.clear()
        sc = self.sc
        self.cap_frac = sc.power.cap_frac
        self.routing = sc.workload.routing
        self.supply_air_c = sc.cooling.supply_air_setpoint_c
        self.total_iterations = 0
        self.job = self._new_job()
        site = Site(
            profile=self.profile,
            fabric=self._shared_fabric(),
            host_rack=self.rack_of,
            n_racks=self.n_racks,
            switch_w=self.switch_w,
            design_it_w=self.design_it_w,
            plant=self.plant,
            tank=NO_TANK,
            facility=sc.power,
            budget_w=math.inf,  # dcsim run has no facility budget (CoDesign-v0 has)
            signal=ScenarioCarbon(self),
            inference=NO_INFERENCE,
            unit=self.acc_per_server,  # the job takes whole servers: power per server
            unit_host_w=self.host_w,
        )
        jobs = [] if self.job is None else [self.job]
        self.engine = e = Engine(site, jobs, np.zeros(0), self.dt)
        e.fast_plant = False  # the readable reference (FastSimulation has its own kernel)
        e.reset_plant(self.weather.at(self.t0), self.t0)
        if self.job is not None:
            e.start_on(0, np.arange(self.job.spec.accelerators))
        self.last: StepRecord | None = None

    def _cap_clock(self) -> float:
        """The power cap's clock at compute activity (`freq_for_cap`, memoised per cap)."""
        cap_w = self.cap_frac * self.profile.tdp_w
        f_cap = self._f_cap.get(cap_w)
        if f_cap is None:
            f_cap = self._f_cap[cap_w] = self.power.freq_for_cap_scalar(cap_w, self.a_compute)
        return f_cap

    def step(self, controls: Controls | None = None) -> StepRecord:
        """One interval of the engine with its one job: the cap sets the job's clock (lowered
        by throttled racks it runs on), the routing its all-reduce, the setpoints the plant."""
        c = controls or Controls()
        sc = self.sc
        e = self.engine
        # scalar clips as min(max()): np.clip on one number costs ~3 us each
        if c.cap_frac is not None:
            self.cap_frac = min(max(float(c.cap_frac), sc.power.min_cap_frac), 1.0)
        if c.routing is not None:
            self.routing = c.routing
        if c.supply_air_c is not None:  # the CRAH's physical range (CoolingConfig bounds)
            self.supply_air_c = min(max(float(c.supply_air_c), 10.0), 35.0)
        chw = None if c.chw_supply_c is None else min(max(float(c.chw_supply_c), 4.0), 25.0)

        f_cap = self._cap_clock()
        t_start = e.t
        ws = self.weather.at(t_start + 0.5 * self.dt)
        r = e.step(
            ws,
            Decisions(
                routing={"comm": self.routing, "compute": self.routing},
                clock={"comm": f_cap, "compute": f_cap},
                cooling=CoolingControls(
                    supply_air_c=self.supply_air_c, chw_supply_c=chw, economizer=c.economizer
                ),
            ),
        )
        job = self.job
        if job is not None:
            f = r.clocks[0]
            booking = r.booked[0].booking
            st = job.step(f)
            self.total_iterations += booking.completed
        else:
            f, booking, st = f_cap, IDLE_BOOKING, StepTime(0.0, 0.0, 0.0)
        it_w = r.it_w
        inlet_max = float(np.max(r.inlet_c))
        rec = StepRecord(
            t_s=t_start - self.t0,
            outdoor_c=float(ws.dry_bulb_c),
            wetbulb_c=float(ws.wet_bulb_c),
            carbon_g_per_kwh=r.carbon_g_per_kwh,
            supply_air_c=self.supply_air_c,
            cap_frac=self.cap_frac,
            freq_frac=f,
            throttle_min=float(e.throttle.min()),
            activity=r.activity,
            it_w=it_w,
            accel_w=r.accel_w,
            cooling_w=r.cooling_w,
            facility_w=r.facility_w,
            pue=r.facility_w / it_w,
            inlet_max_c=inlet_max,
            inlet_mean_c=float(np.mean(r.inlet_c)),
            violation_c=r.inlet_excess_k,
            step_time_s=st.total_s,
            exposed_comm_s=st.exposed_comm_s,
            tokens_per_s=booking.iterations * sc.workload.global_batch_tokens / self.dt,
            iterations=booking.iterations,
            it_kwh=r.it_kwh,
            facility_kwh=r.facility_kwh,
            carbon_kg=r.carbon_kg,
            water_l=r.water_l,
            extra={f"cooling_{k}": float(v) for k, v in sorted(r.cooling_breakdown.items())},
        )
        self.last = rec
        return rec

    @property
    def year_offset_s(self) -> float:
        """Seconds from 1 January 00:00 to t = 0 (start_day_of_year, start_hour): the hour of
        year of hourly series such as electricity prices."""
        w = self.sc.climate.weather
        return (w.start_day_of_year - 1.0) * 86400.0 + w.start_hour * 3600.0

    @property
    def nic_gbps(self) -> float:
        """Scale-out line rate per accelerator as built in the fabric, Gb/s (slowest host)."""
        return self.fabric.host_link_Bps() * 8 / 1e9

    @property
    def done(self) -> bool:
        return self.k >= self.sc.time.steps

    def describe(self) -> dict[str, Any]:
        """Static facts of the built system (for manifests and summaries)."""
        return {
            "hardware": self.profile.name,
            "accelerators": self.n_dev,
            "servers": self.n_servers,
            "racks": self.n_racks,
            "design_it_kw": self.design_it_w / 1e3,
            "rack_design_kw": self.design_it_w / 1e3 / self.n_racks,
            "switch_kw": self.switch_w / 1e3,
            "fabric": self.fabric.summary(),
            "network": self.network_facts,
            "step_flops": step_flops(self.sc.workload),
            "mfu": self.mfu,
            "mfu_source": self.mfu_source,
            "ref_tokens_per_s": self.ref_tokens_per_s,
            # rack nameplate kW vs its budget, memory per accelerator vs HBM (dcsim.limits)
            "limits": self.limits.as_dict(),
            # '' or the cooling model's warning/error when air must carry too much per rack
            "air_density_note": check_air_density(
                self.design_it_w / 1e3 / self.n_racks, self.sc.cooling.effective_liquid_fraction
            )
            or "",
        }


class RunTotals:
    """Running totals of a run's step records: its summary without holding the records, so a
    long run streams its time series to disk in constant memory (issue 14.5)."""

    PRICE_CHUNK = 4096  # hourly-price lookups are batched this many steps at a time

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.n = 0
        self.step_time = self.it = self.fac = self.water = self.cooling_w = 0.0
        self.carbon = self.tokens_per_s = self.violation = self.exposed = 0.0
        self.peak_w = self.max_inlet = -math.inf
        self.violation_steps = 0
        self.prices: np.ndarray | None = sim.electricity_prices
        self._t: list[float] = []
        self._kwh: list[float] = []
        self.price_sums = (0.0, 0.0, 0.0)  # sum(kWh * price), sum(kWh), sum(price)

    def add(self, r: StepRecord) -> None:
        self.n += 1
        self.step_time += r.step_time_s
        self.it += r.it_kwh
        self.fac += r.facility_kwh
        self.water += r.water_l
        self.cooling_w += r.cooling_w
        self.carbon += r.carbon_kg
        self.tokens_per_s += r.tokens_per_s
        self.violation += r.violation_c
        self.exposed += r.exposed_comm_s
        self.violation_steps += r.violation_c > 0
        self.peak_w = max(self.peak_w, r.facility_w)
        self.max_inlet = max(self.max_inlet, r.inlet_max_c)
        if self.prices is not None:
            self._t.append(r.t_s)
            self._kwh.append(r.facility_kwh)
            if len(self._t) >= self.PRICE_CHUNK:
                self._flush_prices()

    def _flush_prices(self) -> None:
        if not self._t or self.prices is None:
            return
        start = self.sim.year_offset_s
        add = price_sums(self.prices, np.array(self._t), np.array(self._kwh), start, self.sim.dt)
        num, kwh, psum = self.price_sums
        self.price_sums = (num + add[0], kwh + add[1], psum + add[2])
        self._t.clear()
        self._kwh.clear()

    def electricity_price(self) -> float | None:
        """The run's energy-weighted hourly price (None without an hourly price series)."""
        if self.prices is None:
            return None
        self._flush_prices()
        num, kwh, psum = self.price_sums
        return num / kwh if kwh > 0 else psum / self.n

    def summary(self) -> dict[str, Any]:
        """Episode totals: energy, PUE (energy-weighted), carbon, WUE, throughput, violations,
        and what set the step time: MFU (and whether the scenario or the chip's profile gave
        it), routing, NIC line rate and the exposed share of the data-parallel all-reduce."""
        if not self.n:
            return {}
        sim, dt, it, fac = self.sim, self.sim.dt, self.it, self.fac
        tokens = self.tokens_per_s * dt
        summary: dict[str, Any] = {
            "steps": self.n,
            "hours": self.n * dt / 3600.0,
            "it_energy_kwh": it,
            "facility_energy_kwh": fac,
            "cooling_energy_kwh": self.cooling_w * dt / 3.6e6,
            "pue": fac / it if it > 0 else float("nan"),
            "carbon_kg": self.carbon,
            "water_l": self.water,
            "wue_l_per_kwh": self.water / it if it > 0 else 0.0,
            "mean_tokens_per_s": self.tokens_per_s / self.n,
            "tokens": tokens,
            "train_steps_completed": sim.total_iterations,
            "mean_step_time_s": self.step_time / self.n,
            "peak_facility_kw": self.peak_w / 1e3,
            "max_inlet_c": self.max_inlet,
            "violation_steps": self.violation_steps,
            "violation_degree_hours": self.violation * dt / 3600.0,
            # undefined without tokens (idle cluster, a step longer than the run): None, not
            # the facility energy over a 1e-9 floor (2e16 J/token, issue 14.4)
            "energy_per_token_j": (fac * 3.6e6) / tokens if tokens > 0 else None,
            "mfu": sim.mfu,
            "mfu_source": sim.mfu_source,
            "routing": sim.routing,
            "nic_gbps": sim.nic_gbps,
            # exposed DP communication time / step time (step-time weighted over the run)
            "exposed_comm_share": self.exposed / self.step_time if self.step_time > 0 else 0.0,
        }
        # TCO and embodied carbon of this cluster at this run's power and throughput
        # (docs/cost.md), at the hourly prices' energy-weighted mean when a series is given
        summary.update(run_cost(sim, summary, self.electricity_price()))
        return summary


def summarize(records: list[StepRecord], sim: Simulation) -> dict[str, Any]:
    """The summary of a list of step records (RunTotals over them)."""
    totals = RunTotals(sim)
    for r in records:
        totals.add(r)
    return totals.summary()
