"""Sweep worker processes: a killed worker fails only its own run; workers die with the sweep.

Synchronisation is on events, not sleeps: the kill is a test hook inside the worker
(DCSIM_TEST_KILL_RUN) and the parent is killed once the sweep reports its first finished run
on the DCSIM_PROGRESS_FD pipe. Only the check that orphans are gone polls, with a bound.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.sweep import KILL_RUN_ENV, plan_sweep


def _sweep(tmp_path: Path, n: int, steps: int) -> Path:
    f = tmp_path / "sweep.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "name": "workers",
                "parameters": {"cooling.supply_air_setpoint_c": [18 + i for i in range(n)]},
                "steps": steps,
            }
        )
    )
    return f


def test_a_killed_worker_fails_only_its_own_run(tmp_path: Path, monkeypatch) -> None:
    f = _sweep(tmp_path, 4, 2)
    victim = plan_sweep(f).runs[1].run_id
    monkeypatch.setenv(KILL_RUN_ENV, victim)  # spawned workers inherit the environment
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["sweep", str(f), "--executor", "local", "--workers", "2", "--out", str(out)]
    )
    assert res.exit_code in (0, 1), res.output
    rows = list(csv.DictReader((out / "workers" / "index.csv").open()))
    status = {r["run_id"]: r["status"] for r in rows}
    assert len(status) == 4
    assert status.pop(victim) == "failed"
    assert set(status.values()) == {"complete"}


def _children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        kids |= {int(x) for x in text.split()}
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def test_workers_die_with_the_sweep_process(tmp_path: Path) -> None:
    if not Path("/proc/self/task").is_dir():
        import pytest

        pytest.skip("needs /proc")
    f = _sweep(tmp_path, 6, 600)
    r, w = os.pipe()
    env = dict(os.environ, DCSIM_PROGRESS_FD=str(w))
    cmd = [sys.executable, "-c", "from dcsim.cli import app; app()", "sweep", str(f)]
    cmd += ["--executor", "local", "--workers", "2", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(
        cmd, env=env, pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    os.close(w)
    with os.fdopen(r) as progress:
        line = progress.readline()  # blocks until the first run has finished
    assert line.startswith("run"), line
    kids = {k for k in _children(proc.pid) if _alive(k)}
    assert kids, "the sweep should have worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [k for k in kids if _alive(k)], "orphaned sweep workers"


def test_training_env_workers_die_with_the_train_process(tmp_path: Path) -> None:
    """Issue 14.6: `kill -9` of `dcsim train --n-envs 2` left both SubprocVecEnv workers
    running forever (reparented to init)."""
    if not Path("/proc/self/task").is_dir():
        import pytest

        pytest.skip("needs /proc")
    task = Path(__file__).resolve().parents[1] / "scenarios" / "tasks" / "placement.yaml"
    cmd = [sys.executable, "-c", "from dcsim.cli import app; app()", "train", str(task)]
    cmd += ["--timesteps", "100000000", "--n-envs", "2", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120  # torch import and the envs' start on a busy machine
    kids: set[int] = set()
    while len(kids) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
        kids = {k for k in _children(proc.pid) if _alive(k)}
    assert len(kids) == 2, f"no env workers: {proc.stderr.read() if proc.poll() else ''}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    orphans = [k for k in kids if _alive(k)]
    for k in orphans:  # do not leave them behind when the test fails
        os.kill(k, signal.SIGKILL)
    assert not orphans, "orphaned training env workers"


def test_ctrl_c_of_a_local_sweep_keeps_finished_runs_without_worker_tracebacks(
    tmp_path: Path,
) -> None:
    """Issue 14.6: a terminal's Ctrl-C reaches the whole process group; the sweep must stop,
    keep its finished runs and exit 130 with one message, not a KeyboardInterrupt traceback
    from every worker."""
    # 3 runs on 2 workers: once 2 are done, one worker computes the third and the other
    # waits for work (where SIGINT printed its traceback)
    f = _sweep(tmp_path, 3, 1500)
    r, w = os.pipe()
    env = dict(os.environ, DCSIM_PROGRESS_FD=str(w))
    cmd = [sys.executable, "-c", "from dcsim.cli import app; app()", "sweep", str(f)]
    cmd += ["--executor", "local", "--workers", "2", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(
        cmd,
        env=env,
        pass_fds=(w,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group, so the signal reaches only the sweep
    )
    os.close(w)
    with os.fdopen(r) as progress:
        lines = [progress.readline(), progress.readline()]  # blocks until 2 runs are done
    assert lines == ["run 1\n", "run 2\n"], lines
    kids = {k for k in _children(proc.pid) if _alive(k)}
    os.killpg(proc.pid, signal.SIGINT)
    err = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "finished runs are kept" in err
    rows = list(csv.DictReader((tmp_path / "out" / "workers" / "index.csv").open()))
    assert sum(r["status"] == "complete" for r in rows) == 2
    deadline = time.monotonic() + 20
    while any(_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [k for k in kids if _alive(k)], "orphaned sweep workers"
