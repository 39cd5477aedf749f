"""Property tests: random and malformed YAML never crash dcsim with a traceback.

Every case ends either in success (with finite numbers) or in a clear InputError
message with exit code 2 (issue 8, point 1).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dcsim.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

WEIRD = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=2),
    st.sampled_from([0, -1, 1e300, -1e300, "1e3", "", "H100-SXM", "air", "nan"]),
)


def leaf_paths(d: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(d, dict):
        for k, v in d.items():
            out.extend(leaf_paths(v, prefix + (k,)))
        out.append(prefix)
    elif prefix:
        out.append(prefix)
    return out


@st.composite
def mutated(draw, base: dict) -> dict:
    data = json.loads(json.dumps(base))
    paths = [p for p in leaf_paths(data) if p]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        node = data
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                break
        if not isinstance(node, dict):
            continue
        action = draw(st.sampled_from(["set", "delete", "unknown"]))
        if action == "set":
            node[path[-1]] = draw(WEIRD)
        elif action == "delete":
            node.pop(path[-1], None)
        else:
            node[draw(st.text(alphabet="abcxyz_", min_size=1, max_size=6))] = draw(WEIRD)
    return data


def dump(tmp: Path, name: str, data: Any) -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def assert_ok_or_clean(res) -> None:
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in (0, 2), res.output
    assert "Traceback" not in res.output
    if res.exit_code == 2:
        assert "error:" in res.output


SCENARIO = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
SCENARIO_SMALL = json.loads(json.dumps(SCENARIO))
SCENARIO_SMALL["cluster"]["servers"] = 4
SCENARIO_SMALL["time"]["steps"] = 3
TOPOLOGY = yaml.safe_load((ROOT / "topologies" / "leaf_spine_256.yaml").read_text())
HARDWARE = yaml.safe_load((ROOT / "dcsim" / "data" / "hardware" / "h100-sxm.yaml").read_text())
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(data=mutated(SCENARIO_SMALL))
def test_fuzz_scenario_run(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fz")
    p = dump(tmp, "scenario.yaml", data)
    res = runner.invoke(app, ["run", str(p), "--json", "--no-plot", "--out", str(tmp / "runs")])
    assert_ok_or_clean(res)
    if res.exit_code == 0:
        out = json.loads(res.stdout)
        for k, v in out["summary"].items():
            if k in ("mfu_source", "routing"):  # the summary's only text fields
                assert isinstance(v, str) and v, (k, v)
            else:
                assert v is not None and math.isfinite(v), (k, v)


@FUZZ
@given(data=mutated(SCENARIO))
def test_fuzz_scenario_validate(tmp_path_factory, data):
    p = dump(tmp_path_factory.mktemp("fz"), "scenario.yaml", data)
    assert_ok_or_clean(runner.invoke(app, ["validate", str(p), "--kind", "scenario"]))


@FUZZ
@given(data=mutated(TOPOLOGY))
def test_fuzz_topology_validate(tmp_path_factory, data):
    p = dump(tmp_path_factory.mktemp("fz"), "topo.yaml", data)
    assert_ok_or_clean(runner.invoke(app, ["validate", str(p), "--kind", "topology"]))


@FUZZ
@given(data=mutated(HARDWARE))
def test_fuzz_hardware_validate(tmp_path_factory, data):
    p = dump(tmp_path_factory.mktemp("fz"), "hw.yaml", data)
    assert_ok_or_clean(runner.invoke(app, ["validate", str(p), "--kind", "hardware"]))


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=200))
def test_fuzz_arbitrary_text(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("fz") / "x.yaml"
    p.write_text(text)
    assert_ok_or_clean(runner.invoke(app, ["validate", str(p)]))
