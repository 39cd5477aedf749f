"""Tables at 80 columns in non-TTY output never cut an id or a name (issue 19.6): every id
cell appears whole and no line is wider than the terminal."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dcsim.cli import app

runner = CliRunner()  # stdout is not a TTY


def run80(*argv: str) -> str:
    res = runner.invoke(app, list(argv), env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    for line in res.stdout.splitlines():
        assert len(line) <= 80, line
    return res.stdout


def test_hardware_list():
    from dcsim.hardware import catalog

    out = run80("hardware", "list")
    for name in catalog():
        assert name in out


@pytest.mark.parametrize("name", ["GB200", "MI300X", "SN40L", "H100-SXM"])
def test_hardware_show_keeps_field_names_and_numbers(name):
    from dcsim.hardware import get_profile
    from dcsim.schema import Sourced, StrictModel

    out = run80("hardware", "show", name)

    def walk(obj, prefix):
        for fname in type(obj).model_fields:
            val = getattr(obj, fname)
            if isinstance(val, Sourced):
                assert prefix + fname in out and f"{val.value:g}" in out
                assert val.source.split()[0] in out  # its source is listed below the table
            elif isinstance(val, StrictModel):
                walk(val, prefix + fname + ".")

    walk(get_profile(name), "")


def test_topology_list():
    from dcsim.network.api import preset_summaries

    out = run80("topology", "list")
    for r in preset_summaries():
        assert r["file"] in out and r["kind"] in out


def test_envs_ids_are_not_split():
    from dcsim.envs import ENV_IDS, TASK_IDS

    out = run80("envs")
    for env_id in [*ENV_IDS, *TASK_IDS]:  # the task files' ids are listed too
        assert env_id in out


def test_sweep_dry_run_keeps_run_ids_and_topology_names(tmp_path):
    from dcsim.sweep import short

    argv = ["sweep", "scenarios/sweeps/codesign.yaml", "--dry-run", "--out", str(tmp_path)]
    plan = json.loads(runner.invoke(app, [*argv, "--json"]).stdout)
    out = run80(*argv)
    for r in plan["runs"]:
        assert r["run_id"] in out
        for v in r["params"].values():
            assert short(v) in out


def test_weather_presets_and_carbon():
    from dcsim.climate import grid_carbon_table, presets

    out = run80("cooling", "presets")
    for name in presets():
        assert f" {name} " in out
    out = run80("cooling", "carbon")
    for r in grid_carbon_table().values():
        assert f" {r['country']} " in out


def test_polca_headers_are_whole():
    out = run80("reproduce", "polca", "--quick")
    for header in ("peak%", "avg%", "nocap%", "capped%", "brakes", "HP50", "HP99", "LP50"):
        assert header in out, out


@pytest.mark.parametrize("n_agents", [2, 6])
def test_compare_table_keeps_agent_labels(n_agents):
    from dcsim.render import comparison_table

    labels = [f"ppo:ppo-{i:02d}abcdef12345" for i in range(n_agents)]
    metrics = ["return", "violation_steps", "row_power_frac_peak"]
    cells = [["-12,345 ± 1,234"] * n_agents for _ in metrics]
    buf = io.StringIO()
    Console(file=buf, width=80, force_terminal=False).print(
        comparison_table("t", metrics, labels, cells, 80)
    )
    text = buf.getvalue()
    for label in labels:
        assert label in text, text
    for m in metrics:
        assert m in text
    assert max(len(line) for line in text.splitlines()) <= 80
