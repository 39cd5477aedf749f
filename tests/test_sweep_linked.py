"""Linked sweep parameters (issue 18.4): a group of parameters that vary together is one axis
of the grid, validated (equal lengths, each parameter once) before anything is planned."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.errors import InputError
from dcsim.sweep import count_points, expand_points, load_sweep, plan_sweep, run_sweep
from dcsim.viz.sweep import load_sweep_table

runner = CliRunner()
GROUP = {
    "cluster.hardware": ["B200", "H200"],
    "cooling.type": ["air", "liquid"],
    "cluster.servers_per_rack": [4, 8],
}
TUPLES = {("B200", "air", 4), ("H200", "liquid", 8)}


def write(tmp_path, **spec):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"name": "lk", "steps": 2, **spec}, sort_keys=False))
    return p


def tuples(points):
    return {
        (p["cluster.hardware"], p["cooling.type"], p["cluster.servers_per_rack"]) for p in points
    }


def test_a_linked_group_is_one_axis_of_the_grid(tmp_path):
    spec = load_sweep(
        write(
            tmp_path,
            parameters={"climate.weather.preset": ["temperate", "hot-dry", "cold"]},
            linked=[GROUP],
        )
    )
    pts = expand_points(spec)
    assert count_points(spec) == len(pts) == 3 * 2  # not 3 x 2 x 2 x 2 = 24
    assert tuples(pts) == TUPLES
    assert len({tuple(p.values()) for p in pts}) == 6
    assert list(pts[0]) == spec.keys() == ["climate.weather.preset", *GROUP]


def test_two_groups_cross_and_zip_walks_alongside(tmp_path):
    other = {"workload.overlap": [0.0, 0.5, 1.0], "power.cap_frac": [1.0, 0.9, 0.8]}
    grid = load_sweep(write(tmp_path, linked=[GROUP, other]))
    assert count_points(grid) == len(expand_points(grid)) == 6
    z = load_sweep(
        write(
            tmp_path,
            method="zip",
            parameters={"climate.weather.preset": ["cold", "hot-dry"]},
            linked=[GROUP],
        )
    )
    pts = expand_points(z)
    assert count_points(z) == len(pts) == 2
    assert [(p["climate.weather.preset"], p["cluster.hardware"]) for p in pts] == [
        ("cold", "B200"),
        ("hot-dry", "H200"),
    ]
    with pytest.raises(InputError, match="zip needs equally long"):
        load_sweep(write(tmp_path, method="zip", linked=[GROUP, other]))


def test_random_draws_a_group_together(tmp_path):
    spec = load_sweep(
        write(
            tmp_path,
            method="random",
            samples=40,
            parameters={"workload.overlap": {"min": 0.0, "max": 1.0}},
            linked=[GROUP],
        )
    )
    pts = expand_points(spec)
    assert len(pts) == count_points(spec) == 40
    assert tuples(pts) == TUPLES  # never B200 with liquid/8 or H200 with air/4


@pytest.mark.parametrize(
    ("linked", "params", "field", "msg"),
    [
        (
            [{**GROUP, "cooling.type": ["air", "liquid", "air"]}],
            {},
            "linked.0",
            "cooling.type has 3",
        ),
        ([{"cluster.hardware": ["B200"]}], {}, "linked.0", "at least two parameters"),
        ([GROUP], {"cooling.type": ["air"]}, "", "linked.0.cooling.type: also under parameters"),
        (
            [GROUP, {"cooling.type": ["air"], "power.cap_frac": [1.0]}],
            {},
            "linked",
            "two linked groups",
        ),
        (
            [{"cluster.hardware": ["B200", "H200"], "workload.overlap": {"min": 0, "max": 1}}],
            {},
            "linked.0",
            "needs num",
        ),
    ],
)
def test_bad_groups_are_refused_with_their_field(tmp_path, linked, params, field, msg):
    with pytest.raises(InputError) as e:
        load_sweep(write(tmp_path, linked=linked, parameters=params))
    assert msg in str(e.value)
    if field:
        assert e.value.field == field


def test_a_command_line_override_replaces_a_linked_value_list(tmp_path):
    p = write(tmp_path, linked=[GROUP])
    spec = load_sweep(p, ["cooling.type=liquid,liquid"])
    assert {pt["cooling.type"] for pt in expand_points(spec)} == {"liquid"}
    with pytest.raises(InputError) as e:
        load_sweep(p, ["cooling.type=air,liquid,liquid"])
    assert e.value.field == "linked.0"


def test_a_bad_linked_value_names_its_group_member(tmp_path):
    bad = {**GROUP, "cluster.servers_per_rack": [4, -8]}
    with pytest.raises(InputError) as e:
        plan_sweep(write(tmp_path, linked=[bad]), check_build=False)
    assert e.value.field == "linked.0.cluster.servers_per_rack"


def test_dry_run_lists_linked_columns_and_plot_labels_the_group(tmp_path):
    p = write(
        tmp_path, parameters={"climate.weather.preset": ["temperate", "hot-dry"]}, linked=[GROUP]
    )
    out = tmp_path / "out"
    res = runner.invoke(app, ["sweep", str(p), "--dry-run", "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["linked"] == [list(GROUP)] and plan["n_runs"] == 4
    assert plan["parameters"] == ["climate.weather.preset", *GROUP]
    run_sweep(plan_sweep(p), out)
    params, rows, order = load_sweep_table(out / "lk")
    key = "hardware + type + servers_per_rack"
    assert params == ["climate.weather.preset", key]
    assert order[key] == ["B200 / air / 4", "H200 / liquid / 8"]
    assert {r[key] for r in rows} == set(order[key])
    res = runner.invoke(app, ["plot", str(out / "lk")])
    assert res.exit_code == 0, res.output
