"""The RL commands as library calls: list envs, train, evaluate and compare agents on a task.

Each of `dcsim envs/train/evaluate/compare` is one call here. A task comes from a scenario or
task file plus `--set` overrides and `--reward` weights (already parsed into dicts); the result
dataclasses carry the resolved EnvSpec so the CLI can title what it renders.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcsim.evaluation import (
    Comparison,
    EnvSpec,
    Evaluation,
    build_env,
    compare,
    env_class,
    env_ids,
    evaluate,
    load_spec,
)
from dcsim.results import RunWriter, contained, csv_text, run_id, safe_name
from dcsim.training import TrainResult, train

DEFAULT_TIMESTEPS = 20_000  # `dcsim train` budget: enough for PPO to leave its random start
_TRAIN = {k: v.default for k, v in inspect.signature(train).parameters.items()}
_EVAL = {k: v.default for k, v in inspect.signature(evaluate).parameters.items()}
_COMPARE = {k: v.default for k, v in inspect.signature(compare).parameters.items()}
StartFn = Callable[[str, int], None]  # (what is starting, how many units of work)


def task_spec(
    scenario: str | None = None,
    env: str | None = None,
    overrides: dict[str, Any] | None = None,
    reward: dict[str, float] | None = None,
) -> EnvSpec:
    """Scenario or task file (None: the default scenario), env id, overrides and reward weights."""
    return load_spec(scenario, env, overrides or None, reward or None)


def env_catalog() -> list[dict[str, Any]]:
    """Every registered env id with its spaces and agents; an env that cannot be built says why."""
    from dcsim.agents import available

    rows: list[dict[str, Any]] = []
    for env_id in env_ids():
        try:
            env = env_class(env_id)()
            rows.append(
                {
                    "env": env_id,
                    "action_space": str(env.action_space),
                    "observation_space": str(env.observation_space),
                    "agents": available(env),
                }
            )
            env.close()
        except Exception as exc:  # noqa: BLE001 - report an unavailable env instead of failing the list
            rows.append({"env": env_id, "error": str(exc).splitlines()[0][:120]})
    return rows


@dataclass
class TrainRun:
    spec: EnvSpec
    result: TrainResult


def train_agent(
    scenario: str | None = None,
    env: str | None = None,
    overrides: dict[str, Any] | None = None,
    reward: dict[str, float] | None = None,
    algo: str = _TRAIN["algo"],
    timesteps: int = DEFAULT_TIMESTEPS,
    seed: int = _TRAIN["seed"],
    n_envs: int = _TRAIN["n_envs"],
    dummy: bool = False,
    normalize: bool = _TRAIN["normalize"],
    tensorboard: str | None = None,
    checkpoint_every: int = _TRAIN["checkpoint_every"],
    hyperparams: dict[str, Any] | None = None,
    out: str | Path = _TRAIN["out"],
    on_start: StartFn | None = None,
    on_step: Callable[[int], None] | None = None,
    resume: bool = False,
    vectorized: bool = False,
    cost_limit: float | None = None,
    lagrange_lr: float = _TRAIN["lagrange_lr"],
) -> TrainRun:
    """Train an SB3 agent; ``dummy`` steps parallel envs in this process instead of subprocesses,
    ``vectorized`` (Cooling-v0, Datacenter-v0) steps them as one batched env (`dcsim.envs.vector`,
    `dcsim.envs.datacenter_vector`).

    ``resume`` continues an interrupted run of the same inputs from its latest checkpoint.
    """
    spec = task_spec(scenario, env, overrides, reward)
    if on_start:
        on_start(f"{algo.upper()} on {spec.env_id} ({spec.name})", timesteps)
    res = train(
        spec,
        algo=algo,
        timesteps=timesteps,
        seed=seed,
        n_envs=n_envs,
        out=out,
        tensorboard=tensorboard,
        hyperparams=hyperparams or {},
        checkpoint_every=checkpoint_every,
        subproc=(n_envs > 1 and not dummy),
        normalize=normalize,
        on_step=on_step,
        resume=resume,
        vectorized=vectorized,
        cost_limit=cost_limit,
        lagrange_lr=lagrange_lr,
    )
    return TrainRun(spec, res)


@dataclass
class AgentEvaluation:
    spec: EnvSpec
    evaluation: Evaluation


def evaluate_agent(
    agent: str,
    scenario: str | None = None,
    env: str | None = None,
    overrides: dict[str, Any] | None = None,
    reward: dict[str, float] | None = None,
    episodes: int = _EVAL["episodes"],
    seed: int = _EVAL["seed"],
    max_steps: int | None = None,
    on_start: StartFn | None = None,
    on_episode: Callable[[int], None] | None = None,
) -> AgentEvaluation:
    """Run one agent for ``episodes`` episodes with reset seeds seed, seed+1, ...

    ``on_episode(k)`` is called after the k-th finished episode (progress)."""
    spec = task_spec(scenario, env, overrides, reward)
    if on_start:
        on_start(f"{agent} on {spec.env_id}", episodes)
    return AgentEvaluation(spec, evaluate(spec, agent, episodes, seed, max_steps, on_episode))


@dataclass
class ComparisonRun:
    spec: EnvSpec
    comparison: Comparison
    run_dir: Path
    seeds: int
    seed: int


def compare_agents(
    agents: list[str] | None = None,
    scenario: str | None = None,
    env: str | None = None,
    overrides: dict[str, Any] | None = None,
    reward: dict[str, float] | None = None,
    seeds: int = _COMPARE["seeds"],
    seed: int = _COMPARE["seed"],
    max_steps: int | None = None,
    out: str | Path = "runs/compare",
    plot: bool = True,
    on_start: StartFn | None = None,
    baseline: str | None = None,
    on_episode: Callable[[int], None] | None = None,
    upper: str | None = None,
) -> ComparisonRun:
    """Agents (None: every heuristic + random) on the same seeds; writes compare.csv,
    episodes.csv, summary.json and compare.png atomically to OUT/<name>/compare-<id>/.

    ``baseline`` (added first when not among ``agents``) adds each agent's paired per-seed
    difference from it; ``upper`` (added too, needs ``baseline``) adds each other agent's
    normalised score (J - J_baseline) / (J_upper - J_baseline) of the return;
    ``on_episode(k)`` is called after the k-th episode over all agents."""
    from dcsim.agents import available

    spec = task_spec(scenario, env, overrides, reward)
    if agents:
        names = list(agents)
    else:
        probe = build_env(spec)
        names = available(probe)
        probe.close()
    if baseline is not None and baseline not in names:
        names = [baseline, *names]
    if upper is not None and upper not in names:
        names = [*names, upper]
    if on_start:
        on_start(f"{len(names)} agents x {seeds} seeds on {spec.env_id}", len(names) * seeds)
    done = {a: 0 for a in names}

    def progress(agent: str, k: int) -> None:
        done[agent] = k
        if on_episode:
            on_episode(sum(done.values()))

    comp = compare(spec, names, seeds, seed, max_steps, progress, baseline, upper)
    extra: dict[str, Any] = {"agents": names, "seeds": seeds, "max_steps": max_steps}
    if baseline is not None:
        extra["baseline"] = baseline
    if upper is not None:
        extra["upper"] = upper
    rid = run_id(spec.as_dict(), seed, extra)
    final = contained(Path(out), safe_name(spec.name), f"compare-{rid}")
    with RunWriter(final) as writer:
        writer.write_text("compare.csv", csv_text(comp.rows()))
        ep_rows = [
            {"agent": e.label, "seed": s, **ep}
            for e in comp.evaluations
            for s, ep in zip(e.seeds, e.episodes, strict=True)
        ]
        writer.write_text("episodes.csv", csv_text(ep_rows))
        writer.write_json("summary.json", comp.as_dict())
        if plot:
            from dcsim.viz.compare import plot_comparison, stats_of

            base = comp.baseline_evaluation()
            plot_comparison(
                stats_of(comp),
                writer.path("compare.png"),
                f"{spec.env_id} ({spec.name}), {seeds} seeds",
                baseline=base.label if base is not None else None,
            )
        run_dir = writer.commit()
    return ComparisonRun(spec, comp, run_dir, seeds, seed)
