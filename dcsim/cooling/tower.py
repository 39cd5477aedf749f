"""Open cooling tower with a variable-speed fan, sized on its own rating (not on the load).

Approach at full fan = rating approach x (Q / Q_rated) x (dh_sat/dT at the rating wet bulb /
dh_sat/dT at this wet bulb) (Merkel: the driving force is enthalpy, so the same duty needs a
larger approach in cold air); approach ~ airflow^-n (Braun 1989). Water = evaporation
(3.44e-7 kg/J) plus blowdown evaporation / (cycles - 1).
"""

from __future__ import annotations

from dcsim.cooling.config import TowerConfig
from dcsim.cooling.equipment import heat_exchanger_fan, saturated_enthalpy_slope


class CoolingTower:
    """Tower rated for rated_w (rated_w, else sizing_factor x design rejection)."""

    def __init__(self, cfg: TowerConfig, design_rejection_w: float):
        self.cfg = cfg
        self.rated_w = cfg.rated_w or cfg.sizing_factor * design_rejection_w
        self.fan_rated_w = cfg.rating_fan_w_per_w * self.rated_w
        self.slope_ref = saturated_enthalpy_slope(cfg.rating_wet_bulb_c)

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
        """Fan power, W (affinity law)."""
        return self.fan_rated_w * speed**3

    def water_l(self, q_rejected_w: float, dt_s: float) -> float:
        """Make-up water (evaporation + blowdown) in dt_s, litres (1 kg ~ 1 L)."""
        tw = self.cfg
        evap_kg = tw.evaporation_kg_per_j * q_rejected_w * dt_s
        return evap_kg * (1.0 + 1.0 / (tw.cycles_of_concentration - 1.0))
