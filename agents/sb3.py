"""Stable-Baselines3 agents: train, save, load, predict. Needs the `rl` extra (torch).

Space fit: PPO and A2C take Box, Discrete and MultiDiscrete actions; SAC and TD3 need Box;
DQN needs Discrete (of the dcsim envs only `dcsim/Placement-v0` has one). `maskable-ppo`
(sb3-contrib's MaskablePPO, Huang & Ontañón, "A Closer Look at Invalid Action Masking in
Policy Gradient Algorithms", FLAIRS 2022) needs an env with `action_masks()`
(`dcsim/CoDesign-v0`): invalid choices get zero probability in training and in `predict`.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.errors import InputError

NORM_FILE = "obs_norm.json"  # next to model.zip when trained with --normalize
PICKLE_WARNING = (
    "SB3 model files are zip archives containing pickled Python objects: loading one can run "
    "arbitrary code. Only load model files you trust."
)


def _algo_class(algo: str):
    try:
        import stable_baselines3 as sb3
    except ImportError:  # pragma: no cover - depends on extras
        from dcsim.resources import install_hint

        raise InputError(
            f"stable-baselines3 is not installed; install the extra: {install_hint('rl')}"
        ) from None
    classes = {"ppo": sb3.PPO, "sac": sb3.SAC, "dqn": sb3.DQN, "a2c": sb3.A2C, "td3": sb3.TD3}
    if algo == "maskable-ppo":
        try:
            from sb3_contrib import MaskablePPO
        except ImportError:  # pragma: no cover - depends on extras
            from dcsim.resources import install_hint

            raise InputError(
                f"maskable-ppo needs sb3-contrib; install the extra: {install_hint('rl')}",
                field="algo",
            ) from None
        return MaskablePPO
    if algo not in classes:
        raise InputError(
            f"unknown algorithm '{algo}'; expected one of: {', '.join(classes)}", field="algo"
        )
    return classes[algo]


def check_algo_fits(algo: str, env: Any) -> None:
    """SAC/TD3 need Box actions, DQN needs Discrete: say so instead of failing deep in SB3,
    and suggest only the algorithms that fit this env's action space."""
    from dcsim.agents import SB3_ALGOS

    space = env.action_space
    kind = type(space).__name__  # Box, Discrete, MultiDiscrete, ... (no gymnasium import here)

    def fits(a: str) -> bool:
        if a == "maskable-ppo":
            return _has_masks(env)
        return kind == "Box" if a in ("sac", "td3") else kind == "Discrete" if a == "dqn" else True

    if fits(algo):
        return
    ok = [a for a in SB3_ALGOS if fits(a)]
    use = ", ".join(ok[:-1]) + f" or {ok[-1]}" if len(ok) > 1 else ok[0]
    if algo == "maskable-ppo":
        raise InputError(
            f"maskable-ppo needs an env with action_masks(); {type(getattr(env, 'unwrapped', env)).__name__} "
            f"has none: use {use}",
            field="algo",
        )
    need = "a continuous (Box)" if algo in ("sac", "td3") else "a Discrete"
    raise InputError(
        f"{algo.upper()} needs {need} action space; this env has {space}: use {use}",
        field="algo",
    )


def _has_masks(env: Any) -> bool:
    """An env, or every env of an SB3 VecEnv, offers action_masks()."""
    if hasattr(env, "has_attr"):  # VecEnv (and VecNormalize around one)
        return bool(env.has_attr("action_masks"))
    return hasattr(getattr(env, "unwrapped", env), "action_masks")


