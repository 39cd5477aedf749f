"""`pytest benchmarks/` (the README's benchmark command) collects and runs the benchmarks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pytest_collects_every_benchmark_file() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    files = {line.split("::")[0] for line in out.stdout.splitlines() if "::" in line}
    expected = {f"benchmarks/{p.name}" for p in (ROOT / "benchmarks").glob("bench_*.py")}
    assert expected and files == expected
    n = int(re.search(r"(\d+) tests? collected", out.stdout).group(1))  # type: ignore[union-attr]
    assert n >= 2 * len(expected)
