"""Open cooling tower with a variable-speed fan, sized on its own rating (not on the load).

Approach at full fan = rating approach x (Q / Q_rated) x (dh_sat/dT at the rating wet bulb /
dh_sat/dT at this wet bulb) (Merkel: the driving force is enthalpy, so the same duty needs a
larger approach in cold air); approach ~ airflow^-n (Braun 1989). Water = evaporation from a
psychrometric balance (saturated exit air) + drift + blowdown from cycles of concentration.
"""

from __future__ import annotations

from dcsim.cooling.config import CP_WATER, TowerConfig
from dcsim.cooling.equipment import (
    heat_exchanger_fan,
    humidity_ratio_from_wet_bulb,
    moist_air_enthalpy,
    part_load,
    part_load_curve,
    saturated_enthalpy_slope,
    saturated_temperature_at_enthalpy,
    saturation_humidity_ratio,
)


class CoolingTower:
    """Tower rated for rated_w (rated_w, else sizing_factor x design rejection)."""

    def __init__(self, cfg: TowerConfig, design_rejection_w: float):
        self.cfg = cfg
        self.rated_w = cfg.rated_w or cfg.sizing_factor * design_rejection_w
        self.fan_rated_w = cfg.rating_fan_w_per_w * self.rated_w
        self.fan_curve = part_load_curve(cfg.fan_part_load_curve)
        self.slope_ref = saturated_enthalpy_slope(cfg.rating_wet_bulb_c)
        # dry-air flow at full fan: rated water flow / (L/G)
        water_kg_s = self.rated_w / (CP_WATER * cfg.rating_range_k)
        self.air_kg_s_rated = water_kg_s / cfg.water_air_ratio

    def wet_bulb_factor(self, wet_bulb_c: float) -> float:
        """Approach multiplier at this wet bulb relative to the rating (capped at 4)."""
        return min(self.slope_ref / saturated_enthalpy_slope(wet_bulb_c), 4.0)

    def coldest_water_c(self, q_w: float, wet_bulb_c: float, wb_factor: float) -> float:
        """Leaving water at full fan rejecting q_w."""
        return wet_bulb_c + self.cfg.rating_approach_k * wb_factor * q_w / self.rated_w

    def condenser_setpoint_c(self, wet_bulb_c: float) -> float:
        """Condenser water reset: max(condenser_min, wet bulb + control approach)."""
        return max(self.cfg.condenser_min_c, wet_bulb_c + self.cfg.control_approach_k)

    def fan(
        self, q_w: float, target_c: float, wet_bulb_c: float, wb_factor: float
    ) -> tuple[float, float]:
        """(fan speed fraction, leaving water C) holding target_c while rejecting q_w."""
        tw = self.cfg
        return heat_exchanger_fan(
            q_w,
            self.rated_w,
            tw.rating_approach_k,
            tw.airflow_exponent,
            target_c,
            wet_bulb_c,
            tw.min_fan_speed,
            wb_factor,
        )

    def leaving_c(self, q_w: float, speed: float, wet_bulb_c: float, wb_factor: float) -> float:
        """Leaving water at fan speed `speed` rejecting q_w: wet bulb + approach(speed)."""
        a1 = self.cfg.rating_approach_k * wb_factor * max(q_w, 0.0) / self.rated_w
        return wet_bulb_c + a1 * speed ** (-self.cfg.airflow_exponent)

    def fan_power(self, speed: float) -> float:
        """Fan electric power, W, at speed fraction `speed`: the VSD fan part-load curve (motor
        and drive losses included), or the bare affinity law with fan_part_load_curve: null."""
        return self.fan_rated_w * part_load(self.fan_curve, speed)

    def evaporation_kg_s(
        self, q_w: float, wet_bulb_c: float, dry_bulb_c: float, fan_speed: float
    ) -> float:
        """Evaporation rate, kg/s, from a psychrometric energy balance with saturated exit air
        (EnergyPlus Engineering Reference, cooling towers, evaporation loss mode
        'SaturatedExit'): dry-air flow m_a = m_a,rated x fan speed; h_out = h_in + q / m_a;
        the air leaves saturated at h_out; evaporation = m_a (w_sat(T_out) - w_in). The latent
        share of the rejected heat thus falls in cold or humid air and exceeds 1 in hot dry air
        (the air itself is cooled), instead of a constant ~83 %."""
        m_a = self.air_kg_s_rated * max(fan_speed, 1e-6)
        db = max(dry_bulb_c, wet_bulb_c)
        w_in = humidity_ratio_from_wet_bulb(db, wet_bulb_c)
        h_out = moist_air_enthalpy(db, w_in) + max(q_w, 0.0) / m_a
        guess = wet_bulb_c + max(q_w, 0.0) / m_a / saturated_enthalpy_slope(wet_bulb_c)
        t_out = saturated_temperature_at_enthalpy(h_out, guess)
        return m_a * max(saturation_humidity_ratio(t_out) - w_in, 0.0)

    def water_parts_kg(
        self,
        q_rejected_w: float,
        dt_s: float,
        wet_bulb_c: float,
        dry_bulb_c: float,
        fan_speed: float,
        circulating_kg_s: float,
    ) -> tuple[float, float, float]:
        """(evaporation, drift, blowdown) in dt_s, kg. Dissolved solids balance: blowdown +
        drift = evaporation / (CoC - 1), so drift replaces part of the bleed (blowdown >= 0)."""
        tw = self.cfg
        evap = self.evaporation_kg_s(q_rejected_w, wet_bulb_c, dry_bulb_c, fan_speed) * dt_s
        drift = tw.drift_fraction * circulating_kg_s * dt_s
        blowdown = max(evap / (tw.cycles_of_concentration - 1.0) - drift, 0.0)
        return evap, drift, blowdown
