"""Train an SB3 agent on a dcsim env and write its run directory atomically.

`<out>/<task name>/<algo>-<run_id>/`: model.zip, manifest.json (env spec, algorithm,
hyperparameters, timesteps, seed, versions, status), training.csv (finished episodes:
timestep, return, length) and checkpoints/ when asked. Files are assembled in a temp dir
and renamed into place at the end, so an interrupted training leaves nothing under the
final name; its checkpoints stay in `<run>.checkpoints/` for `resume`. Load the model with `dcsim evaluate ... --agent ALGO:<run dir>/model.zip`.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcsim.errors import InputError
from dcsim.evaluation import EnvSpec, build_env
from dcsim.hyperparams import validate_hyperparams
from dcsim.results import RunWriter, contained, csv_text, environment_versions, run_id, safe_name


@dataclass
class TrainResult:
    run_dir: Path
    model_path: Path
    manifest: dict[str, Any]
    episodes: list[dict[str, float]]


def rl_versions() -> dict[str, str]:
    """Installed versions of the RL stack (package metadata; imports nothing)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("stable-baselines3", "torch", "gymnasium"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


CHECKPOINT = re.compile(r"model_(\d+)_steps\.zip$")


def latest_checkpoint(folder: Path) -> tuple[Path, int, Path | None] | None:
    """(model zip, its timestep, VecNormalize statistics or None) of the newest checkpoint."""
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT.search(p.name))]
    if not found:
        return None
    steps, path = max(found)
    norm = folder / f"model_vecnormalize_{steps}_steps.pkl"
    return path, steps, norm if norm.is_file() else None


def _restore_vecnormalize(path: Path, vec: Any) -> Any:
    from stable_baselines3.common.vec_env import VecNormalize

    return VecNormalize.load(str(path), vec.venv)


def _complete_training(run_dir: Path) -> bool:
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(manifest, dict)
        and manifest.get("status") == "complete"
        and (run_dir / "model.zip").is_file()
    )


def _batched(spec: EnvSpec, n_envs: int) -> Any:
    """n_envs copies of a Cooling-v0 or Datacenter-v0 spec as one batched env, through SB3's
    VecEnv API (VecMonitor records the episodes, as Monitor does for separate envs)."""
    from stable_baselines3.common.vec_env import VecMonitor

    from dcsim.envs.vector import sb3_vec_env

    cls = _batched_class(spec.env_id)
    return VecMonitor(sb3_vec_env(cls(n_envs, **spec.kwargs)))


def _batched_class(env_id: str) -> Any:
    """The batched env of an env id, or None: Cooling-v0 (`dcsim.envs.vector`), Datacenter-v0
    (`dcsim.envs.datacenter_vector`)."""
    if env_id == "dcsim/Cooling-v0":
        from dcsim.envs.vector import CoolingVectorEnv

        return CoolingVectorEnv
    if env_id == "dcsim/Datacenter-v0":
        from dcsim.envs.datacenter_vector import DatacenterVectorEnv

        return DatacenterVectorEnv
    return None


def _penalised(spec: EnvSpec) -> Any:
    """The env in the Lagrangian penalty wrapper (a module function: picklable for subprocesses)."""
    from dcsim.agents.lagrangian import LagrangianPenalty

    return LagrangianPenalty(build_env(spec))


