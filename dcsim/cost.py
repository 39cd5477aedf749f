"""Total cost of ownership and embodied carbon of a simulated cluster.

Capex (servers, network ports and optics, cooling plant, power infrastructure, building
shell) is annualized with the capital recovery factor r / (1 - (1 + r)^-n) per asset class
(Brealey, Myers & Allen, Principles of Corporate Finance, ch. 2; the TCO method of Barroso,
Hoelzle & Ranganathan, The Datacenter as a Computer, 3rd ed., ch. 6). Opex is electricity
(the run's facility energy at a regional or hourly price), water, maintenance as a share of
capex and staff per MW. Embodied carbon (cradle-to-gate LCAs) is spread evenly over each
asset's lifetime, next to the run's operational carbon. Every price and footprint lives in
dcsim/data/cost/prices.yaml with its source and confidence; docs/cost.md tabulates them.

Assumption stated once: the simulated interval's power, water and carbon per hour repeat
all year (a one-day run stands for the year unless an hourly price series says otherwise).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator

from dcsim.errors import InputError
from dcsim.schema import Sourced, StrictModel, format_validation_error, load_model

if TYPE_CHECKING:
    from dcsim.network import Fabric

PRICES_FILE = Path(__file__).parent / "data" / "cost" / "prices.yaml"
HOURS_PER_YEAR = 8760.0
SPEEDS_GBPS = (100, 200, 400, 800)  # priced line rates; faster cables use several 800G ports
# Scale-up fabrics ship inside the system price (NVLink trays, UB optics of a CloudMatrix).
SCALE_UP_KINDS = frozenset({"nvlink_switch", "ub_clos", "full_mesh"})
CLASSES = ("servers", "network", "cooling", "power", "building")

Speed = Literal["100", "200", "400", "800"]


class Lifetimes(StrictModel):
    servers: Sourced
    network: Sourced
    cooling: Sourced
    power: Sourced
    building: Sourced


class Maintenance(StrictModel):
    it: Sourced
    facility: Sourced


class PriceBook(StrictModel):
    """The contents of prices.yaml: every number a Sourced value."""

    server_usd: dict[str, Sourced]
    switch_port_usd: dict[Speed, Sourced]
    optic_usd: dict[Speed, Sourced]
    power_infrastructure_usd_per_mw: Sourced
    cooling_usd_per_kw: dict[Literal["air", "liquid"], Sourced]
    building_shell_usd_per_mw: Sourced
    cost_of_capital: Sourced
    lifetime_years: Lifetimes
    electricity_usd_per_kwh: dict[str, Sourced]
    water_usd_per_m3: Sourced
    carbon_usd_per_tco2: Sourced
    maintenance_share_per_year: Maintenance
    staff_fte_per_mw: Sourced
    staff_usd_per_fte_year: Sourced
    embodied_kgco2e_per_accelerator: dict[str, Sourced]
    embodied_kgco2e_per_server_host: Sourced
    embodied_kgco2e_per_switch: Sourced
    embodied_kgco2e_per_optic: Sourced
    embodied_kgco2e_per_mw_building: Sourced

    @field_validator("cost_of_capital")
    @classmethod
    def _rate(cls, v: Sourced) -> Sourced:
        if v.value > 1:
            raise ValueError("cost of capital is a yearly rate between 0 and 1 (0.08 = 8%)")
        return v

    @field_validator("lifetime_years")
    @classmethod
    def _lives(cls, v: Lifetimes) -> Lifetimes:
        for name in CLASSES:
            if getattr(v, name).value <= 0:
                raise ValueError(f"{name}: a lifetime must be > 0 years")
        return v


@lru_cache(maxsize=1)
def price_book() -> PriceBook:
    """The bundled price book (validated once)."""
    return load_model(PriceBook, PRICES_FILE)


def price_keys(book: PriceBook | None = None) -> list[str]:
    """Dotted keys of every number in the book (the names `cost.prices` may override)."""
    data = (book or price_book()).model_dump()
    out: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and "value" in node and "source" in node:
            out.append(prefix)
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))

    walk(data, "")
    return out


def _book_with(overrides: Mapping[str, float]) -> PriceBook:
    """The bundled book with dotted-key overrides (source: 'scenario override')."""
    if not overrides:
        return price_book()
    data = price_book().model_dump()
    keys = set(price_keys())
    for key, value in overrides.items():
        if key not in keys:
            close = [k for k in sorted(keys) if k.split(".")[0] == key.split(".")[0]]
            hint = f"; known under '{key.split('.')[0]}': {', '.join(close)}" if close else ""
            raise ValueError(f"unknown price '{key}'{hint} (all keys: docs/cost.md)")
        node = data
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = {
            **node[last],
            "value": value,
            "source": "scenario override (cost.prices)",
            "confidence": "high",
        }
    try:
        return PriceBook.model_validate(data)
    except ValidationError as exc:
        path, msg = format_validation_error(exc)
        raise ValueError(f"{path.removesuffix('.value')}: {msg}") from None


class CostConfig(StrictModel):
    """Scenario `cost:` section: region, hourly prices, run size and price overrides."""

    region: str = Field(
        "us_industrial_2023",
        description="electricity price key in prices.yaml (electricity_usd_per_kwh)",
    )
    electricity_usd_per_kwh: float | None = Field(
        None, ge=0, le=10, description="flat price, overrides region"
    )
    electricity_prices_csv: str | None = Field(
        None,
        description="hourly prices: CSV with columns hour,usd_per_kwh; 24 rows (a daily profile) "
        "or 8760 rows (hour 0 = 1 Jan 00:00); overrides region and the flat price",
    )
    training_run_tokens: float = Field(
        2.0e12,
        gt=0,
        le=1e16,
        description="tokens of one training run for $/run (Llama 2 pretrained on 2T tokens, "
        "arXiv 2307.09288)",
    )
    prices: dict[str, float] = Field(
        default_factory=dict,
        description="override any prices.yaml number by dotted key, e.g. "
        "{'server_usd.H100-SXM': 250000, 'cost_of_capital': 0.1}",
    )

    @field_validator("region")
    @classmethod
    def _known_region(cls, v: str) -> str:
        regions = price_book().electricity_usd_per_kwh
        if v not in regions:
            raise ValueError(f"unknown region; expected one of: {', '.join(regions)}")
        return v

    @field_validator("prices", mode="before")
    @classmethod
    def _flatten(cls, v: Any) -> Any:
        """Nested mappings (from `--set cost.prices.server_usd.H100-SXM=...`) to dotted keys."""
        if not isinstance(v, dict):
            return v
        flat: dict[str, Any] = {}

        def walk(node: dict[Any, Any], prefix: str) -> None:
            for k, val in node.items():
                key = f"{prefix}.{k}" if prefix else str(k)
                if isinstance(val, dict):
                    walk(val, key)
                else:
                    flat[key] = val

        walk(v, "")
        return flat

    @field_validator("prices")
    @classmethod
    def _known_prices(cls, v: dict[str, float]) -> dict[str, float]:
        _book_with(v)  # raises ValueError naming the key
        return v

    def book(self) -> PriceBook:
        return _book_with(self.prices)

    def flat_prices(self) -> tuple[float, float]:
        """(electricity USD/kWh, water USD/m3): the flat price or the region's, with the
        scenario's overrides; the same numbers `cost_report` uses without hourly prices."""
        book = self.book()
        elec = self.electricity_usd_per_kwh
        if elec is None:
            elec = book.electricity_usd_per_kwh[self.region].value
        return float(elec), float(book.water_usd_per_m3.value)


