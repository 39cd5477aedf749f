"""Stable-Baselines3 agents: train, save, load, predict. Needs the `rl` extra (torch)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.errors import InputError

PICKLE_WARNING = (
    "SB3 model files are zip archives containing pickled Python objects: loading one can run "
    "arbitrary code. Only load model files you trust."
)


def _algo_class(algo: str):
    try:
        import stable_baselines3 as sb3
    except ImportError:  # pragma: no cover - depends on extras
        raise InputError("stable-baselines3 is not installed; install the extra: pip install -e '.[rl]'") from None
    classes = {"ppo": sb3.PPO, "sac": sb3.SAC, "dqn": sb3.DQN, "a2c": sb3.A2C, "td3": sb3.TD3}
    if algo not in classes:
        raise InputError(f"unknown algorithm '{algo}'; expected one of: {', '.join(classes)}", field="algo")
    return classes[algo]


def check_algo_fits(algo: str, env: Any) -> None:
    """SAC/TD3 need Box actions, DQN needs Discrete: say so instead of failing deep in SB3."""
    from gymnasium import spaces

    space = env.action_space
    if algo in ("sac", "td3") and not isinstance(space, spaces.Box):
        raise InputError(f"{algo.upper()} needs a continuous (Box) action space; this env has {space}", field="algo")
    if algo == "dqn" and not isinstance(space, spaces.Discrete):
        raise InputError(f"DQN needs a Discrete action space; this env has {space}", field="algo")


class SB3Agent:
    """A trained SB3 policy behind the same `predict(obs) -> action` API as the heuristics."""

    def __init__(self, model: Any, algo: str):
        self.model = model
        self.algo = algo
        self.name = algo

    @classmethod
    def train(cls, algo: str, env: Any, timesteps: int, seed: int, tensorboard: str | None = None,
              callback: Any = None, **kwargs: Any) -> SB3Agent:
        check_algo_fits(algo, env)
        klass = _algo_class(algo)
        model = klass("MlpPolicy", env, seed=seed, verbose=0, tensorboard_log=tensorboard, device="cpu", **kwargs)
        model.learn(total_timesteps=timesteps, callback=callback, progress_bar=False)
        return cls(model, algo)

    @classmethod
    def load(cls, algo: str, path: str | Path, env: Any | None = None) -> SB3Agent:
        p = Path(path)
        if not p.is_file():
            raise InputError("model file not found", file=str(p))
        warnings.warn(PICKLE_WARNING, UserWarning, stacklevel=2)
        model = _algo_class(algo).load(str(p), env=env, device="cpu")
        return cls(model, algo)

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(str(p))
        return p if p.suffix == ".zip" else p.with_suffix(".zip")

    def predict(self, obs: np.ndarray) -> np.ndarray:
        action, _ = self.model.predict(obs, deterministic=True)
        return action

    def reset(self) -> None:
        pass
