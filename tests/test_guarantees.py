"""The README's guarantees: core without torch, contained outputs, sweeps survive SIGKILL, sweep YAML fuzz."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.results import contained, safe_name
from dcsim.runner import PROGRESS_FD_ENV
from dcsim.sweep import read_index
from tests.test_fuzz_inputs import assert_ok_or_clean, dump, mutated

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_core_runs_without_torch_or_sb3(tmp_path):
    """The core installs and runs without the rl extra: block torch and SB3 imports outright."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'stable_baselines3'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from dcsim.cli import app\n"
        f"app(['run', '--steps', '3', '--set', 'cluster.servers=2', '--set', 'workload.allow_memory_overflow=true', '--json', '--no-plot', '--out', {str(tmp_path)!r}])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["summary"]["pue"] >= 1.0


def test_outputs_stay_inside_the_output_directory(tmp_path):
    assert "/" not in safe_name("../../etc/passwd") and ".." not in safe_name("../..")
    try:
        contained(tmp_path, "..", "escape")
    except Exception as exc:  # InputError
        assert "escapes" in str(exc)
    else:
        raise AssertionError("contained() let a path escape")
    res = runner.invoke(
        app,
        [
            "run",
            "--set",
            "name=../../escape",
            "--set",
            "cluster.servers=2",
            "--set",
            "workload.allow_memory_overflow=true",  # 70B on DP 2 needs ~99 GB per H100
            "--steps",
            "2",
            "--no-plot",
            "--json",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert res.exit_code == 0, res.output
    run_dir = Path(json.loads(res.stdout)["run_dir"])
    assert (tmp_path / "out").resolve() in run_dir.parents


def test_a_planted_symlink_cannot_send_sweep_runs_outside_the_output_directory(tmp_path):
    """Issue 14.8: OUT/<name>/runs -> elsewhere used to receive every run (and its cleanup)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".keep.partial-999999999@x-1").mkdir()  # cleanup must not reach it either
    out = tmp_path / "out"
    (out / "killme").mkdir(parents=True)
    (out / "killme" / "runs").symlink_to(elsewhere)
    res = runner.invoke(app, ["sweep", str(sweep_file(tmp_path, 1)), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "escapes the output directory" in res.output and "Traceback" not in res.output
    assert [p.name for p in elsewhere.iterdir()] == [".keep.partial-999999999@x-1"]


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_result_files_follow_the_umask(tmp_path, umask):
    """Issue 14.11: files written through temp files (mkstemp: 0600) came out unreadable to
    the group and others whatever the umask; now every result file is 0666 & ~umask."""
    old = os.umask(umask)
    try:
        res = runner.invoke(
            app, ["run", "--steps", "2", "--no-plot", "--json", "--out", str(tmp_path / "r")]
        )
        assert res.exit_code == 0, res.output
        res = runner.invoke(
            app, ["sweep", str(sweep_file(tmp_path, 1)), "--out", str(tmp_path / "s")]
        )
        assert res.exit_code == 0, res.output
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "sweep.yaml"]
    assert len(files) >= 10
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p
    for p in tmp_path.rglob("*"):
        if p.is_dir():
            assert p.stat().st_mode & 0o777 == 0o777 & ~umask, p


def sweep_file(tmp_path: Path, n: int) -> Path:
    spec = {
        "name": "killme",
        "base": str(ROOT / "scenarios" / "sweeps" / "training_base.yaml"),
        "method": "grid",
        "parameters": {"cooling.supply_air_setpoint_c": [18 + 0.5 * i for i in range(n)]},
        "steps": 48,
    }
    p = tmp_path / "sweep.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


def index_rows(out: Path) -> list[dict]:
    """One row per run (index.csv is appended as runs finish; a run's last row wins)."""
    return read_index(out / "killme")


def test_sweep_killed_with_sigkill_resumes_only_missing_runs(tmp_path):
    sweep = sweep_file(tmp_path, 12)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-c",
        "from dcsim.cli import app; app()",
        "sweep",
        str(sweep),
        "--out",
        str(out),
        "--json",
    ]
    # The sweep writes `run K` to this pipe once K runs are done (dcsim.runner.progress_line).
    rd, wr = os.pipe()
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, PROGRESS_FD_ENV: str(wr)},
        pass_fds=(wr,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(wr)  # the child holds the only write end: EOF when it exits
    with os.fdopen(rd, "rb") as progress:
        if b"run 2\n" not in iter(progress.readline, b""):
            proc.wait(timeout=30)
            raise AssertionError(f"sweep ended before 2 runs were done: {proc.stderr.read()!r}")
        assert proc.poll() is None, "sweep finished before it could be killed; make runs longer"
        assert sum(r["status"] == "complete" for r in index_rows(out)) >= 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    runs_dir = out / "killme" / "runs"
    finished = {
        p.name: (p / "summary.json").read_bytes()
        for p in runs_dir.iterdir()
        if not p.name.startswith(".")
    }
    assert 2 <= len(finished) < 12
    for p in runs_dir.iterdir():
        if not p.name.startswith("."):
            assert json.loads((p / "manifest.json").read_text())["status"] == "complete"
    res = subprocess.run([*cmd, "--resume"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows = index_rows(out)
    assert len(rows) == 12 and all(r["status"] == "complete" for r in rows)
    assert sum(int(r["reused"]) for r in rows) == len(finished)
    for name, data in finished.items():  # completed runs untouched
        assert (runs_dir / name / "summary.json").read_bytes() == data
    assert not [p for p in runs_dir.iterdir() if p.name.startswith(".")]


SWEEP = yaml.safe_load((ROOT / "scenarios" / "sweeps" / "batch_zip.yaml").read_text())
SWEEP["base"] = str(ROOT / "scenarios" / "sweeps" / "training_base.yaml")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=mutated(SWEEP))
def test_fuzz_sweep_validate(tmp_path_factory, data):
    p = dump(tmp_path_factory.mktemp("fz"), "sweep.yaml", data)
    assert_ok_or_clean(runner.invoke(app, ["validate", str(p), "--kind", "sweep"]))
    assert_ok_or_clean(
        runner.invoke(app, ["sweep", str(p), "--dry-run", "--out", str(p.parent / "o")])
    )
