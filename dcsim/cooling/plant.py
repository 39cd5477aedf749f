"""The cooling plant of one hall: the air chain, the liquid loop and the water side composed.

Structure follows PyDCM (arXiv 2404.12498) / SustainDC, with its known bugs fixed: fans obey the
affinity law (power ~ flow^3, not linear), and the cooling tower is sized on its own rating, not
on the instantaneous load. The chiller uses the EnergyPlus Chiller:Electric:EIR (DOE-2) model.
Thermal mass gives first-order dynamics (minutes), so setpoint control is a real control problem.

Energy accounting (checked by tests every step):
    IT heat  = rack_it_w + server_fan_w                      (server fans count as IT power)
    IT heat * dt = heat_removed_w * dt + delta(stored energy in rack thermal mass)
    cooling_w = CRAH fans + chiller + tower fan + pumps + CDU pump + dry-cooler fan + trim chiller
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dcsim.climate import WeatherSample
from dcsim.cooling.air import AirChain, enforce_air_density
from dcsim.cooling.config import CoolingConfig, CoolingControls
from dcsim.cooling.liquid import LiquidLoop, LiquidStep
from dcsim.cooling.water import ChilledWaterPlant, WaterStep
from dcsim.errors import InputError


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


def pue(it_w: float, cooling_w: float) -> float:
    """Power usage effectiveness (The Green Grid): (IT + cooling) / IT; IT includes server fans."""
    return (it_w + cooling_w) / it_w if it_w > 0 else float("nan")


def thermal_throttle(
    cfg: CoolingConfig,
    inlet_c: np.ndarray,
    tcs_supply_c: float | None,
    clock_for_power: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Allowed chip frequency fraction per rack.

    Chip power may use the headroom left above the inlet limit (linear to 0 at
    throttle_headroom_k of excess); for cold plates, the same on the TCS supply above its
    limit. The allowed share of busy power maps to a clock by the device's own DVFS law
    (`clock_for_power`, e.g. `DevicePowerModel.freq_for_scale`: leakage and voltage floor
    included); a plant run without a device uses P ~ f^throttle_dvfs_alpha. Works on any
    shape of inlet_c.
    """
    lim = cfg.liquid.tcs_limit_c
    if (tcs_supply_c is None or tcs_supply_c <= lim) and inlet_c.max() <= cfg.inlet_limit_c:
        return np.ones(inlet_c.shape)  # no excess anywhere: exactly 1 (1^(1/alpha) = 1)
    excess = np.maximum(inlet_c - cfg.inlet_limit_c, 0.0)
    p_allow = np.clip(1.0 - excess / cfg.throttle_headroom_k, 0.0, 1.0)
    if tcs_supply_c is not None and tcs_supply_c > lim:
        p_allow = np.minimum(
            p_allow, max(1.0 - (tcs_supply_c - lim) / cfg.throttle_headroom_k, 0.0)
        )
    if clock_for_power is not None:
        return clock_for_power(p_allow)
    return p_allow ** (1.0 / cfg.throttle_dvfs_alpha)


def cooling_breakdown(crah_fan_w: float, water: WaterStep, liq: LiquidStep) -> dict[str, float]:
    """The plant's electric loads, W; cooling_w is their sum in this order."""
    return {
        "crah_fan_w": crah_fan_w,
        "chiller_w": water.chiller_w,
        "tower_fan_w": water.tower_fan_w,
        "chw_pump_w": water.chw_pump_w,
        "cw_pump_w": water.cw_pump_w,
        "cdu_pump_w": liq.cdu_pump_w,
        "fws_pump_w": liq.fws_pump_w,
        "drycooler_fan_w": liq.drycooler_fan_w,
        "trim_chiller_w": liq.trim_chiller_w,
    }