class FlatCostConfig(CostConfig):
    """A `cost:` section for models that price energy at one flat or regional price (the
    Cooling-v0, PowerCap-v0 and Placement-v0 envs): an hourly price file is refused, not
    ignored."""

    @field_validator("electricity_prices_csv")
    @classmethod
    def _no_hourly_prices(cls, v: str | None) -> str | None:
        if v is not None:
            raise ValueError(
                "this model prices energy at one flat or regional price (cost.region or "
                "cost.electricity_usd_per_kwh); hourly prices are read by dcsim run, "
                "Datacenter-v0 and CoDesign-v0"
            )
        return v


def annuity_factor(rate: float, years: float) -> float:
    """Capital recovery factor r / (1 - (1 + r)^-n): yearly payment per dollar of capex."""
    if years <= 0:
        raise ValueError("years must be > 0")
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


# ----------------------------------------------------------------------------- inventory
@dataclass
class NetworkInventory:
    """What the scale-out fabric is made of: switches, switch ports and optics by speed."""

    switches: int = 0
    ports: dict[int, int] = field(default_factory=dict)  # Gb/s -> switch ports
    optics: dict[int, int] = field(default_factory=dict)  # Gb/s -> transceivers
    note: str = ""


def _port_speed(gbps: float) -> tuple[int, int]:
    """(priced speed, ports) for one cable of gbps: smallest standard rate that carries it."""
    for s in SPEEDS_GBPS:
        if gbps <= s * (1 + 1e-9):
            return s, 1
    return SPEEDS_GBPS[-1], math.ceil(gbps / SPEEDS_GBPS[-1] - 1e-9)


