"""Sweeps: expansion, stable ids, validation before running, failures as rows, resume after an
interrupt with byte-identical results, and identical results across serial/local/Dask executors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import dcsim.sweep as sweep_mod
from dcsim.cli import app
from dcsim.errors import InputError
from dcsim.sweep import (
    expand_points,
    load_sweep,
    parse_sweep_override,
    plan_sweep,
    read_index,
    run_sweep,
)
from dcsim.viz.sweep import pareto_mask, plot_path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "sweeps" / "training_base.yaml"


def write_sweep(tmp: Path, **fields) -> Path:
    data = {
        "name": "t",
        "base": str(BASE),
        "method": "grid",
        "parameters": {"cluster.hardware": ["H100-SXM", "B200"], "cooling.type": ["air", "liquid"]},
        "steps": 3,
    } | fields
    p = tmp / "sweep.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def summaries(sweep_dir: Path) -> dict[str, bytes]:
    return {
        d.name: (d / "summary.json").read_bytes()
        for d in sorted((sweep_dir / "runs").iterdir())
        if not d.name.startswith(".")
    }


# ----------------------------------------------------------------------------- expansion
def test_grid_zip_random_expansion(tmp_path):
    g = load_sweep(write_sweep(tmp_path, seeds=[0, 1]))
    pts = expand_points(g)
    assert len(pts) == 4 and {p["cooling.type"] for p in pts} == {"air", "liquid"}
    assert len(plan_sweep(write_sweep(tmp_path, seeds=[0, 1])).runs) == 8  # 4 points x 2 seeds
    assert g.seed_list(0) == [0, 1] and load_sweep(write_sweep(tmp_path, seeds=3)).seed_list(0) == [
        0,
        1,
        2,
    ]

    z = load_sweep(write_sweep(tmp_path, method="zip"))
    assert expand_points(z) == [
        {"cluster.hardware": "H100-SXM", "cooling.type": "air"},
        {"cluster.hardware": "B200", "cooling.type": "liquid"},
    ]
    with pytest.raises(InputError, match="equally long"):
        load_sweep(write_sweep(tmp_path, method="zip", parameters={"a.b": [1, 2], "c.d": [1]}))

    rnd = {
        "power.cap_frac": {"min": 0.6, "max": 1.0},
        "cluster.servers": {"min": 8, "max": 32},
        "cooling.supply_air_setpoint_c": {"min": 16, "max": 27.0},
    }
    r1 = expand_points(
        load_sweep(write_sweep(tmp_path, method="random", samples=40, parameters=rnd))
    )
    r2 = expand_points(
        load_sweep(write_sweep(tmp_path, method="random", samples=40, parameters=rnd))
    )
    r3 = expand_points(
        load_sweep(
            write_sweep(tmp_path, method="random", samples=40, sample_seed=1, parameters=rnd)
        )
    )
    assert r1 == r2 and r1 != r3  # seeded
    caps = np.array([p["power.cap_frac"] for p in r1])
    assert caps.min() >= 0.6 and caps.max() <= 1.0 and len(set(caps)) > 30
    assert all(
        isinstance(p["cluster.servers"], int) and 8 <= p["cluster.servers"] <= 32 for p in r1
    )
    assert all(
        isinstance(p["cooling.supply_air_setpoint_c"], float) for p in r1
    )  # 27.0 is a float bound
    with pytest.raises(InputError, match="samples"):
        load_sweep(write_sweep(tmp_path, method="random", parameters=rnd))

    lin = load_sweep(
        write_sweep(tmp_path, parameters={"power.cap_frac": {"min": 0.5, "max": 1.0, "num": 3}})
    )
    assert expand_points(lin) == [
        {"power.cap_frac": 0.5},
        {"power.cap_frac": 0.75},
        {"power.cap_frac": 1.0},
    ]


def test_command_line_overrides(tmp_path):
    assert parse_sweep_override("cluster.hardware=H100-SXM,B200") == (
        "cluster.hardware",
        ["H100-SXM", "B200"],
    )
    assert parse_sweep_override("power.cap_frac=[0.7, 0.9]") == ("power.cap_frac", [0.7, 0.9])
    s = load_sweep(
        write_sweep(tmp_path),
        ["cooling.type=liquid", "seeds=4,5", "steps=2", "power.cap_frac=0.8,1"],
    )
    assert s.parameters["cooling.type"].values == ["liquid"]
    assert s.parameters["power.cap_frac"].values == [0.8, 1]
    assert s.seeds == [4, 5] and s.steps == 2
    with pytest.raises(InputError):
        load_sweep(write_sweep(tmp_path), ["no-equals-sign"])


def test_stable_ids_match_dcsim_run(tmp_path):
    a = plan_sweep(write_sweep(tmp_path))
    b = plan_sweep(write_sweep(tmp_path))
    assert [r.run_id for r in a.runs] == [r.run_id for r in b.runs]
    assert len({r.run_id for r in a.runs}) == len(a.runs)
    r = a.runs[0]
    # same formula as dcsim run: the run writer of `dcsim run` lands on the sweep's id
    from dcsim.config import scenario_from_dict
    from dcsim.runner import run_and_write

    loaded = scenario_from_dict(r.inputs, Path(r.base_dir))
    loaded.source = Path(r.source)
    assert (
        run_and_write(loaded, tmp_path / "run", "fixed", 3, r.seed, plot=False).run_id == r.run_id
    )
    other = plan_sweep(write_sweep(tmp_path, steps=4))
    assert not {x.run_id for x in other.runs} & {x.run_id for x in a.runs}


# ----------------------------------------------------------------------------- validation first
def test_bad_parameter_fails_before_any_run(tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    for params, field in (
        ({"cluster.hardwre": ["H100-SXM"]}, "parameters.cluster.hardwre"),
        ({"cluster.hardware": ["H100-SXM", "XPU-9000"]}, "parameters.cluster.hardware"),
        ({"cluster.servers": [-4]}, "parameters.cluster.servers"),
        ({"cluster.topology": ["no_such_fabric.yaml"]}, "parameters.cluster.topology"),
    ):
        f = write_sweep(tmp_path, parameters=params)
        res = runner.invoke(app, ["sweep", str(f), "--out", str(out)])
        assert res.exit_code == 2, res.output
        assert "sweep.yaml" in res.output and field in res.output
        assert "Traceback" not in res.output
        assert not out.exists()  # nothing ran, nothing written
    res = runner.invoke(
        app, ["sweep", str(write_sweep(tmp_path)), "cluster.servers=8,nope", "--out", str(out)]
    )
    assert res.exit_code == 2 and not out.exists()
    res = runner.invoke(
        app, ["sweep", str(write_sweep(tmp_path, agent="nobody")), "--out", str(out)]
    )
    assert res.exit_code == 2 and "agent" in res.output


def test_dry_run_lists_without_running(tmp_path):
    res = CliRunner().invoke(
        app,
        ["sweep", str(write_sweep(tmp_path)), "--dry-run", "--json", "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 0
    d = json.loads(res.output)
    assert d["n_runs"] == 4 and not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- failures and resume
def test_failing_run_is_a_row(tmp_path, monkeypatch):
    real = sweep_mod.simulate

    def flaky(loaded, *a, **k):
        if loaded.scenario.cluster.hardware == "B200":
            raise RuntimeError("solver diverged")
        return real(loaded, *a, **k)

    monkeypatch.setattr(sweep_mod, "simulate", flaky)
    res = run_sweep(plan_sweep(write_sweep(tmp_path)), tmp_path / "out")
    rows = read_index(res.sweep_dir)
    assert len(rows) == 4
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 and all("solver diverged" in r["error"] for r in failed)
    assert all(r["cluster.hardware"] == "B200" for r in failed)
    assert all(r["status"] == "complete" and float(r["pue"]) > 1 for r in rows if r not in failed)
    assert not any((res.sweep_dir / "runs" / r["run_id"]).exists() for r in failed)


def test_interrupt_then_resume_is_byte_identical(tmp_path, monkeypatch):
    plan = plan_sweep(write_sweep(tmp_path, seeds=[0, 1]))  # 8 runs
    ref = run_sweep(plan, tmp_path / "ref")
    real = sweep_mod.simulate
    calls = {"n": 0}

    def interrupt_after_3(*a, **k):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(sweep_mod, "simulate", interrupt_after_3)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, tmp_path / "int")
    sweep_dir = tmp_path / "int" / "t"
    rows = read_index(sweep_dir)
    assert [r["status"] for r in rows].count("complete") == 3
    assert [r["status"] for r in rows].count("pending") == 5
    assert len(summaries(sweep_dir)) == 3
    assert not [
        p for p in (sweep_dir / "runs").iterdir() if p.name.startswith(".")
    ]  # no partial dirs

    monkeypatch.setattr(sweep_mod, "simulate", real)
    seen = []
    res = run_sweep(
        plan, tmp_path / "int", resume=True, on_progress=lambda o, c: seen.append(o.spec.run_id)
    )
    c = res.counts()
    assert c["reused"] == 3 and c["ran"] == 5 and c["complete"] == 8
    assert len(seen) == 5  # only the missing runs ran
    assert summaries(sweep_dir) == summaries(ref.sweep_dir)
    for f in ("config.resolved.yaml", "timeseries.csv"):
        for rid in summaries(sweep_dir):
            assert (sweep_dir / "runs" / rid / f).read_bytes() == (
                ref.sweep_dir / "runs" / rid / f
            ).read_bytes()


def test_cli_resume_reports_reuse(tmp_path):
    f = write_sweep(tmp_path, parameters={"cooling.type": ["air", "liquid"]})
    runner = CliRunner()
    out = str(tmp_path / "o")
    assert runner.invoke(app, ["sweep", str(f), "--out", out, "--json"]).exit_code == 0
    res = runner.invoke(app, ["sweep", str(f), "--out", out, "--resume", "--json"])
    d = json.loads(res.output)
    assert res.exit_code == 0 and d["reused"] == 2 and d["ran"] == 0


CORRUPTIONS = {
    "summary {}": lambda d: (d / "summary.json").write_text("{}"),
    "summary []": lambda d: (d / "summary.json").write_text("[]"),
    "no timeseries.csv": lambda d: (d / "timeseries.csv").unlink(),
    "empty timeseries.csv": lambda d: (d / "timeseries.csv").write_text(""),
    "cut timeseries.csv": lambda d: (d / "timeseries.csv").write_bytes(
        (d / "timeseries.csv").read_bytes()[:-3]
    ),
    "no config": lambda d: (d / "config.resolved.yaml").unlink(),
    "another run's manifest": lambda d: (d / "manifest.json").write_text(
        json.dumps({**json.loads((d / "manifest.json").read_text()), "run_id": "0" * 12})
    ),
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS))
def test_resume_recomputes_a_corrupt_or_incomplete_run_directory(tmp_path, corrupt):
    """Issue 14.7: a `{}` summary or a missing timeseries.csv was reused as complete."""
    plan = plan_sweep(write_sweep(tmp_path, parameters={"cooling.type": ["air", "liquid"]}))
    first = run_sweep(plan, tmp_path / "o")
    bad, good = (first.sweep_dir / "runs" / r.run_id for r in plan.runs)
    ref = {f: (bad / f).read_bytes() for f in ("summary.json", "timeseries.csv")}
    CORRUPTIONS[corrupt](bad)
    again = run_sweep(plan, tmp_path / "o", resume=True)
    reused = {o.spec.run_id: o.reused for o in again.outcomes}
    assert reused == {bad.name: False, good.name: True}
    for f, data in ref.items():  # recomputed, byte for byte
        assert (bad / f).read_bytes() == data


# ----------------------------------------------------------------------------- executors
def test_serial_local_dask_byte_identical(tmp_path):
    pytest.importorskip("dask.distributed")
    plan = plan_sweep(
        write_sweep(tmp_path, parameters={"cluster.hardware": ["H100-SXM", "MI300X"]})
    )
    s = run_sweep(plan, tmp_path / "serial", "serial")
    loc = run_sweep(plan, tmp_path / "local", "local", workers=2)
    dk = run_sweep(plan, tmp_path / "dask", "dask", workers=2)
    for r in (s, loc, dk):
        assert r.counts()["complete"] == 2
    assert summaries(s.sweep_dir) == summaries(loc.sweep_dir) == summaries(dk.sweep_dir)
    assert set(summaries(s.sweep_dir)) == {r.run_id for r in plan.runs}


# ----------------------------------------------------------------------------- plots
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=40))
def test_pareto_mask_is_the_non_dominated_set(pts):
    x = np.array([p[0] for p in pts], float)
    y = np.array([p[1] for p in pts], float)
    m = pareto_mask(x, y)

    def dominates(j, i):
        return x[j] <= x[i] and y[j] <= y[i] and (x[j] < x[i] or y[j] < y[i])

    n = len(x)
    for i in range(n):
        if m[i]:
            assert not any(dominates(j, i) for j in range(n))
        else:  # dominated, or an exact duplicate of a front point
            assert any(
                dominates(j, i) or (m[j] and x[j] == x[i] and y[j] == y[i]) for j in range(n)
            )


def test_plot_sweep_and_run(tmp_path):
    res = run_sweep(plan_sweep(write_sweep(tmp_path)), tmp_path / "out")
    info = plot_path(res.sweep_dir)
    assert Path(info["png"]).stat().st_size > 10_000 and info["runs"] == 4 and info["pareto"]
    run_dir = res.sweep_dir / "runs" / res.plan.runs[0].run_id
    r = CliRunner().invoke(app, ["plot", str(run_dir), "--out", str(tmp_path / "ts.png"), "--json"])
    assert r.exit_code == 0 and (tmp_path / "ts.png").stat().st_size > 10_000
    r = CliRunner().invoke(app, ["plot", str(tmp_path)])
    assert r.exit_code == 2


# ------------------------------------------------------------------ size limits (issue 14.5)
def test_huge_grid_is_refused_before_expanding(tmp_path):
    import time

    f = tmp_path / "huge.yaml"
    axes = {f"cooling.p{i}": {"min": 0.0, "max": 1.0, "num": 100_000} for i in range(6)}
    f.write_text(yaml.safe_dump({"name": "huge", "parameters": axes, "seeds": 100}))
    t0 = time.process_time()
    with pytest.raises(InputError) as exc:
        sweep_mod.plan_sweep(f)
    assert time.process_time() - t0 < 5.0
    assert f"{100_000**6 * 100:,} runs" in exc.value.message
    assert exc.value.field == "parameters"


def test_count_points_matches_the_expansion(tmp_path):
    for method, extra in (("grid", {}), ("zip", {}), ("random", {"samples": 7})):
        spec = sweep_mod.SweepSpec(
            method=method,
            parameters={"a": {"values": [1, 2, 3]}, "b": {"min": 1, "max": 3, "num": 3}},
            **extra,
        )
        assert sweep_mod.count_points(spec) == len(sweep_mod.expand_points(spec))


def test_count_points_of_a_random_sweep_with_open_ranges():
    spec = sweep_mod.SweepSpec(
        method="random", samples=5, parameters={"a": {"min": 0.0, "max": 1.0}}
    )
    assert sweep_mod.count_points(spec) == 5 == len(sweep_mod.expand_points(spec))


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("cluster.hardware=XPU-9000", "parameters.cluster.hardware"),  # a value, checked per run
        ("cluster.servers=-1", "parameters.cluster.servers"),
        ("cluster.nope=1", "parameters.cluster.nope"),
        ("steps=abc", "steps"),  # the sweep's own fields
        ("seeds=-1", "seeds"),
        ("noequals", "overrides"),  # syntax
    ],
)
def test_command_line_override_errors_name_the_command_line(tmp_path, override, field):
    """Issue 19.2: a bad `KEY=V1,V2` came from the command line, not from the sweep file."""
    f = write_sweep(tmp_path)
    res = CliRunner().invoke(app, ["sweep", str(f), override, "--dry-run"])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert f"command line ({override})" in text and f"field '{field}'" in text, text
    assert "sweep.yaml" not in text, text


# ---------------------------------------------------- one sweep plan per directory (issue 19.4)
def test_a_different_plan_in_the_same_directory_is_refused(tmp_path):
    f = write_sweep(tmp_path)
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(app, ["sweep", str(f), "--out", str(out)])
    assert first.exit_code == 0, first.output
    sweep_dir = next(p for p in out.iterdir() if p.is_dir())
    before = {n: (sweep_dir / n).read_bytes() for n in ("index.csv", "sweep.json")}
    other = runner.invoke(app, ["sweep", str(f), "--out", str(out), "steps=4"])
    assert other.exit_code == 2, other.output
    assert "different sweep plan" in other.output and "--force" in other.output
    assert {n: (sweep_dir / n).read_bytes() for n in before} == before
    bad = runner.invoke(app, ["sweep", str(f), "--out", str(out), "cluster.servers=-1"])
    assert bad.exit_code == 2
    assert {n: (sweep_dir / n).read_bytes() for n in before} == before
    same = runner.invoke(app, ["sweep", str(f), "--out", str(out), "--resume"])
    assert same.exit_code == 0, same.output
    forced = runner.invoke(app, ["sweep", str(f), "--out", str(out), "steps=4", "--force"])
    assert forced.exit_code == 0, forced.output
    assert (sweep_dir / "sweep.json").read_bytes() != before["sweep.json"]


@pytest.mark.parametrize("resume", [False, True])
def test_an_executor_that_fails_to_start_leaves_the_index_as_it_was(tmp_path, monkeypatch, resume):
    """The same plan again, but the executor cannot start (e.g. no Dask scheduler at
    --address): the earlier complete rows must stay complete with their numbers."""
    f = write_sweep(tmp_path)
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(app, ["sweep", str(f), "--out", str(out)]).exit_code == 0
    sweep_dir = next(p for p in out.iterdir() if p.is_dir())
    before = (sweep_dir / "index.csv").read_bytes()

    def unreachable(runs, **_):
        raise InputError("cannot connect to the Dask scheduler", field="--address")

    monkeypatch.setitem(sweep_mod._EXECUTORS, "serial", unreachable)
    args = ["sweep", str(f), "--out", str(out), *(["--resume"] if resume else [])]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "cannot connect" in res.output, res.output
    rows = read_index(sweep_dir)
    assert {r["status"] for r in rows} == {"complete"}
    if not resume:  # nothing ran: the index is byte-identical
        assert (sweep_dir / "index.csv").read_bytes() == before


# ------------------------------------------------- index.csv is appended, not rewritten (14.5)
def test_index_is_appended_per_run_and_compacted_once(tmp_path, monkeypatch):
    writes: list[str] = []
    real = sweep_mod.atomic_write_text

    def counting(path, text):
        if Path(path).name == "index.csv":
            writes.append(text)
        real(path, text)

    monkeypatch.setattr(sweep_mod, "atomic_write_text", counting)
    plan = plan_sweep(write_sweep(tmp_path))
    appended: list[str] = []
    real_append = sweep_mod.append_index_row
    monkeypatch.setattr(
        sweep_mod,
        "append_index_row",
        lambda p, o, params: (appended.append(o.spec.run_id), real_append(p, o, params)),
    )
    sweep_mod.run_sweep(plan, tmp_path / "out")
    assert len(writes) == 2  # the initial index and the final compaction, whatever the size
    assert sorted(appended) == sorted(r.run_id for r in plan.runs)
    rows = sweep_mod.read_index(tmp_path / "out" / plan.name)
    assert [r["run_id"] for r in rows] == [r.run_id for r in plan.runs]
    assert {r["status"] for r in rows} == {"complete"}


def test_read_index_keeps_the_last_row_of_a_run(tmp_path):
    (tmp_path / "index.csv").write_text("run_id,status\na,pending\nb,pending\na,complete\n")
    rows = sweep_mod.read_index(tmp_path)
    assert [(r["run_id"], r["status"]) for r in rows] == [("a", "complete"), ("b", "pending")]
