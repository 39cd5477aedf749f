"""Annual (or any-period) plant simulation at a constant IT load through a climate's weather.

The driver behind `dcsim cooling year/compare` (`dcsim.cooling_study`) and the benchmarks; the
physics it steps lives in `dcsim.cooling.plant`.
"""

from __future__ import annotations

import numpy as np

from dcsim.climate import WeatherSample
from dcsim.cooling.air import check_air_density
from dcsim.cooling.config import CoolingConfig
from dcsim.cooling.plant import CoolingPlant
from dcsim.power import FacilityConfig, facility_power_w


def _annual_cop(cop: np.ndarray, chiller_w: np.ndarray | None) -> float:
    """Chiller load / chiller energy over the period (0 when the chiller never runs)."""
    if chiller_w is None or chiller_w.sum() <= 0.0:
        return 0.0
    return float((cop * chiller_w).sum() / chiller_w.sum())


def simulate_period(
    cfg: CoolingConfig,
    climate,
    *,
    n_racks: int = 64,
    rack_kw: float = 20.0,
    load: float = 0.8,
    days: float = 365.0,
    dt_s: float = 3600.0,
    seed: int = 0,
    base_dir=None,
    on_step=None,
    facility: FacilityConfig | None = None,
) -> dict:
    """Run the plant at a constant IT load through `days` of weather; return series and summary.

    Used by `dcsim cooling year/compare` and the benchmarks. Energies in MWh, water in m3,
    carbon in tonnes (facility + IT energy times grid intensity). `on_step(k)` reports
    progress (every 24 steps and at the end). "pue" is cooling only; "facility_pue" adds the
    UPS losses and fixed loads of `facility` (default `FacilityConfig()`) as `dcsim run` does.
    """
    from dcsim.climate import build_carbon, build_weather

    if not (0.0 < load <= 1.5):
        raise ValueError("load must be in (0, 1.5]")
    weather = build_weather(climate, base_dir, seed)
    carbon = build_carbon(climate, base_dir, seed)
    n = max(int(round(days * 86400.0 / dt_s)), 1)
    t = (np.arange(n) + 0.5) * dt_s
    ws = weather.at_many(t)
    db, wb, rh = (np.asarray(x) for x in (ws.dry_bulb_c, ws.wet_bulb_c, ws.rh))
    ci = carbon.at_many(t)
    plant = CoolingPlant(cfg, n_racks, n_racks * rack_kw * 1e3)
    p = np.full(n_racks, load * rack_kw * 1e3)
    plant.reset(WeatherSample(float(db[0]), float(wb[0]), float(rh[0])), p)
    it = np.empty(n)
    cool = np.empty(n)
    water = np.empty(n)
    econ = np.empty(n)
    cop = np.zeros(n)
    inlet_max = np.empty(n)
    keys = None
    parts: dict[str, np.ndarray] = {}
    for k in range(n):
        r = plant.step(
            p,
            WeatherSample(float(db[k]), float(wb[k]), float(rh[k])),
            dt_s,
        )
        if keys is None:
            keys = list(r.breakdown)
            parts = {key: np.empty(n) for key in keys}
        it[k] = r.it_heat_w
        cool[k] = r.cooling_w
        water[k] = r.water_l
        econ[k] = r.economizer_fraction
        cop[k] = r.chiller_cop
        inlet_max[k] = float(r.inlet_c.max())
        for key in keys:
            parts[key][k] = r.breakdown[key]
        if on_step is not None and ((k + 1) % 24 == 0 or k + 1 == n):
            on_step(k + 1)
    h = dt_s / 3600.0
    it_mwh = float(it.sum() * h / 1e6)
    cool_mwh = float(cool.sum() * h / 1e6)
    fac = facility if facility is not None else FacilityConfig()
    design_w = n_racks * rack_kw * 1e3
    pairs = zip(it.tolist(), cool.tolist(), strict=True)
    fac_w = sum(facility_power_w(a, b, design_w, fac) for a, b in pairs)
    fac_mwh = fac_w * h / 1e6
    summary = {
        "hours": float(n * h),
        "it_mwh": it_mwh,
        "cooling_mwh": cool_mwh,
        "pue": (it_mwh + cool_mwh) / it_mwh,
        "facility_pue": fac_mwh / it_mwh,
        "wue_l_per_kwh": float(water.sum()) / (it_mwh * 1e3),
        "water_m3": float(water.sum()) / 1e3,
        "carbon_t": float(((it + cool) * ci).sum() * h / 1e3 / 1e6),
        "economizer_hours": float((econ > 0).sum() * h),
        "full_free_cooling_hours": float((econ >= 1.0).sum() * h),
        "inlet_max_c": float(inlet_max.max()),
        # chiller COP over the hours it runs: min / max and the annual (load-weighted) value
        "chiller_cop_min": float(cop[cop > 0].min()) if (cop > 0).any() else 0.0,
        "chiller_cop_max": float(cop.max()),
        "chiller_cop_annual": _annual_cop(cop, parts.get("chiller_w")),
        "mean_dry_bulb_c": float(db.mean()),
        "mean_wet_bulb_c": float(wb.mean()),
        "breakdown_mwh": {k: float(v.sum() * h / 1e6) for k, v in parts.items()},
        "air_density_check": check_air_density(rack_kw, cfg.effective_liquid_fraction),
    }
    series = {
        "t_s": t,
        "dry_bulb_c": db,
        "wet_bulb_c": wb,
        "pue": (it + cool) / it,
        "economizer_fraction": econ,
        "wue_l_per_kwh": water / (it * h / 1e3),
        "carbon_g_per_kwh": ci,
    }
    return {"summary": summary, "series": series}
