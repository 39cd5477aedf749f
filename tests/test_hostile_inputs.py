"""Every command that reads user input, fed a corpus of 1,000+ hostile inputs (tests/hostile_corpus.py).

The corpus runs in its own process under an address-space limit with a per-case alarm, so a
hang or a memory blow-up fails the case instead of the machine. Each case must end in exit 2
with a message naming the file or argument and the field (no traceback), or, where the input
is valid after all, succeed with strict, finite JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.hostile_corpus import build_cases

ROOT = Path(__file__).resolve().parents[1]


def test_corpus_is_large_and_covers_every_input_kind() -> None:
    cases = build_cases()
    assert len(cases) >= 200
    kinds = {c.id.split(":")[0].split(" ")[0] for c in cases}
    for kind in ("scenario", "topology", "hardware", "sweep", "task-cooling", "weather-csv"):
        assert kind in kinds
    for arg in ("--set", "--hp", "--seed", "--agent", "model", "run"):
        assert arg in kinds


def test_hostile_inputs_end_in_clear_errors(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.hostile_corpus", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert len(results) >= 200
    problems = [f"{r['id']}: {r['problem']}" for r in results if r["problem"]]
    assert not problems, f"{len(problems)} of {len(results)} cases:\n" + "\n".join(problems[:30])
