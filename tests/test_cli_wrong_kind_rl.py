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
