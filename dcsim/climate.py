"""Outdoor weather and grid carbon intensity as functions of simulation time.

Weather drives the cooling plant (dry bulb for dry coolers, wet bulb for cooling towers and the
water-side economizer); carbon intensity turns facility energy into emissions.

Time convention: simulation time t_s = 0 is `start_day_of_year` (1 = Jan 1) at `start_hour`
local solar time. Every series repeats with its own period (one year for synthetic and EPW
weather; the file's span for CSV), so runs of any length are defined.

Equations (units: C, fraction, s, gCO2e/kWh) are listed in docs/models.md with sources.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from dcsim.errors import InputError
from dcsim.schema import StrictModel, read_yaml
from dcsim.stochastic import ar1

CLIMATE_DIR = Path(__file__).parent / "data" / "climate"
YEAR_S = 365.0 * 86400.0
DAY_S = 86400.0


# ----------------------------------------------------------------------------- config
class WeatherConfig(StrictModel):
    """Synthetic weather (preset plus optional overrides) or a weather file (EPW or CSV)."""

    source: Literal["synthetic", "file"] = "synthetic"
    preset: str = Field("temperate", description="temperate | hot-dry | hot-humid | cold")
    latitude_deg: float | None = Field(None, ge=-90, le=90, description="southern: season shifts")
    mean_c: float | None = Field(None, ge=-40, le=45, description="annual mean dry bulb, C")
    annual_amplitude_c: float | None = Field(None, ge=0, le=30, description="C")
    daily_amplitude_c: float | None = Field(None, ge=0, le=15, description="C")
    dew_point_mean_c: float | None = Field(None, ge=-50, le=32, description="C")
    dew_point_annual_amplitude_c: float | None = Field(None, ge=0, le=25, description="C")
    noise_std_c: float | None = Field(None, ge=0, le=10, description="weather noise std, C")
    noise_tau_h: float = Field(48.0, gt=0, le=24 * 30, description="noise correlation time, h")
    peak_hour: float = Field(15.0, ge=0, lt=24, description="hour of the daily maximum")
    start_day_of_year: float = Field(1.0, ge=1, lt=366)
    start_hour: float = Field(0.0, ge=0, lt=24)
    path: str | None = Field(None, description="EPW or CSV file (source: file)")
    format: Literal["auto", "epw", "csv"] = "auto"


class CarbonConfig(StrictModel):
    """Grid carbon intensity: bundled country annual average, a constant, a CSV series, or
    a US balancing authority's hourly 2022 series (EIA-930, dcsim/data/grid)."""

    source: Literal["country", "constant", "file", "grid"] = "country"
    country: str = Field("US", description="ISO 3166 alpha-2 code or WORLD")
    region: str = Field(
        "PJM", description="for source: grid: BPAT, CISO, ERCO, MISO, NYIS or PJM (EIA-930)"
    )
    g_per_kwh: float | None = Field(None, ge=0, le=2000, description="for source: constant")
    path: str | None = Field(None, description="CSV with time_s,g_per_kwh (source: file)")
    diurnal_amplitude: float = Field(
        0.0, ge=0, lt=1, description="synthetic daily swing as a fraction of the mean"
    )
    diurnal_peak_hour: float = Field(19.0, ge=0, lt=24, description="hour of highest intensity")


class ClimateConfig(StrictModel):
    weather: WeatherConfig = Field(default_factory=WeatherConfig)
    carbon: CarbonConfig = Field(default_factory=CarbonConfig)


class WeatherOnly(StrictModel):
    """A climate without a carbon section, for the multi-tenant engine: its carbon and price
    are the hourly EIA-930 traces of its grid `region` (`dcsim.tenancy.grid`), so a carbon
    setting here would change nothing and is refused as an unknown field."""

    weather: WeatherConfig = Field(default_factory=WeatherConfig)


