"""Electric chiller: EnergyPlus Chiller:Electric:EIR (the DOE-2 model), scaled to its capacity.

Q_avail = Q_ref CAPFT(T_chw, T_cond); PLR = Q / Q_avail;
P = (Q_avail / COP_ref) EIRFT(T_chw, T_cond) EIRFPLR(max(PLR, PLR_min)) min(1, PLR / PLR_min)
(the last factor is EnergyPlus' cycling ratio below the minimum part-load ratio). Outside the
curves' published bounds CAPFT is clamped and, with out_of_bounds='carnot', EIRFT is scaled by
the Carnot lift ratio. A ceiling applied after the part-load curve keeps
COP <= min(max_second_law_efficiency x Carnot, cop_max); the water side holds the condenser water
at least min_lift_k above the chilled water (`condenser_floor_c`).
"""

from __future__ import annotations

from dcsim.cooling.config import ChillerConfig
from dcsim.cooling.equipment import biquadratic, quadratic


class Chiller:
    """One chiller of reference capacity cap_ref W (capacity_w, else sizing_factor x design load)."""

    def __init__(self, cfg: ChillerConfig, design_load_w: float):
        self.cfg = cfg
        self.cap_ref = cfg.capacity_w or cfg.sizing_factor * max(design_load_w, 1.0)
        self._chw_lo, self._chw_hi = cfg.t_chw_bounds_c
        self._cond_lo, self._cond_hi = cfg.t_cond_bounds_c
        self._capft = tuple(cfg.capft)
        self._eirft = tuple(cfg.eirft)
        self._eirfplr = tuple(cfg.eirfplr)

    def carnot_eir(self, t_chw_c: float, t_cond_c: float) -> float:
        """Carnot electric input ratio (T_c - T_e)/T_e with refrigerant approaches, K/K."""
        ch = self.cfg
        t_e = t_chw_c - ch.evaporator_approach_k + 273.15
        t_c = t_cond_c + ch.condenser_approach_k + 273.15
        return max(t_c - t_e, 1.0) / t_e

    def power(self, q_load_w: float, t_chw_c: float, t_cond_c: float) -> tuple[float, float, float]:
        """(electric power W, part-load ratio, available capacity W) removing q_load_w from
        chilled water leaving at t_chw_c with condenser water entering at t_cond_c."""
        if q_load_w <= 0.0:
            return 0.0, 0.0, self.cap_ref
        ch = self.cfg
        x = min(max(t_chw_c, self._chw_lo), self._chw_hi)
        y = min(max(t_cond_c, self._cond_lo), self._cond_hi)
        cap = self.cap_ref * max(biquadratic(self._capft, x, y), 0.05)  # = self.capacity(...)
        plr = q_load_w / cap
        pmin = ch.min_plr
        plr_eval = min(max(plr, pmin), 1.0)
        cycling = min(1.0, plr / pmin)
        eir_t = biquadratic(self._eirft, x, y)
        carnot = self.carnot_eir(t_chw_c, t_cond_c)
        if ch.out_of_bounds == "carnot" and (x != t_chw_c or y != t_cond_c):
            eir_t *= carnot / self.carnot_eir(x, y)
        eir = eir_t * max(quadratic(self._eirfplr, plr_eval), 0.01)
        power = cap / ch.cop_ref * eir * cycling
        # COP ceiling AFTER the part-load curve: never better than max_second_law_efficiency x
        # Carnot, nor than cop_max (per unit of load actually removed, cycling included)
        q = min(q_load_w, cap)
        floor = q * max(carnot / ch.max_second_law_efficiency, 1.0 / ch.cop_max)
        return max(power, floor), plr, cap

    def capacity(self, t_chw_c: float, t_cond_c: float) -> float:
        """Available capacity, W: Q_ref CAPFT at the clamped temperatures (>= 5 % of Q_ref)."""
        x = min(max(t_chw_c, self._chw_lo), self._chw_hi)
        y = min(max(t_cond_c, self._cond_lo), self._cond_hi)
        return self.cap_ref * max(biquadratic(self._capft, x, y), 0.05)

    def condenser_floor_c(self, t_chw_c: float) -> float:
        """Lowest condenser water the chiller accepts: leaving CHW + minimum lift, C."""
        return t_chw_c + self.cfg.min_lift_k

    def ahri_rating(self) -> tuple[float, float]:
        """(full-load kW/ton, IPLV kW/ton) at AHRI 550/590 conditions: 44 F (6.67 C) leaving
        chilled water; entering condenser water 85/75/65/65 F at 100/75/50/25 % load;
        IPLV = 1 / (0.01/A + 0.42/B + 0.45/C + 0.12/D). 1 ton = 3.517 kW."""

        def f_to_c(f: float) -> float:
            return (f - 32.0) / 1.8

        t_chw = f_to_c(44.0)
        cap = self.power(1.0, t_chw, f_to_c(85.0))[2]
        kw_per_ton = []
        for load, ecw_f in ((1.0, 85.0), (0.75, 75.0), (0.5, 65.0), (0.25, 65.0)):
            p = self.power(load * cap, t_chw, f_to_c(ecw_f))[0]
            kw_per_ton.append(3.517 * p / (load * cap))
        a, b, c, d = kw_per_ton
        return a, 1.0 / (0.01 / a + 0.42 / b + 0.45 / c + 0.12 / d)
