"""Run one scenario with one agent through the env API and write its run directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcsim.config import MAX_STEPS, LoadedScenario, long_run_message
from dcsim.errors import InputError
from dcsim.inputs import input_digests
from dcsim.results import (
    RowSample,
    RunWriter,
    contained,
    is_complete,
    run_id,
    safe_name,
)
from dcsim.schema import MAX_SEED
from dcsim.sim import RunTotals


@dataclass
class RunResult:
    run_dir: Path | None
    run_id: str
    summary: dict[str, Any]
    system: dict[str, Any]
    reused: bool = False
    scenario: str = ""  # the scenario's name, for titles


def check_seed(seed: int) -> int:
    """A seed every consumer accepts (NumPy, Gymnasium, SB3): 0..2**32-1, else InputError."""
    if not 0 <= int(seed) <= MAX_SEED:
        raise InputError(f"must be between 0 and {MAX_SEED} (2**32 - 1), got {seed}", field="seed")
    return int(seed)


PROGRESS_FD_ENV = "DCSIM_PROGRESS_FD"


def progress_line() -> Callable[[str], None] | None:
    """Test hook: with DCSIM_PROGRESS_FD=N set, return a writer of one line to file descriptor N.

    `dcsim run` writes `step K` after each completed step and a sweep writes `run K` after
    each finished run, so kill tests can signal the process exactly once it reached step K
    instead of sleeping. Read once per run or sweep; when unset it returns None and costs nothing.
    """
    fd = os.environ.get(PROGRESS_FD_ENV)
    if not fd:
        return None
    n = int(fd)

    def write(line: str) -> None:
        os.write(n, f"{line}\n".encode())

    return write


def _reporting(
    on_step: Callable[[int, int], None] | None,
) -> Callable[[int, int], None] | None:
    """on_step, plus a `step K` progress line when the test hook is set."""
    report = progress_line()
    if report is None:
        return on_step

    def step(k: int, n: int) -> None:
        report(f"step {k}")
        if on_step:
            on_step(k, n)

    return step


def simulate(
    loaded: LoadedScenario,
    agent: str = "fixed",
    steps: int | None = None,
    seed: int | None = None,
    on_step: Callable[[int, int], None] | None = None,
    on_row: Callable[[dict[str, float]], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Step the Datacenter env with the named agent; returns (summary, system facts).

    Each step's time-series row goes to on_row as it is computed (nothing is kept here: the
    summary is running totals), so a run's memory does not grow with its length."""
    from dcsim.agents import make_agent
    from dcsim.envs.datacenter import DatacenterEnv

    sc = loaded.scenario
    seed = check_seed(sc.seed if seed is None else seed)
    n = steps or sc.time.steps
    if n > MAX_STEPS and not sc.time.allow_long_runs:
        raise InputError(long_run_message(n), field="steps")
    env = DatacenterEnv(loaded, steps=n)
    pol = make_agent(agent, env)
    obs, _ = env.reset(seed=seed)
    pol.reset()
    totals = RunTotals(env.sim)
    total_reward = 0.0
    for k in range(n):
        obs, reward, _, truncated, info = env.step(pol.predict(obs))
        rec = env.sim.last
        assert rec is not None  # every env step records its interval
        totals.add(rec)
        if on_row:
            on_row(info["metrics"])
        total_reward += reward
        if on_step:
            on_step(k + 1, n)
        if truncated:
            break
    summary = totals.summary()
    summary["total_reward"] = total_reward
    return summary, env.sim.describe()


def run_and_write(
    loaded: LoadedScenario,
    out: Path,
    agent: str = "fixed",
    steps: int | None = None,
    seed: int | None = None,
    on_step: Callable[[int, int], None] | None = None,
    plot: bool = True,
    resume: bool = False,
) -> RunResult:
    """Simulate and write `out/<scenario>/<run_id>/` atomically; with resume, reuse a complete run."""
    import json

    sc = loaded.scenario
    seed = check_seed(sc.seed if seed is None else seed)
    n = steps or sc.time.steps
    config = sc.model_dump(mode="json")
    inputs = input_digests(loaded, agent)
    rid = run_id(config, seed, {"agent": agent, "steps": n, "inputs": inputs})
    final = contained(out, safe_name(sc.name), rid)
    if resume and is_complete(final):
        return RunResult(
            final,
            rid,
            json.loads((final / "summary.json").read_text()),
            json.loads((final / "manifest.json").read_text()).get("system", {}),
            reused=True,
            scenario=sc.name,
        )
    with RunWriter(final) as writer:
        sample = RowSample(n)
        with writer.csv_stream("timeseries.csv") as series:

            def on_row(row: dict[str, float]) -> None:
                series.write(row)
                sample.add(row)

            summary, system = simulate(loaded, agent, n, seed, _reporting(on_step), on_row)
        title = f"{sc.name}: {system['accelerators']} x {system['hardware']}, agent {agent}"
        if sample.stride > 1:
            title += f" (every {sample.stride}th interval plotted)"
        run_dir = writer.write_sim_run(
            config,
            None,
            summary,
            {
                "run_id": rid,
                "scenario": sc.name,
                "source": str(loaded.source) if loaded.source else None,
                "config_hash": sc.config_hash(),
                "seed": seed,
                "agent": agent,
                "steps": n,
                "inputs": inputs,
                "system": system,
            },
            title if plot else None,
            sc.cooling.recommended_inlet_max_c,
            plot_rows=sample.rows,
        )
    return RunResult(run_dir, rid, summary, system, scenario=sc.name)