# ----------------------------------------------------------------------------- psychrometrics
def saturation_vapour_pressure_hpa(t_c: np.ndarray | float) -> np.ndarray | float:
    """Magnus form, Alduchov & Eskridge (1996), J. Appl. Meteor. 35:601: hPa over water."""
    return 6.1094 * np.exp(17.625 * np.asarray(t_c) / (np.asarray(t_c) + 243.04))


def relative_humidity(dry_bulb_c, dew_point_c):
    """RH fraction = e_s(T_dew)/e_s(T), capped to [0.01, 1]."""
    rh = saturation_vapour_pressure_hpa(dew_point_c) / saturation_vapour_pressure_hpa(dry_bulb_c)
    return np.clip(rh, 0.01, 1.0)


def wet_bulb_stull(dry_bulb_c, rh):
    """Wet-bulb temperature, Stull (2011) J. Appl. Meteor. Climatol. 50:2267, eq. 1.

    rh is a fraction; the fit is for sea-level pressure, RH 5-99 %, T -20..50 C, error < 1 K.
    The result is clipped to <= dry bulb (saturation).
    """
    t = np.asarray(dry_bulb_c, dtype=float)
    r = np.clip(np.asarray(rh, dtype=float) * 100.0, 5.0, 99.0)
    tw = (
        t * np.arctan(0.151977 * np.sqrt(r + 8.313659))
        + np.arctan(t + r)
        - np.arctan(r - 1.676331)
        + 0.00391838 * r**1.5 * np.arctan(0.023101 * r)
        - 4.686035
    )
    return np.minimum(tw, t)


# ----------------------------------------------------------------------------- weather
@dataclass(frozen=True, slots=True)
class WeatherSample:
    """Outdoor conditions: dry bulb (C), wet bulb (C), relative humidity (fraction 0..1).

    Fields are floats from Weather.at and arrays from Weather.at_many.
    """

    dry_bulb_c: float
    wet_bulb_c: float
    rh: float


class Weather:
    """A periodic series of outdoor conditions on a time grid, linearly interpolated."""

    def __init__(
        self,
        tau_s: np.ndarray,
        dry_bulb_c: np.ndarray,
        rh: np.ndarray,
        period_s: float,
        offset_s: float = 0.0,
        name: str = "",
    ):
        order = np.argsort(tau_s)
        self.tau_s = np.asarray(tau_s, dtype=float)[order]
        self.dry_bulb_c = np.asarray(dry_bulb_c, dtype=float)[order]
        self.rh = np.clip(np.asarray(rh, dtype=float)[order], 0.01, 1.0)
        self.wet_bulb_c = wet_bulb_stull(self.dry_bulb_c, self.rh)
        self.period_s = float(period_s)
        self.offset_s = float(offset_s)
        self.name = name
        # Periodic grid padded once with its wrap-around neighbours, so lookups are plain
        # np.interp on sorted data (np.interp(period=...) re-sorts the whole series every call).
        p = self.period_s
        self._x = np.concatenate([[self.tau_s[-1] - p], self.tau_s, [self.tau_s[0] + p]])
        self._y = np.stack(
            [
                np.concatenate([[v[-1]], v, [v[0]]])
                for v in (self.dry_bulb_c, self.wet_bulb_c, self.rh)
            ]
        )

    def _tau(self, t_s):
        return np.mod(self.offset_s + np.asarray(t_s, dtype=float), self.period_s)

    def at(self, t_s: float) -> WeatherSample:
        tau = float(self._tau(t_s))
        x, y = self._x, self._y
        return WeatherSample(
            float(np.interp(tau, x, y[0])),
            float(np.interp(tau, x, y[1])),
            float(np.interp(tau, x, y[2])),
        )

    def at_many(self, t_s: np.ndarray) -> WeatherSample:
        """Vectorized: a WeatherSample whose fields are arrays shaped like t_s."""
        tau = self._tau(t_s)
        x, y = self._x, self._y
        return WeatherSample(
            np.interp(tau, x, y[0]), np.interp(tau, x, y[1]), np.interp(tau, x, y[2])
        )


