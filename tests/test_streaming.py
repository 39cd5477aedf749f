"""`dcsim run` and every sweep point stream their time series to disk and keep running totals
(issue 14.5)."""

from __future__ import annotations

import json
import os
import tracemalloc

import numpy as np
import pytest

from dcsim.config import load_scenario
from dcsim.cost import energy_weighted_price
from dcsim.results import RowSample, csv_text, dumps_json
from dcsim.runner import run_scenario, simulate
from dcsim.sim import RunTotals, Simulation, summarize


def _peak_bytes(steps: int) -> int:
    loaded = load_scenario(None)
    tracemalloc.start()
    simulate(loaded, "fixed", steps, on_row=lambda row: None)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_run_memory_does_not_grow_with_its_length():
    # holding records cost ~3.5 KB per step: 1,800 more steps would be ~6 MB more
    short, long = _peak_bytes(200), _peak_bytes(2000)
    assert long - short < 1_000_000, (short, long)


def test_streamed_series_equals_the_in_memory_rows(tmp_path):
    res = run_scenario(None, {}, tmp_path, steps=30, plot=False)
    rows: list[dict[str, float]] = []
    summary, _ = simulate(load_scenario(None), "fixed", 30, on_row=rows.append)
    assert (res.run_dir / "timeseries.csv").read_text() == csv_text(rows)
    assert res.summary == summary


def test_running_totals_equal_sums_over_the_records():
    sim = Simulation(load_scenario(None))
    records = [sim.step() for _ in range(50)]
    s = summarize(records, sim)
    assert s["facility_energy_kwh"] == pytest.approx(sum(r.facility_kwh for r in records))
    assert s["mean_step_time_s"] == pytest.approx(np.mean([r.step_time_s for r in records]))
    assert s["peak_facility_kw"] == pytest.approx(max(r.facility_w for r in records) / 1e3)
    assert s["violation_steps"] == sum(r.violation_c > 0 for r in records)


def test_chunked_hourly_price_equals_the_whole_run(tmp_path, monkeypatch):
    csv_file = tmp_path / "p.csv"
    prices = np.linspace(0.03, 0.3, 24)
    csv_file.write_text("hour,usd_per_kwh\n" + "".join(f"{h},{p}\n" for h, p in enumerate(prices)))
    sim = Simulation(load_scenario(None, {"cost.electricity_prices_csv": str(csv_file)}))
    records = [sim.step() for _ in range(200)]
    monkeypatch.setattr(RunTotals, "PRICE_CHUNK", 7)  # many partial chunks
    got = summarize(records, sim)["electricity_usd_per_kwh"]
    w = sim.sc.climate.weather
    start = (w.start_day_of_year - 1) * 86400.0 + w.start_hour * 3600.0
    whole = energy_weighted_price(
        sim.electricity_prices,
        np.array([r.t_s for r in records]),
        np.array([r.facility_kwh for r in records]),
        start,
        sim.dt,
    )
    assert got == pytest.approx(whole, rel=1e-12)
    assert prices.min() < got < prices.max()


@pytest.mark.parametrize("n, limit, kept", [(10, 20, 10), (100, 20, 20), (101, 20, 17)])
def test_row_sample_keeps_evenly_spaced_rows_up_to_the_limit(n, limit, kept):
    s = RowSample(n, limit)
    for k in range(n):
        s.add({"k": k})
    assert len(s.rows) == kept <= limit
    assert [r["k"] for r in s.rows] == list(range(0, n, s.stride))


# ----------------------------------------------------------------------------- sweep points
def _one_point_sweep(tmp_path, steps: int, **fields):
    import yaml

    from dcsim.sweep import plan_sweep

    spec = {
        "name": "stream",
        "parameters": {"cooling.supply_air_setpoint_c": [20.0]},
        "steps": steps,
    } | fields
    p = tmp_path / f"sweep{steps}.yaml"
    p.write_text(yaml.safe_dump(spec))
    return plan_sweep(p)


def _execute_peak_bytes(tmp_path, steps: int) -> int:
    import shutil

    from dcsim.sweep import execute

    spec = _one_point_sweep(tmp_path, steps).runs[0]
    tracemalloc.start()
    out = execute(spec, spool=str(tmp_path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.status == "complete", out.error
    assert out.series_csv == "" and out.plot_rows == []  # nothing of the series travels back
    shutil.rmtree(out.spool)
    return peak


def test_sweep_point_memory_does_not_grow_with_its_length(tmp_path):
    # a sweep worker used to hold every row (~3.5 KB per step) until the parent wrote it
    short, long = _execute_peak_bytes(tmp_path, 200), _execute_peak_bytes(tmp_path, 2000)
    assert long - short < 1_000_000, (short, long)


def test_swept_series_is_streamed_and_equals_the_in_memory_rows(tmp_path):
    from dcsim.sweep import execute, run_sweep

    plan = _one_point_sweep(tmp_path, 30, plot_runs=True)
    spec = plan.runs[0]
    res = run_sweep(plan, tmp_path / "out")
    run_dir = res.sweep_dir / "runs" / spec.run_id
    rows: list[dict[str, float]] = []
    summary, _ = simulate(load_scenario(None, spec.params), "fixed", 30, on_row=rows.append)
    assert (run_dir / "timeseries.csv").read_text() == csv_text(rows)
    assert (run_dir / "timeseries.png").is_file()
    assert json.loads((run_dir / "summary.json").read_text()) == json.loads(dumps_json(summary))
    # a worker without the parent's disk (remote Dask) sends the same CSV back as text
    assert execute(spec, spool=None).series_csv == csv_text(rows)
    # the worker's temp folder was adopted: nothing left behind in runs/
    assert sorted(p.name for p in (res.sweep_dir / "runs").iterdir()) == [spec.run_id]


def test_a_dead_workers_spooled_series_is_cleaned_up(tmp_path):
    from dcsim.results import remove_stale_partials, spool_dir

    dead = spool_dir(tmp_path, "abc123")
    (dead / "timeseries.csv").write_text("t_s\n0\n")
    dead.rename(tmp_path / dead.name.replace(f"-{os.getpid()}@", "-999999999@"))
    assert remove_stale_partials(tmp_path) == 1
    assert list(tmp_path.iterdir()) == []
