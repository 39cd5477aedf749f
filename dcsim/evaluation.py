"""Build any dcsim env from a scenario or task YAML, run agents on it, and compare them.

Two kinds of input file:
- a dcsim scenario (`scenarios/default.yaml`): the env's `scenario_kwargs` classmethod maps
  it onto the env's arguments (Datacenter-v0 runs it whole; Cooling-v0 and Placement-v0
  take its hardware, cluster size, topology, cooling, climate and `reward:` weights);
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


def env_ids() -> dict[str, str]:
    from dcsim.envs import ENV_IDS

    return dict(ENV_IDS)


def resolve_env_id(name: str) -> str:
    """'dcsim/Cooling-v0', 'Cooling-v0', 'cooling' -> 'dcsim/Cooling-v0' ('power-cap' too)."""
    ids = env_ids()
    if name in ids:
        return name

    def key(n: str) -> str:  # 'dcsim/Power-Cap-v0', 'powercap', 'power_cap' -> 'powercap'
        return (
            n.lower().removeprefix("dcsim/").removesuffix("-v0").replace("-", "").replace("_", "")
        )

    for env_id in ids:
        if key(env_id) == key(name):
            return env_id
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
    # command-line `--set` / `--reward` values: an error about one of them names the
    # command line, not the file (the value did not come from there)
    cli_set: dict[str, Any] = field(default_factory=dict)
    cli_reward: dict[str, Any] = field(default_factory=dict)

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
    """A dcsim scenario as the source of an env's arguments (the env's `scenario_kwargs`);
    no path: the env's own `DEFAULT_SCENARIO` if it declares one, else default.yaml."""
    loaded = load_scenario(path or getattr(env_class(env_id), "DEFAULT_SCENARIO", None), overrides)
    sc = loaded.scenario
    src = str(loaded.source) if loaded.source else None
    mapper = getattr(env_class(env_id), "scenario_kwargs", None)
    if mapper is None:
        raise InputError(
            f"{env_id} does not read dcsim scenarios; pass a task file (env:, kwargs:, reward:), "
            f"e.g. scenarios/tasks/{env_id.split('/')[1].split('-')[0].lower()}.yaml",
            file=src,
            field="env",
        )
    return EnvSpec(env_id, mapper(loaded, overrides), sc.name, src, sc.seed, sc.description)


def blame_command_line(
    exc: InputError, cli_set: dict[str, Any], cli_reward: dict[str, Any]
) -> InputError:
    """Point an error at the `--set` or `--reward` value that caused it, not at the file.

    An env may nest its arguments (PowerCap-v0 checks them as `row.<key>`), so a field that
    ends in `.<key>` matches too.
    """
    field = exc.field or ""
    cands = [("--set", k, v, k) for k, v in cli_set.items()]
    cands += [("--reward", k, v, f"reward.{k}") for k, v in cli_reward.items()]
    for option, key, value, path in cands:
        if (
            field == path
            or field.startswith(path + ".")
            or (field and path.startswith(field + "."))
            or field.endswith("." + path)
        ):
            exc.file = f"command line ({option} {key}={value})"
            exc.field = field or path
            exc.args = (exc.render(),)
            break
    return exc


def refuse_non_task(data: object, source: str | Path) -> None:
    """A sweep, fabric or hardware file given to train/evaluate/compare: say what it is."""
    from dcsim.validate import USED_BY, guess_kind

    kind = guess_kind(data)
    if kind not in ("scenario", "task"):
        raise InputError(
            f"this is not a scenario or task file; it looks like {USED_BY[kind]}",
            file=str(source),
        )


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
        refuse_non_task(raw, p)
        if isinstance(raw, dict) and "env" in raw:
            data, scenario = raw, str(p)
    if data is None:
        env_id = resolve_env_id(env or "dcsim/Datacenter-v0")
        spec = _from_scenario(env_id, scenario, overrides)
        if reward:
            spec.kwargs["reward_weights"] = spec.kwargs.get("reward_weights", {}) | reward
        spec.cli_set, spec.cli_reward = dict(overrides or {}), dict(reward or {})
        return spec
    task = validate_model(TaskConfig, data, file=scenario)
    env_id = resolve_env_id(task.env)
    if env is not None and resolve_env_id(env) != env_id:
        raise InputError(
            f"--env {env} contradicts the task file's env {env_id}", file=scenario, field="env"
        )
    if "reward_weights" in task.kwargs:
        raise InputError(
            "reward weights go in the task's `reward:` section",
            file=scenario,
            field="kwargs.reward_weights",
        )
    kwargs = dict(task.kwargs)
    cli_set, cli_reward = dict(overrides or {}), dict(reward or {})
    if overrides:
        from dcsim.config import set_dotted

        try:
            for k, v in overrides.items():
                set_dotted(kwargs, k, v)
        except InputError as exc:
            raise blame_command_line(exc, cli_set, {}) from None
    weights = dict(task.reward) | cli_reward
    if weights:
        kwargs["reward_weights"] = weights
    return EnvSpec(
        env_id, kwargs, task.name, scenario, task.seed, task.description, cli_set, cli_reward
    )