def train(
    spec: EnvSpec,
    algo: str = "ppo",
    timesteps: int = 10_000,
    seed: int = 0,
    n_envs: int = 1,
    out: str | Path = "runs/train",
    tensorboard: str | None = None,
    hyperparams: dict[str, Any] | None = None,
    checkpoint_every: int = 0,
    subproc: bool | None = None,
    normalize: bool = False,
    on_step: Callable[[int], None] | None = None,
    resume: bool = False,
    vectorized: bool = False,
    cost_limit: float | None = None,
    lagrange_lr: float = 1.0,
) -> TrainResult:
    """Train `algo` for `timesteps` env steps over `n_envs` parallel envs (SubprocVecEnv if > 1).

    `vectorized` (Cooling-v0, Datacenter-v0 and their tasks): the n_envs copies are one batched
    env stepped in this process (`dcsim.envs.vector`, `dcsim.envs.datacenter_vector`), same
    numbers as separate envs, fewer CPU-seconds.

    Checkpoints (every `checkpoint_every` steps) go to `<run>.checkpoints/` beside the run,
    outside its temporary folder, so they survive an interruption; with `resume`, training
    continues from the latest one (same env, algorithm, seed and hyperparameters: same run id)
    and a complete run is returned as it is.

    `cost_limit` (a share of steps, 0 = none) trains PPO-Lagrangian style
    (`dcsim.agents.lagrangian`): the reward loses a multiplier per violation step, and the
    multiplier rises by `lagrange_lr` x (violation share - limit) after every rollout;
    its trajectory goes to lagrangian.csv.
    """
    from dcsim.agents.sb3 import (
        SB3Agent,
        _algo_class,
        check_algo_fits,
        make_vec_env,
        normalized,
        training_callbacks,
    )

    algo = algo.lower()
    _algo_class(algo)
    if timesteps < 1:
        raise InputError("timesteps must be >= 1", field="timesteps")
    probe = build_env(spec)  # fail fast on bad input, in this process, with a clear message
    check_algo_fits(algo, probe)
    probe.close()
    if vectorized and _batched_class(spec.env_id) is None:
        raise InputError(
            f"--vectorized is available for Cooling-v0, Datacenter-v0 and their tasks, "
            f"not {spec.env_id}",
            field="vectorized",
        )
    if cost_limit is not None:
        from dcsim.agents.lagrangian import check_lagrangian

        check_lagrangian(cost_limit, lagrange_lr)
        if vectorized or resume:
            raise InputError(
                "--cost-limit cannot be combined with --vectorized or --resume (the multiplier "
                "lives in the per-env wrapper and is not checkpointed)",
                field="cost_limit",
            )
    hp = validate_hyperparams(algo, hyperparams, n_envs)
    extra = {"algo": algo, "timesteps": timesteps, "n_envs": n_envs, "hyperparams": hp}
    if normalize:
        extra["normalize"] = True
    if vectorized:
        extra["vectorized"] = True
    if cost_limit is not None:
        extra["lagrangian"] = {"cost_limit": cost_limit, "lr": lagrange_lr}
    rid = run_id(spec.as_dict(), seed, extra)
    final = contained(Path(out), safe_name(spec.name), f"{algo}-{rid}")
    if resume and _complete_training(final):
        manifest = json.loads((final / "manifest.json").read_text())
        return TrainResult(final, final / "model.zip", manifest, [])
    ckpt_dir = final.with_name(final.name + ".checkpoints")
    start = latest_checkpoint(ckpt_dir) if resume else None
    vec = None
    try:
        with RunWriter(final) as writer:
            if vectorized:
                vec = _batched(spec, n_envs)
            elif cost_limit is not None:
                vec = make_vec_env(functools.partial(_penalised, spec), n_envs, subproc)
            else:
                vec = make_vec_env(functools.partial(build_env, spec), n_envs, subproc)
            if normalize:
                vec = normalized(vec, float(hp.get("gamma", 0.99)))
                if start is not None and start[2] is not None:
                    vec = _restore_vecnormalize(start[2], vec)
            ckpt = ckpt_dir if checkpoint_every > 0 else None
            callback, episodes = training_callbacks(on_step, ckpt, checkpoint_every, n_envs)
            multipliers: list[dict[str, float]] = []
            if cost_limit is not None:
                from stable_baselines3.common.callbacks import CallbackList

                from dcsim.agents.lagrangian import multiplier_callback

                callback = CallbackList(
                    [
                        callback,
                        multiplier_callback(
                            cost_limit,
                            lagrange_lr,
                            multipliers,
                            ckpt / "lagrangian.csv" if ckpt is not None else None,
                        ),
                    ]
                )
            if start is not None:
                agent = SB3Agent.resume(algo, start[0], vec, timesteps, callback)
            else:
                agent = SB3Agent.train(
                    algo, vec, timesteps, seed, tensorboard=tensorboard, callback=callback, **hp
                )
            agent.save(writer.path("model.zip"))
            writer.write_text("training.csv", csv_text(episodes))
            if cost_limit is not None:
                writer.write_text("lagrangian.csv", csv_text(multipliers))
            manifest = {
                "status": "complete",
                "run_id": rid,
                "kind": "train",
                "env": spec.as_dict(),
                "algo": algo,
                # SB3 stops after the rollout that crosses the budget (on-policy: whole
                # n_steps x n_envs rollouts), so report what was trained, not what was asked.
                "timesteps": int(agent.model.num_timesteps),
                "timesteps_requested": timesteps,
                "resumed_from_timestep": start[1] if start is not None else None,
                "seed": seed,
                "n_envs": n_envs,
                "vec_env": "SubprocVecEnv"
                if (subproc if subproc is not None else n_envs > 1)
                else "DummyVecEnv",
                "hyperparams": hp,
                "normalize": normalize,
                "episodes_finished": len(episodes),
                "final_mean_return_last10": (
                    sum(e["return"] for e in episodes[-10:]) / len(episodes[-10:])
                )
                if episodes
                else None,
                "tensorboard": tensorboard,
                "agent": f"{algo}:{final / 'model.zip'}",
                "versions": environment_versions() | rl_versions(),
            }
            if cost_limit is not None:
                manifest["lagrangian"] = {
                    "cost_limit": cost_limit,
                    "lr": lagrange_lr,
                    "final_multiplier": multipliers[-1]["multiplier"] if multipliers else 0.0,
                }
            writer.write_json("manifest.json", manifest)
            run_dir = writer.commit()
    finally:
        if vec is not None:
            vec.close()
    if ckpt_dir.is_dir():  # keep the checkpoints with the finished run
        os.replace(ckpt_dir, run_dir / "checkpoints")
    return TrainResult(run_dir, run_dir / "model.zip", manifest, episodes)
