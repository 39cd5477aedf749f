"""Direct-to-chip liquid loop: cold plates -> CDU (TCS loop) -> facility water -> dry cooler,
with a trim chiller for what the dry cooler cannot reach.

The CDU and facility-water pumps follow the pump law (`Pump`); their work ends up as heat in
the water. The dry cooler holds the facility-water supply setpoint with the slowest fan that
can (`heat_exchanger_fan`); it cools the return water (supply + design delta-T) down to what
it reaches, and the trim chiller (Carnot fraction COP) removes the rest, rejecting to the tower
water or to outdoor air.
"""

from __future__ import annotations

from dataclasses import dataclass

from dcsim.cooling.config import RHO_CP_WATER, LiquidConfig, PumpsConfig
from dcsim.cooling.equipment import Pump, heat_exchanger_fan, part_load, part_load_curve


@dataclass(slots=True)
class LiquidStep:
    """One step of the liquid loop. Powers are step averages, W; all zero without cold plates."""

    cdu_pump_w: float = 0.0
    fws_pump_w: float = 0.0
    drycooler_fan_w: float = 0.0
    trim_chiller_w: float = 0.0
    trim_load_w: float = 0.0
    tcs_supply_c: float = 0.0  # cold-plate (TCS) supply temperature
    to_tower_w: float = 0.0  # trim chiller heat (load + work) rejected to the tower water


class LiquidLoop:
    """Cold-plate loop sized for design_liquid_w (the cold plates' share of design IT power).

    `airflow_exponent` is the dry cooler's approach ~ airflow^-n exponent (the tower's Merkel n).
    """

    def __init__(
        self, cfg: LiquidConfig, pumps: PumpsConfig, airflow_exponent: float, design_liquid_w: float
    ):
        self.cfg = cfg
        self.min_flow = pumps.min_flow
        self.airflow_exponent = airflow_exponent
        self.active = design_liquid_w > 0.0
        self.q_design = max(design_liquid_w, 1.0)
        tcs_flow_design = cfg.tcs_lpm_per_kw * design_liquid_w / 1000.0 / 60000.0  # m3/s
        fws_flow_design = self.q_design / (RHO_CP_WATER * cfg.fws_delta_t_k)
        self.cdu_pump = Pump(pumps, tcs_flow_design, cfg.cdu_pressure_pa)
        self.fws_pump = Pump(pumps, fws_flow_design, cfg.fws_pressure_pa)
        self.drycooler_rated_w = cfg.sizing_factor * self.q_design
        self.drycooler_fan_rated_w = cfg.drycooler_fan_w_per_w * self.drycooler_rated_w
        self.drycooler_fan_curve = part_load_curve(cfg.drycooler_fan_part_load_curve)
        # the tower must also take the trim chiller's full duty when the trim rejects to it
        self.tower_duty_design_w = (
            design_liquid_w * (1.0 + 1.0 / cfg.trim_cop_max)
            if cfg.trim_heat_sink == "tower"
            else 0.0
        )

    def trim_cop(self, sink_c: float) -> float:
        """Trim chiller COP = eta_2nd T_evap / (T_cond - T_evap), capped at trim_cop_max.

        T_evap is 2 K below the facility-water supply; T_cond is the sink plus the approach.
        """
        lq = self.cfg
        t_ev = lq.fws_supply_c - 2.0 + 273.15
        t_co = max(sink_c + lq.trim_condenser_approach_k + 273.15, t_ev + 1.0)
        return min(lq.trim_second_law_efficiency * t_ev / (t_co - t_ev), lq.trim_cop_max)

    def step(self, q_liquid_w: float, dry_bulb_c: float, tower_water_c: float) -> LiquidStep:
        """Pumps, dry cooler and trim chiller for q_liquid_w of cold-plate heat.

        tower_water_c is the trim condenser's sink when it rejects to the tower water.
        """
        if not self.active:
            return LiquidStep()
        lq = self.cfg
        lf = max(q_liquid_w / self.q_design, self.min_flow)
        cdu_w = self.cdu_pump.power(lf * self.cdu_pump.flow_design)
        fws_pump_w = self.fws_pump.power(lf * self.fws_pump.flow_design)
        q_dc = q_liquid_w + cdu_w + fws_pump_w  # pump work ends up as heat in the water
        phi, t_leave = heat_exchanger_fan(
            q_dc,
            self.drycooler_rated_w,
            lq.drycooler_approach_k,
            self.airflow_exponent,
            lq.fws_supply_c,
            dry_bulb_c,
            lq.min_fan_speed,
        )
        dc_fan_w = self.drycooler_fan_rated_w * part_load(self.drycooler_fan_curve, phi)
        # dry cooler cools return water (supply + dT) down to t_leave; the rest is trimmed
        frac = (lq.fws_delta_t_k - max(t_leave - lq.fws_supply_c, 0.0)) / lq.fws_delta_t_k
        frac = min(max(frac, 0.0), 1.0)
        trim_load = q_dc * (1.0 - frac)
        trim_w = 0.0
        if trim_load > 0.0:
            sink = tower_water_c if lq.trim_heat_sink == "tower" else dry_bulb_c
            trim_w = trim_load / self.trim_cop(sink)
        return LiquidStep(
            cdu_pump_w=cdu_w,
            fws_pump_w=fws_pump_w,
            drycooler_fan_w=dc_fan_w,
            trim_chiller_w=trim_w,
            trim_load_w=trim_load,
            tcs_supply_c=lq.fws_supply_c + lq.cdu_approach_k,
            to_tower_w=(trim_load + trim_w) if lq.trim_heat_sink == "tower" else 0.0,
        )
