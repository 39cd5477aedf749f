"""Stale temp folders are removed only when their owner is provably dead (issue 14.4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dcsim.results import RunWriter, owner_tag, remove_stale_partials


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_dead_local_owner_is_cleaned(tmp_path: Path) -> None:
    host = owner_tag().split("@")[1]
    stale = tmp_path / f".run.partial-{_dead_pid()}@{host}-abc123"
    stale.mkdir()
    assert remove_stale_partials(tmp_path) == 1 and not stale.exists()


def test_a_live_owner_is_kept(tmp_path: Path) -> None:
    host = owner_tag().split("@")[1]
    live = tmp_path / f".run.partial-{os.getppid()}@{host}-abc123"
    live.mkdir()
    assert remove_stale_partials(tmp_path) == 0 and live.exists()


def test_another_hosts_folder_is_never_touched(tmp_path: Path) -> None:
    # the pid is dead here, but it belongs to another machine sharing the filesystem
    other = tmp_path / f".run.partial-{_dead_pid()}@deadbeef-abc123"
    if owner_tag().endswith("@deadbeef"):
        other = tmp_path / f".run.partial-{_dead_pid()}@cafef00d-abc123"
    other.mkdir()
    assert remove_stale_partials(tmp_path) == 0 and other.exists()


def test_run_writer_names_its_temp_folder_with_its_owner(tmp_path: Path) -> None:
    with RunWriter(tmp_path / "final") as w:
        assert f".partial-{owner_tag()}-" in w.tmp_dir.name
        w.abort()


def test_rerun_swaps_the_run_directory_atomically(tmp_path: Path) -> None:
    from dcsim.results import exchange_paths

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "which").write_text("a")
    (b / "which").write_text("b")
    if not exchange_paths(a, b):
        import pytest

        pytest.skip("renameat2 RENAME_EXCHANGE not available")
    assert (a / "which").read_text() == "b" and (b / "which").read_text() == "a"
    final = tmp_path / "run"
    for content in ("first", "second"):
        with RunWriter(final) as w:
            w.write_text("summary.json", content)
            w.commit()
    assert (final / "summary.json").read_text() == "second"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.")]


def test_a_folder_from_another_pid_namespace_is_never_touched(tmp_path: Path, monkeypatch) -> None:
    """Issue 14.9: a container with the same host name but its own PID namespace writes to
    a shared volume; its pids mean nothing here, so its live run must not be deleted."""
    import dcsim.results as results

    monkeypatch.setattr(results, "_pid_namespace", lambda: "pid:[1111]")
    results._host_hash.cache_clear()
    theirs = tmp_path / f".run.partial-{owner_tag()}-abc123".replace(
        f"-{os.getpid()}@", f"-{_dead_pid()}@"
    )
    theirs.mkdir()
    monkeypatch.setattr(results, "_pid_namespace", lambda: "pid:[2222]")
    results._host_hash.cache_clear()
    try:
        assert remove_stale_partials(tmp_path) == 0 and theirs.exists()
    finally:
        monkeypatch.undo()
        results._host_hash.cache_clear()
