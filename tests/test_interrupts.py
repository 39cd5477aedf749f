"""Killing `dcsim run` midway loses nothing complete and leaves nothing half-written (issue 8.3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--set", "cluster.servers=4", "--set", "cluster.servers_per_rack=2", "--no-plot", "--json"]


def start_run(out: Path, steps: int) -> subprocess.Popen:
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
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_partial(out: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if list(out.glob("default/.*.partial-*")):
            time.sleep(0.5)  # let it get well into the run
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be interrupted: {proc.stderr.read().decode()}")
        time.sleep(0.05)
    pytest.fail("run never started writing")


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

    proc = start_run(out, steps=200_000)
    wait_for_partial(out, proc)
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
