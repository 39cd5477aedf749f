"""Air chain of one hall: CRAH supply air -> rack inlets (with recirculation) -> servers -> CRAH.

Per rack: server fans on the affinity law (power ~ flow^3, not linear as in PyDCM) and an
exhaust node with heat capacity C_i,
    C_i dT_i/dt = Q_i - m_i c_p (T_i - T_in,i),
stepped with the exact exponential solution, so stored energy and heat removed close to
round-off. The CRAH fans move crah_flow_margin x the server flow (at least crah_min_flow of
design) and draw power on a published VSD part-load curve (motor and drive losses included);
the supply air follows the coil with a first-order lag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dcsim.cooling.config import RHO_CP_AIR, AirSideConfig
from dcsim.cooling.equipment import part_load, part_load_curve
from dcsim.errors import InputError

AIR_DENSITY_WARN_KW = 30.0
AIR_DENSITY_ERROR_KW = 40.0


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


class AirDensityError(InputError):
    """Air must carry more per rack than it practically can (a physical limit of the design:
    `dcsim run` exits 2, a sweep records the run as a failed row, an env refuses to build)."""


def enforce_air_density(rack_kw: float, liquid_fraction: float, allowed: bool) -> None:
    """InputError (exit 2) when air must carry more than AIR_DENSITY_ERROR_KW per rack, unless
    the scenario sets cooling.allow_over_density: true."""
    note = check_air_density(rack_kw, liquid_fraction)
    if allowed or note is None or not note.startswith("error"):
        return
    air_kw = float(rack_kw) * (1.0 - float(liquid_fraction))
    raise AirDensityError(
        f"air would carry {air_kw:.1f} kW per rack (design), beyond the ~"
        f"{AIR_DENSITY_ERROR_KW:.0f} kW practical limit of air cooling; use cooling.type: liquid "
        "(direct-to-chip), fewer servers per rack (cluster.servers_per_rack; accelerators_per_rack "
        "in the envs), or set cooling.allow_over_density: true "
        "to simulate it anyway",
        field="cooling.type",
    )


@dataclass(slots=True)
class AirStep:
    """One step of the air chain. Powers are step averages, W."""

    inlet_c: np.ndarray  # rack inlet temperatures during the step
    outlet_c: np.ndarray  # rack exhaust node temperatures at the end of the step
    server_fan_w: np.ndarray  # per rack
    heat_to_air_w: float  # heat the air carried to the CRAH coils (IT heat minus storage)
    crah_fan_w: float


class AirChain:
    """Server fans, rack thermal mass, recirculation and CRAH fans of n racks.

    Sized for design_it_w, of which liquid_fraction goes to cold plates (not to air).
    State: supply air temperature `t_supply`, rack inlets `t_in`, exhaust nodes `t_rack`,
    server fan speed fractions `u`.
    """

    def __init__(
        self, cfg: AirSideConfig, n_racks: int, design_it_w: float, liquid_fraction: float
    ):
        self.cfg = cfg
        self.n = n_racks
        f = liquid_fraction
        rack_design_w = design_it_w / n_racks
        self.q_air_design = (1.0 - f) * rack_design_w  # W of heat into air per rack at design
        self.v_design = np.full(n_racks, self.q_air_design / (RHO_CP_AIR * cfg.server_delta_t_k))
        self.fan_rated_w = cfg.server_fan_pressure_pa * self.v_design / cfg.server_fan_efficiency
        self.heat_capacity = np.full(n_racks, cfg.rack_heat_capacity_j_per_k_per_w * rack_design_w)
        pos = (np.arange(n_racks) + 0.5) / n_racks  # position along the row, 0..1
        recirc = cfg.recirculation_mean + cfg.recirculation_spread * 0.5 * (
            1 + np.cos(2 * np.pi * pos)
        )
        if cfg.recirculation is not None:
            recirc = np.asarray(cfg.recirculation, dtype=float)
            if recirc.shape != (n_racks,) or np.any(recirc < 0) or np.any(recirc >= 0.5):
                raise InputError(
                    f"expected {n_racks} values (one per rack) in [0, 0.5), got {len(cfg.recirculation)}",
                    field="cooling.air.recirculation",
                )
        self.recirc_gain = recirc / (1.0 - recirc)  # T_in - T_s = offset + r/(1-r) dT_server
        self.rho_cp_v = RHO_CP_AIR * self.v_design  # W/K per rack at full fan flow
        self.v_crah_design = cfg.crah_flow_margin * float(self.v_design.sum())
        self.crah_rated_w = cfg.crah_pressure_pa * self.v_crah_design / cfg.crah_fan_efficiency
        self._crah_curve = part_load_curve(cfg.crah_part_load_curve)
        # heat the coils must remove at design: IT air share + server fans + CRAH fans
        self.design_heat_w = (
            (1.0 - f) * design_it_w + float(self.fan_rated_w.sum()) + self.crah_rated_w
        )
        self.t_supply = 0.0
        self.t_in = np.zeros(n_racks)
        self.t_rack = np.zeros(n_racks)
        self.u = np.zeros(n_racks)

    def fan_flow(self, q_air_w: np.ndarray, t_in: np.ndarray) -> np.ndarray:
        """Server fan speed fraction: follows load, ramps above the inlet ramp start."""
        a = self.cfg
        load = q_air_w / self.q_air_design if self.q_air_design > 0 else np.zeros(self.n)
        ramp = 1.0 + a.server_fan_ramp_per_k * np.maximum(t_in - a.server_fan_ramp_start_c, 0.0)
        lo = a.server_fan_min_flow  # clip to [lo, 1] (np.minimum/maximum: np.clip's overhead)
        return np.minimum(np.maximum(np.maximum(load, lo) * ramp, lo), 1.0)

    def reset(self, t_supply_c: float, q_it_air_w: np.ndarray) -> None:
        """Steady state at supply air t_supply_c with q_it_air_w (W per rack) into the air."""
        a = self.cfg
        self.t_supply = t_supply_c
        t_in = np.full(self.n, t_supply_c + a.supply_offset_k)
        for _ in range(20):  # fixed point of fan speed <-> inlet temperature
            u = self.fan_flow(q_it_air_w, t_in)
            fan = self.fan_rated_w * u**3
            dt_srv = (q_it_air_w + fan) / (RHO_CP_AIR * self.v_design * u)
            t_in = t_supply_c + a.supply_offset_k + self.recirc_gain * dt_srv
        self.u = u
        self.t_in = t_in
        self.t_rack = t_in + dt_srv

    @property
    def stored_energy_j(self) -> float:
        """Energy in rack thermal mass relative to 0 C, J."""
        return float(np.dot(self.heat_capacity, self.t_rack))

    def step(self, q_it_air_w: np.ndarray, dt_s: float) -> AirStep:
        """Advance dt_s with q_it_air_w (W per rack of IT heat into air, excluding server fans).

        The inlet sees the supply air plus recirculated exhaust of the previous step's server
        delta-T; the supply air temperature is advanced separately (`advance_supply`), once the
        water side knows what the coil can deliver.
        The state may also hold a batch of halls, shape (halls, racks) with `t_supply` (halls, 1):
        then the hall totals in the result are arrays (`dcsim.envs.vector`).
        """
        a = self.cfg
        t_in = self.t_supply + a.supply_offset_k + self.recirc_gain * (self.t_rack - self.t_in)
        u = self.fan_flow(q_it_air_w, t_in)
        fan_w = self.fan_rated_w * u**3  # affinity law
        q_air = q_it_air_w + fan_w
        mcp = self.rho_cp_v * u  # W/K per rack
        t_ss = t_in + q_air / mcp
        decay = np.exp(-dt_s * mcp / self.heat_capacity)
        t_new = t_ss + (self.t_rack - t_ss) * decay
        stored_delta = self.heat_capacity * (t_new - self.t_rack)
        heat_to_air = q_air.sum(axis=-1) - stored_delta.sum(axis=-1) / dt_s
        self.t_rack = t_new
        self.t_in = t_in
        self.u = u
        # CRAH fans: flow >= crah_min_flow of design; power on the published VSD part-load
        # curve (fan law with static-pressure reset, motor and drive losses)
        v_crah = a.crah_flow_margin * (self.v_design * u).sum(axis=-1)
        x = v_crah / self.v_crah_design
        if u.ndim == 1:
            heat_to_air = float(heat_to_air)
            x = max(float(x), a.crah_min_flow)
        else:
            x = np.maximum(x, a.crah_min_flow)
        crah_w = self.crah_rated_w * part_load(self._crah_curve, x)
        return AirStep(t_in, t_new, fan_w, heat_to_air, crah_w)

    def advance_supply(self, setpoint_c: float, chw_supply_c: float, dt_s: float) -> None:
        """First-order supply air toward what the coil can deliver: max(setpoint, CHW + approach)."""
        a = self.cfg
        if isinstance(setpoint_c, np.ndarray):  # a batch of halls
            target = np.maximum(setpoint_c, chw_supply_c + a.coil_approach_k)
        else:
            target = max(setpoint_c, chw_supply_c + a.coil_approach_k)
        self.t_supply = target + (self.t_supply - target) * math.exp(-dt_s / a.supply_tau_s)