def build_env(spec: EnvSpec) -> Any:
    """Instantiate the env; constructor errors become InputErrors naming the source file."""
    cls = env_class(spec.env_id)
    try:
        return cls(**spec.kwargs)
    except InputError as exc:
        if exc.file is None or exc.file == spec.source:
            exc.file = spec.source
            exc.args = (exc.render(),)
            blame_command_line(exc, spec.cli_set, spec.cli_reward)
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"cannot build {spec.env_id}: {exc}", file=spec.source, field="kwargs"
        ) from None


# ------------------------------------------------------------------ episodes
def is_violation_step(reward_terms: dict[str, float], violation_terms: tuple[str, ...]) -> bool:
    """A step with a constraint violation: one of the `REWARD` terms marked `violation` is
    negative (what `violation_steps` counts and `dcsim train --cost-limit` limits)."""
    return any(float(reward_terms.get(k, 0.0)) < -1e-12 for k in violation_terms)


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
    episode = Episode(uw.METRICS)
    violation_terms = tuple(t.name for t in uw.REWARD if t.violation)
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
        viol += is_violation_step(rt, violation_terms)
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


def paired_differences(agent: Evaluation, baseline: Evaluation) -> dict[str, dict[str, float]]:
    """metric -> {mean, ci95, std, n} of the per-seed differences agent - baseline.

    Both ran on the same reset seeds (common random numbers), so the difference of seed i is
    one sample and the Student t interval of the differences is the paired interval: narrower
    than the two unpaired intervals whenever the seeds move both agents alike.
    """
    base = dict(zip(baseline.seeds, baseline.episodes, strict=True))
    out: dict[str, dict[str, float]] = {}
    for k in agent.stats:
        d = [
            e[k] - base[s][k]
            for s, e in zip(agent.seeds, agent.episodes, strict=True)
            if s in base and k in e and k in base[s] and math.isfinite(e[k] - base[s][k])
        ]
        if not d and k not in baseline.stats:
            continue
        m, h, sd = mean_ci(d)
        out[k] = {"mean": m, "ci95": h, "std": sd, "n": float(len(d))}
    return out


def normalised_score(
    agent: Evaluation, baseline: Evaluation, upper: Evaluation, metric: str = "return"
) -> dict[str, float]:
    """(J - J_baseline) / (J_upper - J_baseline) of `metric` on the seeds all three share.

    The score is the ratio of the mean paired differences r = mean(d_a) / mean(d_u) (0: the
    baseline, 1: the upper bound, < 0: worse than the baseline); a per-seed ratio would blow
    up on seeds where the bound barely beats the baseline. Its 95% CI is the ratio
    estimator's linearisation (Cochran, *Sampling Techniques*, 3rd ed. 1977, sec. 6.4):
    residuals e_i = d_a,i - r d_u,i, half-width t_{n-1} sd(e) / (sqrt(n) |mean(d_u)|),
    which counts that agent and bound move together across seeds. Also returns the bound's
    own gap mean(d_u) ± CI: when that interval includes 0 the score is not meaningful.
    """
    base = {s: e.get(metric) for s, e in zip(baseline.seeds, baseline.episodes, strict=True)}
    up = {s: e.get(metric) for s, e in zip(upper.seeds, upper.episodes, strict=True)}
    da, du = [], []
    for s, e in zip(agent.seeds, agent.episodes, strict=True):
        vals = (e.get(metric), base.get(s), up.get(s))
        if all(v is not None and math.isfinite(v) for v in vals):
            j, jb, ju = (float(v) for v in vals)  # type: ignore[arg-type]
            da.append(j - jb)
            du.append(ju - jb)
    n = len(da)
    gap, gap_ci, _ = mean_ci(du)
    out = {"mean": math.nan, "ci95": math.nan, "n": float(n), "gap": gap, "gap_ci95": gap_ci}
    if n == 0 or gap == 0.0:
        return out
    r = float(np.mean(da)) / gap
    out["mean"] = r
    if n > 1:
        from scipy import stats

        resid = np.asarray(da) - r * np.asarray(du)
        sd = float(resid.std(ddof=1))
        out["ci95"] = float(stats.t.ppf(0.975, n - 1) * sd / (math.sqrt(n) * abs(gap)))
    return out


