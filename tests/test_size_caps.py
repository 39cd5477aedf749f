"""Sizes that would exhaust memory end in exit 2 with a message, not a MemoryError traceback
(issue 14.10)."""

from __future__ import annotations

from pathlib import Path

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
