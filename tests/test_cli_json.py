"""Every `--json` output is strict JSON (RFC 8259): an undefined statistic is null, never NaN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcsim.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SWEEP = str(ROOT / "scenarios" / "sweeps" / "batch_zip.yaml")
SMALL = ["--set", "cluster.servers=8", "--set", "cluster.servers_per_rack=2"]


def strict_loads(text: str):
    def refuse(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def commands(tmp: Path) -> dict[str, list[str]]:
    task = str(ROOT / "scenarios" / "tasks" / "powercap.yaml")
    return {
        "hardware list": ["hardware", "list"],
        "hardware show": ["hardware", "show", "H100-SXM"],
        "run": ["run", *SMALL, "--steps", "3", "--no-plot", "--out", str(tmp / "runs")],
        "validate": ["validate", str(ROOT / "scenarios" / "default.yaml")],
        "cooling year": ["cooling", "year", "--days", "1"],
        "cooling compare": ["cooling", "compare", "--days", "1"],
        "cooling carbon": ["cooling", "carbon"],
        "cooling presets": ["cooling", "presets"],
        "sweep dry run": ["sweep", SWEEP, "--dry-run", "--out", str(tmp / "sw")],
        "sweep": ["sweep", SWEEP, "steps=2", "--out", str(tmp / "sw")],
        "reproduce polca": [
            *("reproduce", "polca", "--quick", "--servers", "10", "--max-extra", "20"),
            *("--step", "20", "--hours", "0.1"),
        ],
        "envs": ["envs"],
        "topology show": ["topology", "show", "leaf_spine_small"],
        "topology list": ["topology", "list"],
        "collective": ["collective", "-s", "64MiB"],
        # n = 1 episode: every 95% CI is undefined (was printed as NaN)
        "evaluate": ["evaluate", task, "--agent", "polca", "--episodes", "1", "--max-steps", "5"],
        "compare": [
            *("compare", task, "--agents", "polca,random", "--seeds", "1", "--max-steps", "5"),
            *("--no-plot", "--out", str(tmp / "cmp")),
        ],
    }


@pytest.mark.parametrize("name", list(commands(Path("."))))
def test_json_output_is_strict(name, tmp_path):
    res = runner.invoke(app, [*commands(tmp_path)[name], "--json"])
    assert res.exit_code == 0, res.output
    strict_loads(res.stdout)


def test_plot_json_is_strict(tmp_path):
    run = runner.invoke(app, ["run", *SMALL, "--steps", "3", "--out", str(tmp_path), "--json"])
    run_dir = strict_loads(run.stdout)["run_dir"]
    res = runner.invoke(app, ["plot", run_dir, "--json"])
    assert res.exit_code == 0, res.output
    strict_loads(res.stdout)


def test_undefined_ci_is_null():
    task = str(ROOT / "scenarios" / "tasks" / "powercap.yaml")
    res = runner.invoke(
        app, ["evaluate", task, "--agent", "polca", "-n", "1", "--max-steps", "5", "--json"]
    )
    stats = strict_loads(res.stdout)["stats"]
    assert stats and all(s["ci95"] is None and s["n"] == 1 for s in stats.values())


def test_train_json_is_strict(tmp_path):
    pytest.importorskip("stable_baselines3")
    task = str(ROOT / "scenarios" / "tasks" / "powercap.yaml")
    hp = ["--hp", "n_steps=16", "--hp", "batch_size=16"]
    res = runner.invoke(
        app, ["train", task, "--timesteps", "16", *hp, "--out", str(tmp_path), "--json"]
    )
    assert res.exit_code == 0, res.output
    strict_loads(res.stdout)
