"""Type check with a baseline that can only shrink.

Runs mypy (config in pyproject.toml) and compares its errors, keyed by file and error
code (line numbers move too easily to key on), with `.ci/mypy-baseline.txt`. Fails when
any key has more errors than the baseline allows; prints keys that improved so the
baseline can be lowered with `python .ci/mypy_baseline.py --update`.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

BASELINE = Path(__file__).with_name("mypy-baseline.txt")
LINE = re.compile(r"^(?P<file>[^:]+):\d+: error: .*\[(?P<code>[a-z-]+)\]$")


def current() -> collections.Counter[str]:
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    counts: collections.Counter[str] = collections.Counter()
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if m:
            counts[f"{m['file']} [{m['code']}]"] += 1
        elif ": error:" in line:
            counts[line.strip()] += 1
    return counts


def main() -> int:
    now = current()
    if "--update" in sys.argv:
        BASELINE.write_text("".join(f"{k}\t{v}\n" for k, v in sorted(now.items())))
        print(f"baseline written: {sum(now.values())} errors")
        return 0
    base: dict[str, int] = {}
    for line in BASELINE.read_text().splitlines():
        if line.strip():
            k, v = line.rsplit("\t", 1)
            base[k] = int(v)
    worse = {k: (v, base.get(k, 0)) for k, v in now.items() if v > base.get(k, 0)}
    better = {k: (now.get(k, 0), v) for k, v in base.items() if now.get(k, 0) < v}
    for k, (n, b) in sorted(worse.items()):
        print(f"NEW mypy errors: {k}: {n} (baseline {b})")
    for k, (n, b) in sorted(better.items()):
        print(f"fewer mypy errors: {k}: {n} (baseline {b}); run with --update to lower it")
    print(f"mypy: {sum(now.values())} errors, baseline {sum(base.values())}")
    return 1 if worse else 0


if __name__ == "__main__":
    raise SystemExit(main())
