"""Killing `dcsim run` midway loses nothing complete and leaves nothing half-written (issue 8.3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcsim.runner import PROGRESS_FD_ENV, progress_line

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--set", "cluster.servers=4", "--set", "cluster.servers_per_rack=2", "--no-plot", "--json"]


def start_run(out: Path, steps: int, progress_fd: int) -> subprocess.Popen:
    """`dcsim run` writing one `step K` line per completed step to progress_fd (dcsim.runner hook)."""
    cmd = [
        sys.executable,
        "-c",
        "from dcsim.cli import app; app()",
        "run",
        *ARGS,
        "--steps",
        str(steps),
        "--out",
        str(out),
    ]
    env = {**os.environ, PROGRESS_FD_ENV: str(progress_fd)}
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        pass_fds=(progress_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_line(lines: Iterator[bytes], want: bytes, proc: subprocess.Popen) -> None:
    """Block until the process reports `want` (no sleeping); fail if it exits first."""
    for line in lines:
        if line.strip() == want:
            return
    proc.wait(timeout=30)
    pytest.fail(f"process ended before reporting {want!r}: {proc.stderr.read().decode()}")


def final_dirs(out: Path) -> list[Path]:
    return (
        [p for p in (out / "default").iterdir() if not p.name.startswith(".")]
        if (out / "default").exists()
        else []
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_kill_run_midway_then_rerun(tmp_path, sig):
    out = tmp_path / "runs"
    # A completed run that must survive the killed one.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dcsim.cli import app; app()",
            "run",
            *ARGS,
            "--steps",
            "5",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    done_dir = Path(json.loads(done.stdout)["run_dir"])
    before = {p.name: p.read_bytes() for p in done_dir.iterdir()}

    r, w = os.pipe()
    proc = start_run(out, steps=200_000, progress_fd=w)
    os.close(w)  # the child holds the only write end: EOF when it exits
    with os.fdopen(r, "rb") as progress:
        wait_for_line(progress, b"step 50", proc)
        # Step 50 of 200,000 is done: the run is midway, writing into its temp folder.
        assert proc.poll() is None
        assert list(out.glob("default/.*.partial-*")), "a running run writes into a temp folder"
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
    assert proc.returncode != 0
    # Nothing half-written under a final name; the completed run is intact.
    assert final_dirs(out) == [done_dir]
    assert {p.name: p.read_bytes() for p in done_dir.iterdir()} == before
    if sig == signal.SIGINT:
        assert not list(out.glob("default/.*.partial-*")), "SIGINT must clean its temp folder"
    # Re-running completes, and clears the killed run's leftovers.
    again = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dcsim.cli import app; app()",
            "run",
            *ARGS,
            "--steps",
            "7",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(json.loads(again.stdout)["run_dir"]).is_dir()
    assert not list(out.glob("default/.*.partial-*"))


def test_progress_hook_is_off_unless_set(monkeypatch):
    """The kill tests' hook costs nothing when unset and writes whole lines when set."""
    monkeypatch.delenv(PROGRESS_FD_ENV, raising=False)
    assert progress_line() is None
    r, w = os.pipe()
    try:
        monkeypatch.setenv(PROGRESS_FD_ENV, str(w))
        report = progress_line()
        assert report is not None
        report("step 1")
        report("step 2")
        assert os.read(r, 100) == b"step 1\nstep 2\n"
    finally:
        os.close(r)
        os.close(w)
