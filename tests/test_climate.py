"""Climate: synthetic weather cycles, psychrometrics, EPW/CSV loaders, grid carbon intensity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dcsim.climate import (
    DAY_S,
    YEAR_S,
    CarbonConfig,
    ClimateConfig,
    WeatherConfig,
    build_carbon,
    build_weather,
    grid_carbon_table,
    presets,
    wet_bulb_stull,
)
from dcsim.errors import InputError
from dcsim.schema import validate_model

HOURS = np.arange(0, YEAR_S, 3600.0)


def synth(seed: int = 0, **kw) -> object:
    return build_weather(ClimateConfig(weather=WeatherConfig(**kw)), None, seed)


# ----------------------------------------------------------------------------- psychrometrics
def test_stull_wet_bulb_paper_example():
    # Stull (2011): T = 20 C, RH = 50 % gives Tw = 13.7 C
    assert float(wet_bulb_stull(20.0, 0.5)) == pytest.approx(13.7, abs=0.05)


def test_wet_bulb_below_dry_bulb_and_equal_at_saturation():
    t = np.linspace(-20, 50, 50)
    for rh in (0.1, 0.5, 0.9):
        assert np.all(wet_bulb_stull(t, rh) <= t)
    assert float(wet_bulb_stull(25.0, 0.99)) == pytest.approx(25.0, abs=0.3)


# ----------------------------------------------------------------------------- synthetic
@pytest.mark.parametrize("name", ["temperate", "hot-dry", "hot-humid", "cold"])
def test_preset_annual_mean_and_bounds(name):
    w = synth(preset=name)
    s = w.at_many(HOURS)
    p = presets()[name]
    assert s.dry_bulb_c.mean() == pytest.approx(p["mean_c"], abs=0.6)
    assert np.all(s.wet_bulb_c <= s.dry_bulb_c + 1e-9)
    assert np.all((s.rh > 0) & (s.rh <= 1))
    assert np.all(np.isfinite(s.dry_bulb_c))


def test_daily_cycle_peaks_in_the_afternoon_and_rh_at_dawn():
    w = synth(preset="hot-dry")
    s = w.at_many(HOURS)
    by_hour = s.dry_bulb_c.reshape(365, 24).mean(axis=0)
    assert int(np.argmax(by_hour)) == 15
    assert by_hour.max() - by_hour.min() == pytest.approx(
        2 * presets()["hot-dry"]["daily_amplitude_c"], rel=0.1
    )
    rh_by_hour = s.rh.reshape(365, 24).mean(axis=0)
    assert int(np.argmin(rh_by_hour)) in (14, 15, 16)
    assert int(np.argmax(rh_by_hour)) in (2, 3, 4)


def test_seasons_follow_hemisphere():
    north = (
        synth(preset="temperate", noise_std_c=0.0)
        .at_many(HOURS)
        .dry_bulb_c.reshape(365, 24)
        .mean(axis=1)
    )
    south = (
        synth(preset="temperate", latitude_deg=-34.0, noise_std_c=0.0)
        .at_many(HOURS)
        .dry_bulb_c.reshape(365, 24)
        .mean(axis=1)
    )
    jan, jul = slice(0, 31), slice(181, 212)
    assert north[jul].mean() - north[jan].mean() > 15
    assert south[jan].mean() - south[jul].mean() > 15
    assert 180 <= int(np.argmax(north)) <= 220


def test_explicit_parameters_override_preset():
    s = synth(
        preset="cold", mean_c=30.0, annual_amplitude_c=0.0, daily_amplitude_c=0.0, noise_std_c=0.0
    )
    out = s.at_many(HOURS)
    np.testing.assert_allclose(out.dry_bulb_c, 30.0, atol=1e-9)


def test_start_day_offsets_time():
    a = synth(preset="temperate", start_day_of_year=182)
    b = synth(preset="temperate")
    assert a.at(0.0) == b.at(181 * DAY_S)


def test_at_many_matches_at_and_is_periodic():
    w = synth(preset="temperate", seed=3)
    t = np.array([0.0, 1234.5, 86400.0 * 40 + 17.0])
    many = w.at_many(t)
    for i, ti in enumerate(t):
        one = w.at(float(ti))
        assert one.dry_bulb_c == pytest.approx(many.dry_bulb_c[i])
        assert one.wet_bulb_c == pytest.approx(many.wet_bulb_c[i])
    assert w.at(500.0) == w.at(500.0 + YEAR_S)


def test_seed_determinism():
    a = synth(seed=5).at_many(HOURS[:500])
    b = synth(seed=5).at_many(HOURS[:500])
    c = synth(seed=6).at_many(HOURS[:500])
    np.testing.assert_array_equal(a.dry_bulb_c, b.dry_bulb_c)
    assert not np.array_equal(a.dry_bulb_c, c.dry_bulb_c)


def test_unknown_preset_is_input_error():
    with pytest.raises(InputError) as exc:
        synth(preset="martian")
    assert exc.value.field == "weather.preset"


# ----------------------------------------------------------------------------- files
def _epw(path: Path, days: int = 365) -> None:
    header = ["LOCATION,Test,,,,0,0,0,0"] + [f"HEADER{i}" for i in range(7)]
    rows = []
    month_len = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    d = 0
    for m, n in enumerate(month_len, start=1):
        for day in range(1, n + 1):
            if d >= days:
                break
            for h in range(1, 25):
                tdb = 10.0 + 0.5 * m + 0.1 * h
                rows.append(f"1999,{m},{day},{h},60,X,{tdb:.1f},5.0,60,101325")
            d += 1
    path.write_text("\n".join(header + rows) + "\n")


def test_epw_loader(tmp_path):
    p = tmp_path / "site.epw"
    _epw(p)
    w = build_weather(
        ClimateConfig(weather=WeatherConfig(source="file", path="site.epw")), tmp_path, 0
    )
    # Jan 1, hour-ending 3 -> t = 3 h
    s = w.at(3 * 3600.0)
    assert s.dry_bulb_c == pytest.approx(10.5 + 0.3)
    assert s.rh == pytest.approx(0.6)
    assert s.wet_bulb_c == pytest.approx(float(wet_bulb_stull(10.8, 0.6)))
    # July 1 hour-ending 12
    t = (181 * 24 + 12) * 3600.0
    assert w.at(t).dry_bulb_c == pytest.approx(10.0 + 3.5 + 1.2)


def test_epw_too_short_or_bad(tmp_path):
    p = tmp_path / "short.epw"
    p.write_text("\n".join(["H"] * 8 + ["1999,1,1,1,60,X,10,5,60"]))
    with pytest.raises(InputError):
        build_weather(ClimateConfig(weather=WeatherConfig(source="file", path=str(p))), None, 0)


def test_csv_weather_loader_percent_and_fraction(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("# comment\ntime_s,dry_bulb_c,rh\n0,20,50\n3600,22,40\n7200,24,30\n")
    w = build_weather(
        ClimateConfig(weather=WeatherConfig(source="file", path="w.csv")), tmp_path, 0
    )
    assert w.at(1800.0).dry_bulb_c == pytest.approx(21.0)
    assert w.at(0.0).rh == pytest.approx(0.5)
    assert w.period_s == 3 * 3600.0
    q = tmp_path / "f.csv"
    q.write_text("time_s,dry_bulb_c,rh\n0,20,0.5\n3600,22,0.4\n")
    w2 = build_weather(ClimateConfig(weather=WeatherConfig(source="file", path=str(q))), None, 0)
    assert w2.at(0.0).rh == pytest.approx(0.5)


@pytest.mark.parametrize(
    "text,needle",
    [
        ("time_s,dry_bulb_c\n0,20\n60,21\n", "missing column"),
        ("time_s,dry_bulb_c,rh\n0,20,50\n0,21,50\n", "strictly increasing"),
        ("time_s,dry_bulb_c,rh\n0,abc,50\n60,21,50\n", "non-numeric"),
        ("time_s,dry_bulb_c,rh\n0,20,150\n60,21,50\n", "outside"),
    ],
)
def test_csv_weather_errors(tmp_path, text, needle):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        build_weather(ClimateConfig(weather=WeatherConfig(source="file", path=str(p))), None, 0)
    assert needle in exc.value.message
    assert exc.value.file == str(p)


def test_missing_weather_file_names_field(tmp_path):
    with pytest.raises(InputError) as exc:
        build_weather(
            ClimateConfig(weather=WeatherConfig(source="file", path="nope.epw")), tmp_path, 0
        )
    assert exc.value.field == "weather.path"


# ----------------------------------------------------------------------------- carbon
def test_bundled_table_has_sources_and_sane_values():
    table = grid_carbon_table()
    assert len(table) >= 30
    for code, row in table.items():
        assert row["source"] and row["confidence"] in ("high", "medium", "low")
        assert 0 < float(row["g_per_kwh"]) < 1200, code
    # Ember 2023 values (OWID / Statista): France 56, Poland 662, India 713
    assert float(table["FR"]["g_per_kwh"]) == 56
    assert float(table["PL"]["g_per_kwh"]) == 662
    assert float(table["IN"]["g_per_kwh"]) == 713


def test_country_carbon_constant_and_lowercase():
    c = build_carbon(ClimateConfig(carbon=CarbonConfig(country="fr")))
    assert c.at(0.0) == 56.0 and c.at(12345.0) == 56.0


def test_diurnal_profile_preserves_daily_mean_and_peaks_in_the_evening():
    c = build_carbon(ClimateConfig(carbon=CarbonConfig(country="DE", diurnal_amplitude=0.25)))
    t = np.arange(0, DAY_S, 60.0)
    v = c.at_many(t)
    assert v.mean() == pytest.approx(381.0, rel=1e-9)
    assert t[np.argmax(v)] / 3600.0 == pytest.approx(19.0)
    assert v.max() == pytest.approx(381 * 1.25) and v.min() == pytest.approx(381 * 0.75)


def test_constant_and_csv_carbon(tmp_path):
    c = build_carbon(ClimateConfig(carbon=CarbonConfig(source="constant", g_per_kwh=123.0)))
    assert c.at(99.0) == 123.0
    p = tmp_path / "ci.csv"
    p.write_text("time_s,g_per_kwh\n0,100\n3600,300\n")
    c2 = build_carbon(ClimateConfig(carbon=CarbonConfig(source="file", path="ci.csv")), tmp_path)
    assert c2.at(1800.0) == pytest.approx(200.0)
    assert c2.at(7200.0 + 1800.0) == pytest.approx(200.0)  # repeats with period 7200 s


def test_carbon_errors():
    with pytest.raises(InputError) as exc:
        build_carbon(ClimateConfig(carbon=CarbonConfig(country="XX")))
    assert exc.value.field == "carbon.country"
    with pytest.raises(InputError) as exc:
        build_carbon(ClimateConfig(carbon=CarbonConfig(source="constant")))
    assert exc.value.field == "carbon.g_per_kwh"
    with pytest.raises(InputError) as exc:
        validate_model(
            ClimateConfig, {"carbon": {"g_per_kwh": -1}}, file="s.yaml", prefix="climate"
        )
    assert exc.value.field == "climate.carbon.g_per_kwh"
    with pytest.raises(InputError) as exc:
        validate_model(ClimateConfig, {"weather": {"daily_amplitude_c": -2}}, prefix="climate")
    assert exc.value.field == "climate.weather.daily_amplitude_c"


# ------------------------------------------------------------- hostile weather files (issue 14)
def _build(p: Path):
    return build_weather(ClimateConfig(weather=WeatherConfig(source="file", path=str(p))), None, 0)


@pytest.mark.parametrize(
    "text,needle",
    [
        ("time_s,dry_bulb_c,rh\n0,1e300,50\n60,21,50\n", "outside -70..70 C"),
        ("time_s,dry_bulb_c,rh\n0,-1e300,50\n60,21,50\n", "outside -70..70 C"),
        ("time_s,dry_bulb_c,rh\n0,99.9,50\n60,21,50\n", "outside -70..70 C"),
    ],
)
def test_csv_weather_out_of_physical_range(tmp_path, text, needle):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        _build(p)
    assert needle in exc.value.message and exc.value.file == str(p)


def test_binary_weather_csv_is_an_input_error(tmp_path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"time_s,dry_bulb_c,rh\n\xff\xfe\xfa\x00\x01\n")
    with pytest.raises(InputError, match="UTF-8") as exc:
        _build(p)
    assert exc.value.file == str(p)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_epw_with_non_finite_values_is_refused(tmp_path, bad):
    p = tmp_path / "nan.epw"
    _epw(p, days=2)
    lines = p.read_text().splitlines()
    fields = lines[12].split(",")
    fields[6] = bad
    lines[12] = ",".join(fields)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="non-finite") as exc:
        _build(p)
    assert exc.value.file == str(p)


def test_epw_humidity_missing_code_is_refused(tmp_path):
    p = tmp_path / "rh.epw"
    _epw(p, days=2)
    lines = p.read_text().splitlines()
    fields = lines[9].split(",")
    fields[8] = "999"
    lines[9] = ",".join(fields)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="relative humidity"):
        _build(p)


def test_grid_carbon_source_is_the_eia930_hourly_series_in_local_time():
    """`carbon.source: grid` reads the shipped EIA-930 2022 series of a balancing authority
    (dcsim.tenancy.grid, one source of truth), in local standard time from start_day_of_year,
    and refuses unknown regions naming carbon.region."""
    from dcsim.tenancy.grid import GridSignal

    cfg = ClimateConfig.model_validate(
        {"carbon": {"source": "grid", "region": "CISO"}, "weather": {"start_day_of_year": 196}}
    )
    ci = build_carbon(cfg)
    t = np.arange(0.0, 3 * 86400.0, 900.0)
    want = GridSignal("CISO").carbon(t + 195 * 86400.0)
    np.testing.assert_allclose(ci.at_many(t), want, rtol=1e-12)
    day = ci.at_many(np.arange(0.0, 86400.0, 3600.0))
    assert np.argmin(day) in range(9, 17)  # solar: the cleanest hours are around midday
    with pytest.raises(InputError) as exc:
        build_carbon(ClimateConfig.model_validate({"carbon": {"source": "grid", "region": "XX"}}))
    assert exc.value.field == "carbon.region"
