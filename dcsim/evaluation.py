"""Build any dcsim env from a scenario or task YAML, run agents on it, and compare them.

Two kinds of input file:
- a dcsim scenario (`scenarios/default.yaml`): drives `dcsim/Datacenter-v0` directly; for
  `dcsim/Cooling-v0` and `dcsim/Placement-v0` its hardware, cluster size, topology,
  cooling, climate and `reward:` weights are mapped onto the env's arguments;
- a task file (`scenarios/tasks/*.yaml`) with `env:` (an id), `kwargs:` (the env's
  constructor arguments) and `reward:` (term -> weight, names as in the env's
  `info["reward_terms"]`).

Every env follows `dcsim.envs.contract`: reward weights go to the constructor as
`reward_weights` (the env validates them), episode metrics aggregate as the env's `METRICS`
declare, and violation steps count the `REWARD` terms marked as violations.

Comparisons report, per agent and metric, the mean over seeds and the 95% confidence
half-width of a Student t interval, t_{0.975, n-1} * s / sqrt(n) (s: sample standard
deviation, ddof = 1), treating each seed's episode as one independent sample.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from dcsim.config import load_scenario
from dcsim.envs.contract import Episode
from dcsim.errors import InputError
from dcsim.resources import find_bundled
from dcsim.schema import StrictModel, read_yaml, validate_model

ENV_ALIASES = {
    "datacenter": "dcsim/Datacenter-v0",
    "cooling": "dcsim/Cooling-v0",
    "powercap": "dcsim/PowerCap-v0",
    "power-cap": "dcsim/PowerCap-v0",
    "flowsplit": "dcsim/FlowSplit-v0",
    "flow-split": "dcsim/FlowSplit-v0",
    "placement": "dcsim/Placement-v0",
}


def env_ids() -> dict[str, str]:
    from dcsim.envs import ENV_IDS

    return dict(ENV_IDS)


def resolve_env_id(name: str) -> str:
    """'dcsim/Cooling-v0', 'Cooling-v0' or 'cooling' -> 'dcsim/Cooling-v0'."""
    ids = env_ids()
    if name in ids:
        return name
    if f"dcsim/{name}" in ids:
        return f"dcsim/{name}"
    key = name.lower().removeprefix("dcsim/").removesuffix("-v0")
    if key in ENV_ALIASES:
        return ENV_ALIASES[key]
    raise InputError(f"unknown env '{name}'; expected one of: {', '.join(ids)}", field="env")


def env_class(env_id: str) -> type:
    module, cls = env_ids()[resolve_env_id(env_id)].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"env {env_id} is not available ({exc})", field="env") from None


class TaskConfig(StrictModel):
    """A task file: which env, its constructor arguments, and reward weights."""

    name: str = "task"
    description: str = ""
    env: str
    seed: int = Field(0, ge=0)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    reward: dict[str, float] = Field(default_factory=dict)


@dataclass
class EnvSpec:
    """Everything needed to rebuild the same env in another process (picklable)."""

    env_id: str
    kwargs: dict[str, Any]
    name: str
    source: str | None = None
    seed: int = 0
    description: str = ""

    def make(self) -> Any:
        return build_env(self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "kwargs": _jsonable(self.kwargs),
            "name": self.name,
            "source": self.source,
            "seed": self.seed,
        }


def _jsonable(x: Any) -> Any:
    if hasattr(x, "model_dump"):
        return x.model_dump(mode="json")
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    return x


def _from_scenario(env_id: str, path: str | None, overrides: dict[str, Any] | None) -> EnvSpec:
    """A dcsim scenario as the source of an env's arguments (the env's `scenario_kwargs`)."""
    loaded = load_scenario(path, overrides)
    sc = loaded.scenario
    src = str(loaded.source) if loaded.source else None
    mapper = getattr(env_class(env_id), "scenario_kwargs", None) or _LEGACY_SCENARIO.get(env_id)
    if mapper is None:
        raise InputError(
            f"{env_id} does not read dcsim scenarios; pass a task file (env:, kwargs:, reward:), "
            f"e.g. scenarios/tasks/{env_id.split('/')[1].split('-')[0].lower()}.yaml",
            file=src,
            field="env",
        )
    return EnvSpec(env_id, mapper(loaded, overrides), sc.name, src, sc.seed, sc.description)


def _legacy_cooling(loaded: Any, overrides: Any) -> dict[str, Any]:
    """TRANSITIONAL (issue 11): moves to CoolingEnv.scenario_kwargs."""
    from dcsim.hardware import get_profile

    sc = loaded.scenario
    prof = get_profile(sc.cluster.hardware)
    n_acc = sc.cluster.servers * (sc.cluster.accelerators_per_server or prof.server.accelerators)
    r = sc.reward
    return {
        "n_accelerators": n_acc,
        "accelerators_per_rack": sc.cluster.servers_per_rack * (n_acc // sc.cluster.servers),
        "hardware": sc.cluster.hardware,
        "cooling": sc.cooling.model_dump(mode="json"),
        "climate": sc.climate.model_dump(mode="json"),
        "dt_s": sc.time.dt_s,
        "episode_steps": sc.time.steps,
        "reward_weights": {"energy": r.energy, "carbon": r.carbon, "violation": r.violation},
    }


def _legacy_placement(loaded: Any, overrides: Any) -> dict[str, Any]:
    """TRANSITIONAL (issue 11): moves to PlacementEnv.scenario_kwargs."""
    sc = loaded.scenario
    topo = sc.cluster.topology
    if isinstance(topo, str) and not Path(topo).is_absolute():
        cand = loaded.base_dir / topo
        topo = str(cand) if cand.is_file() else topo
    kwargs: dict[str, Any] = {"topology": topo, "hardware": sc.cluster.hardware}
    routing = getattr(sc.workload, "routing", None)
    if routing:
        kwargs["routing"] = routing
    return kwargs


_LEGACY_SCENARIO = {"dcsim/Cooling-v0": _legacy_cooling, "dcsim/Placement-v0": _legacy_placement}


def load_spec(
    scenario: str | None = None,
    env: str | None = None,
    overrides: dict[str, Any] | None = None,
    reward: dict[str, float] | None = None,
) -> EnvSpec:
    """Scenario or task file (None: the default scenario) + optional env id -> EnvSpec.

    For task files, `overrides` are dotted keys into `kwargs` (`n_jobs=64`) and `reward`
    weights replace the file's.
    """
    data = None
    if scenario is not None:
        p = Path(scenario)
        if not p.is_file():
            p = find_bundled("scenarios", p, ("", "tasks")) or p
        raw = read_yaml(p)
        if isinstance(raw, dict) and "env" in raw:
            data, scenario = raw, str(p)
    if data is None:
        env_id = resolve_env_id(env or "dcsim/Datacenter-v0")
        spec = _from_scenario(env_id, scenario, overrides)
        if reward:
            spec.kwargs["reward_weights"] = spec.kwargs.get("reward_weights", {}) | reward
        return spec
    task = validate_model(TaskConfig, data, file=scenario)
    env_id = resolve_env_id(task.env)
    if env is not None and resolve_env_id(env) != env_id:
        raise InputError(
            f"--env {env} contradicts the task file's env {env_id}", file=scenario, field="env"
        )
    if "reward_weights" in task.kwargs:
        raise InputError(
            "reward weights go in the task's `reward:` section", file=scenario, field="kwargs"
        )
    kwargs = dict(task.kwargs)
    if overrides:
        from dcsim.config import set_dotted

        for k, v in overrides.items():
            set_dotted(kwargs, k, v)
    weights = dict(task.reward) | dict(reward or {})
    if weights:
        kwargs["reward_weights"] = weights
    return EnvSpec(env_id, kwargs, task.name, scenario, task.seed, task.description)


def build_env(spec: EnvSpec) -> Any:
    """Instantiate the env; constructor errors become InputErrors naming the source file."""
    cls = env_class(spec.env_id)
    kwargs = _legacy_kwargs(cls, spec.kwargs)
    try:
        return cls(**kwargs)
    except InputError as exc:
        if exc.file is None:
            exc.file = spec.source
            exc.args = (exc.render(),)
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"cannot build {spec.env_id}: {exc}", file=spec.source, field="kwargs"
        ) from None


def _legacy_kwargs(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """TRANSITIONAL (issue 11): an env not yet on the contract that names its weights `weights`."""
    if hasattr(cls, "Kwargs") or "reward_weights" not in kwargs:
        return kwargs
    if "weights" in inspect.signature(cls.__init__).parameters:
        kwargs = dict(kwargs)
        kwargs["weights"] = kwargs.pop("reward_weights")
    return kwargs


# ------------------------------------------------------------------ episodes
def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool)


def _legacy_agg_kind(key: str) -> str:
    """How a per-step metric becomes an episode metric: energy/carbon/water add up,
    peaks take the max, everything else is averaged over steps."""
    if key.endswith("_per_kwh"):
        return "mean"
    if key.endswith(("_kwh", "_kg", "_l", "_j")) or key in ("water_l",):
        return "sum"
    if key.endswith(("_peak", "_total")) or key.startswith("max_") or key == "inlet_max_c":
        return "max"
    return "mean"


class _LegacyEpisode:
    """TRANSITIONAL (issue 11): suffix-guessed aggregation for envs without `METRICS`."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.maxs: dict[str, float] = {}
        self.n = 0

    def add(self, values: dict[str, Any]) -> None:
        self.n += 1
        for k, v in values.items():
            if _is_number(v) and k != "t_s":
                self.sums[k] = self.sums.get(k, 0.0) + float(v)
                self.maxs[k] = max(self.maxs.get(k, -math.inf), float(v))

    def result(self) -> dict[str, float]:
        out = {}
        for k, s in self.sums.items():
            kind = _legacy_agg_kind(k)
            out[k] = s if kind == "sum" else (self.maxs[k] if kind == "max" else s / self.n)
        return out


