"""The one resolver for YAML bundled with dcsim: `scenarios/` and `topologies/`.

The source tree keeps these folders at the project root (the promised layout); the
wheel ships them as package data of `dcsim.scenarios` and `dcsim.topologies`
(see `[tool.setuptools.package-dir]` in pyproject.toml). Both are found through
`importlib.resources`, so a source checkout, an editable install and a plain
`pip install .` see the same files.
"""

from __future__ import annotations

import importlib.resources
from functools import cache
from pathlib import Path
from typing import Literal

Kind = Literal["scenarios", "topologies"]


@cache
def bundled_dir(kind: Kind) -> Path:
    """Folder of bundled YAML of one kind (a real directory: wheels install unzipped)."""
    root = importlib.resources.files(f"dcsim.{kind}")
    path = Path(str(root))
    if not path.is_dir():  # a MultiplexedPath (namespace package) prints differently
        path = Path(str(next(iter(root.iterdir())))).parent
    return path


def find_bundled(kind: Kind, name: str | Path, subdirs: tuple[str, ...] = ("",)) -> Path | None:
    """A bundled file by name, with or without `.yaml`, looked up in `subdirs` in order."""
    p = Path(name)
    base = bundled_dir(kind)
    for sub in subdirs:
        folder = base / sub if sub else base
        for cand in (folder / p, folder / f"{p}.yaml", folder / p.name):
            if cand.is_file():
                return cand
    return None


def list_bundled(kind: Kind, subdir: str = "") -> list[Path]:
    """Bundled YAML files of one kind, sorted by name."""
    base = bundled_dir(kind)
    return sorted((base / subdir if subdir else base).glob("*.yaml"))


SOURCE_ROOT = Path(__file__).resolve().parent.parent


def install_hint(extra: str, root: Path = SOURCE_ROOT) -> str:
    """The command that installs an optional extra (`rl`, `dask`, `marl`) for this install.

    A source checkout (editable install: pyproject.toml beside the package) gets
    `pip install -e '<checkout>[extra]'`; an installed wheel gets the extra's requirements
    from its own metadata, which work from any directory.
    """
    if (root / "pyproject.toml").is_file():
        return f"pip install -e '{root}[{extra}]'"
    from importlib.metadata import PackageNotFoundError, requires

    try:
        reqs = requires("dcsim") or []
    except PackageNotFoundError:
        reqs = []
    mine = [
        r.split(";", 1)[0].strip()
        for r in reqs
        if ";" in r and f'extra == "{extra}"' in r.split(";", 1)[1].replace("'", '"')
    ]
    if not mine:
        return f"pip install 'dcsim[{extra}]'"
    return "pip install " + " ".join(f"'{r}'" for r in mine)