def run_multitenant(
    scenario: str | Path,
    overrides: dict[str, Any] | None = None,
    out: str | Path = "runs",
    agent: str | None = None,
    hours: float | None = None,
    seed: int | None = None,
    plot: bool = True,
    on_start: Callable[[str, int], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> RunResult:
    """`dcsim run` of a `kind: multitenant` scenario (`dcsim.tenancy.scenario`): CoDesign-v0
    with the named agent; writes config, manifest, summary, timeseries.csv, jobs.csv and a
    plot to `out/<name>/<run_id>/` atomically. `hours` overrides the scenario's `hours`."""
    import json

    from dcsim.tenancy.scenario import jobs_csv, load_multitenant
    from dcsim.tenancy.scenario import simulate as mt_simulate

    overrides = dict(overrides or {})
    if hours is not None:
        overrides["hours"] = hours
    loaded = load_multitenant(scenario, overrides)
    sc = loaded.scenario
    if agent is not None:
        from dcsim.agents import check_agent_name

        try:
            check_agent_name(agent, "CoDesignEnv")
        except ValueError as exc:
            raise InputError(str(exc), field="--agent") from None
    agent = agent or sc.agent
    seed = check_seed(sc.seed if seed is None else seed)
    config = sc.model_dump(mode="json")
    inputs = loaded.input_digests()
    rid = run_id(config, seed, {"agent": agent, "steps": sc.steps, "inputs": inputs})
    final = contained(Path(out), safe_name(sc.name), rid)
    if on_start:
        on_start(f"{sc.name} [{agent}]", sc.steps)
    with RunWriter(final) as writer:
        sample = RowSample(sc.steps)
        with writer.csv_stream("timeseries.csv") as series:

            def on_row(row: dict[str, Any]) -> None:
                series.write(row)
                sample.add(row)

            summary, system, jobs = mt_simulate(loaded, agent, seed, _reporting(on_step), on_row)
        writer.write_text("jobs.csv", jobs_csv(jobs))
        title = f"{sc.name}: {system['accelerators']} x {system['hardware']}, agent {agent}"
        run_dir = writer.write_sim_run(
            config,
            None,
            summary,
            {
                "run_id": rid,
                "scenario": sc.name,
                "kind": "multitenant",
                "source": str(loaded.source),
                "seed": seed,
                "agent": agent,
                "steps": sc.steps,
                "inputs": inputs,
                "system": system,
            },
            title if plot else None,
            system["inlet_limit_c"],
            plot_rows=sample.rows,
        )
    summary = json.loads((run_dir / "summary.json").read_text())  # as written (clean numbers)
    return RunResult(run_dir, rid, summary, system, scenario=sc.name)


def run_scenario(
    scenario: str | None = None,
    overrides: dict[str, Any] | None = None,
    out: str | Path = "runs",
    agent: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
    plot: bool = True,
    on_start: Callable[[str, int], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
    hours: float | None = None,
) -> RunResult:
    """`dcsim run`: load a scenario file (None: the bundled default) with dotted overrides, run it.

    A `kind: multitenant` file runs `run_multitenant` (duration `hours`; `steps` is refused);
    any other is the single-job run (agent None: `fixed`; `hours` is refused).
    ``on_start(label, steps)`` is called once the scenario is valid, before the first step.
    """
    from dcsim.config import blame_override, is_multitenant, load_scenario

    if is_multitenant(scenario):
        if steps is not None:
            raise InputError(
                "a multitenant scenario's duration is `hours` (--hours H)", field="--steps"
            )
        assert scenario is not None
        return run_multitenant(
            scenario, overrides, out, agent, hours, seed, plot, on_start, on_step
        )
    if hours is not None:
        raise InputError(
            "--hours applies to multitenant scenarios; a single-job run counts --steps",
            field="--hours",
        )
    agent = agent or "fixed"
    loaded = load_scenario(scenario, overrides)
    n = steps or loaded.scenario.time.steps
    if on_start:
        on_start(f"{loaded.scenario.name} [{agent}]", n)
    try:
        return run_and_write(loaded, Path(out), agent, n, seed, on_step=on_step, plot=plot)
    except InputError as exc:  # found while building: a --set value may be the culprit
        if overrides and exc.file == str(loaded.source):
            raise blame_override(exc, overrides) from None
        raise
