"""A corpus of hostile inputs for every command that reads user input (issue 14).

Each case writes its files into a scratch folder and runs one `dcsim` command in-process.
A case passes when the command either refuses the input cleanly (exit 2, one line naming
the file or the command-line argument, the field and what was expected, no traceback) or,
where the input is in fact valid, succeeds with strict, finite JSON. Cases marked `bad`
must be refused.

Run as a module it executes the whole corpus under a memory limit and a per-case time
limit and writes the outcomes as JSON: `python -m tests.hostile_corpus OUT.json`.
"""

from __future__ import annotations

import copy
import json
import math
import resource
import signal
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT_BYTES = 6 * 2**30  # address space of the corpus process (torch maps a lot)
CASE_TIMEOUT_S = 30

# Values put in place of a leaf. `bad_for` says for which kinds of leaf the value must be refused.
NUMBER_ONLY = {"num"}
HOSTILE_VALUES: list[tuple[str, Any, set[str]]] = [
    ("text", "abc", {"num", "bool"}),
    ("nan", float("nan"), {"num"}),
    ("inf", float("inf"), {"num"}),
    ("huge", 1e308, set()),
    ("negative", -1, set()),
    ("list", [1, 2], {"num", "str", "bool"}),
    ("mapping", {"a": 1}, {"num", "str", "bool"}),
    ("null", None, set()),
    ("markup-close", "[/x]", {"num", "bool"}),
    ("markup-style", "[bold red]x:warning:", {"num", "bool"}),
]


@dataclass
class Case:
    id: str
    argv: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    bad: bool = False
    json_out: bool = False  # a successful run prints JSON that must be strict and finite


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    if isinstance(v, str):
        return "str"
    return "other"


def _leaves(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*prefix, k))
    elif isinstance(node, list) and node and not isinstance(node[0], (dict, list)):
        yield prefix, node
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*prefix, i))
    else:
        yield prefix, node


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return out


