"""Water side of the air chain: chilled-water loop, chiller, condenser water, cooling tower and
the water-side economizer (plate heat exchanger between tower water and chilled water).

Each step: the CHW pump moves the coils' heat; the tower (on its own rating) either makes the
coldest useful water for the economizer or holds the condenser-water reset; the economizer
pre-cools the CHW return and the chiller takes the rest against condenser water no colder than
its minimum. The tower's load uses the previous step's chiller power (one-step lag, settled by
`CoolingPlant.reset`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dcsim.cooling.chiller import Chiller
from dcsim.cooling.config import RHO_CP_WATER, RHO_WATER, CoolingConfig, EconomizerMode
from dcsim.cooling.equipment import Pump
from dcsim.cooling.tower import CoolingTower


class Economizer:
    """Water-side economizer: a plate heat exchanger with approach hx_approach_k."""

    def __init__(self, hx_approach_k: float):
        self.hx = hx_approach_k

    def engaged(
        self, mode: EconomizerMode | str, coldest_water_c: float, chw_return_c: float
    ) -> bool:
        """'on' always; 'auto' when the coldest tower water + HX approach is below the CHW return."""
        return mode == "on" or (mode == "auto" and coldest_water_c + self.hx < chw_return_c)

    def tower_target_c(self, chw_setpoint_c: float) -> float:
        """Tower water that would carry the whole CHW load through the HX (not below 2 C)."""
        return max(chw_setpoint_c - self.hx, 2.0)

    def share(
        self,
        mode: EconomizerMode | str,
        tower_water_c: float,
        chw_setpoint_c: float,
        chw_return_c: float,
    ) -> tuple[float, float]:
        """(share of the CHW load the HX removes, CHW supply C) once engaged.

        'on' locks the chillers out: the HX takes everything and CHW floats at what it delivers.
        'auto' pre-cools the return from chw_return toward tower water + approach.
        """
        t_hx = tower_water_c + self.hx
        if mode == "on":
            return 1.0, max(chw_setpoint_c, t_hx)
        if chw_return_c > chw_setpoint_c:
            frac = (chw_return_c - t_hx) / (chw_return_c - chw_setpoint_c)
            return min(max(frac, 0.0), 1.0), chw_setpoint_c
        return 0.0, chw_setpoint_c


@dataclass(slots=True)
class WaterStep:
    """One step of the water side. Powers are step averages, W."""

    chiller_w: float
    tower_fan_w: float
    chw_pump_w: float
    cw_pump_w: float
    chw_supply_c: float  # actual CHW supply (floats above the setpoint on shortfall or 'on')
    economizer_fraction: float
    chiller_plr: float
    chiller_load_w: float
    condenser_c: float
    heat_rejected_w: float
    tower_fan_speed: float
    water_l: float  # make-up water = evaporation + drift + blowdown, L
    evaporation_l: float = 0.0
    drift_l: float = 0.0
    blowdown_l: float = 0.0


class ChilledWaterPlant:
    """CHW and CW pumps, chiller, tower and economizer sized for the coils' design_coil_w.

    extra_tower_design_w: other design duty on the tower (the liquid loop's trim chiller).
    State: the previous step's chiller power and condenser water temperature.
    """

    def __init__(self, cfg: CoolingConfig, design_coil_w: float, extra_tower_design_w: float):
        ch, tw, pu = cfg.chiller, cfg.tower, cfg.pumps
        self.pumps = pu
        self.cond_min_c = tw.condenser_min_c
        self.min_lift_k = ch.min_lift_k  # Chiller.condenser_floor_c, inlined in _option
        self.t_cond_ref_c = ch.t_cond_ref_c
        self.q_chw_design = design_coil_w
        self.chiller = Chiller(ch, design_coil_w)
        chw_flow_design = max(design_coil_w, 1.0) / (RHO_CP_WATER * pu.chw_delta_t_k)
        q_rej_design = max(design_coil_w, 1.0) * (1.0 + 1.0 / ch.cop_ref) + extra_tower_design_w
        self.tower = CoolingTower(tw, q_rej_design)
        cw_flow_design = q_rej_design / (RHO_CP_WATER * pu.cw_delta_t_k)
        self.chw_pump = Pump(pu, chw_flow_design, pu.chw_pressure_pa)
        self.cw_pump = Pump(pu, cw_flow_design, pu.cw_pressure_pa)
        self.economizer = Economizer(cfg.economizer_hx_approach_k)
        self.reset()

    # tower fan stages tried when economizing in 'auto' (plus the speed for full free cooling)
    _fan_stages = (0.15, 0.3, 0.5, 0.75, 1.0)

    def _option(
        self,
        q_chw: float,
        chw_set: float,
        chw_return: float,
        chw_flow: float,
        mode: str,
        phi: float,
        t_cw: float,
    ) -> tuple[float, float, float, float, float, float, float, float, float, float]:
        """One operating option at tower fan speed phi and tower water t_cw:
        (chiller + tower fan + CW pump power, phi, economizer share, CHW supply, chiller load,
        chiller power, PLR, condenser water, CW pump power, CW flow m3/s)."""
        pu = self.pumps
        econ_frac, t_chw_actual = 0.0, chw_set
        if mode != "off":
            econ_frac, t_chw_actual = self.economizer.share(mode, t_cw, chw_set, chw_return)
        # the chiller runs against condenser water no colder than its minimum nor its min lift
        t_cond = max(t_cw, self.cond_min_c, chw_set + self.min_lift_k)
        q_chiller = (1.0 - econ_frac) * q_chw
        p_ch, plr, cap = self.chiller.power(q_chiller, chw_set, t_cond)
        if q_chiller > cap:  # capacity shortfall: CHW supply floats up
            t_chw_actual = chw_set + (q_chiller - cap) / (RHO_CP_WATER * max(chw_flow, 1e-9))
            p_ch, plr, _ = self.chiller.power(cap, chw_set, t_cond)
        cw_flow = max(
            (q_chiller + p_ch + econ_frac * q_chw) / (RHO_CP_WATER * pu.cw_delta_t_k),
            pu.min_flow * self.cw_pump.flow_design,
        )
        cw_pump_w = self.cw_pump.power(cw_flow)
        total = p_ch + self.tower.fan_power(phi) + cw_pump_w
        return total, phi, econ_frac, t_chw_actual, q_chiller, p_ch, plr, t_cond, cw_pump_w, cw_flow

    def _cheapest(
        self,
        q_chw: float,
        chw_set: float,
        chw_return: float,
        chw_flow: float,
        q_rej: float,
        wet_bulb_c: float,
        wb_factor: float,
        phi_mech: float,
        t_mech_c: float,
    ) -> tuple[float, float, float, float, float, float, float, float, float, float]:
        """'auto': the cheapest of full free cooling (at the fan speed that makes the HX carry
        everything), integrated economizing at each tower fan stage, and mechanical cooling
        (tower at phi_mech, water t_mech_c). Options that cannot beat the best so far are skipped
        by exact lower bounds (fan power alone; chiller >= min(load, capacity) / cop_max)."""
        tower = self.tower
        target = self.economizer.tower_target_c(chw_set)
        phi_free, t_free = tower.fan(q_rej, target, wet_bulb_c, wb_factor)
        best = self._option(q_chw, chw_set, chw_return, chw_flow, "auto", phi_free, t_free)
        for phi in self._fan_stages:
            if phi < tower.cfg.min_fan_speed:
                continue
            # a faster fan than one that already gives full free cooling only costs more
            if (best[2] >= 1.0 and phi >= best[1]) or tower.fan_power(phi) >= best[0]:
                break
            t = tower.leaving_c(q_rej, phi, wet_bulb_c, wb_factor)
            opt = self._option(q_chw, chw_set, chw_return, chw_flow, "auto", phi, t)
            if opt[0] < best[0]:
                best = opt
        # mechanical: the chiller alone draws >= min(load, capacity) / cop_max
        t_cond = max(t_mech_c, self.cond_min_c, self.chiller.condenser_floor_c(chw_set))
        lower = min(q_chw, self.chiller.capacity(chw_set, t_cond)) / self.chiller.cfg.cop_max
        if lower < best[0]:
            mech = self._option(q_chw, chw_set, chw_return, chw_flow, "off", phi_mech, t_mech_c)
            if mech[0] <= best[0]:
                best = mech
        return best

    def reset(self) -> None:
        self.p_chiller_prev = 0.0
        self.t_cond_prev = self.t_cond_ref_c

    def step(
        self,
        q_coils_w: float,
        chw_setpoint_c: float,
        economizer: EconomizerMode | str,
        wet_bulb_c: float,
        other_tower_w: float,
        dt_s: float,
        dry_bulb_c: float | None = None,
    ) -> WaterStep:
        """Remove q_coils_w (W) from the CHW loop for dt_s; other_tower_w is other heat the tower
        rejects this step (the liquid loop's trim chiller). dry_bulb_c (default: the wet bulb,
        i.e. saturated air) sets the air state of the tower's evaporation balance."""
        pu = self.pumps
        chw_set = chw_setpoint_c
        # ---- chilled-water loop
        flow_frac = (
            max(q_coils_w / self.q_chw_design, pu.min_flow) if self.q_chw_design > 0 else 0.0
        )
        chw_flow = flow_frac * self.chw_pump.flow_design
        chw_pump_w = self.chw_pump.power(chw_flow)
        q_chw = max(q_coils_w + chw_pump_w, 0.0)
        # ---- tower (on its own rating) and water-side economizer
        wb_factor = self.tower.wet_bulb_factor(wet_bulb_c)
        q_rej_est = q_chw + self.p_chiller_prev + other_tower_w
        chw_return = chw_set + (q_chw / (RHO_CP_WATER * chw_flow) if chw_flow > 0 else 0.0)
        floor_c = self.chiller.condenser_floor_c(chw_set)
        # mechanical cooling: the tower holds the condenser reset, never below the chiller's floor
        mech_target = max(self.tower.condenser_setpoint_c(wet_bulb_c), floor_c)
        if economizer == "on":  # chillers locked out; the tower makes the coldest useful water
            phi_t, t_cw = self.tower.fan(
                q_rej_est, self.economizer.tower_target_c(chw_set), wet_bulb_c, wb_factor
            )
            best = self._option(q_chw, chw_set, chw_return, chw_flow, "on", phi_t, t_cw)
        else:
            phi_m, t_m = self.tower.fan(q_rej_est, mech_target, wet_bulb_c, wb_factor)
            if economizer == "auto" and self.economizer.engaged(
                "auto", self.tower.coldest_water_c(q_rej_est, wet_bulb_c, wb_factor), chw_return
            ):
                best = self._cheapest(
                    q_chw,
                    chw_set,
                    chw_return,
                    chw_flow,
                    q_rej_est,
                    wet_bulb_c,
                    wb_factor,
                    phi_m,
                    t_m,
                )
            else:
                best = self._option(q_chw, chw_set, chw_return, chw_flow, "off", phi_m, t_m)
        _, phi_t, econ_frac, t_chw_actual, q_chiller, p_ch, plr, t_cond, cw_pump_w, cw_flow = best
        self.p_chiller_prev = p_ch
        self.t_cond_prev = t_cond
        # ---- condenser water and heat rejection
        q_rej = q_chw + p_ch + cw_pump_w + other_tower_w
        evap, drift, blowdown = self.tower.water_parts_kg(
            q_rej,
            dt_s,
            wet_bulb_c,
            wet_bulb_c if dry_bulb_c is None else dry_bulb_c,
            phi_t,
            cw_flow * RHO_WATER,
        )
        return WaterStep(
            chiller_w=p_ch,
            tower_fan_w=self.tower.fan_power(phi_t),
            chw_pump_w=chw_pump_w,
            cw_pump_w=cw_pump_w,
            chw_supply_c=t_chw_actual,
            economizer_fraction=econ_frac,
            chiller_plr=plr,
            chiller_load_w=q_chiller,
            condenser_c=t_cond,
            heat_rejected_w=q_rej,
            tower_fan_speed=phi_t,
            water_l=evap + drift + blowdown,  # 1 kg ~ 1 L
            evaporation_l=evap,
            drift_l=drift,
            blowdown_l=blowdown,
        )