@lru_cache(maxsize=1)
def presets() -> dict[str, dict]:
    """Bundled synthetic-weather presets (dcsim/data/climate/presets.yaml)."""
    return read_yaml(CLIMATE_DIR / "presets.yaml")


def _ou_noise(rng: np.random.Generator, n: int, dt_s: float, tau_s: float) -> np.ndarray:
    """Unit-variance Ornstein-Uhlenbeck samples (exact AR(1) discretisation), made periodic."""
    phi = math.exp(-dt_s / tau_s)
    eps = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = eps[0]
    s = math.sqrt(1.0 - phi * phi)
    x[1:] = ar1(eps[1:], phi, s, phi * x[0])
    # Remove the wrap-around jump so the year repeats smoothly.
    x -= (x[-1] - x[0]) * np.arange(n) / (n - 1)
    return x


def synthetic_weather(cfg: WeatherConfig, seed: int) -> Weather:
    """Annual + daily harmonics plus OU noise on an hourly grid for one year.

    T(tau)   = mean + A_y cos(2 pi (d - d_peak)/365) + A_d cos(2 pi (h - h_peak)/24) + s_T x(tau)
    Td(tau)  = Td_mean + A_dy cos(2 pi (d - d_peak)/365) + s_D (rho x + sqrt(1-rho^2) y),  Td <= T
    d_peak = 200 (about Jul 19) north of the equator, 200 - 182.5 south (seasons lag the solstice
    by ~4 weeks). Dew point has no daily cycle: absolute humidity is nearly constant over a day,
    so RH peaks at dawn and dips in the afternoon, as observed.
    """
    table = presets()
    if cfg.preset not in table:
        raise InputError(
            f"unknown weather preset '{cfg.preset}'; expected one of: {', '.join(table)}",
            field="weather.preset",
        )
    p = dict(table[cfg.preset])
    for key in (
        "latitude_deg",
        "mean_c",
        "annual_amplitude_c",
        "daily_amplitude_c",
        "dew_point_mean_c",
        "dew_point_annual_amplitude_c",
        "noise_std_c",
    ):
        val = getattr(cfg, key)
        if val is not None:
            p[key] = val
    dt = 3600.0
    n = int(YEAR_S / dt) + 1
    tau = np.arange(n) * dt
    day = tau / DAY_S
    hour = np.mod(tau / 3600.0, 24.0)
    d_peak = 200.0 if p["latitude_deg"] >= 0 else 200.0 - 182.5
    season = np.cos(2 * np.pi * (day - d_peak) / 365.0)
    rng = np.random.default_rng(seed)
    x = _ou_noise(rng, n, dt, cfg.noise_tau_h * 3600.0)
    y = _ou_noise(rng, n, dt, cfg.noise_tau_h * 3600.0)
    rho = 0.6
    tdb = (
        p["mean_c"]
        + p["annual_amplitude_c"] * season
        + p["daily_amplitude_c"] * np.cos(2 * np.pi * (hour - cfg.peak_hour) / 24.0)
        + p["noise_std_c"] * x
    )
    tdew = (
        p["dew_point_mean_c"]
        + p["dew_point_annual_amplitude_c"] * season
        + 0.8 * p["noise_std_c"] * (rho * x + math.sqrt(1 - rho * rho) * y)
    )
    tdew = np.minimum(tdew, tdb - 0.2)
    offset = (cfg.start_day_of_year - 1.0) * DAY_S + cfg.start_hour * 3600.0
    return Weather(tau, tdb, relative_humidity(tdb, tdew), YEAR_S, offset, name=cfg.preset)


_MONTH_START = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])


