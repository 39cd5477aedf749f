"""The CLI is glue: option defaults come from the models, one InputError handler, literal messages."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from dcsim.cli import Default, app

runner = CliRunner()


def commands(group=None, prefix=()):
    """(command path, click command) for every leaf command of the app."""
    group = group or typer.main.get_command(app)
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def cli_default(path: tuple[str, ...], param: str):
    cmd = dict(commands())[path]
    (p,) = [p for p in cmd.params if p.name == param]
    return p.default() if callable(p.default) else p.default


def sig(fn):
    return {k: v.default for k, v in inspect.signature(fn).parameters.items()}


def field(model, name):
    return model.model_fields[name].default


def expected_defaults():
    """(command path, option) -> the default of the model or library call that owns it."""
    from dcsim.climate import CarbonConfig, WeatherConfig
    from dcsim.cooling import DEFAULT_LIQUID_FRACTION, CoolingConfig, simulate_period
    from dcsim.evaluation import compare, evaluate
    from dcsim.network import collective_time
    from dcsim.network.api import DEFAULT_TOPOLOGY
    from dcsim.polca import SWEEP_MAX_EXTRA_PCT, SWEEP_STEP_PCT, RowConfig
    from dcsim.rl import DEFAULT_TIMESTEPS
    from dcsim.runner import run_scenario
    from dcsim.sweep import run_sweep
    from dcsim.training import train
    from dcsim.validate import validate_file
    from dcsim.viz.sweep import plot_path

    coll, period, tr = sig(collective_time), sig(simulate_period), sig(train)
    polca = ("reproduce", "polca")
    year, cmp_ = ("cooling", "year"), ("cooling", "compare")
    return {
        # None: the scenario kind's agent (fixed; multitenant: the scenario's `agent`)
        (("run",), "agent"): sig(run_scenario)["agent"],
        (("validate",), "kind"): sig(validate_file)["kind"],
        (("sweep",), "executor"): sig(run_sweep)["executor"],
        (("sweep",), "out"): sig(run_sweep)["out"],
        (("plot",), "x"): sig(plot_path)["x"],
        (("plot",), "y"): sig(plot_path)["y"],
        (("collective",), "topology"): DEFAULT_TOPOLOGY,
        (("collective",), "collective"): coll["collective"],
        (("collective",), "algorithm"): coll["algorithm"],
        (("collective",), "routing"): coll["routing"],
        (("collective",), "seed"): coll["seed"],
        (polca, "seed"): field(RowConfig, "seed"),
        (polca, "servers"): field(RowConfig, "baseline_servers"),
        (polca, "hours"): field(RowConfig, "horizon_s") / 3600.0,
        (polca, "mean_load"): field(RowConfig, "mean_load"),
        (polca, "hp_fraction"): field(RowConfig, "high_priority_fraction"),
        (polca, "cap_delay"): field(RowConfig, "cap_delay_max_s"),
        (polca, "hardware"): field(RowConfig, "hardware"),
        (polca, "model"): field(RowConfig, "model"),
        (polca, "max_extra"): SWEEP_MAX_EXTRA_PCT,
        (polca, "step"): SWEEP_STEP_PCT,
        (year, "climate"): field(WeatherConfig, "preset"),
        (year, "country"): field(CarbonConfig, "country"),
        (year, "cooling_type"): field(CoolingConfig, "type"),
        (year, "supply_air"): field(CoolingConfig, "supply_air_setpoint_c"),
        (year, "economizer"): field(CoolingConfig, "economizer"),
        (year, "liquid_fraction"): DEFAULT_LIQUID_FRACTION,
        (year, "racks"): period["n_racks"],
        (year, "rack_kw"): period["rack_kw"],
        (year, "load"): period["load"],
        (year, "days"): period["days"],
        (year, "seed"): period["seed"],
        (cmp_, "rack_kw"): period["rack_kw"],
        (cmp_, "load"): period["load"],
        (cmp_, "days"): period["days"],
        (("train",), "algo"): tr["algo"],
        (("train",), "seed"): tr["seed"],
        (("train",), "n_envs"): tr["n_envs"],
        (("train",), "checkpoint_every"): tr["checkpoint_every"],
        (("train",), "out"): tr["out"],
        (("train",), "timesteps"): DEFAULT_TIMESTEPS,
        (("evaluate",), "episodes"): sig(evaluate)["episodes"],
        (("evaluate",), "seed"): sig(evaluate)["seed"],
        (("compare",), "seeds"): sig(compare)["seeds"],
        (("compare",), "seed"): sig(compare)["seed"],
    }


@pytest.mark.parametrize("key", sorted(expected_defaults(), key=str))
def test_option_default_equals_model_default(key):
    path, param = key
    assert cli_default(path, param) == expected_defaults()[key]


def test_collective_size_default_is_collective_time_default():
    from dcsim.network import collective_time, parse_size

    size = cli_default(("collective",), "size")
    assert parse_size(size) == sig(collective_time)["size_bytes"]


def test_no_option_restates_a_default():
    """Every option default is read from its owner (Default), or is 'unset' (None/False/'')."""
    restated = []
    for path, cmd in commands():
        for p in cmd.params:
            d = p.default
            if isinstance(d, Default) or d is None or d is False or d == "" or p.required:
                continue
            restated.append((" ".join(path), p.name, d))
    assert not restated, restated


def test_defaults_show_in_help():
    res = runner.invoke(app, ["collective", "--help"])
    assert res.exit_code == 0
    assert "1GiB" in res.stdout and "leaf_spine_small" in res.stdout


def test_one_input_error_handler():
    import dcsim.cli as cli

    src = Path(cli.__file__).read_text()
    assert src.count("except InputError") == 2  # DcsimGroup + re-labelling in parse_overrides
    assert "user_errors" not in src


def assert_literal_error(res, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    text = " ".join(res.stderr.split())
    assert text.startswith("error:"), text
    for n in needles:
        assert n in text, (n, text)


def test_markup_in_yaml_value_prints_literally(tmp_path):
    """A value like "[/x]" would be a rich closing tag: printed as markup it crashes or vanishes."""
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"cluster": {"hardware": "[/x]"}}))
    res = runner.invoke(app, ["run", str(p), "--steps", "1", "--out", str(tmp_path / "o")])
    assert_literal_error(res, str(p), "cluster.hardware", "[/x]")
    res = runner.invoke(app, ["validate", str(p)])
    assert_literal_error(res, str(p), "cluster.hardware", "[/x]")


def test_markup_in_subcommand_option_prints_literally():
    res = runner.invoke(app, ["cooling", "year", "--days", "1", "--climate", "[bold]x[/bold]"])
    assert_literal_error(res, "[bold]x[/bold]")


def test_install_hint_keeps_its_extras(monkeypatch):
    """Issue 19: rich markup ate `[rl]`, printing `pip install -e '.'`."""
    import dcsim.climate
    from dcsim.errors import InputError

    def missing(*_a, **_k):
        raise InputError(
            "stable-baselines3 is not installed; install the extra: pip install -e '.[rl]'"
        )

    monkeypatch.setattr(dcsim.climate, "presets", missing)
    res = runner.invoke(app, ["cooling", "presets"])
    assert_literal_error(res, "pip install -e '.[rl]'")


def test_install_hint_is_the_right_command_for_the_install(tmp_path, monkeypatch):
    """Issue 19.5: a source checkout gets `pip install -e '<checkout>[rl]'`; an installed wheel
    (no pyproject.toml beside the package) gets the extra's own requirements, so the command
    works from any directory and never fetches another package called dcsim."""
    import sys
    from pathlib import Path

    from dcsim.agents.sb3 import _algo_class

    from dcsim.errors import InputError
    from dcsim.resources import install_hint

    root = Path(__file__).resolve().parents[1]
    assert install_hint("rl") == f"pip install -e '{root}[rl]'"
    assert install_hint("dask", root=tmp_path) == "pip install 'dask[distributed]>=2024.1'"
    wheel_rl = install_hint("rl", root=tmp_path)
    assert wheel_rl == "pip install 'stable-baselines3>=2.3' 'sb3-contrib>=2.3' 'tensorboard>=2.14'"
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # not installed
    with pytest.raises(InputError) as e:
        _algo_class("ppo")
    assert install_hint("rl") in str(e.value)


def test_version():
    from importlib.metadata import version

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == f"dcsim {version('dcsim')}"


def test_markup_in_scenario_name_prints_literally(tmp_path):
    """User data in tables and progress labels is never parsed as rich markup."""
    p = tmp_path / "lab.yaml"
    p.write_text(yaml.safe_dump({"name": "[/x] lab [rl]", "cluster": {"servers": 8}}))
    res = runner.invoke(
        app, ["run", str(p), "--steps", "2", "--no-plot", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert "[/x] lab [rl]" in res.stdout