@dataclass
class Comparison:
    spec: EnvSpec
    evaluations: list[Evaluation]
    baseline: str | None = None
    upper: str | None = (
        None  # with `baseline`: agents get (J - J_baseline) / (J_upper - J_baseline)
    )
    norm_metric: str = "return"

    def baseline_evaluation(self) -> Evaluation | None:
        return next((e for e in self.evaluations if e.agent == self.baseline), None)

    def normalised(self) -> dict[str, dict[str, float]]:
        """agent -> normalised score of `norm_metric` between baseline (0) and upper (1);
        {} unless both are set. The baseline and the bound themselves are left out."""
        b = self.baseline_evaluation()
        u = next((e for e in self.evaluations if e.agent == self.upper), None)
        if b is None or u is None:
            return {}
        return {
            e.agent: normalised_score(e, b, u, self.norm_metric)
            for e in self.evaluations
            if e is not b and e is not u
        }

    def paired(self) -> dict[str, dict[str, dict[str, float]]]:
        """agent -> metric -> paired difference (agent - baseline) statistics; {} without a baseline."""
        b = self.baseline_evaluation()
        if b is None:
            return {}
        return {e.agent: paired_differences(e, b) for e in self.evaluations if e is not b}

    @property
    def agents(self) -> list[str]:
        return [e.agent for e in self.evaluations]

    def metrics(self) -> list[str]:
        keys: list[str] = []
        for e in self.evaluations:
            keys += [k for k in e.stats if k not in keys]
        return keys

    def rows(self) -> list[dict[str, Any]]:
        """Long format: one row per (agent, metric); with a baseline, the paired difference
        agent - baseline as diff_mean, diff_ci95, diff_std, diff_n (blank for the baseline)."""
        paired, norm = self.paired(), self.normalised()
        rows = []
        for e in self.evaluations:
            for k in e.stats:
                row: dict[str, Any] = {"agent": e.label, "metric": k, **e.stats[k]}
                if self.baseline is not None:
                    d = paired.get(e.agent, {}).get(k, {})
                    row |= {f"diff_{s}": d.get(s) for s in ("mean", "ci95", "std", "n")}
                if self.upper is not None:
                    z = norm.get(e.agent, {}) if k == self.norm_metric else {}
                    row |= {f"norm_{s}": z.get(s) for s in ("mean", "ci95")}
                rows.append(row)
        return rows

    def as_dict(self) -> dict[str, Any]:
        out = {
            "env": self.spec.as_dict(),
            "agents": self.agents,
            "stats": {e.agent: e.stats for e in self.evaluations},
            "episodes": {e.agent: e.episodes for e in self.evaluations},
            "seeds": self.evaluations[0].seeds if self.evaluations else [],
        }
        if self.baseline is not None:
            out["baseline"] = self.baseline
            out["paired"] = self.paired()
        if self.upper is not None:
            out["upper"] = self.upper
            out["normalised"] = {"metric": self.norm_metric, "scores": self.normalised()}
        return out


def compare(
    spec: EnvSpec,
    agents: Sequence[str],
    seeds: int = 5,
    seed: int = 0,
    max_steps: int | None = None,
    on_episode: Callable[[str, int], None] | None = None,
    baseline: str | None = None,
    upper: str | None = None,
) -> Comparison:
    """Every agent on the same env seeds (common random numbers: paired comparison).

    With `baseline` (one of `agents`), the comparison also carries each agent's paired
    per-seed difference from it; with `upper` too (an upper-bound agent such as an oracle),
    each other agent's normalised score (J - J_baseline) / (J_upper - J_baseline) of the
    return."""
    if not agents:
        raise InputError("give at least one agent", field="agents")
    if len(set(agents)) != len(agents):
        raise InputError("agent names repeat", field="agents")
    if baseline is not None and baseline not in agents:
        raise InputError(
            f"baseline '{baseline}' is not among the agents ({', '.join(agents)})",
            field="--baseline",
        )
    if upper is not None:
        if baseline is None:
            raise InputError(
                "--normalise-to needs --baseline (the score is 0 at the baseline)",
                field="--normalise-to",
            )
        if upper == baseline:
            raise InputError(
                "--normalise-to must name an agent other than the baseline",
                field="--normalise-to",
            )
        if upper not in agents:
            raise InputError(
                f"--normalise-to agent '{upper}' is not among the agents ({', '.join(agents)})",
                field="--normalise-to",
            )
    evals = []
    for a in agents:
        cb = (lambda k, a=a: on_episode(a, k)) if on_episode else None
        evals.append(evaluate(spec, a, seeds, seed, max_steps, cb))
    return Comparison(spec, evals, baseline, upper)


def best_heuristic(comp: Comparison, metric: str, lower_is_better: bool = True) -> str:
    """Name of the agent with the best mean on `metric` (for reports)."""
    vals = {e.agent: e.stats[metric]["mean"] for e in comp.evaluations if metric in e.stats}
    return (min if lower_is_better else max)(vals, key=lambda a: vals[a])