def network_inventory(fabric: Fabric) -> NetworkInventory:
    """Count switch ports and optics per cable of a compiled fabric.

    A host cable needs one switch port and two optics (NIC side and switch side; the NIC is
    in the server price); a switch-to-switch cable two ports and two optics. A cable faster
    than 800G (a derived leaf-spine bundle) counts as several 800G ports. Scale-up fabrics
    (NVLink, UB) are part of the system price and count nothing.
    """
    if fabric.kind in SCALE_UP_KINDS:
        return NetworkInventory(note=f"{fabric.kind} fabric priced inside the system")
    from dcsim.network.topology import GBPS

    n_cables = len(fabric.link_src) // 2
    src, dst = fabric.link_src[:n_cables], fabric.link_dst[:n_cables]
    eff = float(getattr(fabric.config, "efficiency", 1.0))
    gbps = fabric.link_cap[:n_cables] / GBPS / eff
    tier = fabric.node_tier
    inv = NetworkInventory(switches=int(np.sum(tier > 0)))
    for u, v, g in zip(src, dst, gbps, strict=True):
        speed, n = _port_speed(float(g))
        ends = int(tier[u] > 0) + int(tier[v] > 0)
        inv.ports[speed] = inv.ports.get(speed, 0) + n * ends
        inv.optics[speed] = inv.optics.get(speed, 0) + 2 * n
    return inv