class SB3Agent:
    """A trained SB3 policy behind the same `predict(obs) -> action` API as the heuristics."""

    def __init__(
        self,
        model: Any,
        algo: str,
        obs_norm: dict[str, Any] | None = None,
        env: Any | None = None,
    ):
        self.model = model
        self.algo = algo
        self.name = algo
        self.env = env  # maskable-ppo: asked for action_masks() at every predict
        # VecNormalize observation statistics (mean, var, clip_obs, epsilon), stored as JSON
        self.obs_norm = obs_norm
        if obs_norm is not None:
            self._mean = np.asarray(obs_norm["mean"], dtype=np.float64)
            self._std = np.sqrt(
                np.asarray(obs_norm["var"], dtype=np.float64) + float(obs_norm["epsilon"])
            )
            self._clip = float(obs_norm["clip_obs"])

    @classmethod
    def train(
        cls,
        algo: str,
        env: Any,
        timesteps: int,
        seed: int,
        tensorboard: str | None = None,
        callback: Any = None,
        **kwargs: Any,
    ) -> SB3Agent:
        """Train on `env` (a single env or an SB3 VecEnv); kwargs go to the algorithm."""
        check_algo_fits(algo, env)
        klass = _algo_class(algo)
        if tensorboard:
            try:
                import tensorboard as _tb  # noqa: F401
            except ImportError:
                raise InputError(
                    "--tensorboard needs the tensorboard package (pip install tensorboard)",
                    field="tensorboard",
                ) from None
        import torch

        torch.set_num_threads(1)  # small MLPs: one thread is fastest and leaves cores to the envs
        model = klass(
            "MlpPolicy",
            env,
            seed=seed,
            verbose=0,
            tensorboard_log=tensorboard,
            device="cpu",
            **kwargs,
        )
        model.learn(total_timesteps=timesteps, callback=callback, progress_bar=False)
        return cls(model, algo, obs_norm_of(env))

    @classmethod
    def resume(
        cls, algo: str, path: str | Path, env: Any, timesteps: int, callback: Any = None
    ) -> SB3Agent:
        """Continue training a checkpoint on `env` until `timesteps` in all (not `timesteps` more)."""
        import torch

        torch.set_num_threads(1)
        model = cls.load(algo, path, env=env).model
        left = max(0, timesteps - int(model.num_timesteps))
        model.learn(
            total_timesteps=left, callback=callback, reset_num_timesteps=False, progress_bar=False
        )
        return cls(model, algo, obs_norm_of(env))

    @classmethod
    def load(cls, algo: str, path: str | Path, env: Any | None = None) -> SB3Agent:
        p = Path(path)
        if not p.is_file():
            raise InputError("model file not found", file=str(p), field="agent")
        saved = saved_algo(p)
        if saved is not None and saved != algo:
            raise InputError(
                f"this is a {saved.upper()} model, not {algo.upper()}; load it as {saved}:{p}",
                file=str(p),
                field="agent",
            )
        warnings.warn(PICKLE_WARNING, UserWarning, stacklevel=2)
        try:
            model = _algo_class(algo).load(str(p), env=env, device="cpu")
        except (
            ValueError,
            KeyError,
            OSError,
            EOFError,
            AssertionError,  # SB3's own space checks (e.g. another algorithm's model)
            AttributeError,  # a policy of another algorithm (e.g. no q_net)
        ) as exc:  # wrong env, not a model, truncated
            raise InputError(
                f"cannot load {algo.upper()} model: {exc}", file=str(p), field="agent"
            ) from None
        obs_norm = read_obs_norm(p.with_name(NORM_FILE), model.observation_space)
        return cls(model, algo, obs_norm, env)

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(str(p))
        out = p if p.suffix == ".zip" else p.with_suffix(".zip")
        if self.obs_norm is not None:
            out.with_name(NORM_FILE).write_text(json.dumps(self.obs_norm))
        return out

    def predict(self, obs: np.ndarray) -> np.ndarray:
        if self.obs_norm is not None:
            obs = np.clip((obs - self._mean) / self._std, -self._clip, self._clip).astype(
                np.float32
            )
        if self.algo == "maskable-ppo":
            if self.env is None:
                raise InputError("maskable-ppo needs the env for its action masks", field="agent")
            masks = self.env.unwrapped.action_masks()
            action, _ = self.model.predict(obs, deterministic=True, action_masks=masks)
            return action
        action, _ = self.model.predict(obs, deterministic=True)
        return action

    def reset(self) -> None:
        pass


