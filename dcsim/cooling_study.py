"""Annual cooling-plant studies from named options: one plant's year, air vs liquid per climate.

`dcsim cooling year` and `dcsim cooling compare` are one call each into this module. Every
default is read from the model that owns it (CoolingConfig, WeatherConfig, CarbonConfig,
`simulate_period`), so the CLI, this module and a scenario file cannot drift apart.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dcsim.climate import CarbonConfig, ClimateConfig, WeatherConfig, presets
from dcsim.cooling import DEFAULT_LIQUID_FRACTION, CoolingConfig, simulate_period
from dcsim.schema import validate_model

_PERIOD = {k: v.default for k, v in inspect.signature(simulate_period).parameters.items()}
COOLING_TYPES = ("air", "liquid")


@dataclass
class PlantYear:
    """Hourly plant simulation over `days`: summary (energies MWh, water m3, carbon t) and series."""

    climate: str
    cooling_type: str
    summary: dict[str, Any]
    series: dict[str, Any]


def plant_inputs(
    climate: str = WeatherConfig.model_fields["preset"].default,
    cooling_type: str = CoolingConfig.model_fields["type"].default,
    liquid_fraction: float = DEFAULT_LIQUID_FRACTION,
    country: str = CarbonConfig.model_fields["country"].default,
    supply_air: float = CoolingConfig.model_fields["supply_air_setpoint_c"].default,
    economizer: str = CoolingConfig.model_fields["economizer"].default,
    allow_over_density: bool = CoolingConfig.model_fields["allow_over_density"].default,
) -> tuple[CoolingConfig, ClimateConfig]:
    """Validated configs from named options; bad values are InputErrors naming the field."""
    cool = validate_model(
        CoolingConfig,
        {
            "type": cooling_type,
            "supply_air_setpoint_c": supply_air,
            "economizer": economizer,
            "allow_over_density": allow_over_density,
            **({"liquid_fraction": liquid_fraction} if cooling_type == "liquid" else {}),
        },
        prefix="cooling",
    )
    clim = validate_model(
        ClimateConfig,
        {"weather": {"preset": climate}, "carbon": {"country": country}},
        prefix="climate",
    )
    return cool, clim


def plant_year(
    climate: str = WeatherConfig.model_fields["preset"].default,
    cooling_type: str = CoolingConfig.model_fields["type"].default,
    liquid_fraction: float = DEFAULT_LIQUID_FRACTION,
    country: str = CarbonConfig.model_fields["country"].default,
    racks: int = _PERIOD["n_racks"],
    rack_kw: float = _PERIOD["rack_kw"],
    load: float = _PERIOD["load"],
    supply_air: float = CoolingConfig.model_fields["supply_air_setpoint_c"].default,
    economizer: str = CoolingConfig.model_fields["economizer"].default,
    days: float = _PERIOD["days"],
    seed: int = _PERIOD["seed"],
    on_start: Callable[[str, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
    allow_over_density: bool = CoolingConfig.model_fields["allow_over_density"].default,
) -> PlantYear:
    """The plant at a constant IT load through `days` of (seeded synthetic) weather;
    `on_start(label, hours)` and `on_step(hours done)` report progress."""
    cool, clim = plant_inputs(
        climate, cooling_type, liquid_fraction, country, supply_air, economizer, allow_over_density
    )
    if on_start:
        on_start(f"{climate}, {cooling_type}: hours", max(int(round(days * 24)), 1))
    res = simulate_period(
        cool,
        clim,
        n_racks=racks,
        rack_kw=rack_kw,
        load=load,
        days=days,
        seed=seed,
        on_step=on_step,
    )
    return PlantYear(climate, cooling_type, res["summary"], res["series"])


def compare_plants(
    rack_kw: float = _PERIOD["rack_kw"],
    load: float = _PERIOD["load"],
    days: float = _PERIOD["days"],
    on_start: Callable[[str, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Air and direct-to-chip liquid cooling in every weather preset: annual PUE, WUE, economizer.

    `on_start(label, plants)` and `on_step(plants done)` report progress."""
    out: list[dict[str, Any]] = []
    if on_start:
        on_start("plant years", len(presets()) * len(COOLING_TYPES))
    for name in presets():
        for typ in COOLING_TYPES:
            # the table flags over-dense air in its density column instead of refusing the row
            cool, clim = plant_inputs(name, typ, allow_over_density=True)
            s = simulate_period(cool, clim, rack_kw=rack_kw, load=load, days=days)["summary"]
            out.append(
                {
                    "climate": name,
                    "type": typ,
                    "pue": s["pue"],
                    "facility_pue": s["facility_pue"],
                    "wue_l_per_kwh": s["wue_l_per_kwh"],
                    "economizer_hours": s["economizer_hours"],
                    "air_density_check": s["air_density_check"],
                }
            )
            if on_step:
                on_step(len(out))
    return out


PART_LOADS = (0.1, 0.2, 0.3, 0.5, 1.0)


def part_load_pue(
    loads: tuple[float, ...] = PART_LOADS,
    climate: str = WeatherConfig.model_fields["preset"].default,
    cooling_type: str = CoolingConfig.model_fields["type"].default,
    rack_kw: float = _PERIOD["rack_kw"],
    days: float = _PERIOD["days"],
) -> list[dict[str, Any]]:
    """Annual cooling-only and facility PUE (UPS losses and fixed loads, as `dcsim run`) of the
    default plant at each constant IT load share of design, through one year of weather."""
    cool, clim = plant_inputs(climate, cooling_type)
    out = []
    for load in loads:
        s = simulate_period(cool, clim, rack_kw=rack_kw, load=load, days=days)["summary"]
        out.append({"load": load, "pue": s["pue"], "facility_pue": s["facility_pue"]})
    return out