def load_epw(path: Path, offset_s: float = 0.0) -> Weather:
    """EnergyPlus weather file: 8 header lines, then one record per hour (hour-ending stamps).

    Columns used (0-based, EnergyPlus Auxiliary Programs, 'EnergyPlus Weather File Data
    Dictionary'): 1 month, 2 day, 3 hour (1-24), 6 dry bulb C, 7 dew point C, 8 RH %.
    Wet bulb from RH by Stull (2011). Feb 29 records are dropped (365-day clock).
    """
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputError(
            f"cannot read weather file: {exc.strerror or exc}", file=str(path)
        ) from None
    rows = [ln.split(",") for ln in lines[8:] if ln.strip()]
    if len(rows) < 24:
        raise InputError(
            "EPW file has fewer than 24 data records after 8 header lines", file=str(path)
        )
    try:
        arr = np.array(
            [[float(r[1]), float(r[2]), float(r[3]), float(r[6]), float(r[8])] for r in rows]
        )
    except (ValueError, IndexError):
        raise InputError(
            "EPW data record is not numeric in month/day/hour/dry bulb/RH", file=str(path)
        ) from None
    if not np.all(np.isfinite(arr)):
        raise InputError(
            "EPW data record has a non-finite month/day/hour/dry bulb/RH (nan or inf)",
            file=str(path),
        )
    keep = ~((arr[:, 0] == 2) & (arr[:, 1] == 29))
    arr = arr[keep]
    month = arr[:, 0].astype(int)
    if month.min() < 1 or month.max() > 12:
        raise InputError("EPW month outside 1..12", file=str(path))
    doy0 = _MONTH_START[month - 1] + arr[:, 1] - 1
    tau = doy0 * DAY_S + arr[:, 2] * 3600.0
    tau = np.mod(tau, YEAR_S)
    tdb, rh = arr[:, 3], arr[:, 4] / 100.0
    _check_dry_bulb(tdb, path, "EPW dry bulb")
    if np.any(rh < 0) or np.any(rh > 1.1):
        raise InputError(
            "EPW relative humidity outside 0..110 % (missing-value code 999?)", file=str(path)
        )
    tau, idx = np.unique(tau, return_index=True)
    return Weather(tau, tdb[idx], rh[idx], YEAR_S, offset_s, name=path.name)


# Earth's recorded extremes are -89 C and +57 C; beyond +-70 C the value is a unit or
# missing-value code, and the psychrometric fits (Stull 2011) are meaningless.
DRY_BULB_RANGE_C = (-70.0, 70.0)


def _check_dry_bulb(tdb: np.ndarray, path: Path, what: str) -> None:
    lo, hi = DRY_BULB_RANGE_C
    if np.any(tdb > hi) or np.any(tdb < lo):
        raise InputError(
            f"{what} outside {lo:g}..{hi:g} C (missing-value code 99.9, or Fahrenheit?)",
            file=str(path),
        )


