"""Runs are keyed by the content of every file they read (issue 14.3): an edited input is a new run."""

from __future__ import annotations

import shutil
from pathlib import Path

from dcsim.config import load_scenario
from dcsim.inputs import input_digests
from dcsim.resources import bundled_dir
from dcsim.results import run_id


def _scenario(tmp_path: Path, weather: bool = True) -> Path:
    shutil.copy(bundled_dir("topologies") / "leaf_spine_256.yaml", tmp_path / "fabric.yaml")
    (tmp_path / "w.csv").write_text("time_s,dry_bulb_c,rh\n0,20,50\n3600,22,40\n7200,24,30\n")
    climate = "climate:\n  weather:\n    source: file\n    path: w.csv\n" if weather else ""
    f = tmp_path / "s.yaml"
    f.write_text(f"name: s\ncluster:\n  topology: fabric.yaml\n{climate}")
    return f


def _rid(f: Path) -> str:
    loaded = load_scenario(f)
    cfg = loaded.scenario.model_dump(mode="json")
    return run_id(cfg, 0, {"inputs": input_digests(loaded, "fixed")})


def test_digests_cover_topology_weather_and_hardware(tmp_path: Path) -> None:
    d = input_digests(load_scenario(_scenario(tmp_path)))
    assert set(d) == {"cluster.hardware", "cluster.topology", "climate.weather.path"}
    assert all(v.startswith("sha256:") for v in d.values())


def test_editing_a_referenced_file_changes_the_run_id(tmp_path: Path) -> None:
    f = _scenario(tmp_path)
    before = _rid(f)
    assert _rid(f) == before  # same content, same id
    topo = tmp_path / "fabric.yaml"
    topo.write_text(topo.read_text() + "\n# an edit that only changes bytes\n")
    after_topo = _rid(f)
    assert after_topo != before
    w = tmp_path / "w.csv"
    w.write_text(w.read_text().replace("0,20,50", "0,21,50"))
    assert _rid(f) not in (before, after_topo)


def test_a_saved_model_is_keyed_by_its_bytes(tmp_path: Path) -> None:
    model = tmp_path / "model.zip"
    model.write_bytes(b"one")
    loaded = load_scenario(_scenario(tmp_path, weather=False))
    a = input_digests(loaded, f"ppo:{model}")["agent"]
    model.write_bytes(b"two")
    assert input_digests(loaded, f"ppo:{model}")["agent"] != a


def test_resume_does_not_reuse_a_run_whose_input_file_changed(tmp_path: Path) -> None:
    from dcsim.runner import run_and_write

    f = _scenario(tmp_path, weather=False)
    first = run_and_write(load_scenario(f), tmp_path / "runs", steps=2, plot=False)
    again = run_and_write(load_scenario(f), tmp_path / "runs", steps=2, plot=False, resume=True)
    assert again.reused and again.run_id == first.run_id
    topo = tmp_path / "fabric.yaml"
    topo.write_text(topo.read_text() + "\n# edited\n")
    edited = run_and_write(load_scenario(f), tmp_path / "runs", steps=2, plot=False, resume=True)
    assert not edited.reused and edited.run_id != first.run_id
