"""The README's Guarantees (and any other section) cite tests that exist: file and test name."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?")


def test_every_test_the_readme_cites_exists() -> None:
    refs = REF.findall((ROOT / "README.md").read_text())
    assert len(refs) >= 20
    missing = []
    for path, name in refs:
        f = ROOT / path
        if not f.is_file():
            missing.append(path)
        elif name and not re.search(rf"^(async )?def {name}\(", f.read_text(), re.M):
            missing.append(f"{path}::{name}")
    assert not missing, missing