def run_episode(
    env: Any,
    agent: Any,
    seed: int,
    max_steps: int | None = None,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """One episode; returns episode metrics: return, steps, violation steps (steps where a
    `REWARD` term marked `violation` is negative), summed reward terms (`r_<term>`) and the
    env's metrics aggregated as its `METRICS` declare."""
    uw = env.unwrapped
    metrics = getattr(uw, "METRICS", None)
    episode: Any = Episode(metrics) if metrics is not None else _LegacyEpisode()
    if hasattr(uw, "REWARD"):
        violation_terms = tuple(t.name for t in uw.REWARD if t.violation)
    else:  # TRANSITIONAL (issue 11)
        violation_terms = ("violation", "over_budget", "brake")
    obs, _ = env.reset(seed=seed)
    agent.reset()
    total = 0.0
    n = 0
    viol = 0
    terms: dict[str, float] = {}
    while True:
        obs, reward, terminated, truncated, info = env.step(agent.predict(obs))
        total += float(reward)
        n += 1
        rt = info.get("reward_terms", {})
        for k, v in rt.items():
            terms[k] = terms.get(k, 0.0) + float(v)
        if any(float(rt.get(k, 0.0)) < -1e-12 for k in violation_terms):
            viol += 1
        episode.add(info.get("metrics", {}))
        if on_step:
            on_step(n)
        if terminated or truncated or (max_steps is not None and n >= max_steps):
            break
    out: dict[str, float] = {"return": total, "steps": float(n), "violation_steps": float(viol)}
    out.update({f"r_{k}": v for k, v in terms.items()})
    out.update(episode.result())
    return out


def agent_label(name: str) -> str:
    """Short display name: 'ppo:runs/train/x/ppo-abc123/model.zip' -> 'ppo:ppo-abc123'."""
    if ":" not in name:
        return name
    algo, path = name.split(":", 1)
    p = Path(path)
    return f"{algo}:{p.parent.name if p.stem == 'model' and p.parent.name else p.stem}"


@dataclass
class Evaluation:
    agent: str
    env_id: str
    episodes: list[dict[str, float]]
    seeds: list[int]
    stats: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return agent_label(self.agent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "label": self.label,
            "env_id": self.env_id,
            "seeds": self.seeds,
            "episodes": self.episodes,
            "stats": self.stats,
        }


def evaluate(
    spec: EnvSpec,
    agent: str,
    episodes: int = 5,
    seed: int = 0,
    max_steps: int | None = None,
    on_episode: Callable[[int], None] | None = None,
) -> Evaluation:
    """Run `agent` for `episodes` episodes with reset seeds seed, seed+1, ..."""
    from dcsim.agents import make_agent

    if episodes < 1:
        raise InputError("episodes must be >= 1", field="episodes")
    env = build_env(spec)
    seeds = [seed + i for i in range(episodes)]
    eps = []
    for i, s in enumerate(seeds):
        pol = make_agent(agent, env, seed=s)
        eps.append(run_episode(env, pol, s, max_steps))
        if on_episode:
            on_episode(i + 1)
    env.close()
    return Evaluation(agent, spec.env_id, eps, seeds, summarize(eps))


# ------------------------------------------------------------------ statistics
def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, half-width of the Student t confidence interval, sample std). n = 1: width nan."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if n == 1:
        return m, math.nan, math.nan
    s = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * s / math.sqrt(n))
    return m, half, s