def saved_algo(path: Path) -> str | None:
    """The algorithm an SB3 zip was saved by, from its `data` JSON (policy module; PPO and A2C
    share ActorCriticPolicy, PPO alone stores clip_range); None if it cannot tell."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            data = json.loads(zf.read("data"))
        module = str(data["policy_class"]["__module__"])
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile):
        return None  # not an SB3 zip: the loader says why
    for name in ("sac", "td3", "dqn"):
        if module.endswith(f".{name}.policies"):
            return name
    if module.endswith(".common.policies"):
        return "ppo" if "clip_range" in data else "a2c"
    return None


def read_obs_norm(path: Path, space: Any) -> dict[str, Any] | None:
    """obs_norm.json next to a model (VecNormalize statistics), checked: mean and var lists
    of the observation's length, var >= 0, finite epsilon > 0 and clip_obs > 0."""
    if not path.is_file():
        return None
    try:
        norm = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"not readable JSON ({exc})", file=str(path)) from None
    if not isinstance(norm, dict):
        raise InputError(
            f"expected a mapping of mean, var, epsilon, clip_obs, got {type(norm).__name__}",
            file=str(path),
        )
    n = int(np.prod(space.shape)) if getattr(space, "shape", None) else None
    for key in ("mean", "var"):
        v = norm.get(key)
        ok = isinstance(v, list) and all(
            isinstance(x, int | float) and not isinstance(x, bool) and np.isfinite(x) for x in v
        )
        vals: list[float] = list(v) if ok and isinstance(v, list) else []
        if not ok or (n is not None and len(vals) != n) or (key == "var" and min(vals) < 0):
            raise InputError(
                f"expected a list of {n if n is not None else 'the observation'} finite "
                f"numbers{' >= 0' if key == 'var' else ''}",
                file=str(path),
                field=key,
            )
    for key in ("epsilon", "clip_obs"):
        v = norm.get(key)
        if not (
            isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) and v > 0
        ):
            raise InputError(f"expected a finite number > 0 (got {v!r})", file=str(path), field=key)
    return norm


def make_vec_env(factory: Callable[[], Any], n_envs: int = 1, subproc: bool | None = None) -> Any:
    """n_envs copies of `factory()` (picklable for subprocesses) in a Dummy- or SubprocVecEnv.

    Each copy is wrapped in a Monitor so episode returns reach the callbacks; SB3 seeds
    copy i with seed + i when the algorithm is created with `seed`.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    if n_envs < 1:
        raise InputError("n_envs must be >= 1", field="n_envs")
    fns: list[Callable[[], Any]] = [
        functools.partial(_monitored, factory, os.getpid()) for _ in range(n_envs)
    ]
    if subproc is None:
        subproc = n_envs > 1
    if subproc:
        return SubprocVecEnv(fns, start_method="spawn" if sys.platform == "darwin" else "fork")
    return DummyVecEnv(fns)


def normalized(vec: Any, gamma: float = 0.99) -> Any:
    """VecNormalize: running mean/std of observations and of discounted returns (for rewards),
    the input scaling SB3's zoo uses for continuous control (Raffin et al., JMLR 2021)."""
    from stable_baselines3.common.vec_env import VecNormalize

    return VecNormalize(vec, norm_obs=True, norm_reward=True, gamma=gamma)


def obs_norm_of(env: Any) -> dict[str, Any] | None:
    """Observation statistics of a VecNormalize wrapper (None for anything else)."""
    rms = getattr(env, "obs_rms", None)
    if rms is None or not hasattr(rms, "mean"):
        return None
    return {
        "mean": np.asarray(rms.mean).tolist(),
        "var": np.asarray(rms.var).tolist(),
        "clip_obs": float(env.clip_obs),
        "epsilon": float(env.epsilon),
    }


def _monitored(factory: Callable[[], Any], parent_pid: int) -> Any:
    """The env in a Monitor; in a SubprocVecEnv worker (another pid) the worker first ties its
    life to the training process, which SIGKILL otherwise leaves it orphaned (issue 14.6)."""
    from stable_baselines3.common.monitor import Monitor

    if os.getpid() != parent_pid:
        from dcsim.procs import die_with_parent

        die_with_parent(parent_pid)
    return Monitor(factory())


def training_callbacks(
    on_step: Callable[[int], None] | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    n_envs: int = 1,
) -> tuple[Any, list[dict[str, float]]]:
    """A CallbackList reporting progress, recording finished episodes and saving checkpoints.

    Returns (callback, episodes) where `episodes` fills with {timestep, return, length}.
    """
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback

    episodes: list[dict[str, float]] = []

    class _Progress(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                ep = info.get("episode")
                if ep is not None:
                    episodes.append(
                        {
                            "timestep": float(self.num_timesteps),
                            "return": float(ep["r"]),
                            "length": float(ep["l"]),
                        }
                    )
            if on_step is not None:
                on_step(self.num_timesteps)
            return True

    cbs: list[Any] = [_Progress()]
    if checkpoint_dir and checkpoint_every > 0:
        cbs.append(
            CheckpointCallback(
                save_freq=max(checkpoint_every // max(n_envs, 1), 1),
                save_path=str(checkpoint_dir),
                name_prefix="model",
                save_vecnormalize=True,  # a VecNormalize env's statistics, for --resume
            )
        )
    return CallbackList(cbs), episodes
