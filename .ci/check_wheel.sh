#!/usr/bin/env bash
# The wheel a user gets from `pip install .`: built, installed non-editable into a fresh
# venv, and used from a directory outside the repo (no source tree on sys.path).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip wheel -q --no-deps -w "$work/dist" "$repo" 2>/dev/null
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$work"/dist/dcsim-*.whl
mkdir "$work/outside"
cd "$work/outside"
"$work/venv/bin/python" - <<'PY'
import importlib.util, sys
for top in ("cli", "agents", "scenarios", "topologies"):
    assert importlib.util.find_spec(top) is None, f"wheel installs a top-level '{top}'"
import gymnasium as gym
import dcsim.envs  # noqa: F401  registers the ids
ids = sorted(e for e in gym.registry if e.startswith("dcsim/"))
assert len(ids) >= 5, ids
for env_id in ids:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.close()
print(f"wheel: gym.make + step ok for {len(ids)} envs: {', '.join(ids)}")
from dcsim.resources import install_hint  # outside a checkout: the extra's own requirements
hint = install_hint("dask")
assert hint == "pip install 'dask[distributed]>=2024.1'", hint
print(f"wheel: install hint ok ({hint})")
PY
"$work/venv/bin/dcsim" run --steps 2 --json > run.json
"$work/venv/bin/python" -c "import json; json.load(open('run.json')); print('wheel: dcsim run --steps 2 ok')"
"$work/venv/bin/dcsim" run multitenant.yaml --hours 1 --no-plot --json > mt.json  # bundled kind: multitenant
"$work/venv/bin/python" -c "import json; assert json.load(open('mt.json'))['summary']['steps'] == 12; print('wheel: dcsim run multitenant.yaml ok')"
n=$("$work/venv/bin/dcsim" topology list --json | "$work/venv/bin/python" -c "import json,sys; print(len(json.load(sys.stdin)))")
test "$n" -ge 10 || { echo "wheel: topology list has $n entries"; exit 1; }
echo "wheel: topology list ok ($n presets)"
