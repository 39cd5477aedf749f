"""Facility cooling plant: per-rack air chain, chilled-water plant, tower, economizer, liquid loop.

Structure follows PyDCM (arXiv 2404.12498) / SustainDC, with its known bugs fixed: fans obey the
affinity law (power ~ flow^3, not linear), and the cooling tower is sized on its own rating, not
on the instantaneous load. The chiller uses the EnergyPlus Chiller:Electric:EIR (DOE-2) model.
Thermal mass gives first-order dynamics (minutes), so setpoint control is a real control problem.

Units: W, C (or K for differences), s, m3/s, Pa, kg. Every equation and source: docs/models.md.

Energy accounting (checked by tests every step):
    IT heat  = rack_it_w + server_fan_w                      (server fans count as IT power)
    IT heat * dt = heat_removed_w * dt + delta(stored energy in rack thermal mass)
    cooling_w = CRAH fans + chiller + tower fan + pumps + CDU pump + dry-cooler fan
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from dcsim.climate import WeatherSample
from dcsim.errors import InputError
from dcsim.schema import StrictModel

RHO_AIR = 1.19  # kg/m3, dry air at ~22 C, sea level (ASHRAE Fundamentals ch. 1)
CP_AIR = 1006.0  # J/(kg K), dry air (ASHRAE Fundamentals ch. 1)
RHO_WATER = 997.0  # kg/m3 at 25 C
CP_WATER = 4186.0  # J/(kg K)
RHO_CP_AIR = RHO_AIR * CP_AIR
RHO_CP_WATER = RHO_WATER * CP_WATER

AIR_DENSITY_WARN_KW = 30.0
AIR_DENSITY_ERROR_KW = 40.0

EconomizerMode = Literal["auto", "off", "on"]


# ----------------------------------------------------------------------------- config
class AirSideConfig(StrictModel):
    """Server fans, CRAH units, recirculation and rack thermal mass."""

    server_delta_t_k: float = Field(
        15.0,
        gt=2,
        le=30,
        description="server air temperature rise at design load and full fan flow, K "
        "(ASHRAE TC9.9 'Thermal Guidelines' 5th ed.: IT delta-T typically 10-20 K)",
    )
    server_fan_pressure_pa: float = Field(
        350.0,
        gt=0,
        description="server fan static pressure at design flow, Pa (1U-2U servers 250-500 Pa)",
    )
    server_fan_efficiency: float = Field(
        0.35,
        gt=0,
        le=1,
        description="server fan total (fan*motor*driver) efficiency; small fans 0.2-0.4",
    )
    server_fan_min_flow: float = Field(0.3, gt=0, le=1, description="minimum fan speed fraction")
    server_fan_ramp_start_c: float = Field(
        27.0,
        description="inlet temperature above which server fans speed up, C (vendors hold fans low "
        "through the ASHRAE recommended range, up to 27 C, then ramp)",
    )
    server_fan_ramp_per_k: float = Field(
        0.04, ge=0, le=1, description="fractional flow increase per K of inlet above the ramp start"
    )
    crah_pressure_pa: float = Field(
        500.0,
        gt=0,
        description="CRAH fan total pressure at design flow, Pa (coil+filter+floor, 400-750 Pa)",
    )
    crah_fan_efficiency: float = Field(0.65, gt=0, le=1, description="CRAH EC-fan total efficiency")
    crah_flow_margin: float = Field(
        1.1,
        ge=1,
        le=2,
        description="CRAH air flow / server air flow (bypass with containment ~5-15 %)",
    )
    coil_approach_k: float = Field(
        3.0, gt=0, le=10, description="min supply air minus chilled water supply temperature, K"
    )
    supply_tau_s: float = Field(
        180.0,
        gt=0,
        description="first-order time constant of supply air temperature (valve loop + room air), s",
    )
    rack_heat_capacity_j_per_k_per_w: float = Field(
        8.0,
        gt=0,
        description="rack thermal mass per W of design IT power, J/K/W: ~130 kg per 10 kW DGX-class "
        "server x ~0.6 kJ/(kg K) (steel/aluminium/copper)",
    )
    supply_offset_k: float = Field(
        0.5,
        ge=0,
        le=5,
        description="supply-to-inlet heat pickup without recirculation (ducts, floor), K",
    )
    recirculation_mean: float = Field(
        0.05,
        ge=0,
        lt=0.5,
        description="mean fraction of rack inlet air that is recirculated exhaust",
    )
    recirculation_spread: float = Field(
        0.05,
        ge=0,
        lt=0.5,
        description="extra recirculation at row ends (cosine profile along the row)",
    )
    recirculation: list[float] | None = Field(
        None,
        description="explicit per-rack recirculation fractions (e.g. from CFD or sensors), one per "
        "rack in [0, 0.5); overrides mean/spread",
    )


class ChillerConfig(StrictModel):
    """EnergyPlus Chiller:Electric:EIR. Defaults: the DOE-2/EnergyPlus reference data set
    'ElectricEIRChiller Carrier 19XR 869kW/5.57COP/VSD' (EnergyPlus DataSets/Chillers.idf, also
    Modelica Buildings.Fluid.Chillers.Data.ElectricEIR). Curves are normalised, so the chiller is
    scaled to the design load while keeping the published shape.

    CAPFT(x=T_chw_leaving, y=T_cond_entering) = a + b x + c x^2 + d y + e y^2 + f x y
    EIRFT(x, y) same form; EIRFPLR(p) = a + b p + c p^2
    """

    curve_set: str = "ElectricEIRChiller Carrier 19XR 869kW/5.57COP/VSD"
    cop_ref: float = Field(5.57, gt=0, le=15, description="reference COP, W/W")
    t_chw_ref_c: float = 8.89
    t_cond_ref_c: float = 26.67
    capft: list[float] = Field(
        [5.406799e-01, 1.253709e-01, -8.025360e-03, -7.357554e-03, -4.477789e-04, 2.140733e-03],
        min_length=6,
        max_length=6,
    )
    eirft: list[float] = Field(
        [3.943721e-01, 1.079147e-01, -8.912223e-03, -3.229487e-04, 1.302402e-05, 1.561862e-03],
        min_length=6,
        max_length=6,
    )
    eirfplr: list[float] = Field(
        [1.501042e-01, -6.804336e-02, 9.171460e-01], min_length=3, max_length=3
    )
    min_plr: float = Field(
        0.18, gt=0, lt=1, description="below this the chiller cycles (E+ MinPLR)"
    )
    t_chw_bounds_c: tuple[float, float] = (7.22, 12.78)
    t_cond_bounds_c: tuple[float, float] = (12.78, 26.67)
    out_of_bounds: Literal["carnot", "clamp"] = Field(
        "carnot",
        description="outside the curves' published bounds: 'clamp' the inputs (EnergyPlus), or "
        "'carnot': clamp, then scale EIR by the Carnot lift ratio so a warmer CHW or a hotter "
        "condenser keeps its physical effect at the second-law efficiency the curve has at its bound",
    )
    evaporator_approach_k: float = Field(2.0, ge=0, description="T_chw - T_evaporating, K")
    condenser_approach_k: float = Field(
        7.0, ge=0, description="T_condensing - T_cond_entering (range + approach), K"
    )
    max_second_law_efficiency: float = Field(
        0.65,
        gt=0,
        le=1,
        description="guard: COP <= this x Carnot COP (T_chw, T_cond + 2 K); best centrifugal "
        "chillers reach ~0.6 of Carnot",
    )
    sizing_factor: float = Field(1.2, ge=1, le=3, description="chiller capacity / design load")
    capacity_w: float | None = Field(
        None,
        gt=0,
        description="reference capacity, W; overrides sizing_factor (e.g. 869e3 for the 19XR)",
    )


class TowerConfig(StrictModel):
    """Open cooling tower with a variable-speed fan, sized on its rating (not on the load)."""

    rating_wet_bulb_c: float = Field(23.9, description="ASHRAE 90.1 rating: 75 F wet bulb")
    rating_approach_k: float = Field(
        5.56, gt=0, description="ASHRAE 90.1 rating: 85 F leaving (10 F approach)"
    )
    rating_fan_w_per_w: float = Field(
        0.0126,
        gt=0,
        le=0.1,
        description="fan power per W rejected at rating: ASHRAE 90.1-2010 Table 6.8.1G minimum "
        "40.2 gpm/hp at 95/85/75 F (10 F range)",
    )
    rated_w: float | None = Field(
        None,
        gt=0,
        description="rated heat rejection at the rating point, W; overrides sizing_factor",
    )
    sizing_factor: float = Field(
        1.2, ge=1, le=3, description="rated heat rejection / design rejection"
    )
    airflow_exponent: float = Field(
        0.6,
        gt=0,
        le=1.5,
        description="approach ~ (air flow)^-n, Merkel NTU ~ (m_a/m_w)^n, Braun (1989) n~0.6",
    )
    min_fan_speed: float = Field(0.15, ge=0, le=1)
    condenser_min_c: float = Field(15.0, description="lowest condenser water supply allowed, C")
    control_approach_k: float = Field(
        5.5,
        gt=0,
        le=15,
        description="condenser water reset: setpoint = max(condenser_min, wet bulb + this), K "
        "(ASHRAE Guideline 22 / Taylor (2012) near-optimal approach reset)",
    )
    cycles_of_concentration: float = Field(
        5.0, gt=1.5, le=20, description="blowdown = evaporation / (CoC - 1) (US DOE FEMP)"
    )
    evaporation_kg_per_j: float = Field(
        3.44e-7,
        gt=0,
        description="evaporation per J rejected: 0.0008 x flow(gpm) x range(F) rule "
        "(SPX Cooling Tower Fundamentals), i.e. ~83 % latent, 1.24 kg/kWh",
    )


class PumpsConfig(StrictModel):
    """Variable-speed pumps: P = dP Q / eta with dP = dP_d (s + (1-s) (Q/Q_d)^2)."""

    chw_pressure_pa: float = Field(
        300e3, gt=0, description="chilled water pump head at design, Pa (~30 m)"
    )
    cw_pressure_pa: float = Field(
        200e3, gt=0, description="condenser water pump head at design, Pa (~20 m)"
    )
    efficiency: float = Field(0.65, gt=0, le=1, description="wire-to-water pump efficiency")
    chw_delta_t_k: float = Field(6.0, gt=0, description="chilled water design delta-T, K")
    cw_delta_t_k: float = Field(5.56, gt=0, description="condenser water design range, K (10 F)")
    min_flow: float = Field(
        0.3, gt=0, le=1, description="minimum flow fraction (chiller evaporator minimum)"
    )
    static_fraction: float = Field(
        0.3, ge=0, le=1, description="share of head held by the dP setpoint"
    )


class LiquidConfig(StrictModel):
    """Direct-to-chip: cold plates -> CDU (TCS loop) -> facility water -> dry cooler (+ trim chiller)."""

    tcs_lpm_per_kw: float = Field(
        1.5,
        gt=0,
        description="cold-plate loop flow, L/min per kW (OCP/NVIDIA guidance ~1.2-1.5 LPM/kW)",
    )
    cdu_pressure_pa: float = Field(
        200e3, gt=0, description="CDU pump head (cold plates, QDs, HX), Pa"
    )
    cdu_approach_k: float = Field(
        3.0, gt=0, description="TCS supply minus facility water supply, K"
    )
    fws_supply_c: float = Field(
        32.0, description="facility water supply setpoint, C (ASHRAE liquid class W32)"
    )
    fws_delta_t_k: float = Field(8.0, gt=0, description="facility water design delta-T, K")
    fws_pressure_pa: float = Field(150e3, gt=0, description="facility water pump head, Pa")
    tcs_limit_c: float = Field(
        45.0, description="TCS supply temperature above which cold-plated chips throttle, C"
    )
    drycooler_rating_db_c: float = Field(35.0, description="dry cooler rating dry bulb, C")
    drycooler_approach_k: float = Field(
        6.0, gt=0, description="leaving water minus dry bulb at rating (full fan, full load), K"
    )
    drycooler_fan_w_per_w: float = Field(
        0.02,
        gt=0,
        le=0.1,
        description="fan power per W rejected at rating (adiabatic-free dry coolers 1-3 %)",
    )
    sizing_factor: float = Field(1.2, ge=1, le=3)
    min_fan_speed: float = Field(0.1, ge=0, le=1)
    trim_second_law_efficiency: float = Field(
        0.5,
        gt=0,
        le=1,
        description="trim chiller COP = eta * T_evap / (T_cond - T_evap) (Carnot fraction; "
        "vapour-compression chillers reach 0.45-0.6, Gordon & Ng 'Cool Thermodynamics')",
    )
    trim_heat_sink: Literal["tower", "air"] = Field(
        "tower", description="trim chiller condenser on the tower water loop or air-cooled"
    )
    trim_condenser_approach_k: float = Field(
        3.0,
        gt=0,
        description="trim condensing temperature minus its sink (tower water ~3 K, outdoor air ~12 K), K",
    )
    trim_cop_max: float = Field(12.0, gt=1, description="cap on trim COP at small lift")


DEFAULT_LIQUID_FRACTION = 0.75  # direct-to-chip cold plates capture ~70-80 % of server heat (ASHRAE TC9.9 liquid cooling whitepaper)


class CoolingConfig(StrictModel):
    """Cooling plant for one data hall. Defaults give a modern chilled-water plant with
    containment, water-side economizer and (for type: liquid) direct-to-chip cold plates."""

    type: Literal["air", "liquid"] = "air"
    liquid_fraction: float | None = Field(
        None,
        ge=0,
        le=0.95,
        description="share of IT heat to cold plates when type is liquid (default 0.75: cold plates "
        "capture ~70-80 %); unset for air, so a dumped config reloads as it was",
    )
    supply_air_setpoint_c: float = Field(22.0, ge=10, le=35, description="CRAH supply air, C")
    chilled_water_setpoint_c: float = Field(
        10.0, ge=4, le=25, description="CHW supply, C (the floor when chw_reset is on)"
    )
    chw_reset: bool = Field(
        True,
        description="raise CHW supply with the supply-air setpoint when no explicit CHW control is "
        "given: max(setpoint, min(supply air - coil approach - margin, reset max)) "
        "(ASHRAE 90.1 section 6.5.4.4 requires CHW reset)",
    )
    chw_reset_margin_k: float = Field(1.0, ge=0, le=10)
    chw_reset_max_c: float = Field(
        20.0, ge=4, le=25, description="highest reset CHW, C (warm-water CHW designs run 18-20 C)"
    )
    economizer: EconomizerMode = "auto"
    economizer_hx_approach_k: float = Field(1.5, gt=0, le=6, description="plate HX approach, K")
    inlet_limit_c: float = Field(
        32.0, ge=15, le=45, description="throttle above: ASHRAE A1 allowable max"
    )
    recommended_inlet_min_c: float = Field(18.0, description="ASHRAE recommended envelope low")
    recommended_inlet_max_c: float = Field(
        27.0, validate_default=True, description="ASHRAE recommended envelope high"
    )
    throttle_headroom_k: float = Field(
        55.0,
        gt=0,
        description="chip T_max minus inlet limit: inlet excess at which chip power must reach 0",
    )
    throttle_dvfs_alpha: float = Field(
        2.4, gt=0, description="P_dyn ~ f^alpha, to map power to frequency"
    )
    air: AirSideConfig = Field(default_factory=AirSideConfig)
    chiller: ChillerConfig = Field(default_factory=ChillerConfig)
    tower: TowerConfig = Field(default_factory=TowerConfig)
    pumps: PumpsConfig = Field(default_factory=PumpsConfig)
    liquid: LiquidConfig = Field(default_factory=LiquidConfig)

    @field_validator("liquid_fraction")
    @classmethod
    def _liquid_needs_type(cls, v: float, info: ValidationInfo) -> float:
        if info.data.get("type") == "air" and v is not None and v > 0:
            raise ValueError(
                "liquid_fraction > 0 needs type: liquid (air cooling carries all heat by air)"
            )
        return v

    @field_validator("recommended_inlet_max_c")
    @classmethod
    def _band_order(cls, v: float, info: ValidationInfo) -> float:
        lo = info.data.get("recommended_inlet_min_c")
        if lo is not None and v <= lo:
            raise ValueError("must be above recommended_inlet_min_c")
        return v

    @property
    def effective_liquid_fraction(self) -> float:
        if self.type != "liquid":
            return 0.0
        return DEFAULT_LIQUID_FRACTION if self.liquid_fraction is None else self.liquid_fraction


@dataclass(slots=True)
class CoolingControls:
    """Per-step overrides; None keeps the config value."""

    supply_air_c: float | None = None
    chw_supply_c: float | None = None
    economizer: EconomizerMode | None = None


@dataclass(slots=True)
class CoolingResult:
    """One step of the plant. Powers are step averages (W); water is litres in this step."""

    inlet_c: np.ndarray
    outlet_c: np.ndarray
    server_fan_w: np.ndarray
    cooling_w: float
    breakdown: dict[str, float]
    heat_removed_w: float
    water_l: float
    throttle: np.ndarray
    economizer_on: bool
    it_heat_w: float = 0.0
    stored_energy_j: float = 0.0
    supply_air_c: float = 0.0
    chw_supply_c: float = 0.0
    economizer_fraction: float = 0.0
    chiller_plr: float = 0.0
    chiller_cop: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers
def check_air_density(rack_kw: float, liquid_fraction: float = 0.0) -> str | None:
    """Message when air must carry more per rack than it practically can, else None.

    Air-side kW = rack_kw * (1 - liquid_fraction). Above ~30 kW/rack air cooling needs full
    containment and rear-door heat exchangers; above ~40 kW it is not practical (ASHRAE TC9.9
    'Emergence and Expansion of Liquid Cooling in Mainstream Data Centers' (2021); Uptime
    Institute density surveys). Returns a string starting with 'error:' or 'warning:'.
    """
    air_kw = float(rack_kw) * (1.0 - float(liquid_fraction))
    if air_kw > AIR_DENSITY_ERROR_KW:
        return (
            f"error: air would carry {air_kw:.1f} kW per rack, beyond the ~{AIR_DENSITY_ERROR_KW:.0f} kW "
            "practical limit of air cooling; use cooling.type: liquid (direct-to-chip)"
        )
    if air_kw > AIR_DENSITY_WARN_KW:
        return (
            f"warning: air carries {air_kw:.1f} kW per rack (> {AIR_DENSITY_WARN_KW:.0f} kW): needs "
            "full containment or rear-door heat exchangers; consider liquid cooling"
        )
    return None


def biquadratic(c: list[float] | tuple[float, ...], x: float, y: float) -> float:
    """EnergyPlus Curve:Biquadratic: c0 + c1 x + c2 x^2 + c3 y + c4 y^2 + c5 x y."""
    return c[0] + c[1] * x + c[2] * x * x + c[3] * y + c[4] * y * y + c[5] * x * y


def quadratic(c: list[float] | tuple[float, ...], p: float) -> float:
    """EnergyPlus Curve:Quadratic: c0 + c1 p + c2 p^2."""
    return c[0] + c[1] * p + c[2] * p * p


def saturated_enthalpy_slope(t_c: float) -> float:
    """d h_sat / dT of saturated moist air at 101.325 kPa, J/(kg K) (central difference).

    h = 1006 T + w (2.501e6 + 1860 T), w = 0.622 e_s / (p - e_s) (ASHRAE Fundamentals ch. 1).
    Used to scale tower approach with wet bulb (Merkel: driving force is enthalpy).
    """

    def h(t: float) -> float:
        es = 610.94 * math.exp(17.625 * t / (t + 243.04))
        w = 0.622 * es / (101325.0 - es)
        return 1006.0 * t + w * (2.501e6 + 1860.0 * t)

    return (h(t_c + 0.5) - h(t_c - 0.5)) / 1.0


def heat_exchanger_fan(
    load_w: float,
    design_w: float,
    approach_d: float,
    exponent: float,
    target_c: float,
    ambient_c: float,
    min_speed: float,
    factor: float = 1.0,
) -> tuple[float, float]:
    """Fan speed and leaving water temperature of a tower or dry cooler holding a setpoint.

    approach(phi) = approach_d * factor * (load/design) * phi^-n. The fan runs the slowest speed
    in [min_speed, 1] whose leaving temperature ambient + approach <= target; if even full speed
    cannot reach the target, phi = 1 and the water leaves warmer.
    """
    a1 = approach_d * factor * max(load_w, 0.0) / design_w  # approach at full fan
    if a1 <= 0.0:
        return min_speed, max(target_c, ambient_c)
    room = target_c - ambient_c
    if room <= a1:
        return 1.0, ambient_c + a1
    phi = (a1 / room) ** (1.0 / exponent)
    if phi < min_speed:
        phi = min_speed
        return phi, ambient_c + a1 * phi ** (-exponent)
    return phi, target_c


# ----------------------------------------------------------------------------- plant
class CoolingPlant:
    """The cooling plant of one hall of n_racks, sized for design_it_w (not the instantaneous load).

    State: supply air temperature (first order, tau = air.supply_tau_s) and per-rack exhaust
    node temperature with heat capacity C_i: C_i dT_i/dt = Q_i - m_i c_p (T_i - T_in,i), stepped
    with the exact exponential solution, so stored energy and heat removed close to round-off.
    """

    def __init__(self, cfg: CoolingConfig, n_racks: int, design_it_w: float):
        if n_racks < 1:
            raise ValueError("n_racks must be >= 1")
        if design_it_w <= 0:
            raise ValueError("design_it_w must be > 0")
        self.cfg = cfg
        self.n = int(n_racks)
        self.design_it_w = float(design_it_w)
        a, ch, tw, pu, lq = cfg.air, cfg.chiller, cfg.tower, cfg.pumps, cfg.liquid
        f = cfg.effective_liquid_fraction
        self.f_liq = f
        rack_design_w = self.design_it_w / self.n
        self.rack_design_w = rack_design_w
        # -- per-rack air side (arrays)
        self.q_air_design = (1.0 - f) * rack_design_w  # W of heat into air per rack at design
        self.v_design = np.full(self.n, self.q_air_design / (RHO_CP_AIR * a.server_delta_t_k))
        self.fan_rated_w = a.server_fan_pressure_pa * self.v_design / a.server_fan_efficiency
        self.heat_capacity = np.full(self.n, a.rack_heat_capacity_j_per_k_per_w * rack_design_w)
        pos = (np.arange(self.n) + 0.5) / self.n  # position along the row, 0..1
        recirc = a.recirculation_mean + a.recirculation_spread * 0.5 * (1 + np.cos(2 * np.pi * pos))
        if a.recirculation is not None:
            recirc = np.asarray(a.recirculation, dtype=float)
            if recirc.shape != (self.n,) or np.any(recirc < 0) or np.any(recirc >= 0.5):
                raise InputError(
                    f"expected {self.n} values (one per rack) in [0, 0.5), got {len(a.recirculation)}",
                    field="cooling.air.recirculation",
                )
        self.recirc_gain = recirc / (1.0 - recirc)  # T_in - T_s = offset + r/(1-r) dT_server
        # -- CRAH (scalar)
        self.v_crah_design = a.crah_flow_margin * float(self.v_design.sum())
        self.crah_rated_w = a.crah_pressure_pa * self.v_crah_design / a.crah_fan_efficiency
        # -- design loads for plant sizing
        fan_design = float(self.fan_rated_w.sum())
        q_air_total = (1.0 - f) * self.design_it_w + fan_design + self.crah_rated_w
        q_liq_total = f * self.design_it_w
        self.q_chw_design = q_air_total
        self.chiller_cap_ref = ch.capacity_w or ch.sizing_factor * max(self.q_chw_design, 1.0)
        self.chw_flow_design = max(self.q_chw_design, 1.0) / (RHO_CP_WATER * pu.chw_delta_t_k)
        q_rej_design = max(self.q_chw_design, 1.0) * (1.0 + 1.0 / ch.cop_ref)
        if lq.trim_heat_sink == "tower":  # the tower also takes the trim chiller's full duty
            q_rej_design += q_liq_total * (1.0 + 1.0 / lq.trim_cop_max)
        self.tower_rated_w = tw.rated_w or tw.sizing_factor * q_rej_design  # the tower's own rating
        self.tower_fan_rated_w = tw.rating_fan_w_per_w * self.tower_rated_w
        self.cw_flow_design = q_rej_design / (RHO_CP_WATER * pu.cw_delta_t_k)
        self.tower_slope_ref = saturated_enthalpy_slope(tw.rating_wet_bulb_c)
        # -- liquid loop
        self.q_liq_design = max(q_liq_total, 1.0)
        self.tcs_flow_design = lq.tcs_lpm_per_kw * q_liq_total / 1000.0 / 60000.0  # m3/s
        self.fws_flow_design = self.q_liq_design / (RHO_CP_WATER * lq.fws_delta_t_k)
        self.drycooler_rated_w = lq.sizing_factor * self.q_liq_design
        self.drycooler_fan_rated_w = lq.drycooler_fan_w_per_w * self.drycooler_rated_w
        # chiller curve bounds
        self._chw_lo, self._chw_hi = ch.t_chw_bounds_c
        self._cond_lo, self._cond_hi = ch.t_cond_bounds_c
        self._capft = tuple(ch.capft)
        self._eirft = tuple(ch.eirft)
        self._eirfplr = tuple(ch.eirfplr)
        self.reset()

    # ------------------------------------------------------------------ helpers
    def _pump_w(self, flow: float, flow_design: float, dp_design: float) -> float:
        pu = self.cfg.pumps
        q = flow / flow_design if flow_design > 0 else 0.0
        dp = dp_design * (pu.static_fraction + (1.0 - pu.static_fraction) * q * q)
        return dp * flow / pu.efficiency

    def _fan_flow(self, q_air_w: np.ndarray, t_in: np.ndarray) -> np.ndarray:
        a = self.cfg.air
        load = q_air_w / self.q_air_design if self.q_air_design > 0 else np.zeros(self.n)
        ramp = 1.0 + a.server_fan_ramp_per_k * np.maximum(t_in - a.server_fan_ramp_start_c, 0.0)
        return np.clip(np.maximum(load, a.server_fan_min_flow) * ramp, a.server_fan_min_flow, 1.0)

    def carnot_eir(self, t_chw_c: float, t_cond_c: float) -> float:
        """Carnot electric input ratio (T_c - T_e)/T_e with refrigerant approaches, K/K."""
        ch = self.cfg.chiller
        t_e = t_chw_c - ch.evaporator_approach_k + 273.15
        t_c = t_cond_c + ch.condenser_approach_k + 273.15
        return max(t_c - t_e, 1.0) / t_e

    def chiller_power(
        self, q_load_w: float, t_chw_c: float, t_cond_c: float
    ) -> tuple[float, float, float]:
        """EnergyPlus Chiller:Electric:EIR. Returns (power W, PLR, available capacity W).

        Q_avail = Q_ref CAPFT(T_chw, T_cond); PLR = Q/Q_avail;
        P = (Q_avail / COP_ref) EIRFT(T_chw, T_cond) EIRFPLR(max(PLR, PLR_min)) min(1, PLR/PLR_min)
        (the last factor is EnergyPlus' cycling ratio below the minimum part-load ratio).
        Outside the curve bounds, CAPFT is clamped and EIRFT is scaled by the Carnot lift ratio.
        """
        if q_load_w <= 0.0:
            return 0.0, 0.0, self.chiller_cap_ref
        x = min(max(t_chw_c, self._chw_lo), self._chw_hi)
        y = min(max(t_cond_c, self._cond_lo), self._cond_hi)
        cap = self.chiller_cap_ref * max(biquadratic(self._capft, x, y), 0.05)
        plr = q_load_w / cap
        pmin = self.cfg.chiller.min_plr
        plr_eval = min(max(plr, pmin), 1.0)
        cycling = min(1.0, plr / pmin)
        ch = self.cfg.chiller
        eir_t = biquadratic(self._eirft, x, y)
        if ch.out_of_bounds == "carnot" and (x != t_chw_c or y != t_cond_c):
            eir_t *= self.carnot_eir(t_chw_c, t_cond_c) / self.carnot_eir(x, y)
        # second-law guard: COP never better than max_second_law_efficiency x Carnot
        eir_min = ch.cop_ref * self.carnot_eir(t_chw_c, t_cond_c) / ch.max_second_law_efficiency
        eir = max(eir_t, eir_min) * max(quadratic(self._eirfplr, plr_eval), 0.01)
        power = cap / self.cfg.chiller.cop_ref * eir * cycling
        return power, plr, cap

    def setpoints(self, controls: CoolingControls | None = None) -> tuple[float, float, str]:
        """(supply air C, CHW supply C, economizer mode) after controls and CHW reset."""
        cfg = self.cfg
        sa = cfg.supply_air_setpoint_c
        econ = cfg.economizer
        chw = None
        if controls is not None:
            if controls.supply_air_c is not None:
                sa = float(controls.supply_air_c)
            if controls.chw_supply_c is not None:
                chw = float(controls.chw_supply_c)
            if controls.economizer is not None:
                econ = controls.economizer
        if chw is None:
            chw = cfg.chilled_water_setpoint_c
            if cfg.chw_reset:
                reset = min(
                    sa - cfg.air.coil_approach_k - cfg.chw_reset_margin_k, cfg.chw_reset_max_c
                )
                chw = max(chw, reset)
        return sa, chw, econ

    # ------------------------------------------------------------------ state
    def reset(
        self, weather: WeatherSample | None = None, rack_it_w: np.ndarray | None = None
    ) -> None:
        """Put the plant in steady state for this load and the configured setpoints."""
        cfg = self.cfg
        self.t_supply = float(cfg.supply_air_setpoint_c)
        self.p_chiller_prev = 0.0
        self.t_cond_prev = self.cfg.chiller.t_cond_ref_c
        p = np.zeros(self.n) if rack_it_w is None else np.asarray(rack_it_w, dtype=float)
        sa0, chw0, _ = self.setpoints(None)
        t_sa_target = max(sa0, chw0 + cfg.air.coil_approach_k)
        self.t_supply = t_sa_target
        q_base = (1.0 - self.f_liq) * p
        t_in = np.full(self.n, t_sa_target + cfg.air.supply_offset_k)
        for _ in range(20):  # fixed point of fan speed <-> inlet temperature
            u = self._fan_flow(q_base, t_in)
            fan = self.fan_rated_w * u**3
            dt_srv = (q_base + fan) / (RHO_CP_AIR * self.v_design * u)
            t_in = t_sa_target + cfg.air.supply_offset_k + self.recirc_gain * dt_srv
        self.u = u
        self.t_in = t_in
        self.t_rack = t_in + dt_srv
        if weather is not None and rack_it_w is not None:
            # settle the water side (chiller power estimate for the tower)
            for _ in range(3):
                self.step(p, weather, 1e6, None, _settle=True)

    @property
    def stored_energy_j(self) -> float:
        """Energy in rack thermal mass relative to 0 C, J."""
        return float(np.dot(self.heat_capacity, self.t_rack))

    # ------------------------------------------------------------------ step
    def step(
        self,
        rack_it_w: np.ndarray,
        weather: WeatherSample,
        dt_s: float,
        controls: CoolingControls | None = None,
        _settle: bool = False,
    ) -> CoolingResult:
        """Advance dt_s seconds with constant rack IT power (W per rack, excluding server fans)."""
        cfg = self.cfg
        a, tw, pu, lq = cfg.air, cfg.tower, cfg.pumps, cfg.liquid
        p = np.asarray(rack_it_w, dtype=float)
        sa_set, chw_set, econ_mode = self.setpoints(controls)
        t_wb, t_db = float(weather.wet_bulb_c), float(weather.dry_bulb_c)

        # ---- air side: inlet from supply + recirculation (previous server delta-T)
        t_in = self.t_supply + a.supply_offset_k + self.recirc_gain * (self.t_rack - self.t_in)
        q_base = (1.0 - self.f_liq) * p
        u = self._fan_flow(q_base, t_in)
        fan_w = self.fan_rated_w * u**3  # affinity law
        q_air = q_base + fan_w
        mcp = RHO_CP_AIR * self.v_design * u  # W/K per rack
        t_ss = t_in + q_air / mcp
        decay = np.exp(-dt_s * mcp / self.heat_capacity)
        t_new = t_ss + (self.t_rack - t_ss) * decay
        stored_delta = self.heat_capacity * (t_new - self.t_rack)
        heat_to_air = float(q_air.sum() - stored_delta.sum() / dt_s)
        self.t_rack = t_new
        self.t_in = t_in
        self.u = u

        # ---- CRAH fans (affinity law on total flow)
        v_crah = a.crah_flow_margin * float((self.v_design * u).sum())
        x = v_crah / self.v_crah_design
        crah_w = self.crah_rated_w * x * x * x

        # ---- liquid loop: cold plates -> CDU -> facility water -> dry cooler (+ trim)
        q_liq = self.f_liq * float(p.sum())
        cdu_w = fws_pump_w = dc_fan_w = trim_w = trim_load = 0.0
        tcs_supply = 0.0
        if self.f_liq > 0.0:
            lf = max(q_liq / self.q_liq_design, pu.min_flow)
            cdu_w = self._pump_w(
                lf * self.tcs_flow_design, self.tcs_flow_design, lq.cdu_pressure_pa
            )
            fws_pump_w = self._pump_w(
                lf * self.fws_flow_design, self.fws_flow_design, lq.fws_pressure_pa
            )
            q_dc = q_liq + cdu_w + fws_pump_w  # pump work ends up as heat in the water
            phi, t_leave = heat_exchanger_fan(
                q_dc,
                self.drycooler_rated_w,
                lq.drycooler_approach_k,
                tw.airflow_exponent,
                lq.fws_supply_c,
                t_db,
                lq.min_fan_speed,
            )
            dc_fan_w = self.drycooler_fan_rated_w * phi**3
            # dry cooler cools return water (supply + dT) down to t_leave; the rest is trimmed
            frac = (lq.fws_delta_t_k - max(t_leave - lq.fws_supply_c, 0.0)) / lq.fws_delta_t_k
            frac = min(max(frac, 0.0), 1.0)
            trim_load = q_dc * (1.0 - frac)
            if trim_load > 0.0:
                t_ev = lq.fws_supply_c - 2.0 + 273.15
                sink = self.t_cond_prev if lq.trim_heat_sink == "tower" else t_db
                t_co = max(sink + lq.trim_condenser_approach_k + 273.15, t_ev + 1.0)
                cop = min(lq.trim_second_law_efficiency * t_ev / (t_co - t_ev), lq.trim_cop_max)
                trim_w = trim_load / cop
            tcs_supply = lq.fws_supply_c + lq.cdu_approach_k

        # ---- chilled-water loop load
        q_chw_air = heat_to_air + crah_w
        chw_load_est = q_chw_air
        flow_frac = (
            max(chw_load_est / self.q_chw_design, pu.min_flow) if self.q_chw_design > 0 else 0.0
        )
        chw_flow = flow_frac * self.chw_flow_design
        chw_pump_w = self._pump_w(chw_flow, self.chw_flow_design, pu.chw_pressure_pa)
        q_chw = max(chw_load_est + chw_pump_w, 0.0)

        # ---- tower (on its own rating) and water-side economizer
        slope = saturated_enthalpy_slope(t_wb)
        wb_factor = min(self.tower_slope_ref / slope, 4.0)
        q_rej_est = q_chw + self.p_chiller_prev
        if lq.trim_heat_sink == "tower":
            q_rej_est += trim_load + trim_w
        chw_return = chw_set + (q_chw / (RHO_CP_WATER * chw_flow) if chw_flow > 0 else 0.0)
        hx = cfg.economizer_hx_approach_k
        coldest_cw = t_wb + tw.rating_approach_k * wb_factor * q_rej_est / self.tower_rated_w
        use_econ = econ_mode == "on" or (econ_mode == "auto" and coldest_cw + hx < chw_return)
        # economizing: make the coldest useful water; otherwise hold the condenser setpoint
        cw_reset = max(tw.condenser_min_c, t_wb + tw.control_approach_k)
        cw_target = max(chw_set - hx, 2.0) if use_econ else cw_reset
        phi_t, t_cw = heat_exchanger_fan(
            q_rej_est,
            self.tower_rated_w,
            tw.rating_approach_k,
            tw.airflow_exponent,
            cw_target,
            t_wb,
            tw.min_fan_speed,
            wb_factor,
        )
        econ_frac = 0.0
        t_chw_actual = chw_set
        if use_econ:
            t_hx = t_cw + hx
            if econ_mode == "on":
                econ_frac = 1.0  # chillers locked out: CHW floats at what the HX delivers
                t_chw_actual = max(chw_set, t_hx)
            elif chw_return > chw_set:
                econ_frac = min(max((chw_return - t_hx) / (chw_return - chw_set), 0.0), 1.0)
        # chiller runs against condenser water no colder than its minimum
        t_cond = max(t_cw, tw.condenser_min_c)
        q_chiller = (1.0 - econ_frac) * q_chw
        p_ch, plr, cap = self.chiller_power(q_chiller, chw_set, t_cond)
        if q_chiller > cap:  # capacity shortfall: CHW supply floats up
            t_chw_actual = chw_set + (q_chiller - cap) / (RHO_CP_WATER * max(chw_flow, 1e-9))
            p_ch, plr, _ = self.chiller_power(cap, chw_set, t_cond)
        self.p_chiller_prev = p_ch
        self.t_cond_prev = t_cond
        cw_flow = max(
            (q_chiller + p_ch + econ_frac * q_chw) / (RHO_CP_WATER * pu.cw_delta_t_k), 0.0
        )
        cw_flow = max(cw_flow, pu.min_flow * self.cw_flow_design)
        cw_pump_w = self._pump_w(cw_flow, self.cw_flow_design, pu.cw_pressure_pa)
        trim_to_tower = (trim_load + trim_w) if lq.trim_heat_sink == "tower" else 0.0
        q_rej = q_chw + p_ch + cw_pump_w + trim_to_tower
        tower_fan_w = self.tower_fan_rated_w * phi_t**3
        evap_kg = tw.evaporation_kg_per_j * q_rej * dt_s
        water_l = evap_kg * (
            1.0 + 1.0 / (tw.cycles_of_concentration - 1.0)
        )  # + blowdown; 1 kg ~ 1 L
        self.t_chw = t_chw_actual

        # ---- supply air dynamics: first order toward what the coil can deliver
        t_sa_target = max(sa_set, t_chw_actual + a.coil_approach_k)
        self.t_supply = t_sa_target + (self.t_supply - t_sa_target) * math.exp(
            -dt_s / a.supply_tau_s
        )

        # ---- thermal throttling: allowed chip power fraction -> frequency fraction
        excess = np.maximum(t_in - cfg.inlet_limit_c, 0.0)
        p_allow = np.clip(1.0 - excess / cfg.throttle_headroom_k, 0.0, 1.0)
        if self.f_liq > 0.0 and tcs_supply > lq.tcs_limit_c:
            p_allow = np.minimum(
                p_allow, max(1.0 - (tcs_supply - lq.tcs_limit_c) / cfg.throttle_headroom_k, 0.0)
            )
        throttle = p_allow ** (1.0 / cfg.throttle_dvfs_alpha)

        cooling = (
            crah_w
            + p_ch
            + tower_fan_w
            + chw_pump_w
            + cw_pump_w
            + cdu_w
            + fws_pump_w
            + dc_fan_w
            + trim_w
        )
        breakdown = {
            "crah_fan_w": crah_w,
            "chiller_w": p_ch,
            "tower_fan_w": tower_fan_w,
            "chw_pump_w": chw_pump_w,
            "cw_pump_w": cw_pump_w,
            "cdu_pump_w": cdu_w,
            "fws_pump_w": fws_pump_w,
            "drycooler_fan_w": dc_fan_w,
            "trim_chiller_w": trim_w,
        }
        fan_total = float(fan_w.sum())
        return CoolingResult(
            inlet_c=t_in,
            outlet_c=t_new,
            server_fan_w=fan_w,
            cooling_w=cooling,
            breakdown=breakdown,
            heat_removed_w=heat_to_air + q_liq,
            water_l=water_l,
            throttle=throttle,
            economizer_on=econ_frac > 0.0,
            it_heat_w=float(p.sum()) + fan_total,
            stored_energy_j=self.stored_energy_j,
            supply_air_c=self.t_supply,
            chw_supply_c=t_chw_actual,
            economizer_fraction=econ_frac,
            chiller_plr=plr,
            chiller_cop=(q_chiller / p_ch) if p_ch > 0 else 0.0,
            extra={
                "trim_load_w": trim_load,
                "heat_rejected_w": q_rej,
                "condenser_c": t_cond,
                "tower_fan_speed": phi_t,
            },
        )


def pue(it_w: float, cooling_w: float) -> float:
    """Power usage effectiveness (The Green Grid): (IT + cooling) / IT; IT includes server fans."""
    return (it_w + cooling_w) / it_w if it_w > 0 else float("nan")


# ----------------------------------------------------------------------------- annual analysis
def simulate_period(
    cfg: CoolingConfig,
    climate,
    *,
    n_racks: int = 64,
    rack_kw: float = 20.0,
    load: float = 0.8,
    days: float = 365.0,
    dt_s: float = 3600.0,
    seed: int = 0,
    base_dir=None,
) -> dict:
    """Run the plant at a constant IT load through `days` of weather; return series and summary.

    Used by `dcsim cooling year/compare` and the benchmarks. Energies in MWh, water in m3,
    carbon in tonnes (facility + IT energy times grid intensity).
    """
    from dcsim.climate import build_carbon, build_weather

    if not (0.0 < load <= 1.5):
        raise ValueError("load must be in (0, 1.5]")
    weather = build_weather(climate, base_dir, seed)
    carbon = build_carbon(climate, base_dir, seed)
    n = max(int(round(days * 86400.0 / dt_s)), 1)
    t = (np.arange(n) + 0.5) * dt_s
    ws = weather.at_many(t)
    ci = carbon.at_many(t)
    plant = CoolingPlant(cfg, n_racks, n_racks * rack_kw * 1e3)
    p = np.full(n_racks, load * rack_kw * 1e3)
    plant.reset(WeatherSample(float(ws.dry_bulb_c[0]), float(ws.wet_bulb_c[0]), float(ws.rh[0])), p)
    it = np.empty(n)
    fac = np.empty(n)
    water = np.empty(n)
    econ = np.empty(n)
    inlet_max = np.empty(n)
    keys = None
    parts: dict[str, np.ndarray] = {}
    for k in range(n):
        r = plant.step(
            p,
            WeatherSample(float(ws.dry_bulb_c[k]), float(ws.wet_bulb_c[k]), float(ws.rh[k])),
            dt_s,
        )
        if keys is None:
            keys = list(r.breakdown)
            parts = {key: np.empty(n) for key in keys}
        it[k] = r.it_heat_w
        fac[k] = r.cooling_w
        water[k] = r.water_l
        econ[k] = r.economizer_fraction
        inlet_max[k] = float(r.inlet_c.max())
        for key in keys:
            parts[key][k] = r.breakdown[key]
    h = dt_s / 3600.0
    it_mwh = float(it.sum() * h / 1e6)
    fac_mwh = float(fac.sum() * h / 1e6)
    summary = {
        "hours": float(n * h),
        "it_mwh": it_mwh,
        "cooling_mwh": fac_mwh,
        "pue": (it_mwh + fac_mwh) / it_mwh,
        "wue_l_per_kwh": float(water.sum()) / (it_mwh * 1e3),
        "water_m3": float(water.sum()) / 1e3,
        "carbon_t": float(((it + fac) * ci).sum() * h / 1e3 / 1e6),
        "economizer_hours": float((econ > 0).sum() * h),
        "full_free_cooling_hours": float((econ >= 1.0).sum() * h),
        "inlet_max_c": float(inlet_max.max()),
        "mean_dry_bulb_c": float(ws.dry_bulb_c.mean()),
        "mean_wet_bulb_c": float(ws.wet_bulb_c.mean()),
        "breakdown_mwh": {k: float(v.sum() * h / 1e6) for k, v in parts.items()},
        "air_density_check": check_air_density(rack_kw, cfg.effective_liquid_fraction),
    }
    series = {
        "t_s": t,
        "dry_bulb_c": ws.dry_bulb_c,
        "wet_bulb_c": ws.wet_bulb_c,
        "pue": (it + fac) / it,
        "economizer_fraction": econ,
        "carbon_g_per_kwh": ci,
    }
    return {"summary": summary, "series": series}


def plot_period(result: dict, path, title: str = "") -> None:
    """Two-panel PNG: outdoor temperatures and PUE (daily means) with economizer share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["series"]
    day = s["t_s"] / 86400.0
    nd = max(int(day[-1]) + 1, 1)
    idx = np.minimum(day.astype(int), nd - 1)

    def daily(x):
        return np.bincount(idx, weights=x, minlength=nd) / np.maximum(
            np.bincount(idx, minlength=nd), 1
        )

    d = np.arange(nd)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    ax1.plot(d, daily(s["dry_bulb_c"]), label="dry bulb")
    ax1.plot(d, daily(s["wet_bulb_c"]), label="wet bulb")
    ax1.set_ylabel("outdoor, C (daily mean)")
    ax1.legend(loc="upper left")
    ax1.grid(alpha=0.3)
    ax2.plot(d, daily(s["pue"]), color="C3", label="PUE")
    ax2.set_ylabel("PUE (daily mean)")
    ax2.set_xlabel("day of year")
    ax2.grid(alpha=0.3)
    ax3 = ax2.twinx()
    ax3.fill_between(
        d, daily(s["economizer_fraction"]), color="C2", alpha=0.2, label="economizer share"
    )
    ax3.set_ylim(0, 1.05)
    ax3.set_ylabel("economizer share of CHW load")
    summ = result["summary"]
    fig.suptitle(title or f"annual PUE {summ['pue']:.3f}, WUE {summ['wue_l_per_kwh']:.2f} L/kWh")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
