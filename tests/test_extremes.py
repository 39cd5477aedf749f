"""Extreme but valid inputs give finite, physically sensible results or a clear error (issue 8.2)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dcsim.config import load_scenario
from dcsim.errors import InputError
from dcsim.sim import Simulation, summarize
from tests.conftest import SMALL


def sim_of(**over) -> Simulation:
    o = dict(SMALL)
    o.update(over)
    return Simulation(load_scenario(None, o))


def run(sim: Simulation, n: int = 10):
    recs = [sim.step() for _ in range(n)]
    s = summarize(recs, sim)
    for r in recs:
        for k, v in r.as_row().items():
            assert math.isfinite(v), (k, v)
        assert r.pue >= 1.0
        assert r.it_w > 0
    for k, v in s.items():
        if k in ("mfu_source", "routing"):  # the summary's only text fields
            assert isinstance(v, str) and v, (k, v)
        elif k == "energy_per_token_j" and s["tokens"] == 0:
            assert v is None  # undefined, not energy over a floor
        else:
            assert math.isfinite(v), (k, v)
    return recs, s


def const_weather(tmp_path: Path, t_c: float, rh: float) -> dict:
    p = tmp_path / f"weather_{t_c:g}.csv"
    p.write_text("time_s,dry_bulb_c,rh\n" + "".join(f"{h * 3600},{t_c},{rh}\n" for h in range(25)))
    return {"climate.weather.source": "file", "climate.weather.path": str(p)}


def test_zero_load():
    _, s = run(sim_of(**{"workload.active_fraction": 0.0}))
    assert s["mean_tokens_per_s"] == 0.0 and s["it_energy_kwh"] > 0  # idle servers still draw power
    assert s["energy_per_token_j"] is None  # issue 14.4: was ~1e16 J (energy over a 1e-9 floor)


def test_full_load():
    recs, s = run(sim_of(**{"workload.active_fraction": 1.0}))
    assert s["mean_tokens_per_s"] > 0
    sim = sim_of()
    assert recs[-1].accel_w <= sim.n_dev * sim.profile.tdp_w + 1e-6


def test_50c_outdoor(tmp_path):
    hot, s_hot = run(sim_of(**const_weather(tmp_path, 50.0, 0.2)), 30)
    mild, s_mild = run(sim_of(**const_weather(tmp_path, 20.0, 0.5)), 30)
    assert s_hot["pue"] > s_mild["pue"]
    assert s_hot["cooling_energy_kwh"] > s_mild["cooling_energy_kwh"]


def test_minus_30c_outdoor(tmp_path):
    recs, s = run(sim_of(**const_weather(tmp_path, -30.0, 0.7)), 30)
    assert 1.0 <= s["pue"] < 1.3  # free cooling: no compressor work needed
    assert all(
        r.extra.get("cooling_chiller_w", 0.0) == pytest.approx(0.0, abs=1.0) for r in recs[5:]
    )


def test_one_accelerator():
    sim = sim_of(
        **{
            "cluster.servers": 1,
            "cluster.accelerators_per_server": 1,
            "cluster.servers_per_rack": 1,
            "workload.tensor_parallel": 1,
            "workload.allow_memory_overflow": True,  # 70B on one GPU: ~1.2 TB
        }
    )
    assert sim.n_dev == 1
    recs, s = run(sim)
    assert s["mean_tokens_per_s"] > 0
    assert recs[-1].exposed_comm_s == 0.0  # nothing to all-reduce with


def test_100k_accelerators():
    topo = {
        "kind": "leaf_spine",
        "leaves": 1563,
        "spines": 32,
        "hosts_per_leaf": 64,
        "host_link_gbps": 400,
        "oversubscription": 2.0,
    }
    sim = sim_of(
        **{"cluster.servers": 12500, "cluster.servers_per_rack": 2, "cluster.topology": topo}
    )
    assert sim.n_dev == 100_000
    _, s = run(sim, 3)
    assert s["it_energy_kwh"] > 0


def test_all_spine_links_failed_but_one():
    base = {
        "kind": "leaf_spine",
        "leaves": 16,
        "spines": 8,
        "hosts_per_leaf": 16,
        "host_link_gbps": 400,
        "oversubscription": 1.0,
    }
    failed = dict(
        base, failures={"links": [f"leaf{i}-spine{j}" for i in range(16) for j in range(1, 8)]}
    )
    healthy_sim = sim_of(**{"cluster.servers": 32, "cluster.topology": base})
    failed_sim = sim_of(**{"cluster.servers": 32, "cluster.topology": failed})
    assert failed_sim.comm_time("ecmp") > healthy_sim.comm_time("ecmp")
    run(failed_sim, 3)


def test_disconnected_fabric_is_a_clear_error():
    topo = {
        "kind": "leaf_spine",
        "leaves": 4,
        "spines": 2,
        "hosts_per_leaf": 16,
        "host_link_gbps": 400,
        "failures": {"links": [f"leaf0-spine{j}" for j in range(2)]},
    }
    with pytest.raises(InputError) as err:
        sim_of(**{"cluster.topology": topo})  # refused when built, not at the first step
    assert "failures.links" in str(err.value) and "disconnect" in str(err.value)


def test_disconnected_topology_file_names_the_file_and_field(tmp_path):
    """Issue 14.4/14.11: `topology show` of a cut fabric exited 0, and `run` with it said only
    `field 'failures'`; both now name the file and `failures.links`, exit 2."""
    from typer.testing import CliRunner

    from dcsim.cli import app

    f = tmp_path / "cut.yaml"
    f.write_text(
        "kind: leaf_spine\nleaves: 4\nspines: 2\nhosts_per_leaf: 16\nhost_link_gbps: 400\n"
        "failures: {links: [leaf0-spine0, leaf0-spine1]}\n"
    )
    for argv in (
        ["topology", "show", str(f)],
        ["collective", "--topology", str(f)],
        ["run", "--set", f"cluster.topology={f}", "--steps", "1", "--out", str(tmp_path)],
    ):
        res = CliRunner().invoke(app, argv)
        assert res.exit_code == 2, (argv, res.output)
        assert f"{f}: field 'failures.links'" in res.output, (argv, res.output)
        assert "h0 cannot reach h16 (16 of 64 hosts cut off)" in res.output, res.output


def test_extreme_setpoints_clip_not_crash():
    from dcsim.sim import Controls

    sim = sim_of()
    for c in (Controls(supply_air_c=-50, cap_frac=-3), Controls(supply_air_c=80, cap_frac=9)):
        r = sim.step(c)
        assert np.isfinite(r.pue)
