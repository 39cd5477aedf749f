"""Electric chiller: EnergyPlus Chiller:Electric:EIR (the DOE-2 model), scaled to its capacity.

Q_avail = Q_ref CAPFT(T_chw, T_cond); PLR = Q / Q_avail;
P = (Q_avail / COP_ref) EIRFT(T_chw, T_cond) EIRFPLR(max(PLR, PLR_min)) min(1, PLR / PLR_min)
(the last factor is EnergyPlus' cycling ratio below the minimum part-load ratio). Outside the
curves' published bounds CAPFT is clamped and, with out_of_bounds='carnot', EIRFT is scaled by
the Carnot lift ratio; a second-law guard keeps COP <= max_second_law_efficiency x Carnot.
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
        cap = self.cap_ref * max(biquadratic(self._capft, x, y), 0.05)
        plr = q_load_w / cap
        pmin = ch.min_plr
        plr_eval = min(max(plr, pmin), 1.0)
        cycling = min(1.0, plr / pmin)
        eir_t = biquadratic(self._eirft, x, y)
        if ch.out_of_bounds == "carnot" and (x != t_chw_c or y != t_cond_c):
            eir_t *= self.carnot_eir(t_chw_c, t_cond_c) / self.carnot_eir(x, y)
        # second-law guard: COP never better than max_second_law_efficiency x Carnot
        eir_min = ch.cop_ref * self.carnot_eir(t_chw_c, t_cond_c) / ch.max_second_law_efficiency
        eir = max(eir_t, eir_min) * max(quadratic(self._eirfplr, plr_eval), 0.01)
        power = cap / ch.cop_ref * eir * cycling
        return power, plr, cap