def _mappings(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        yield prefix
        for k, v in node.items():
            yield from _mappings(v, (*prefix, k))


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _mutations(
    name: str, doc: Any, argv: list[str], fname: str, json_out: bool = False
) -> Iterator[Case]:
    """Every leaf x every hostile value, and an unknown field in every mapping."""
    for path, base in _leaves(doc):
        kind = _kind(base)
        for vname, value, bad_for in HOSTILE_VALUES:
            if value == base:
                continue
            dotted = ".".join(str(p) for p in path)
            yield Case(
                f"{name}:{dotted}={vname}",
                [a.replace("{f}", "{d}/" + fname) for a in argv],
                {fname: _dump(_set(doc, path, value))},
                bad=kind in bad_for,
                json_out=json_out,
            )
    for path in _mappings(doc):
        dotted = ".".join(str(p) for p in path) or "<root>"
        target = copy.deepcopy(doc)
        node = target
        for k in path:
            node = node[k]
        node["no_such_field_[/x]"] = 1
        yield Case(
            f"{name}:{dotted}+unknown",
            [a.replace("{f}", "{d}/" + fname) for a in argv],
            {fname: _dump(target)},
            bad=True,
        )


def _whole_file_garbage(name: str, argv: list[str], fname: str) -> Iterator[Case]:
    chain = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    chain += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    chain.append("description: *a8")
    bodies: dict[str, str | bytes] = {
        "empty-list": "[]\n",
        "scalar": "42\n",
        "binary": b"\xff\xfe\x00\x01\x02garbage",
        "bad-yaml": "a: [1, 2\n",
        "tab-indent": "a:\n\tb: 1\n",
        "alias-chain": "\n".join(chain) + "\n",
        "deep-nesting": "x: " + "[" * 3000 + "]" * 3000 + "\n",
        "python-tag": "!!python/object/apply:os.system ['true']\n",
        "markup-only": "[/x]: 1\n",
    }
    for bname, body in bodies.items():
        yield Case(
            f"{name}:file={bname}",
            [a.replace("{f}", "{d}/" + fname) for a in argv],
            {fname: body},
            True,
        )


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def build_cases() -> list[Case]:
    cases: list[Case] = []
    scen = _load(ROOT / "scenarios" / "default.yaml")
    scen["time"]["steps"] = 2
    scen_argv = ["validate", "{f}"]
    cases += _mutations("scenario", scen, scen_argv, "s.yaml")
    # the numeric leaves also through a short run: valid-but-absurd values must give finite output
    for path, base in _leaves(scen):
        if _kind(base) != "num":
            continue
        for vname, value in (("huge", 1e308), ("negative", -1), ("zero", 0)):
            dotted = ".".join(str(p) for p in path)
            cases.append(
                Case(
                    f"run:{dotted}={vname}",
                    ["run", "{d}/s.yaml", "--steps", "2", "--json", "--no-plot", "--out", "{d}/o"],
                    {"s.yaml": _dump(_set(scen, path, value))},
                    json_out=True,
                )
            )
    cases += _whole_file_garbage("scenario", scen_argv, "s.yaml")
    topo = _load(ROOT / "topologies" / "leaf_spine_small.yaml")
    cases += _mutations("topology", topo, ["topology", "show", "{f}"], "t.yaml")
    cases += _whole_file_garbage("topology", ["topology", "show", "{f}"], "t.yaml")
    hw = _load(ROOT / "dcsim" / "data" / "hardware" / "h100-sxm.yaml")
    hw_cases = list(_mutations("hardware", hw, ["validate", "{f}"], "h.yaml"))
    cases += [c for c in hw_cases if c.id.endswith(("=text", "=nan", "=negative", "+unknown"))]
    sweep = {
        "name": "hostile",
        "base": str(ROOT / "scenarios" / "sweeps" / "training_base.yaml"),
        "method": "grid",
        "parameters": {"cooling.supply_air_setpoint_c": [18, 22], "cluster.servers": [8]},
        "seeds": [0, 1],
        "steps": 2,
    }
    cases += _mutations("sweep", sweep, ["sweep", "{f}", "--dry-run"], "w.yaml")
    cases += _whole_file_garbage("sweep", ["sweep", "{f}", "--dry-run"], "w.yaml")
    for task in ("cooling", "powercap", "placement", "flowsplit"):
        doc = _load(ROOT / "scenarios" / "tasks" / f"{task}.yaml")
        cases += _mutations(f"task-{task}", doc, ["validate", "{f}"], f"{task}.yaml")
    cases += _weather_cases(scen)
    cases += _argument_cases()
    cases += _model_cases()
    return cases


def _weather_cases(scen: dict[str, Any]) -> list[Case]:
    doc = copy.deepcopy(scen)
    doc["climate"]["weather"] = {"source": "file", "path": "w.csv"}
    good = "time_s,dry_bulb_c,rh\n0,20,50\n3600,22,40\n"
    bodies: dict[str, str | bytes] = {
        "nan": good.replace("22,40", "nan,40"),
        "inf": good.replace("22,40", "inf,40"),
        "huge": good.replace("22,40", "1e300,40"),
        "text": good.replace("22,40", "warm,40"),
        "binary": b"time_s,dry_bulb_c,rh\n\xff\xfe\x00",
        "no-rows": "time_s,dry_bulb_c,rh\n",
        "missing-column": "time_s,dry_bulb_c\n0,20\n60,21\n",
        "decreasing-time": "time_s,dry_bulb_c,rh\n60,20,50\n0,22,40\n",
        "rh-out-of-range": good.replace("22,40", "22,400"),
        "markup": good.replace("22,40", "[/x],40"),
    }
    out = []
    for name, body in bodies.items():
        out.append(
            Case(
                f"weather-csv:{name}",
                ["validate", "{d}/s.yaml"],
                {"s.yaml": _dump(doc), "w.csv": body},
                True,
            )
        )
    epw_doc = copy.deepcopy(scen)
    epw_doc["climate"]["weather"] = {"source": "file", "path": "w.epw"}
    rows = [f"1999,1,{1 + h // 24},{1 + h % 24},60,X,{{t}},5.0,{{rh}},101325" for h in range(48)]
    head = "\n".join(["LOCATION,x"] + [f"H{i}" for i in range(7)])
    for name, t, rh in (
        ("nan", "nan", "60"),
        ("missing-code", "99.9", "60"),
        ("rh-999", "10", "999"),
    ):
        body = head + "\n" + "\n".join(r.format(t=t, rh=rh) for r in rows) + "\n"
        out.append(
            Case(
                f"weather-epw:{name}",
                ["validate", "{d}/s.yaml"],
                {"s.yaml": _dump(epw_doc), "w.epw": body},
                True,
            )
        )
    return out


def _argument_cases() -> list[Case]:
    out = []
    run = ["run", "--steps", "2", "--json", "--no-plot", "--out", "{d}/o"]
    sets = [
        "cooling.supply_air_setpoint_c=abc",
        "cooling.supply_air_setpoint_c=.nan",
        "cooling.supply_air_setpoint_c=[/x]",
        "cooling.nope=1",
        "nope.deeper=1",
        "cluster.servers=-4",
        "cluster.servers=1e308",
        "cluster.hardware=XPU-9000",
        "cluster.hardware=[bold]",
        "cluster.topology=no_such.yaml",
        "time.dt_s=0",
        "time.dt_s=.inf",
        "workload.routing=teleport",
        "workload.tensor_parallel=3",
        "power.cap_frac=2",
        "=1",
        "noequals",
        "cooling=5",
        "cooling.supply_air_setpoint_c.x=1",
        "seed=-1",
    ]
    for s in sets:
        out.append(Case(f"--set {s}", [*run, "--set", s], bad=True))
    for seed in ("-1", "4294967296", "1e3", "abc"):
        out.append(Case(f"--seed {seed}", [*run, "--seed", seed], bad=True))
    for steps in ("0", "-5", "abc"):
        out.append(Case(f"--steps {steps}", ["run", "--steps", steps, "--out", "{d}/o"], bad=True))
    train = [
        "train",
        "tasks/placement.yaml",
        "--timesteps",
        "8",
        "--out",
        "{d}/o",
        "--set",
        "n_jobs=8",
    ]
    hps = [
        "learning_rate=-1",
        "learning_rate=fast",
        "learning_rate=.nan",
        "gamma=1.5",
        "n_steps=0",
        "n_steps=2.5",
        "batch_size=1",
        "n_epochs=0",
        "clip_range=0",
        "nonsense=1",
        "learning_rate",
        "learning_rate=",
        "ent_coef=-0.1",
        "gae_lambda=2",
        "[/x]=1",
    ]
    for hp in hps:
        out.append(Case(f"--hp {hp}", [*train, "--hp", hp], bad=True))
    for agent in ("teleport", "xyz:model.zip", "ppo:", "ppo:{d}/missing.zip", "[/x]"):
        out.append(
            Case(
                f"--agent {agent}",
                ["run", "--steps", "2", "--agent", agent, "--out", "{d}/o"],
                bad=True,
            )
        )
    for ex in ("threads", "dask --address tls://127.0.0.1:1", "[/x]"):
        argv = ["sweep", str(ROOT / "scenarios" / "sweeps" / "batch_zip.yaml"), "--out", "{d}/o"]
        argv += ["--executor", *ex.split()]
        out.append(Case(f"--executor {ex}", argv, bad=True))
    for topo in ("{d}/missing.yaml", "[/x]"):
        out.append(Case(f"topology show {topo}", ["topology", "show", topo], bad=True))
    for size in ("0", "-1GiB", "lots"):
        argv = ["collective", "--topology", "leaf_spine_small.yaml", "--size", size]
        out.append(Case(f"collective --size {size}", argv, bad=True))
    argv = ["collective", "--topology", "leaf_spine_small.yaml", "--size", "1e30", "--json"]
    out.append(Case("collective --size 1e30", argv, json_out=True))
    for routing in ("teleport", "split:0", "split:x", "[/x]"):
        argv = ["collective", "--topology", "leaf_spine_small.yaml", "--routing", routing]
        out.append(Case(f"collective --routing {routing}", argv, bad=True))
    return out


def _model_cases() -> list[Case]:
    ev = ["evaluate", "tasks/placement.yaml", "--episodes", "1", "--set", "n_jobs=8", "--agent"]
    out = [
        Case("model:empty", [*ev, "ppo:{d}/empty.zip"], {"empty.zip": b""}, True),
        Case("model:text", [*ev, "ppo:{d}/text.zip"], {"text.zip": b"not a zip"}, True),
    ]
    tmp = Path(tempfile.mkdtemp())
    z = tmp / "junk.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("data", "{not json")
        zf.writestr("policy.pth", b"\x00\x01")
    out.append(
        Case("model:junk-zip", [*ev, "ppo:{d}/junk.zip"], {"junk.zip": z.read_bytes()}, True)
    )
    out.append(
        Case("model:wrong-algo", [*ev, "nope:{d}/junk.zip"], {"junk.zip": z.read_bytes()}, True)
    )
    out.append(
        Case(
            "model:bad-obs-norm",
            [*ev, "ppo:{d}/m/model.zip"],
            {"m/model.zip": z.read_bytes(), "m/obs_norm.json": '{"mean": [1, 2'},
            True,
        )
    )
    return out


# ------------------------------------------------------------------------------ execution
class CaseTimeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout


def _finite(obj: Any) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite(v) for v in obj)
    return True


def judge(case: Case, code: int, output: str) -> str:
    """'' if the outcome is acceptable, else why not."""
    if "Traceback" in output:
        return "traceback"
    if code == 2:
        line = output.strip().splitlines()[-1] if output.strip() else ""
        if not line.startswith("error:") and "error" not in output.lower():
            return f"exit 2 without an error line: {output[-300:]!r}"
        names_file = any(str(v) in output for v in case.files) or ".yaml:" in output
        names_file |= "not found" in output and any(a.split(":")[-1] in output for a in case.argv)
        if "field '" not in output and not names_file and "Usage" not in output:
            return f"error names no field or file: {line[:200]!r}"
        return ""
    if case.bad:
        return f"exit {code}, expected 2: {output[-300:]!r}"
    if code != 0:
        return f"exit {code}: {output[-300:]!r}"
    if case.json_out:
        try:
            data = json.loads(output, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError as exc:
            return f"not strict JSON ({exc}): {output[:200]!r}"
        if not _finite(data):
            return "non-finite number in the output"
    return ""


def run_case(case: Case, scratch: Path) -> dict[str, Any]:
    from typer.testing import CliRunner

    from dcsim.cli import app

    d = scratch / case.id.replace("/", "_").replace(" ", "_")[:80]
    d.mkdir(parents=True, exist_ok=True)
    for name, body in case.files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            p.write_bytes(body)
        else:
            p.write_text(body)
    argv = [a.replace("{d}", str(d)) for a in case.argv]
    signal.alarm(CASE_TIMEOUT_S)
    t0 = time.process_time()
    try:
        res = CliRunner().invoke(app, argv)
        code, output = res.exit_code, res.output
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            output += f"\nTraceback (in-process): {type(res.exception).__name__}: {res.exception}"
    except CaseTimeout:
        code, output = -1, f"timeout after {CASE_TIMEOUT_S} s"
    finally:
        signal.alarm(0)
    why = judge(case, code, output) if code != -1 else output
    return {"id": case.id, "code": code, "cpu_s": time.process_time() - t0, "problem": why}


def main(out: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    signal.signal(signal.SIGALRM, _on_alarm)
    cases = build_cases()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_case(c, Path(tmp)) for c in cases]
    Path(out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
