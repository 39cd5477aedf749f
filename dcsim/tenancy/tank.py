"""Chilled-water thermal storage tank: pre-cooling as a decision, with an exact energy balance.

A stratified tank stores "cooling" (heat it can absorb) between the chilled-water supply and
return temperatures. Its capacity is E_max = rho c_p V dT (ASHRAE Handbook - HVAC
Applications, ch. "Thermal Storage": stratified chilled-water tanks work with dT of about
8-11 K, ~11.6 kWh_th per m^3 at 10 K). Per step of dt seconds, with stored cooling E (J):

    loss      = min(k E, E / dt)                          standing loss (heat gain through walls)
    discharge = min(u- R, E/dt - loss, chiller load)      cooling taken from the tank (W)
    charge    = min(u+ R, (E_max - E)/dt + loss, headroom) extra cooling made by the chiller (W)
    E'        = E + (charge - discharge - loss) dt         exact, and 0 <= E' <= E_max

where u in [-1, 1] is the command (negative discharges), R = E_max / rate_hours the pump/
diffuser limit. Discharging lowers the chiller's load, charging raises it (the caller prices
that load with the plant's own chiller model at this step's conditions).

Sizing defaults (estimates, confidence medium-low): capacity = 2 h of the hall's design cooling
load (load-shifting tanks are sized for hours, ride-through tanks for ~10-20 min: ASHRAE TC 9.9
guidance), full charge or discharge in 4 h, standing loss 1 %/day (well-insulated stratified
tanks lose about 1-2 %/day; estimate).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from dcsim.schema import StrictModel

RHO_CP_WATER_J_PER_M3K = 1000.0 * 4186.0


class TankConfig(StrictModel):
    """A stratified chilled-water tank sized in hours of the design cooling load."""

    capacity_hours: float = Field(
        2.0, ge=0, le=48, description="stored cooling, hours of design load"
    )
    delta_t_k: float = Field(10.0, gt=0, le=20, description="return - supply temperature, K")
    rate_hours: float = Field(4.0, gt=0, description="hours for a full charge or discharge")
    loss_per_day: float = Field(0.01, ge=0, lt=1, description="standing loss, fraction per day")
    initial_soc: float = Field(0.5, ge=0, le=1, description="state of charge at reset")


@dataclass(frozen=True)
class TankStep:
    charge_w: float
    discharge_w: float
    loss_w: float
    energy_j: float  # after the step
    soc: float


class ChilledWaterTank:
    """State of charge of a tank serving a plant of `design_load_w` cooling load."""

    def __init__(self, cfg: TankConfig, design_load_w: float):
        self.cfg = cfg
        self.capacity_j = cfg.capacity_hours * 3600.0 * float(design_load_w)
        self.volume_m3 = self.capacity_j / (RHO_CP_WATER_J_PER_M3K * cfg.delta_t_k)
        self.max_rate_w = self.capacity_j / (cfg.rate_hours * 3600.0)
        self.k_loss = cfg.loss_per_day / 86400.0  # 1/s
        self.energy_j = 0.0
        self.reset()

    def reset(self, soc: float | None = None) -> None:
        s = self.cfg.initial_soc if soc is None else soc
        self.energy_j = float(min(max(s, 0.0), 1.0)) * self.capacity_j

    @property
    def soc(self) -> float:
        return self.energy_j / self.capacity_j if self.capacity_j > 0 else 0.0

    def step(
        self, command: float, chiller_load_w: float, headroom_w: float, dt_s: float
    ) -> TankStep:
        """Charge (command > 0) or discharge (< 0) for dt_s; see the module docstring."""
        u = min(max(float(command), -1.0), 1.0)
        e = self.energy_j
        loss = min(self.k_loss * e, e / dt_s)
        dis = chg = 0.0
        if u < 0:
            dis = max(0.0, min(-u * self.max_rate_w, e / dt_s - loss, chiller_load_w))
        elif u > 0:
            room = (self.capacity_j - e) / dt_s + loss
            chg = max(0.0, min(u * self.max_rate_w, room, headroom_w))
        e_new = e + (chg - dis - loss) * dt_s
        self.energy_j = min(max(e_new, 0.0), self.capacity_j)  # rounding only
        return TankStep(chg, dis, loss, self.energy_j, self.soc)


__all__ = ["ChilledWaterTank", "TankConfig", "TankStep"]