def summarize(episodes: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """metric -> {mean, ci95, std, n} over episodes (keys in first-seen order)."""
    keys: list[str] = []
    for e in episodes:
        keys += [k for k in e if k not in keys]
    out = {}
    for k in keys:
        vals = [e[k] for e in episodes if k in e and math.isfinite(e[k])]
        m, h, s = mean_ci(vals)
        out[k] = {"mean": m, "ci95": h, "std": s, "n": float(len(vals))}
    return out


@dataclass
class Comparison:
    spec: EnvSpec
    evaluations: list[Evaluation]

    @property
    def agents(self) -> list[str]:
        return [e.agent for e in self.evaluations]

    def metrics(self) -> list[str]:
        keys: list[str] = []
        for e in self.evaluations:
            keys += [k for k in e.stats if k not in keys]
        return keys

    def rows(self) -> list[dict[str, Any]]:
        """Long format: one row per (agent, metric)."""
        return [
            {"agent": e.label, "metric": k, **e.stats[k]} for e in self.evaluations for k in e.stats
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.spec.as_dict(),
            "agents": self.agents,
            "stats": {e.agent: e.stats for e in self.evaluations},
            "episodes": {e.agent: e.episodes for e in self.evaluations},
            "seeds": self.evaluations[0].seeds if self.evaluations else [],
        }


def compare(
    spec: EnvSpec,
    agents: Sequence[str],
    seeds: int = 5,
    seed: int = 0,
    max_steps: int | None = None,
    on_episode: Callable[[str, int], None] | None = None,
) -> Comparison:
    """Every agent on the same env seeds (common random numbers: paired comparison)."""
    if not agents:
        raise InputError("give at least one agent", field="agents")
    if len(set(agents)) != len(agents):
        raise InputError("agent names repeat", field="agents")
    evals = []
    for a in agents:
        cb = (lambda k, a=a: on_episode(a, k)) if on_episode else None
        evals.append(evaluate(spec, a, seeds, seed, max_steps, cb))
    return Comparison(spec, evals)


def best_heuristic(comp: Comparison, metric: str, lower_is_better: bool = True) -> str:
    """Name of the agent with the best mean on `metric` (for reports)."""
    vals = {e.agent: e.stats[metric]["mean"] for e in comp.evaluations if metric in e.stats}
    return (min if lower_is_better else max)(vals, key=vals.get)