class CoolingPlant:
    """The cooling plant of one hall of n_racks, sized for design_it_w (not the instantaneous load).

    `air` (AirChain): server fans, rack thermal mass, recirculation, CRAH fans, supply air.
    `liquid` (LiquidLoop): cold plates, CDU, facility water, dry cooler, trim chiller.
    `water` (ChilledWaterPlant): CHW/CW pumps, chiller, tower, water-side economizer.
    """

    def __init__(
        self,
        cfg: CoolingConfig,
        n_racks: int,
        design_it_w: float,
        clock_for_power: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        """`clock_for_power`: the accelerators' DVFS law (allowed busy-power share -> clock)
        for the thermal throttle; None only for plant-only runs (`dcsim cooling year`)."""
        plant_only_alpha = type(cfg).model_fields["throttle_dvfs_alpha"].default
        if clock_for_power is not None and cfg.throttle_dvfs_alpha != plant_only_alpha:
            raise InputError(
                "the hardware profile's DVFS law maps throttled power to clock here; "
                "throttle_dvfs_alpha only applies to plant-only runs (dcsim cooling year)",
                field="cooling.throttle_dvfs_alpha",
            )
        self.clock_for_power = clock_for_power
        if n_racks < 1:
            raise ValueError("n_racks must be >= 1")
        if design_it_w <= 0:
            raise ValueError("design_it_w must be > 0")
        self.cfg = cfg
        self.n = int(n_racks)
        self.design_it_w = float(design_it_w)
        self.f_liq = cfg.effective_liquid_fraction
        # refuse air above its practical kW/rack unless the scenario allows it (issue 15.5)
        enforce_air_density(self.design_it_w / 1e3 / self.n, self.f_liq, cfg.allow_over_density)
        self.air = AirChain(cfg.air, self.n, self.design_it_w, self.f_liq)
        self.liquid = LiquidLoop(
            cfg.liquid, cfg.pumps, cfg.tower.airflow_exponent, self.f_liq * self.design_it_w
        )
        self.water = ChilledWaterPlant(cfg, self.air.design_heat_w, self.liquid.tower_duty_design_w)
        self.reset()

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

    @property
    def t_in(self) -> np.ndarray:
        """Rack inlet temperatures of the last step, C."""
        return self.air.t_in

    @property
    def t_supply(self) -> float:
        """Supply air temperature now, C."""
        return self.air.t_supply

    @property
    def stored_energy_j(self) -> float:
        """Energy in rack thermal mass relative to 0 C, J."""
        return self.air.stored_energy_j

    def reset(
        self, weather: WeatherSample | None = None, rack_it_w: np.ndarray | None = None
    ) -> None:
        """Put the plant in steady state for this load and the configured setpoints."""
        self.water.reset()
        p = np.zeros(self.n) if rack_it_w is None else np.asarray(rack_it_w, dtype=float)
        sa0, chw0, _ = self.setpoints(None)
        self.air.reset(max(sa0, chw0 + self.cfg.air.coil_approach_k), (1.0 - self.f_liq) * p)
        if weather is not None and rack_it_w is not None:
            # settle the water side (chiller power estimate for the tower)
            for _ in range(3):
                self.step(p, weather, 1e6, None)

    def step_water(
        self,
        q_coils_w: float,
        q_liquid_w: float,
        chw_set_c: float,
        econ_mode: str,
        wet_bulb_c: float,
        dry_bulb_c: float,
        dt_s: float,
    ) -> tuple[LiquidStep, WaterStep]:
        """The liquid loop and the water side for one step, given the heat the air side brings
        to the coils (IT air share + server and CRAH fans) and the cold plates' heat, W."""
        liq = self.liquid.step(q_liquid_w, dry_bulb_c, self.water.t_cond_prev)
        water = self.water.step(
            q_coils_w, chw_set_c, econ_mode, wet_bulb_c, liq.to_tower_w, dt_s, dry_bulb_c
        )
        return liq, water

    def step(
        self,
        rack_it_w: np.ndarray,
        weather: WeatherSample,
        dt_s: float,
        controls: CoolingControls | None = None,
    ) -> CoolingResult:
        """Advance dt_s seconds with constant rack IT power (W per rack, excluding server fans)."""
        p = np.asarray(rack_it_w, dtype=float)
        sa_set, chw_set, econ_mode = self.setpoints(controls)
        t_wb, t_db = float(weather.wet_bulb_c), float(weather.dry_bulb_c)

        air = self.air.step((1.0 - self.f_liq) * p, dt_s)
        p_sum = float(p.sum())
        q_liq = self.f_liq * p_sum
        liq, water = self.step_water(
            air.heat_to_air_w + air.crah_fan_w, q_liq, chw_set, econ_mode, t_wb, t_db, dt_s
        )
        self.air.advance_supply(sa_set, water.chw_supply_c, dt_s)
        throttle = thermal_throttle(
            self.cfg,
            air.inlet_c,
            liq.tcs_supply_c if self.liquid.active else None,
            self.clock_for_power,
        )

        breakdown = cooling_breakdown(air.crah_fan_w, water, liq)
        cooling = 0.0
        for w in breakdown.values():
            cooling += w
        p_ch = water.chiller_w
        return CoolingResult(
            inlet_c=air.inlet_c,
            outlet_c=air.outlet_c,
            server_fan_w=air.server_fan_w,
            cooling_w=cooling,
            breakdown=breakdown,
            heat_removed_w=air.heat_to_air_w + q_liq,
            water_l=water.water_l,
            throttle=throttle,
            economizer_on=water.economizer_fraction > 0.0,
            it_heat_w=p_sum + float(air.server_fan_w.sum()),
            stored_energy_j=self.stored_energy_j,
            supply_air_c=self.air.t_supply,
            chw_supply_c=water.chw_supply_c,
            economizer_fraction=water.economizer_fraction,
            chiller_plr=water.chiller_plr,
            chiller_cop=(water.chiller_load_w / p_ch) if p_ch > 0 else 0.0,
            extra={
                "trim_load_w": liq.trim_load_w,
                "heat_rejected_w": water.heat_rejected_w,
                "condenser_c": water.condenser_c,
                "tower_fan_speed": water.tower_fan_speed,
                "evaporation_l": water.evaporation_l,
                "drift_l": water.drift_l,
                "blowdown_l": water.blowdown_l,
            },
        )
