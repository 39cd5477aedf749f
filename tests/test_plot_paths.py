"""A bad `--plot` path is exit 2 naming --plot, checked before any work (issue 14.3: it was a
FileNotFoundError / NotADirectoryError traceback after the whole computation)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dcsim.cli import app

runner = CliRunner()

COMMANDS = [
    ["reproduce", "polca", "--quick"],
    ["cooling", "year", "--days", "1"],
    ["collective"],
]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("bad", ["afile/x.png", "folder", "x.foo"])
def test_bad_plot_path_is_a_clean_error_before_any_work(tmp_path, cmd, bad, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    (tmp_path / "folder").mkdir()
    res = runner.invoke(app, [*cmd, "--plot", bad])
    assert res.exit_code == 2, res.output
    assert "field '--plot'" in res.output and bad in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_a_good_plot_path_gets_its_folder_made(tmp_path):
    target = tmp_path / "new" / "dir" / "heat.png"
    res = runner.invoke(app, ["collective", "--plot", str(target)])
    assert res.exit_code == 0, res.output
    assert target.stat().st_size > 0
