"""Sizes that would exhaust memory end in exit 2 with a message, not a MemoryError traceback
(issue 14.10)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcsim.cli import app

TASKS = Path(__file__).resolve().parents[1] / "scenarios" / "tasks"


def test_placement_jobs_per_episode_are_capped():
    res = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(TASKS / "placement.yaml"),
            "--agent",
            "random",
            "--set",
            "n_jobs=100000000",
        ],
    )
    assert res.exit_code == 2, res.output
    assert "field 'n_jobs'" in res.output and "1000000" in res.output


def test_a_memory_error_is_a_clean_exit_2(monkeypatch):
    """The net under every command for sizes no field caps yet (e.g. an env's array of
    servers x time): one line naming the cause, exit 2."""
    import dcsim.runner

    def huge(*_a, **_k):
        raise MemoryError("Unable to allocate 3.87 TiB for an array")

    monkeypatch.setattr(dcsim.runner, "run_and_write", huge)
    res = CliRunner().invoke(app, ["run", "--steps", "1"])
    assert res.exit_code == 2, res.output
    assert "out of memory (Unable to allocate 3.87 TiB" in res.output
    assert "Traceback" not in res.output and not isinstance(res.exception, MemoryError)


@pytest.mark.parametrize(
    ("task", "setting", "field"),
    [
        ("cooling.yaml", "n_accelerators=100000000", "n_accelerators"),
        ("cooling.yaml", "episode_steps=5000000", "episode_steps"),
        ("cooling.yaml", "episode_steps=1000000", "episode_steps x racks"),
        ("powercap.yaml", "n_servers=10000000", "n_servers"),
        ("flowsplit.yaml", "episode_steps=100000000", "episode_steps"),
        ("codesign.yaml", "episode_steps=100000000", "episode_steps"),
    ],
)
def test_env_sizes_are_capped_with_the_field_named(task, setting, field):
    """Cooling-v0 racks x steps, PowerCap-v0 servers x seconds and every env's episode
    length are refused up front, naming the field, instead of exhausting memory."""
    res = CliRunner().invoke(
        app, ["evaluate", str(TASKS / task), "--agent", "random", "-n", "1", "--set", setting]
    )
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert field in text and "command line (--set" in text, text
    assert "out of memory" not in text and "Traceback" not in text


def test_polca_row_over_the_memory_cap_is_refused():
    res = CliRunner().invoke(app, ["reproduce", "polca", "--hours", "100000"])
    assert res.exit_code == 2, res.output
    assert "n_servers x horizon_s" in " ".join(res.output.split())