# ----------------------------------------------------------------------------- prices in time
def read_hourly_prices(path: Path) -> np.ndarray:
    """USD/kWh by hour from a CSV `hour,usd_per_kwh` (24 or 8760 rows, hours 0..N-1)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", file=str(path)) from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or rows[0].keys() != {"hour", "usd_per_kwh"}:
        raise InputError("expected a CSV with header 'hour,usd_per_kwh'", file=str(path))
    if len(rows) not in (24, 8760):
        raise InputError(
            f"expected 24 (daily profile) or 8760 (hour of year) rows, got {len(rows)}",
            file=str(path),
        )
    prices = np.empty(len(rows))
    for i, r in enumerate(rows):
        try:
            hour, price = int(r["hour"]), float(r["usd_per_kwh"])
        except (TypeError, ValueError):
            raise InputError(
                f"row {i + 2}: hour must be an integer and usd_per_kwh a number", file=str(path)
            ) from None
        if hour != i:
            raise InputError(f"row {i + 2}: expected hour {i}, got {hour}", file=str(path))
        if not math.isfinite(price) or price < 0 or price > 10:
            raise InputError(
                f"row {i + 2}: usd_per_kwh must be between 0 and 10, got {price}", file=str(path)
            )
        prices[i] = price
    return prices


def price_at(prices: np.ndarray, t_s: np.ndarray, start_s: float, dt_s: float) -> np.ndarray:
    """USD/kWh of the intervals starting t_s after start_s (the hour of their midpoint)."""
    hour = np.floor((start_s + t_s + 0.5 * dt_s) / 3600.0).astype(np.int64) % len(prices)
    return prices[hour]


def price_sums(
    prices: np.ndarray, t_s: np.ndarray, kwh: np.ndarray, start_s: float, dt_s: float
) -> tuple[float, float, float]:
    """(sum kWh x price, sum kWh, sum price) over intervals starting t_s after start_s: the
    parts of the energy-weighted price, additive over chunks of a streamed run."""
    p = price_at(prices, t_s, start_s, dt_s)
    return float(np.sum(kwh * p)), float(np.sum(kwh)), float(np.sum(p))


def energy_weighted_price(
    prices: np.ndarray, t_s: np.ndarray, kwh: np.ndarray, start_s: float, dt_s: float
) -> float:
    """Mean USD/kWh of a run weighted by its energy (the plain mean if it used none)."""
    num, total, psum = price_sums(prices, t_s, kwh, start_s, dt_s)
    return num / total if total > 0 else psum / len(t_s)


# ----------------------------------------------------------------------------- report
@dataclass
class CostReport:
    """Capex, opex, unit costs and carbon of one run's cluster (USD, kgCO2e)."""

    capex_usd: dict[str, float]
    annualized_capex_usd_per_year: dict[str, float]
    opex_usd_per_year: dict[str, float]
    electricity_usd_per_kwh: float
    accelerators: int
    cost_usd_per_hour: float
    cost_usd_per_accel_hour: float
    cost_usd_per_million_tokens: float | None
    training_run_hours: float | None
    cost_usd_per_training_run: float | None
    embodied_kgco2e: dict[str, float]
    embodied_kgco2e_per_hour: float
    operational_kgco2e_per_hour: float
    carbon_kgco2e_per_training_run: float | None
    network: NetworkInventory = field(default_factory=NetworkInventory)
    low_confidence: list[str] = field(default_factory=list)

    @property
    def embodied_share(self) -> float:
        total = self.embodied_kgco2e_per_hour + self.operational_kgco2e_per_hour
        return self.embodied_kgco2e_per_hour / total if total > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        """Flat keys for summary.json and the `dcsim run` table (undefined ones left out)."""
        out: dict[str, float] = {
            "cost_usd_per_accel_hour": self.cost_usd_per_accel_hour,
            "cost_usd_per_hour": self.cost_usd_per_hour,
            "capex_usd": sum(self.capex_usd.values()),
            "annualized_capex_usd_per_year": sum(self.annualized_capex_usd_per_year.values()),
            "opex_usd_per_year": sum(self.opex_usd_per_year.values()),
            "electricity_usd_per_kwh": self.electricity_usd_per_kwh,
            "embodied_kgco2e": sum(self.embodied_kgco2e.values()),
            "embodied_kgco2e_per_hour": self.embodied_kgco2e_per_hour,
            "operational_kgco2e_per_hour": self.operational_kgco2e_per_hour,
            "embodied_carbon_share": self.embodied_share,
        }
        for k, v in self.capex_usd.items():
            out[f"capex_{k}_usd"] = v
        for k, v in self.opex_usd_per_year.items():
            out[f"opex_{k}_usd_per_year"] = v
        optional = {
            "cost_usd_per_million_tokens": self.cost_usd_per_million_tokens,
            "training_run_hours": self.training_run_hours,
            "cost_usd_per_training_run": self.cost_usd_per_training_run,
            "carbon_kgco2e_per_training_run": self.carbon_kgco2e_per_training_run,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    def details(self) -> dict[str, Any]:
        """Everything, nested (for a report or a manifest)."""
        d = asdict(self)
        d["embodied_share"] = self.embodied_share
        return d


def _low_confidence(book: PriceBook, used: list[str]) -> list[str]:
    data = book.model_dump()
    out = []
    for key in used:
        node: Any = data
        for p in key.split("."):
            node = node[p]
        if node["confidence"] == "low":
            out.append(key)
    return out


def _priced(table: Mapping[Any, Sourced], counts: Mapping[int, int]) -> float:
    """Sum of count x unit price by line rate."""
    return float(sum(n * table[str(speed)].value for speed, n in counts.items()))


def cost_report(
    scenario: Any,
    summary: Mapping[str, Any],
    system: Mapping[str, Any],
    network: NetworkInventory | None = None,
    electricity_usd_per_kwh: float | None = None,
) -> CostReport | None:
    """TCO and carbon of a run from its summary and system facts (Simulation.describe()).

    `electricity_usd_per_kwh`, when given, is the run's energy-weighted price (hourly series);
    otherwise the scenario's flat price or region. Returns None when the price book has no
    server price for the hardware (add one to prices.yaml or set cost.prices).
    """
    from dcsim.hardware import get_profile

    cfg: CostConfig = scenario.cost
    book = cfg.book()
    hw = str(system["hardware"])
    if hw not in book.server_usd or hw not in book.embodied_kgco2e_per_accelerator:
        return None
    network = network or NetworkInventory(note="no fabric given")
    n_acc, n_srv = int(system["accelerators"]), int(system["servers"])
    per_server = get_profile(hw).server.accelerators
    size = (n_acc / n_srv) / per_server if n_srv else 0.0  # server size vs the priced one
    it_mw = float(system["design_it_kw"]) / 1e3
    cooling = scenario.cooling.type
    used = [
        f"server_usd.{hw}",
        f"cooling_usd_per_kw.{cooling}",
        "power_infrastructure_usd_per_mw",
        "building_shell_usd_per_mw",
    ]

    capex = {
        "servers": n_srv * size * book.server_usd[hw].value,
        "network": _priced(book.switch_port_usd, network.ports)
        + _priced(book.optic_usd, network.optics),
        "cooling": it_mw * 1e3 * book.cooling_usd_per_kw[cooling].value,
        "power": it_mw * book.power_infrastructure_usd_per_mw.value,
        "building": it_mw * book.building_shell_usd_per_mw.value,
    }
    used += [f"switch_port_usd.{s}" for s in network.ports] + [
        f"optic_usd.{s}" for s in network.optics
    ]
    r = book.cost_of_capital.value
    annual = {
        k: v * annuity_factor(r, getattr(book.lifetime_years, k).value) for k, v in capex.items()
    }

    hours = float(summary["hours"])
    if electricity_usd_per_kwh is None:
        if cfg.electricity_usd_per_kwh is not None:
            electricity_usd_per_kwh = cfg.electricity_usd_per_kwh
        else:
            electricity_usd_per_kwh = book.electricity_usd_per_kwh[cfg.region].value
            used.append(f"electricity_usd_per_kwh.{cfg.region}")
    facility_kw = float(summary["facility_energy_kwh"]) / hours
    water_m3_per_h = float(summary.get("water_l", 0.0)) / 1e3 / hours
    m = book.maintenance_share_per_year
    opex = {
        "electricity": facility_kw * HOURS_PER_YEAR * electricity_usd_per_kwh,
        "water": water_m3_per_h * HOURS_PER_YEAR * book.water_usd_per_m3.value,
        "maintenance": m.it.value * (capex["servers"] + capex["network"])
        + m.facility.value * (capex["cooling"] + capex["power"] + capex["building"]),
        "staff": it_mw * book.staff_fte_per_mw.value * book.staff_usd_per_fte_year.value,
    }
    used += [
        "water_usd_per_m3",
        "maintenance_share_per_year.it",
        "maintenance_share_per_year.facility",
        "staff_fte_per_mw",
        "staff_usd_per_fte_year",
    ]
    per_hour = (sum(annual.values()) + sum(opex.values())) / HOURS_PER_YEAR

    life = book.lifetime_years
    embodied = {
        "accelerators": n_acc * book.embodied_kgco2e_per_accelerator[hw].value,
        "server_hosts": n_srv * size * book.embodied_kgco2e_per_server_host.value,
        "network": network.switches * book.embodied_kgco2e_per_switch.value
        + sum(network.optics.values()) * book.embodied_kgco2e_per_optic.value,
        "building": it_mw * book.embodied_kgco2e_per_mw_building.value,
    }
    emb_per_h = (
        (embodied["accelerators"] + embodied["server_hosts"]) / life.servers.value
        + embodied["network"] / life.network.value
        + embodied["building"] / life.building.value
    ) / HOURS_PER_YEAR
    used += [
        f"embodied_kgco2e_per_accelerator.{hw}",
        "embodied_kgco2e_per_server_host",
        "embodied_kgco2e_per_switch",
        "embodied_kgco2e_per_optic",
        "embodied_kgco2e_per_mw_building",
    ]
    op_per_h = float(summary.get("carbon_kg", 0.0)) / hours

    tokens_per_s = float(summary.get("mean_tokens_per_s", 0.0))
    step_s = float(summary.get("mean_step_time_s", 0.0))
    per_mtok = per_hour / (tokens_per_s * 3600.0) * 1e6 if tokens_per_s > 0 else None
    run_h = None
    if step_s > 0 and tokens_per_s > 0:
        steps = cfg.training_run_tokens / scenario.workload.global_batch_tokens
        run_h = steps * step_s / 3600.0
    return CostReport(
        capex_usd=capex,
        annualized_capex_usd_per_year=annual,
        opex_usd_per_year=opex,
        electricity_usd_per_kwh=electricity_usd_per_kwh,
        accelerators=n_acc,
        cost_usd_per_hour=per_hour,
        cost_usd_per_accel_hour=per_hour / n_acc if n_acc else 0.0,
        cost_usd_per_million_tokens=per_mtok,
        training_run_hours=run_h,
        cost_usd_per_training_run=per_hour * run_h if run_h is not None else None,
        embodied_kgco2e=embodied,
        embodied_kgco2e_per_hour=emb_per_h,
        operational_kgco2e_per_hour=op_per_h,
        carbon_kgco2e_per_training_run=(emb_per_h + op_per_h) * run_h
        if run_h is not None
        else None,
        network=network,
        low_confidence=_low_confidence(book, sorted(set(used))),
    )


@dataclass(frozen=True)
class WorkPrices:
    """What an hour of the cluster costs without its energy, and the price of that energy
    and of its CO2 (USD): prices a run's work against its electricity and carbon."""

    ownership_usd_per_hour: float  # capex annuity + maintenance + staff (no electricity, water)
    electricity_usd_per_kwh: float
    carbon_usd_per_kg: float


def work_prices(scenario: Any, system: Mapping[str, Any], network: NetworkInventory) -> WorkPrices:
    """`cost_report` of the cluster drawing no energy (its ownership cost), the scenario's
    electricity price and the book's carbon price. InputError when the book has no server
    price for the hardware."""
    idle = {"hours": 1.0, "facility_energy_kwh": 0.0, "water_l": 0.0, "carbon_kg": 0.0}
    rep = cost_report(scenario, idle, system, network)
    if rep is None:
        raise InputError(
            f"no server price for hardware '{system['hardware']}' in the price book; add one "
            "with cost.prices (server_usd.<hardware>, embodied_kgco2e_per_accelerator.<hardware>)",
            field="cost.prices",
        )
    book = scenario.cost.book()
    return WorkPrices(
        rep.cost_usd_per_hour,
        rep.electricity_usd_per_kwh,
        book.carbon_usd_per_tco2.value / 1000.0,
    )


def load_hourly_prices(scenario: Any, base_dir: Path, file: str | None) -> np.ndarray | None:
    """The scenario's hourly price series, read and checked before a run starts (or None)."""
    from dcsim.config import resolve_path
    from dcsim.errors import input_context

    name = scenario.cost.electricity_prices_csv
    if not name:
        return None
    with input_context(file, "cost.electricity_prices_csv"):
        prices = read_hourly_prices(resolve_path(name, base_dir))
    return prices


def run_cost(sim: Any, summary: Mapping[str, Any], price: float | None) -> dict[str, float]:
    """Cost keys for a finished run's summary (called by dcsim.sim.RunTotals.summary); price
    is the run's energy-weighted hourly price, None for the scenario's flat price."""
    rep = cost_report(sim.sc, summary, sim.describe(), network_inventory(sim.fabric), price)
    return rep.as_dict() if rep is not None else {}


__all__ = [
    "CostConfig",
    "CostReport",
    "NetworkInventory",
    "PriceBook",
    "WorkPrices",
    "annuity_factor",
    "cost_report",
    "energy_weighted_price",
    "load_hourly_prices",
    "network_inventory",
    "price_book",
    "price_at",
    "price_keys",
    "price_sums",
    "read_hourly_prices",
    "run_cost",
    "work_prices",
]
