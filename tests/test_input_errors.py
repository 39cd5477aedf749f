"""Bad YAML: file, field path and expectation on stderr, exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dcsim.cli import app

runner = CliRunner()


def write(tmp_path: Path, data, name: str = "bad.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def assert_clean_error(res, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    text = res.stderr if hasattr(res, "stderr") else res.output
    assert "Traceback" not in res.output
    for n in needles:
        assert n in " ".join(text.split()), (n, text)


CASES = [
    ({"cluster": {"servers": 4, "colour": "red"}}, "cluster.colour", "unknown field"),
    ({"cluster": {"servers": "many"}}, "cluster.servers", "valid integer"),
    ({"cluster": {"servers": -4}}, "cluster.servers", "greater than 0"),
    ({"cluster": {"hardware": "H999"}}, "cluster.hardware", "unknown hardware"),
    (
        {"cooling": {"supply_air_setpoint_c": "warm"}},
        "cooling.supply_air_setpoint_c",
        "valid number",
    ),
    ({"time": {"dt_s": 0}}, "time.dt_s", "greater than 0"),
    ({"workload": {"mfu": 1.5}}, "workload.mfu", "less than or equal to 1"),
    ({"climate": {"weather": {"preset": "martian"}}}, "climate", "martian"),
]


@pytest.mark.parametrize(("data", "field", "expect"), CASES)
def test_bad_scenario_run(tmp_path, data, field, expect):
    p = write(tmp_path, data)
    res = runner.invoke(app, ["run", str(p), "--steps", "1", "--out", str(tmp_path / "o")])
    assert_clean_error(res, str(p), field, expect)


@pytest.mark.parametrize(("data", "field", "expect"), CASES)
def test_bad_scenario_validate(tmp_path, data, field, expect):
    p = write(tmp_path, data)
    res = runner.invoke(app, ["validate", str(p), "--kind", "scenario"])
    assert_clean_error(res, str(p), field, expect)


def test_invalid_yaml_syntax(tmp_path):
    p = write(tmp_path, "cluster: {servers: 4\n  bad")
    res = runner.invoke(app, ["run", str(p), "--steps", "1"])
    assert_clean_error(res, str(p), "invalid YAML", "line")


def test_top_level_not_a_mapping(tmp_path):
    p = write(tmp_path, "- 1\n- 2\n")
    res = runner.invoke(app, ["run", str(p), "--steps", "1"])
    assert_clean_error(res, str(p), "mapping")


def test_missing_file(tmp_path):
    res = runner.invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert_clean_error(res, "nope.yaml", "file not found")


def test_bad_override(tmp_path):
    res = runner.invoke(
        app, ["run", "--set", "cluster.servers=-1", "--steps", "1", "--out", str(tmp_path)]
    )
    assert_clean_error(res, "cluster.servers", "greater than 0")


def test_safe_loader_only(tmp_path):
    p = write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    res = runner.invoke(app, ["validate", str(p)])
    assert_clean_error(res, str(p), "invalid YAML")


def test_cluster_bigger_than_fabric(tmp_path):
    p = write(tmp_path, {"cluster": {"servers": 100000}})
    res = runner.invoke(app, ["run", str(p), "--steps", "1"])
    assert_clean_error(res, "cluster.topology", "hosts")


SHIPPED = sorted(
    str(p.relative_to(Path(__file__).resolve().parents[1]))
    for pattern in (
        "scenarios/*.yaml",
        "scenarios/sweeps/*.yaml",
        "scenarios/tasks/*.yaml",
        "topologies/*.yaml",
        "dcsim/data/hardware/*.yaml",
    )
    for p in Path(__file__).resolve().parents[1].glob(pattern)
)


@pytest.mark.parametrize("path", SHIPPED)
def test_every_shipped_yaml_validates(path):
    root = Path(__file__).resolve().parents[1]
    res = runner.invoke(app, ["validate", str(root / path)])
    assert res.exit_code == 0, res.output


# ------------------------------------------------------------ seeds outside NumPy's range (issue 14)
@pytest.mark.parametrize("seed", ["4294967296", "99999999999999999999"])
def test_run_seed_out_of_range_is_exit_2(seed):
    from typer.testing import CliRunner

    from dcsim.cli import app

    res = CliRunner().invoke(app, ["run", "--seed", seed, "--steps", "2", "--json"])
    assert res.exit_code == 2, res.output
    assert "seed" in res.output and "2**32 - 1" in res.output
    assert "Traceback" not in res.output


def test_sweep_seeds_out_of_range_refused_at_planning(tmp_path):
    from dcsim.errors import InputError
    from dcsim.sweep import plan_sweep

    f = tmp_path / "s.yaml"
    f.write_text("name: s\nseeds: [0, 4294967296]\nparameters:\n  cluster.servers: [8]\n")
    with pytest.raises(InputError) as exc:
        plan_sweep(f)
    assert exc.value.field == "seeds" and "2**32 - 1" in exc.value.message


# ------------------------------------------------------------- output directories (issue 14)
@pytest.mark.parametrize("target", ["file", "/dev/null"])
def test_run_out_not_a_directory_is_exit_2(tmp_path, target):
    out = tmp_path / "afile" if target == "file" else Path(target)
    if target == "file":
        out.write_text("x")
    res = CliRunner().invoke(app, ["run", "--steps", "2", "--out", str(out), "--json"])
    assert res.exit_code == 2, res.output
    assert "field 'out'" in res.output and "Not a directory" in res.output
    assert "Traceback" not in res.output


def test_sweep_out_a_file_is_exit_2(tmp_path):
    out = tmp_path / "afile"
    out.write_text("x")
    res = CliRunner().invoke(
        app, ["sweep", "scenarios/sweeps/batch_zip.yaml", "--out", str(out), "steps=2"]
    )
    assert res.exit_code == 2, res.output
    assert "field 'out'" in res.output and "Traceback" not in res.output


def test_resume_recomputes_a_run_whose_summary_is_corrupt(tmp_path):
    from dcsim.config import load_scenario
    from dcsim.runner import run_and_write

    loaded = load_scenario(None)
    first = run_and_write(loaded, tmp_path, steps=2, plot=False)
    (first.run_dir / "summary.json").write_text("[]")
    again = run_and_write(loaded, tmp_path, steps=2, plot=False, resume=True)
    assert not again.reused
    assert again.summary == first.summary


def test_plot_on_a_binary_index_csv_is_exit_2(tmp_path):
    (tmp_path / "index.csv").write_bytes(b"run_id,x\n\xff\xfe\x00garbage\n")
    res = CliRunner().invoke(app, ["plot", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert "index.csv" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("address", ["tls://127.0.0.1:1", "ucx://127.0.0.1:1"])
def test_dask_address_without_security_config_is_exit_2(tmp_path, address):
    pytest.importorskip("dask.distributed")
    res = CliRunner().invoke(
        app,
        [
            "sweep",
            "scenarios/sweeps/batch_zip.yaml",
            "--out",
            str(tmp_path),
            "--executor",
            "dask",
            "--address",
            address,
            "steps=2",
        ],
    )
    assert res.exit_code == 2, res.output
    assert "field '--address'" in res.output and "Traceback" not in res.output


# ------------------------------------------------------------ wrong kind of file (issue 19.2)
@pytest.mark.parametrize(
    "path,kind,command",
    [
        ("scenarios/tasks/cooling.yaml", "RL task file", "dcsim train"),
        ("scenarios/sweeps/codesign.yaml", "sweep", "dcsim sweep"),
        ("topologies/leaf_spine_small.yaml", "fabric", "dcsim topology show"),
        ("dcsim/data/hardware/h100-sxm.yaml", "hardware profile", "dcsim hardware"),
    ],
)
def test_run_on_a_wrong_kind_of_file_says_which_command_takes_it(path, kind, command):
    res = CliRunner().invoke(app, ["run", path, "--steps", "2"])
    assert res.exit_code == 2, res.output
    assert "not a scenario file" in res.output and kind in res.output and command in res.output
    assert "unknown field" not in res.output


@pytest.mark.parametrize(
    "path,command",
    [("scenarios/default.yaml", "dcsim run"), ("scenarios/tasks/cooling.yaml", "dcsim train")],
)
def test_sweep_on_a_wrong_kind_of_file(path, command):
    res = CliRunner().invoke(app, ["sweep", path, "--dry-run"])
    assert res.exit_code == 2, res.output
    assert "not a sweep file" in res.output and command in res.output


@pytest.mark.parametrize(
    "override,field",
    [
        ("cooling.supply_air_setpoint_c=abc", "cooling.supply_air_setpoint_c"),
        ("cooling.nope=1", "cooling.nope"),
        ("nope.x=1", "nope"),
    ],
)
def test_set_errors_name_the_command_line_not_the_scenario_file(override, field):
    res = CliRunner().invoke(app, ["run", "--set", override, "--steps", "2"])
    assert res.exit_code == 2, res.output
    assert f"command line (--set {override})" in res.output
    assert f"field '{field}'" in res.output
    assert "default.yaml" not in res.output


@pytest.mark.parametrize(
    "task,option,field",
    [
        ("cooling.yaml", "--set nope=1", "nope"),  # unknown env argument
        ("cooling.yaml", "--set episode_steps.x=1", "episode_steps.x"),  # not a mapping
        ("cooling.yaml", "--reward nope=1", "reward.nope"),  # unknown reward term
        ("cooling.yaml", "--reward energy=-1", "reward.energy"),  # bad weight
        ("powercap.yaml", "--set mean_load=-1", "row.mean_load"),  # checked by RowConfig
        (None, "--reward nope=1", "reward.nope"),  # Datacenter-v0 on the default scenario
    ],
)
def test_rl_set_and_reward_errors_name_the_command_line_not_the_file(task, option, field):
    """`evaluate` (and `train`, `compare`: same loader) with a bad --set/--reward value: the
    value came from the command line, so the message must not blame the task file."""
    args = ["evaluate", *([f"scenarios/tasks/{task}"] if task else []), "--agent", "random"]
    res = CliRunner().invoke(app, [*args, "-n", "1", "--max-steps", "1", *option.split(" ", 1)])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert f"command line ({option})" in text and f"field '{field}'" in text, text
    assert ".yaml" not in text, text


# --------------------------------------------------------- steps held in memory (issue 14.5)
@pytest.mark.parametrize(
    "args",
    [["--set", "time.steps=2000000", "--steps", "2"], ["--steps", "2000000"]],
)
def test_runs_over_the_memory_cap_are_refused_up_front(args):
    res = CliRunner().invoke(app, ["run", *args, "--json"])
    assert res.exit_code == 2, res.output
    assert "GB of time series" in res.output and "allow_long_runs" in res.output


def test_the_memory_cap_is_overridable(tmp_path):
    from dcsim.config import TimeConfig

    assert TimeConfig(steps=2_000_000, allow_long_runs=True).steps == 2_000_000
