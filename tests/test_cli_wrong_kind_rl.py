"""A wrong kind of file given to the RL commands says what it is and which command takes it (issue 19.2)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dcsim.cli import app

FILES = [
    ("scenarios/sweeps/codesign.yaml", "sweep", "dcsim sweep"),
    ("topologies/leaf_spine_small.yaml", "fabric", "dcsim topology show"),
    ("dcsim/data/hardware/h100-sxm.yaml", "hardware profile", "dcsim hardware"),
]


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--timesteps", "8"],
        ["evaluate", "--agent", "random", "-n", "1"],
        ["compare", "-n", "1"],
    ],
)
@pytest.mark.parametrize(("path", "kind", "command"), FILES)
def test_rl_command_on_a_wrong_kind_of_file(tmp_path, argv, path, kind, command):
    res = CliRunner().invoke(
        app,
        [argv[0], path, *argv[1:], *(["--out", str(tmp_path)] if argv[0] != "evaluate" else [])],
    )
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "not a scenario or task file" in text and kind in text and command in text, text
    assert "unknown field" not in text and "Traceback" not in text


TOPOLOGY_READERS = [
    ["topology", "show", "{path}"],
    ["collective", "-t", "{path}"],
    ["run", "--steps", "2", "--set", "cluster.topology={path}"],
]
NOT_FABRICS = [
    ("scenarios/default.yaml", "scenario", "dcsim run"),
    ("scenarios/tasks/cooling.yaml", "RL task file", "dcsim train"),
    ("scenarios/sweeps/codesign.yaml", "sweep", "dcsim sweep"),
    ("dcsim/data/hardware/h100-sxm.yaml", "hardware profile", "dcsim hardware"),
]


@pytest.mark.parametrize("argv", TOPOLOGY_READERS)
@pytest.mark.parametrize(("path", "kind", "command"), NOT_FABRICS)
def test_a_wrong_kind_of_file_given_as_a_fabric(tmp_path, argv, path, kind, command):
    """Was "field 'kind': missing field": now says what the file is and which command takes it."""
    args = [a.format(path=path) for a in argv]
    res = CliRunner().invoke(app, [*args, *(["--out", str(tmp_path)] if args[0] == "run" else [])])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "not a topology file" in text and kind in text and command in text, text
    assert "missing field" not in text and "Traceback" not in text


def test_a_topology_without_kind_still_names_the_missing_field(tmp_path):
    bad = tmp_path / "fabric.yaml"
    bad.write_text("leaves: 4\nspines: 2\n")
    res = CliRunner().invoke(app, ["topology", "show", str(bad)])
    assert res.exit_code == 2 and "kind" in res.output and "not a topology" not in res.output