def _read_csv_columns(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """Numeric columns of a CSV with a header row; '#' lines are comments."""
    try:
        with path.open(encoding="utf-8") as fh:
            reader = csv.DictReader(ln for ln in fh if not ln.lstrip().startswith("#"))
            rows = list(reader)
            header = reader.fieldnames or []
    except OSError as exc:
        raise InputError(f"cannot read CSV: {exc.strerror or exc}", file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text CSV file", file=str(path)) from None
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", file=str(path)) from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"missing column(s) {missing}; header has {header}", file=str(path))
    if len(rows) < 2:
        raise InputError("need at least 2 data rows", file=str(path))
    out: dict[str, np.ndarray] = {}
    for col in required + tuple(c for c in optional if c in header):
        try:
            out[col] = np.array([float(r[col]) for r in rows])
        except (TypeError, ValueError):
            raise InputError(f"column '{col}' has a non-numeric value", file=str(path)) from None
        if not np.all(np.isfinite(out[col])):
            raise InputError(f"column '{col}' has a non-finite value", file=str(path))
    return out


def _series_period(t: np.ndarray, path: Path) -> float:
    if np.any(np.diff(t) <= 0):
        raise InputError("column 'time_s' must be strictly increasing", file=str(path))
    return float(t[-1] - t[0] + (t[-1] - t[-2]))


def load_weather_csv(path: Path, offset_s: float = 0.0) -> Weather:
    """CSV with columns time_s, dry_bulb_c and rh (fraction 0..1, or percent if any value > 1.5).

    A wet_bulb_c column, if present, is ignored in favour of Stull (2011) from rh so all
    sources share one psychrometric model. The series repeats with period = its span + one step.
    """
    cols = _read_csv_columns(path, ("time_s", "dry_bulb_c", "rh"))
    t, rh = cols["time_s"], cols["rh"]
    if np.any(rh < 0) or np.any(rh > 100):
        raise InputError("column 'rh' outside 0..1 (fraction) or 0..100 (percent)", file=str(path))
    if np.any(rh > 1.5):
        rh = rh / 100.0
    _check_dry_bulb(cols["dry_bulb_c"], path, "column 'dry_bulb_c'")
    period = _series_period(t, path)
    return Weather(t - t[0], cols["dry_bulb_c"], rh, period, offset_s, name=path.name)


def resolve_climate_file(path_str: str, base_dir: Path | None, field: str) -> Path:
    """A weather or carbon file named in a scenario: absolute, or relative to the scenario."""
    p = Path(path_str)
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if not p.is_file():
        raise InputError(f"file not found: {p}", field=field)
    return p


def build_weather(
    cfg: ClimateConfig | WeatherOnly, base_dir: Path | None = None, seed: int = 0
) -> Weather:
    """Weather for a climate config; file paths are relative to base_dir (the scenario's folder)."""
    w = cfg.weather
    if w.source == "synthetic":
        return synthetic_weather(w, seed)
    if not w.path:
        raise InputError(
            "weather.source is 'file' but weather.path is not set", field="weather.path"
        )
    p = resolve_climate_file(w.path, base_dir, "weather.path")
    fmt = w.format if w.format != "auto" else ("epw" if p.suffix.lower() == ".epw" else "csv")
    offset = (w.start_day_of_year - 1.0) * DAY_S + w.start_hour * 3600.0
    return load_epw(p, offset) if fmt == "epw" else load_weather_csv(p, offset)


# ----------------------------------------------------------------------------- carbon
@lru_cache(maxsize=1)
def grid_carbon_table() -> dict[str, dict[str, str]]:
    """Bundled annual average grid intensities by country code (dcsim/data/climate/grid_carbon.csv)."""
    path = CLIMATE_DIR / "grid_carbon.csv"
    with path.open(encoding="utf-8") as fh:
        rows = csv.DictReader(ln for ln in fh if not ln.lstrip().startswith("#"))
        return {r["country"].upper(): r for r in rows}


class CarbonIntensity:
    """Grid carbon intensity in gCO2e/kWh as a periodic series, with an optional diurnal swing.

    I(t) = I_base(t) * (1 + a cos(2 pi (h - h_peak)/24)); the cosine averages to zero over a day,
    so a country's annual mean is preserved. Evening peaks (h_peak ~ 19) match solar-heavy grids
    (e.g. CAISO 'duck curve'); a = 0 gives the flat annual average.
    """

    def __init__(
        self,
        tau_s: np.ndarray,
        g_per_kwh: np.ndarray,
        period_s: float,
        offset_s: float,
        amplitude: float,
        peak_hour: float,
        name: str = "",
    ):
        self.tau_s = np.asarray(tau_s, dtype=float)
        self.values = np.asarray(g_per_kwh, dtype=float)
        self.period_s = float(period_s)
        self.offset_s = float(offset_s)
        self.amplitude = float(amplitude)
        self.peak_hour = float(peak_hour)
        self.name = name
        # The padded periodic grid np.interp(period=...) builds (and re-sorts) on every call,
        # built once: lookups are plain np.interp on sorted data, with the same numbers.
        xp = np.mod(self.tau_s, self.period_s)
        order = np.argsort(xp)
        xp, fp = xp[order], self.values[order]
        self._x = np.concatenate([xp[-1:] - self.period_s, xp, xp[0:1] + self.period_s])
        self._y = np.concatenate([fp[-1:], fp, fp[0:1]])

    @property
    def mean_g_per_kwh(self) -> float:
        return float(np.mean(self.values))

    def at_many(self, t_s: np.ndarray) -> np.ndarray:
        tau = self.offset_s + np.asarray(t_s, dtype=float)
        x = np.mod(tau, self.period_s)
        base = np.interp(np.mod(x, self.period_s), self._x, self._y)
        if self.amplitude:
            hour = np.mod(tau / 3600.0, 24.0)
            base = base * (
                1.0 + self.amplitude * np.cos(2 * np.pi * (hour - self.peak_hour) / 24.0)
            )
        return base

    def at(self, t_s: float) -> float:
        return float(self.at_many(np.asarray(t_s)))


def grid_intensity(
    region: str,
    offset_s: float = 0.0,
    amplitude: float = 0.0,
    peak_hour: float = 19.0,
    field: str = "region",
) -> CarbonIntensity:
    """Hourly EIA-930 2022 intensity of a balancing authority (the table of `dcsim.tenancy.grid`)
    shifted from UTC to local standard time, t = 0 local midnight of 1 January as for the
    weather (local hour h is UTC hour h - offset), interpolated linearly, the year wrapping.
    The one grid-carbon lookup of `dcsim run` (climate.carbon.source grid) and the engine."""
    from dcsim.tenancy.grid import REGIONS, UTC_OFFSET_H, carbon_table

    if region not in UTC_OFFSET_H:
        raise InputError(
            f"unknown grid region '{region}'; expected one of {', '.join(REGIONS)}", field=field
        )
    hourly = np.roll(carbon_table()[region], UTC_OFFSET_H[region])
    return CarbonIntensity(
        np.arange(hourly.size) * 3600.0,
        hourly,
        hourly.size * 3600.0,
        offset_s,
        amplitude,
        peak_hour,
        f"EIA-930 2022 {region}",
    )


def build_carbon(
    cfg: ClimateConfig, base_dir: Path | None = None, seed: int = 0
) -> CarbonIntensity:
    """Carbon intensity for a climate config (seed is accepted for API symmetry; no randomness)."""
    c, w = cfg.carbon, cfg.weather
    offset = (w.start_day_of_year - 1.0) * DAY_S + w.start_hour * 3600.0
    if c.source == "file":
        if not c.path:
            raise InputError(
                "carbon.source is 'file' but carbon.path is not set", field="carbon.path"
            )
        p = resolve_climate_file(c.path, base_dir, "carbon.path")
        cols = _read_csv_columns(p, ("time_s", "g_per_kwh"))
        t, v = cols["time_s"], cols["g_per_kwh"]
        if np.any(v < 0):
            raise InputError("column 'g_per_kwh' has a negative value", file=str(p))
        period = _series_period(t, p)
        return CarbonIntensity(
            t - t[0], v, period, offset, c.diurnal_amplitude, c.diurnal_peak_hour, p.name
        )
    if c.source == "grid":
        return grid_intensity(
            c.region, offset, c.diurnal_amplitude, c.diurnal_peak_hour, field="carbon.region"
        )
    if c.source == "constant":
        if c.g_per_kwh is None:
            raise InputError(
                "carbon.source is 'constant' but carbon.g_per_kwh is not set",
                field="carbon.g_per_kwh",
            )
        value, name = c.g_per_kwh, "constant"
    else:
        table = grid_carbon_table()
        row = table.get(c.country.upper())
        if row is None:
            raise InputError(
                f"no bundled carbon intensity for '{c.country}'; known: {', '.join(sorted(table))}"
                " (or use source: constant / file)",
                field="carbon.country",
            )
        value, name = float(row["g_per_kwh"]), row["country"]
    return CarbonIntensity(
        np.array([0.0, DAY_S]),
        np.array([value, value]),
        DAY_S,
        offset,
        c.diurnal_amplitude,
        c.diurnal_peak_hour,
        name,
    )
