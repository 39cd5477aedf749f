"""`dcsim validate`: check any dcsim YAML input (scenario, topology, hardware, sweep, RL task) against its schema."""

from __future__ import annotations

from pathlib import Path

from dcsim.errors import InputError
from dcsim.schema import read_yaml, validate_model

KINDS = ("scenario", "multitenant", "topology", "hardware", "sweep", "task")


def guess_kind(data: object) -> str:
    if isinstance(data, dict):
        if data.get("kind") == "multitenant":
            return "multitenant"
        if "base" in data or "parameters" in data or "method" in data:
            return "sweep"
        if "env" in data and "cluster" not in data:
            return "task"
        if "compute" in data and "memory" in data:
            return "hardware"
        if "kind" in data and "cluster" not in data:
            return "topology"
    return "scenario"


# What each kind of file is for: said when a file reaches a command that reads another kind.
USED_BY = {
    "scenario": "a scenario: run it with `dcsim run FILE`",
    "multitenant": "a multi-tenant scenario: run it with `dcsim run FILE`",
    "sweep": "a sweep: run it with `dcsim sweep FILE`",
    "task": "an RL task file: use it with `dcsim train|evaluate|compare FILE`",
    "topology": "a fabric: name it in a scenario's cluster.topology, or `dcsim topology show FILE`",
    "hardware": "a hardware profile: see `dcsim hardware list` and `dcsim hardware show NAME`",
}


def refuse_wrong_kind(data: object, source: str | Path, expected: str) -> None:
    """InputError saying what kind of file this is and which command takes it."""
    kind = guess_kind(data)
    if kind != expected:
        raise InputError(
            f"this is not a {expected} file; it looks like {USED_BY[kind]}", file=str(source)
        )


def validate_file(path: str | Path, kind: str = "auto") -> str:
    """Validate one file; returns its kind or raises InputError naming file and field."""
    if kind != "auto" and kind not in KINDS:
        raise InputError(
            f"unknown kind '{kind}'; expected auto or one of: {', '.join(KINDS)}", field="--kind"
        )
    data = read_yaml(path)
    k = guess_kind(data) if kind == "auto" else kind
    if k == "scenario":
        from dcsim.config import load_scenario
        from dcsim.sim import Simulation

        loaded = load_scenario(path)
        Simulation(loaded)  # resolves hardware, topology and climate files; checks sizes fit
    elif k == "multitenant":
        from dcsim.tenancy.scenario import load_multitenant

        load_multitenant(path).build_env().close()  # resolves hardware and the job trace
    elif k == "topology":
        from dcsim.network import load_topology

        load_topology(Path(path))
    elif k == "hardware":
        from dcsim.hardware import HardwareProfile

        validate_model(HardwareProfile, data, file=str(path))
    elif k == "sweep":
        from dcsim.sweep import load_sweep

        load_sweep(path)
    elif k == "task":  # an RL task file: env id, kwargs, reward weights
        from dcsim.evaluation import build_env, load_spec

        build_env(load_spec(str(path))).close()
    return k


def validate_files(paths: list[str], kind: str = "auto") -> list[dict[str, object]]:
    """`dcsim validate`: each file's kind, in order; the first bad file raises InputError."""
    return [{"file": p, "kind": validate_file(p, kind), "ok": True} for p in paths]
