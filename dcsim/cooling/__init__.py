"""Facility cooling plant, split along its physical subsystems.

    config     inputs (one pydantic model per subsystem), per-step controls, constants
    equipment  component laws: EnergyPlus curves, enthalpy slope, fan heat exchangers, pumps
    air        AirChain: server fans, rack thermal mass, recirculation, CRAH fans, supply air
    liquid     LiquidLoop: cold plates, CDU, facility water, dry cooler, trim chiller
    chiller    Chiller: EnergyPlus Chiller:Electric:EIR
    tower      CoolingTower: rated tower with a variable-speed fan, make-up water
    water      ChilledWaterPlant: CHW/CW pumps, chiller, tower, water-side Economizer
    plant      CoolingPlant: composes the three per step; CoolingResult, pue
    annual     simulate_period: a plant through a climate's year at constant load

Figures are in `dcsim.viz`. Every equation and source: docs/models.md.
"""

from dcsim.cooling.air import (
    AIR_DENSITY_ERROR_KW,
    AIR_DENSITY_WARN_KW,
    AirChain,
    AirDensityError,
    AirStep,
    check_air_density,
    enforce_air_density,
)
from dcsim.cooling.annual import simulate_period
from dcsim.cooling.chiller import Chiller
from dcsim.cooling.config import (
    CP_AIR,
    CP_WATER,
    DEFAULT_LIQUID_FRACTION,
    RHO_AIR,
    RHO_CP_AIR,
    RHO_CP_WATER,
    RHO_WATER,
    AirSideConfig,
    ChillerConfig,
    CoolingConfig,
    CoolingControls,
    EconomizerMode,
    LiquidConfig,
    PumpsConfig,
    TowerConfig,
)
from dcsim.cooling.equipment import (
    Pump,
    biquadratic,
    heat_exchanger_fan,
    quadratic,
    saturated_enthalpy_slope,
)
from dcsim.cooling.liquid import LiquidLoop, LiquidStep
from dcsim.cooling.plant import CoolingPlant, CoolingResult, pue, thermal_throttle
from dcsim.cooling.tower import CoolingTower
from dcsim.cooling.water import ChilledWaterPlant, Economizer, WaterStep

__all__ = [
    "AIR_DENSITY_ERROR_KW",
    "AIR_DENSITY_WARN_KW",
    "CP_AIR",
    "CP_WATER",
    "DEFAULT_LIQUID_FRACTION",
    "RHO_AIR",
    "RHO_CP_AIR",
    "RHO_CP_WATER",
    "RHO_WATER",
    "AirChain",
    "AirDensityError",
    "AirSideConfig",
    "AirStep",
    "ChilledWaterPlant",
    "Chiller",
    "ChillerConfig",
    "CoolingConfig",
    "CoolingControls",
    "CoolingPlant",
    "CoolingResult",
    "CoolingTower",
    "Economizer",
    "EconomizerMode",
    "LiquidConfig",
    "LiquidLoop",
    "LiquidStep",
    "Pump",
    "PumpsConfig",
    "TowerConfig",
    "WaterStep",
    "biquadratic",
    "check_air_density",
    "enforce_air_density",
    "heat_exchanger_fan",
    "pue",
    "quadratic",
    "saturated_enthalpy_slope",
    "simulate_period",
    "thermal_throttle",
]
