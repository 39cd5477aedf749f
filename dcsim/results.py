"""Run directories written atomically: a run appears complete or not at all.

Layout: `<out>/<scenario-name>/<run_id>/` with config.resolved.yaml,
manifest.json, summary.json, timeseries.csv and figures. Files are written to
a temporary sibling directory and renamed into place at the end, so an
interrupted run leaves no half-written results under the final name.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import json
import math
import os
import platform
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import yaml

from dcsim import __version__
from dcsim.errors import InputError

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A path component that cannot escape its parent (no separators, no '..')."""
    cleaned = SAFE_NAME.sub("_", name).strip("._") or "run"
    return cleaned[:80]


def contained(root: Path, *parts: str) -> Path:
    """root/parts, refusing anything that resolves outside root."""
    root_r = root.resolve()
    p = root_r.joinpath(*parts).resolve()
    if p != root_r and root_r not in p.parents:
        raise InputError(f"output path {p} escapes the output directory {root_r}", field="out")
    return p


def run_id(config: dict[str, Any], seed: int, extra: dict[str, Any] | None = None) -> str:
    """Stable id from the resolved config, the seed and run options (agent, steps)."""
    blob = json.dumps(
        {"config": config, "seed": seed, "extra": extra or {}}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def clean_number(x: Any) -> Any:
    """Round floats to 12 significant digits so summaries are byte-stable; NaN/inf become None."""
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return float(f"{x:.12g}")
    if isinstance(x, dict):
        return {k: clean_number(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean_number(v) for v in x]
    return x


def dumps_json(obj: Any) -> str:
    return json.dumps(clean_number(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def umask_mode(mode: int) -> int:
    """`mode` under the process umask: what open()/mkdir() would give. mkstemp and mkdtemp
    create 0600/0700; results are shared files, as readable as anything else the user writes."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and os.replace (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX
            os.fchmod(fd, umask_mode(0o666))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CsvStream:
    """CSV rows written as they come (header from the first row's keys, floats to 10
    significant digits): a long run's time series goes to disk, not to memory."""

    def __init__(self, f: Any):
        self.f = f
        self.writer: csv.DictWriter[str] | None = None

    def write(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            self.writer = csv.DictWriter(self.f, fieldnames=list(row), lineterminator="\n")
            self.writer.writeheader()
        self.writer.writerow(
            {k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in row.items()}
        )


def csv_text(rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    stream = CsvStream(buf)
    for r in rows:
        stream.write(r)
    return buf.getvalue()


class RowSample:
    """Every k-th of n rows, k chosen so at most `limit` are kept: what a plot draws."""

    def __init__(self, n: int, limit: int = 20_000):
        self.stride = max(1, math.ceil(n / limit))
        self.rows: list[dict[str, Any]] = []
        self._k = 0

    def add(self, row: dict[str, Any]) -> None:
        if self._k % self.stride == 0:
            self.rows.append(row)
        self._k += 1


def environment_versions() -> dict[str, str]:
    import numpy
    import scipy
    import simpy

    return {
        "dcsim": __version__,
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "simpy": simpy.__version__,
        "platform": platform.platform(),
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_namespace() -> str:
    """This process's PID namespace ('pid:[4026531836]' on Linux; '' where there is none)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@functools.cache
def _host_hash() -> str:
    """Host name and PID namespace: a pid means something only inside its own namespace, and
    two containers sharing a volume may share a host name (issue 14.9)."""
    where = f"{socket.gethostname()}|{_pid_namespace()}"
    return hashlib.sha256(where.encode()).hexdigest()[:8]


def owner_tag() -> str:
    """`<pid>@<host hash>`: who owns a temp folder, so cleanup on a shared filesystem can tell
    a dead local process from a live process on another machine or in another container
    (another PID namespace), whose folders it never touches."""
    return f"{os.getpid()}@{_host_hash()}"


def remove_stale_partials(folder: Path) -> int:
    """Delete temp folders (partial runs, replaced runs) in `folder` whose owner is provably dead.

    SIGKILL skips every cleanup, so whoever next writes into the folder does it. Temp folder
    names carry their creator: `.<run>.partial-<pid>@<host>-*`, `.<run>.old-<pid>@<host>-*`.
    A folder from another host is never touched (its pid means nothing here); a live or
    unknowable pid keeps the folder.
    """
    removed = 0
    here = owner_tag().split("@", 1)[1]
    for p in folder.glob(".*-*"):
        for kind in (".partial-", ".old-"):
            if kind in p.name:
                break
        else:
            continue
        owner = p.name.rsplit(kind, 1)[1].split("-", 1)[0]
        pid_text, _, host = owner.partition("@")
        if host and host != here:
            continue
        try:
            pid = int(pid_text)
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)
            removed += 1
    return removed


def exchange_paths(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def output_error(exc: OSError, where: Path) -> InputError:
    """An OSError while writing results as a one-line InputError (read-only, full disk, a file
    where a folder should be): the user fixes `--out`, not the code."""
    return InputError(
        f"cannot write results under {where}: {exc.strerror or exc}; choose another --out",
        field="out",
    )


class RunWriter:
    """Collects a run's files in a temp dir; `commit()` moves it to its final name atomically.

    Used as a context manager: any exception (Ctrl-C included) before `commit()` removes
    the temp dir, so nothing half-written is left behind.
    """

    def __init__(self, final_dir: Path, adopt: Path | None = None):
        """adopt: a temp folder a sweep worker already filled (see `spool_dir`), taken over
        (renamed to this process's owner tag before any cleanup, so it cannot be removed as a
        dead worker's) instead of starting empty."""
        self.final_dir = final_dir
        try:
            final_dir.parent.mkdir(parents=True, exist_ok=True)
            prefix = f".{final_dir.name}.partial-{owner_tag()}-"
            if adopt is not None:
                self.tmp_dir = final_dir.parent / f"{prefix}{os.urandom(4).hex()}"
                os.rename(adopt, self.tmp_dir)
            remove_stale_partials(final_dir.parent)
            if adopt is None:
                self.tmp_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=final_dir.parent))
        except OSError as exc:
            raise output_error(exc, final_dir.parent) from None

    def path(self, name: str) -> Path:
        return self.tmp_dir / name

    def write_text(self, name: str, text: str) -> None:
        try:
            atomic_write_text(self.tmp_dir / name, text)
        except OSError as exc:
            raise output_error(exc, self.tmp_dir / name) from None

    def write_json(self, name: str, obj: Any) -> None:
        self.write_text(name, dumps_json(obj))

    def write_yaml(self, name: str, obj: Any) -> None:
        self.write_text(name, yaml.safe_dump(obj, sort_keys=False))

    def commit(self) -> Path:
        """Replace any previous run of the same id with this one."""
        os.chmod(self.tmp_dir, umask_mode(0o777))  # mkdtemp makes 0700
        if self.final_dir.exists() and exchange_paths(self.tmp_dir, self.final_dir):
            # atomic swap: readers see the old run or the new one, never neither
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
        elif self.final_dir.exists():  # no renameat2 (not Linux): a brief gap between renames
            trash = Path(
                tempfile.mkdtemp(
                    prefix=f".{self.final_dir.name}.old-{owner_tag()}-",
                    dir=self.final_dir.parent,
                )
            )
            os.replace(self.final_dir, trash / "old")
            os.replace(self.tmp_dir, self.final_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(self.tmp_dir, self.final_dir)
        return self.final_dir

    def abort(self) -> None:
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc_type is not None:
            self.abort()
        return False

    @contextlib.contextmanager
    def csv_stream(self, name: str) -> Iterator[CsvStream]:
        """Append rows to `name` in the run's temporary folder as they are computed."""
        path = self.tmp_dir / name
        try:
            with open(path, "w", newline="", encoding="utf-8") as f:
                yield CsvStream(f)
        except OSError as exc:
            raise output_error(exc, path) from None

    def write_sim_run(
        self,
        config: dict[str, Any],
        rows: list[dict[str, Any]] | None,
        summary: dict[str, Any],
        manifest: dict[str, Any],
        plot_title: str | None,
        inlet_max_c: float,
        plot_rows: list[dict[str, Any]] | None = None,
    ) -> Path:
        """The files of a finished simulation run (`dcsim run` or one sweep point), then commit.

        rows None: timeseries.csv was already streamed (csv_stream); plot_rows (default rows)
        are what the figure draws."""
        self.write_yaml("config.resolved.yaml", config)
        if rows is not None:
            self.write_text("timeseries.csv", csv_text(rows))
        self.write_json("summary.json", summary)
        plot_rows = rows if plot_rows is None else plot_rows
        if plot_title is not None and plot_rows:
            from dcsim.viz.timeseries import plot_for

            plot_for(config)(
                plot_rows, self.path("timeseries.png"), plot_title, inlet_max_c, config
            )
        self.write_json(
            "manifest.json", {"status": "complete", **manifest, "versions": environment_versions()}
        )
        return self.commit()


def spool_dir(folder: Path, name: str) -> Path:
    """A temp folder `.<name>.partial-<owner>-*` in `folder` where a sweep worker streams a
    run's files; the parent adopts it (`RunWriter(adopt=...)`), and if the worker dies first,
    stale-temp cleanup removes it like any dead process's partial run."""
    try:
        return Path(tempfile.mkdtemp(prefix=f".{name}.partial-{owner_tag()}-", dir=folder))
    except OSError as exc:
        raise output_error(exc, folder) from None


RUN_FILES = ("config.resolved.yaml", "manifest.json", "summary.json", "timeseries.csv")


def is_complete(run_dir: Path) -> bool:
    """A run directory counts (for `--resume`) only if it holds every file of a run, its
    manifest says complete under this directory's run id, its summary is a run's (not `{}` or
    `[]`) and its time series is a non-empty CSV ending in a newline: anything else is
    recomputed rather than reused."""
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
        summary = json.loads((run_dir / "summary.json").read_text())
        if not all((run_dir / f).is_file() for f in RUN_FILES):
            return False
        with open(run_dir / "timeseries.csv", "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return False
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                return False
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or not isinstance(summary, dict):
        return False  # e.g. a corrupted `[]`: recompute rather than crash on reuse
    return (
        manifest.get("status") == "complete"
        and manifest.get("run_id") == run_dir.name
        and isinstance(summary.get("steps"), int)
        and summary["steps"] > 0
    )
