"""Cooling-plant inputs: one pydantic model per subsystem, the per-step controls, and constants.

Units: W, C (or K for differences), s, m3/s, Pa, kg. Every equation and source: docs/models.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from dcsim.schema import StrictModel

RHO_AIR = 1.19  # kg/m3, dry air at ~22 C, sea level (ASHRAE Fundamentals ch. 1)
CP_AIR = 1006.0  # J/(kg K), dry air (ASHRAE Fundamentals ch. 1)
RHO_WATER = 997.0  # kg/m3 at 25 C
CP_WATER = 4186.0  # J/(kg K)
RHO_CP_AIR = RHO_AIR * CP_AIR
RHO_CP_WATER = RHO_WATER * CP_WATER

EconomizerMode = Literal["auto", "off", "on"]

# Electric power / design vs flow (speed) fraction x of a variable-speed fan, c0 + c1 x + c2 x^2
# + c3 x^3, motor and drive losses included: the ASHRAE 90.1 performance-rating-method curve for
# a VSD fan with static-pressure reset, as coded in NREL openstudio-standards ("Multi Zone VAV
# with VSD and Static Pressure Reset"). Used for CRAH, cooling-tower and dry-cooler fans.
VSD_FAN_CURVE = [0.04076, 0.0881, -0.0729, 0.9437]


def check_part_load_curve(v: list[float] | None) -> list[float] | None:
    """A part-load curve must give power >= 0 at no flow and rise with flow on [0, 1] (the
    economizer search relies on fan power rising with speed)."""
    if v is None:
        return v
    c0, c1, c2, c3 = v
    xs = [i / 100 for i in range(101)]
    p = [c0 + x * (c1 + x * (c2 + x * c3)) for x in xs]
    if p[-1] <= 0 or p[0] < 0 or any(b < a for a, b in zip(p, p[1:], strict=False)):
        raise ValueError(
            "expected a curve with c(0) >= 0, c(1) > 0, non-decreasing on [0, 1] "
            "(power must rise with flow); null gives the bare affinity law"
        )
    return v


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
    crah_min_flow: float = Field(
        0.3,
        gt=0,
        le=1,
        description="CRAH fan minimum speed fraction (EC-fan CRAH units hold ~30 % for coil and "
        "air distribution)",
    )
    crah_part_load_curve: list[float] | None = Field(
        VSD_FAN_CURVE,
        min_length=4,
        max_length=4,
        description="CRAH fan electric power / design vs flow fraction x, c0 + c1 x + c2 x^2 + "
        "c3 x^3 (normalised to 1 at design): VSD fan with static-pressure reset, motor and "
        "drive losses included (ASHRAE 90.1 performance-rating curve as in NREL "
        "openstudio-standards 'Multi Zone VAV with VSD and Static Pressure Reset'); null (or "
        "[0, 0, 0, 1]) is the bare cube law",
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

    _crah_curve = field_validator("crah_part_load_curve")(check_part_load_curve)


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
        0.80,
        gt=0,
        le=1,
        description="ceiling, applied after the part-load curve: COP <= this x Carnot COP "
        "(evaporating T_chw - evaporator approach, condensing T_cond + condenser approach). "
        "At AHRI 550/590 full load (44 F / 85 F) Carnot with these approaches is 8.74: the "
        "90.1-2019 Path A minimum 0.560 kW/ton (COP 6.28) is 0.72 of it and the best "
        "centrifugal ratings, ~0.50 kW/ton (COP 7.0), 0.80",
    )
    cop_max: float = Field(
        12.0,
        gt=1,
        le=30,
        description="absolute COP ceiling at any lift and load, applied after the part-load "
        "curve: the best AHRI-certified magnetic-bearing centrifugal chillers reach ~0.29-0.30 "
        "kW/ton (COP ~12) at their best low-lift part-load point",
    )
    min_lift_k: float = Field(
        5.6,
        ge=0,
        le=20,
        description="minimum lift: condenser water entering the chiller is held at least this "
        "above the leaving chilled water (head-pressure control / tower bypass), K; centrifugal "
        "chillers need ~10 F of lift to avoid surge and keep oil return",
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
    fan_part_load_curve: list[float] | None = Field(
        VSD_FAN_CURVE,
        min_length=4,
        max_length=4,
        description="tower fan electric power / rated vs speed fraction, c0 + c1 x + c2 x^2 + "
        "c3 x^3 (normalised to 1 at full speed), motor and drive losses included: the ASHRAE "
        "90.1 VSD fan curve also used for CRAH fans (NREL openstudio-standards); EnergyPlus' "
        "example Merkel tower uses [0.02, 0, 0, 0.98]; null is the bare cube law",
    )
    condenser_min_c: float = Field(15.0, description="lowest condenser water supply allowed, C")
    control_approach_k: float = Field(
        5.5,
        gt=0,
        le=15,
        description="condenser water reset: setpoint = max(condenser_min, wet bulb + this), K "
        "(ASHRAE Guideline 22 / Taylor (2012) near-optimal approach reset)",
    )
    cycles_of_concentration: float = Field(
        5.0,
        gt=1.5,
        le=20,
        description="cycles of concentration: blowdown + drift = evaporation / (CoC - 1) "
        "(dissolved-solids balance; US DOE FEMP cooling-tower best practices, CoC 3-7)",
    )
    rating_range_k: float = Field(
        5.56, gt=0, le=20, description="water range at the rating, K (95 -> 85 F)"
    )
    water_air_ratio: float = Field(
        1.2,
        gt=0.2,
        le=4,
        description="L/G, water / dry-air mass flow at the rating and full fan; sets the tower "
        "air flow (air flow ~ fan speed) for the evaporation balance. Counterflow design L/G "
        "0.75-1.5 (Hensley, SPX 'Cooling Tower Fundamentals', 2nd ed.)",
    )
    drift_fraction: float = Field(
        2e-5,
        ge=0,
        le=0.002,
        description="drift, fraction of circulating water: 0.002 % (California Title 24 "
        "section 110.2(e) maximum for counterflow towers; 0.005 % crossflow; modern "
        "eliminators 0.0005-0.001 %)",
    )

    _fan_curve = field_validator("fan_part_load_curve")(check_part_load_curve)


class PumpsConfig(StrictModel):
    """Variable-speed pumps. Electric power P = P_d c(x) / c(1), x = Q/Q_d, P_d = dP_d Q_d / eta,
    with c the published part-load curve (drive and motor losses included); with
    part_load_curve: null, the bare system law P = dP Q / eta, dP = dP_d (s + (1-s) x^2)."""

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
    part_load_curve: list[float] | None = Field(
        [0.0, 0.5726, -0.301, 0.7347],
        min_length=4,
        max_length=4,
        description="pump electric power / design vs flow fraction x, c0 + c1 x + c2 x^2 + c3 x^3 "
        "(normalised to 1 at design): VSD pump on a fixed dP setpoint, motor and drive losses "
        "included (ASHRAE 90.1 performance-rating curve as coded in NREL openstudio-standards "
        "'VSD No Reset'; 'VSD DP Reset' is [0, 0.0205, 0.4101, 0.5753]); null: the bare "
        "system law with static_fraction",
    )
    static_fraction: float = Field(
        0.3,
        ge=0,
        le=1,
        description="share of head held by the dP setpoint; used only with part_load_curve: null",
    )

    _curve = field_validator("part_load_curve")(check_part_load_curve)

    @model_validator(mode="after")
    def _static_needs_bare_law(self) -> PumpsConfig:
        # a dumped config carries the default (0.3) and reloads; another value would be ignored
        default = type(self).model_fields["static_fraction"].default
        if self.part_load_curve is not None and self.static_fraction != default:
            raise ValueError(
                "static_fraction applies only with part_load_curve: null (the published "
                "part-load curve already includes the dP setpoint)"
            )
        return self


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
    drycooler_fan_part_load_curve: list[float] | None = Field(
        VSD_FAN_CURVE,
        min_length=4,
        max_length=4,
        description="dry-cooler fan electric power / rated vs speed fraction, c0 + c1 x + c2 x^2 "
        "+ c3 x^3 (normalised to 1 at full speed), motor and drive losses included: the ASHRAE "
        "90.1 VSD fan curve (NREL openstudio-standards); null is the bare cube law",
    )
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

    _fan_curve = field_validator("drycooler_fan_part_load_curve")(check_part_load_curve)


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
    allow_over_density: bool = Field(
        False,
        description="run anyway when air must carry more than the practical ~40 kW per rack "
        "(otherwise the plant refuses to build: an InputError, exit 2)",
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
        2.4,
        gt=0,
        description="P_dyn ~ f^alpha, to map power to frequency in plant-only runs (dcsim cooling "
        "year); runs with accelerators use the device's DVFS law and refuse this field",
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
