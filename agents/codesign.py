"""The composite heuristic for `dcsim/CoDesign-v0`: each layer's standard rule, composed.

- scheduler: FIFO over the top-k queued jobs with greedy backfilling (a later job starts when
  it fits even if an earlier one does not; no reservation, so large jobs can starve), placed
  topology-aware with `pack` (best fit, fewest leaves: `dcsim.jobs`); carbon-aware deferral: a
  deferrable job waits while the carbon forecast within its slack is >= `defer_margin` lower
  than now (after Radovanovic et al., "Carbon-aware computing for datacenters", 2022);
  budget-aware admission: a job starts only if the power asked for plus its accelerators going
  from idle to TDP stays below POLCA's level-2 threshold (so starts alone cannot trip the brake);
- network: packet spraying for every job class (the multipath ideal, `dcsim.network.routing`);
- power: POLCA's thresholds (arXiv 2308.12908; `agents.polca.PolcaController`) on the rack power
  asked for / facility budget (the demand, which POLCA sees once its brake releases): level 1 caps comm-bound training (the class a cap hurts least) to 1275/1410
  of f_max, level 2 also caps compute-bound training to 1305/1410 and comm-bound to 1110/1410;
  inference is never capped (high priority); the nearest env clock level is used;
- cooling: `agents.cooling.ReactiveSetpoint`'s rule (raise supply air until the hottest inlet is
  `margin_c` below the ASHRAE recommended maximum; CHW = supply - coil approach - 1 K) with a
  wet-bulb economizer rule: `on` when wet bulb <= CHW setpoint - `econ_approach_k` (tower
  approach ~4 K + plate HX ~1-2 K, estimate), else `auto`;
- tank: time of day (conventional load shifting, ASHRAE Handbook - HVAC Applications, "Thermal
  Storage"): charge 0-6 h, discharge 13-19 h, hold otherwise.
"""

from __future__ import annotations

import numpy as np
from dcsim.agents.polca import PolcaController

from dcsim.envs.codesign import CARBON_LEADS_H, CLOCKS, nearest_level
from dcsim.envs.contract import physical
from dcsim.polca import polca_fraction


class CompositeHeuristic:
    """FIFO + pack + backfill + carbon deferral; spray; POLCA; reactive cooling; tank schedule."""

    name = "composite"

    def __init__(
        self,
        env,
        defer_margin: float = 0.10,
        margin_c: float = 1.0,
        gain: float = 0.3,
        start_c: float = 20.0,
        econ_approach_k: float = 6.0,
        charge_hours: tuple[float, float] = (0.0, 6.0),
        discharge_hours: tuple[float, float] = (13.0, 19.0),
    ):
        self.env = env.unwrapped
        self.f = self.env.features
        self.defer_margin = defer_margin
        self.margin_c = margin_c
        self.gain = gain
        self.start_c = start_c
        self.econ_approach_k = econ_approach_k
        self.charge_hours = charge_hours
        self.discharge_hours = discharge_hours
        self.coil_approach_k = self.env.kw.engine.cooling.air.coil_approach_k
        self.limit_c = self.env.kw.engine.cooling.recommended_inlet_max_c
        self._index = {f.name: i for i, f in enumerate(self.f)}
        self.polca = PolcaController()
        e = self.env.engine_constants()
        self.step_up = e["busy_minus_idle_w"] * e["train_capacity"] / e["budget_w"]
        self.reset()

    def reset(self) -> None:
        self.supply_c = self.start_c
        self.polca.reset()

    def _p(self, obs: np.ndarray, name: str) -> float:
        """`dcsim.envs.contract.physical` with the feature index looked up once."""
        i = self._index.get(name)
        if i is None:
            return physical(obs, self.f, name)
        f = self.f[i]
        return float(obs[i]) * f.scale + f.offset

    def schedule(self, obs: np.ndarray) -> list[str]:
        ci = self._p(obs, "carbon_g_per_kwh")
        fc = [(h, self._p(obs, f"carbon_fc_{h}h")) for h in CARBON_LEADS_H]
        demand = self._p(obs, "demand_over_budget")
        out = []
        for s in range(self.env.top_k):
            add = self._p(obs, f"q{s}_accelerators") * self.step_up
            if self._p(obs, f"q{s}_fits") < 0.5 or demand + add > self.polca.t2:
                out.append("wait")
                continue
            if self._p(obs, f"q{s}_deferrable") > 0.5:
                slack = self._p(obs, f"q{s}_slack_h")
                better = [c for h, c in fc if h <= slack]
                if better and min(better) <= (1.0 - self.defer_margin) * ci:
                    out.append("wait")
                    continue
            out.append("pack")
            demand += add
        return out

    def clocks(self, obs: np.ndarray) -> dict[str, float]:
        level = self.polca.decide(self._p(obs, "demand_over_budget"), self._p(obs, "brake") > 0.5)
        comm = compute = 1.0
        if level >= 1:
            comm = polca_fraction("lp_level1")
        if level >= 2:
            comm, compute = polca_fraction("lp_level2"), polca_fraction("hp_level2")

        near = {
            c: float(CLOCKS[nearest_level(CLOCKS, f)])
            for c, f in (("comm", comm), ("compute", compute))
        }
        return {**near, "inference": 1.0}

    def cooling(self, obs: np.ndarray) -> tuple[float, float, str]:
        lo_sa, hi_sa = self.env.kw.supply_air_range_c
        lo_chw, hi_chw = self.env.kw.chw_range_c
        margin = self.limit_c - self._p(obs, "inlet_max_c")
        self.supply_c = min(max(self.supply_c + self.gain * (margin - self.margin_c), lo_sa), hi_sa)
        chw = min(max(self.supply_c - self.coil_approach_k - 1.0, lo_chw), hi_chw)
        econ = "on" if self._p(obs, "wet_bulb_c") <= chw - self.econ_approach_k else "auto"
        return self.supply_c, chw, econ

    def tank(self, obs: np.ndarray) -> float:
        hour = (
            np.degrees(np.arctan2(self._p(obs, "sin_hour"), self._p(obs, "cos_hour"))) / 15.0
        ) % 24
        if self.charge_hours[0] <= hour < self.charge_hours[1]:
            return 1.0
        if self.discharge_hours[0] <= hour < self.discharge_hours[1]:
            return -1.0
        return 0.0

    def predict(self, obs: np.ndarray) -> np.ndarray:
        sa, chw, econ = self.cooling(obs)
        return self.env.encode_action(
            schedule=self.schedule(obs),
            routing={"comm": "spray", "compute": "spray"},
            clock=self.clocks(obs),
            supply_air_c=sa,
            chw_supply_c=chw,
            economizer=econ,
            tank=self.tank(obs),
        )


class FifoPack(CompositeHeuristic):
    """Ablation: the composite without carbon-aware deferral, POLCA or the tank (ECMP, f_max)."""

    name = "fifo-pack"

    def schedule(self, obs: np.ndarray) -> list[str]:
        return [
            "pack" if self._p(obs, f"q{s}_fits") > 0.5 else "wait" for s in range(self.env.top_k)
        ]

    def predict(self, obs: np.ndarray) -> np.ndarray:
        sa, chw, econ = self.cooling(obs)
        return self.env.encode_action(
            schedule=self.schedule(obs),
            routing={},
            clock={},
            supply_air_c=sa,
            chw_supply_c=chw,
            economizer="auto",
            tank=0.0,
        )
