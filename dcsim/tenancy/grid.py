"""Hourly grid carbon intensity (shipped EIA-930 2022 data) and an hourly electricity price model.

Carbon: `dcsim/data/grid/eia930_2022_carbon.csv` holds the 2022 hourly average intensity of six
US balancing authorities (EIA-930 via HewlettPackard/dc-rl; see that folder's README). Simulated
time t is local standard time (t = 0 is local midnight of 1 January, as in `dcsim.climate`); the
UTC hour of year is t/3600 - utc_offset_h (daylight saving ignored). Between hours the series
is interpolated linearly; the year wraps.

Price (estimate, confidence low; no price data ship yet): a wholesale day-ahead price with
the evening-peak daily shape typical of US ISO markets,

    price(t) = mean_region * (1 + a cos(2 pi (h - h_peak) / 24)),  a = 0.25, h_peak = 18 h,

where the region means are rounded readings of 2022 annual average hub prices in EIA's
"Today in Energy" wholesale market reviews (2023), confidence low. The diurnal swing and peak
hour are estimates. Replace with ISO LMP series when they ship.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from dcsim.climate import CarbonIntensity, grid_intensity
from dcsim.errors import InputError

GRID_FILE = Path(__file__).resolve().parent.parent / "data" / "grid" / "eia930_2022_carbon.csv"
# balancing authority -> UTC offset of its local standard time, h
UTC_OFFSET_H = {"BPAT": -8, "CISO": -8, "ERCO": -6, "MISO": -6, "NYIS": -5, "PJM": -5}
REGIONS = tuple(UTC_OFFSET_H)
# 2022 annual average wholesale price, $/MWh (rounded readings of EIA Today in Energy hub
# averages; estimates, confidence low)
PRICE_MEAN_USD_PER_MWH = {
    "BPAT": 80.0,
    "CISO": 90.0,
    "ERCO": 75.0,
    "MISO": 75.0,
    "NYIS": 95.0,
    "PJM": 80.0,
}
PRICE_DIURNAL_AMPLITUDE = 0.25  # estimate
PRICE_PEAK_HOUR = 18.0  # estimate (evening net-load peak)


@lru_cache(maxsize=1)
def carbon_table() -> dict[str, np.ndarray]:
    """Region -> 8,760 hourly gCO2/kWh (UTC hours of 2022). np.loadtxt parses in C: the
    csv module took ~20 ms of every first make of an env with grid carbon."""
    lines = [ln for ln in GRID_FILE.read_text(encoding="utf-8").splitlines() if ln[:1] != "#"]
    data = np.loadtxt(lines[1:], delimiter=",", ndmin=2)
    cols = lines[0].split(",")
    return {r: data[:, cols.index(r)].copy() for r in REGIONS}


def check_region(region: str) -> str:
    if region not in UTC_OFFSET_H:
        raise InputError(
            f"unknown grid region '{region}'; expected one of {', '.join(REGIONS)}", field="region"
        )
    return region


@dataclass(frozen=True)
class GridSignal:
    """Carbon (g/kWh) and price ($/MWh) of one region at local times t (s)."""

    region: str
    _intensity: CarbonIntensity = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_region(self.region)
        object.__setattr__(self, "_intensity", grid_intensity(self.region))

    def carbon(self, t_s: np.ndarray | float) -> np.ndarray:
        """gCO2/kWh at local times t: `dcsim.climate.grid_intensity`, the lookup `dcsim run`
        uses for climate.carbon.source grid."""
        return self._intensity.at_many(np.asarray(t_s, dtype=float))

    def price(self, t_s: np.ndarray | float) -> np.ndarray:
        hour = np.mod(np.asarray(t_s, dtype=float) / 3600.0, 24.0)
        shape = 1.0 + PRICE_DIURNAL_AMPLITUDE * np.cos(2 * math.pi * (hour - PRICE_PEAK_HOUR) / 24)
        return PRICE_MEAN_USD_PER_MWH[self.region] * shape

    def mean_carbon(self) -> float:
        return float(carbon_table()[self.region].mean())


def noisy_forecast(
    truth: np.ndarray, lead_h: Sequence[float] | np.ndarray, error_per_sqrt_h: float, z: np.ndarray
) -> np.ndarray:
    """A forecast of `truth` at leads `lead_h` with relative error growing as sqrt(lead).

    Multiplicative log-normal error of sd `error_per_sqrt_h * sqrt(lead_h)` (a random-walk
    forecast error; the coefficient is the caller's assumption), driven by the standard
    normals `z` of the target hours: the same hour keeps its error sign as it comes closer,
    as real forecasts do. 0 gives perfect foresight.
    """
    if error_per_sqrt_h <= 0:
        return np.asarray(truth, dtype=float).copy()
    sd = error_per_sqrt_h * np.sqrt(np.asarray(lead_h, dtype=float))
    return np.asarray(truth) * np.exp(sd * np.asarray(z) - 0.5 * sd * sd)


__all__ = ["REGIONS", "GridSignal", "carbon_table", "check_region", "noisy_forecast"]
