"""Hostile YAML ends in a clear InputError quickly, never a hang, a memory blow-up or a traceback."""

from __future__ import annotations

import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.errors import InputError
from dcsim.schema import MAX_YAML_DEPTH, read_yaml


def test_alias_chain_is_refused_fast(tmp_path: Path) -> None:
    f = tmp_path / "bomb.yaml"
    # anchors must precede aliases: write the chain top-down
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("description: *a8")
    f.write_text("\n".join(lines) + "\n")
    assert f.stat().st_size < 1200
    t0 = time.process_time()
    with pytest.raises(InputError, match="alias chain") as exc:
        read_yaml(f)
    assert time.process_time() - t0 < 5.0
    assert exc.value.file == str(f)


def test_shared_aliases_below_the_limit_still_load(tmp_path: Path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text("base: &b {x: 1, y: 2}\none: *b\ntwo: *b\n")
    assert read_yaml(f) == {
        "base": {"x": 1, "y": 2},
        "one": {"x": 1, "y": 2},
        "two": {"x": 1, "y": 2},
    }


@pytest.mark.parametrize("opener,closer", [("{a: ", "}"), ("[", "]"), ("- ", "")])
def test_deep_nesting_is_refused(tmp_path: Path, opener: str, closer: str) -> None:
    f = tmp_path / "deep.yaml"
    n = 5000 if closer else MAX_YAML_DEPTH + 5
    if closer:
        f.write_text(opener * n + "1" + closer * n + "\n")
    else:
        f.write_text("".join("  " * i + "-\n" for i in range(n)) + "  " * n + "1\n")
    with pytest.raises(InputError, match="nested deeper|invalid YAML") as exc:
        read_yaml(f)
    assert exc.value.file == str(f)


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    f = tmp_path / "locked.yaml"
    f.write_text("a: 1\n")
    with (
        mock.patch.object(Path, "read_bytes", side_effect=PermissionError(13, "Permission denied")),
        pytest.raises(InputError, match="cannot read file: Permission denied"),
    ):
        read_yaml(f)


def test_binary_file_is_an_input_error(tmp_path: Path) -> None:
    f = tmp_path / "bin.yaml"
    f.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(InputError, match="UTF-8"):
        read_yaml(f)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="[]{}&*:-,!|>'\" \nab/x01", max_size=200))
def test_any_text_loads_or_is_an_input_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    f = tmp_path_factory.mktemp("fuzz") / "f.yaml"
    f.write_text(text)
    try:
        read_yaml(f)
    except InputError as exc:
        assert exc.file == str(f)


@pytest.mark.parametrize(
    "text, field, lines",
    [
        ("cooling:\n  type: liquid\ncooling:\n  supply_air_setpoint_c: 20\n", "cooling", (3, 1)),
        ("cluster:\n  servers: 4\n  servers: 8\n", "cluster.servers", (3, 2)),
        ("runs:\n  - {a: 1, a: 2}\n", "runs.0.a", (2, 2)),
    ],
)
def test_duplicate_keys_are_refused(tmp_path: Path, text: str, field: str, lines) -> None:
    """Issue 14.11: a second `cooling:` block silently dropped the first's `type: liquid`."""
    f = tmp_path / "dup.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as err:
        read_yaml(f)
    assert err.value.file == str(f) and err.value.field == field
    assert f"at line {lines[0]} (first at line {lines[1]})" in str(err.value)


def test_merge_keys_and_equal_keys_in_different_mappings_are_fine(tmp_path: Path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text("base: &b {type: air}\ncooling:\n  <<: *b\n  setpoint: 20\nother: {type: air}\n")
    assert read_yaml(f)["cooling"] == {"type": "air", "setpoint": 20}


def test_cli_run_refuses_a_duplicate_block(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dcsim.cli import app

    f = tmp_path / "dup.yaml"
    f.write_text("name: d\ncooling:\n  type: liquid\ncooling:\n  supply_air_setpoint_c: 20\n")
    res = CliRunner().invoke(app, ["run", str(f), "--steps", "1", "--out", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert "field 'cooling': duplicate key 'cooling' at line 4" in res.output
