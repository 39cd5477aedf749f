"""The contract every dcsim env follows, so tools treat all envs alike.

An env class declares, once:
- `Kwargs`: a pydantic model of its constructor arguments (subclass of `EnvKwargs`);
  unknown or invalid arguments are `InputError`s naming the field;
- `REWARD`: its reward terms (`RewardTerm`) with default weights; the constructor takes
  `reward_weights` (term -> weight), validated by `reward_weights()`; the env computes
  unweighted terms and `weigh()` applies the weights, so
  `info["reward_terms"][k] == weight[k] * raw[k]` and `reward == sum(info["reward_terms"])`;
- `features`: its observation entries (`Feature`: name, unit, scale, bounds); the env builds
  `observation_space` with `observation_space()` and observations with `encode()`, and
  heuristics read physical values back with `physical()`;
- optionally `actuators`: the entries of a `Box(-1, 1)` action (`Actuator`: a physical
  range mapped linearly, or named choices taken by equal bins), read with `Actuator.value`
  and built back with `Actuator.action`;
- `METRICS`: the numeric entries of `info["metrics"]` (`Metric`) with how an episode
  aggregates them (`sum`, `mean`, `max`, or `none` for stamps such as `t_s`); `Episode`
  applies that declaration;
- optionally `scenario_kwargs(loaded, overrides) -> dict`, a classmethod mapping a dcsim
  scenario (`dcsim.config.LoadedScenario` and its `--set` overrides) onto constructor
  arguments, for envs a scenario can drive (`dcsim evaluate scenario.yaml --env ...`).

Typical constructor:

    def __init__(self, **kwargs):
        self.kw = parse_kwargs(self.Kwargs, kwargs)
        self.weights = reward_weights(self.REWARD, self.kw.reward_weights)
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
from gymnasium import spaces
from pydantic import Field

from dcsim.errors import InputError
from dcsim.schema import StrictModel, validate_model

Aggregation = Literal["sum", "mean", "max", "none"]
AGGREGATIONS: tuple[str, ...] = ("sum", "mean", "max", "none")


# ------------------------------------------------------------------ kwargs
class EnvKwargs(StrictModel):
    """Base of every env's constructor arguments: unknown names are refused."""

    reward_weights: dict[str, Any] = Field(
        default_factory=dict, description="reward term -> weight (the env's REWARD names)"
    )


K = TypeVar("K", bound=EnvKwargs)


def parse_kwargs(model: type[K], kwargs: Mapping[str, Any]) -> K:
    """Validate constructor arguments; InputError names the offending field."""
    return validate_model(model, dict(kwargs))


# ------------------------------------------------------------------ reward
@dataclass(frozen=True)
class RewardTerm:
    """One reward term: `weight` is the default; `violation` marks a constraint term
    (a negative value means the step broke the constraint; evaluation counts those steps)."""

    name: str
    weight: float
    violation: bool = False


def reward_weights(
    terms: Sequence[RewardTerm],
    given: Mapping[str, Any] | None,
    defaults: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Defaults (the terms' own, or `defaults`) updated by `given`, validated once.

    Unknown names and weights that are not finite numbers >= 0 are InputErrors naming
    `reward.<term>`.
    """
    names = [t.name for t in terms]
    out = {t.name: float(t.weight) for t in terms}
    if defaults:
        out.update({k: float(v) for k, v in defaults.items()})
    for k, v in (given or {}).items():
        if k not in out:
            raise InputError(
                f"unknown reward weight (no such term); expected one of: {', '.join(names)}",
                field=f"reward.{k}",
            )
        ok = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        if not (ok and math.isfinite(float(v)) and float(v) >= 0):
            raise InputError(
                f"reward weight must be a finite number >= 0 (got {v!r})", field=f"reward.{k}"
            )
        out[k] = float(v)
    return out


def weigh(weights: Mapping[str, float], raw: Mapping[str, float]) -> dict[str, float]:
    """Weighted terms for `info["reward_terms"]`; the reward is their sum."""
    return {k: float(weights[k] * v) for k, v in raw.items()}


# ------------------------------------------------------------------ observation
@dataclass(frozen=True)
class Feature:
    """One observation entry: observation = clip((physical - offset) / scale, low, high).

    `name` and `unit` describe the physical value (e.g. "inlet_max_c", "C"); `low`/`high`
    bound the observation entry (the Box bounds).
    """

    name: str
    unit: str
    scale: float = 1.0
    low: float = -10.0
    high: float = 10.0
    offset: float = 0.0


def observation_space(features: Sequence[Feature]) -> spaces.Box:
    low = np.array([f.low for f in features], dtype=np.float32)
    high = np.array([f.high for f in features], dtype=np.float32)
    return spaces.Box(low, high, dtype=np.float32)


def encode_rows(
    x: np.ndarray, offset: np.ndarray, scale: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """clip((x - offset) / scale, low, high) as float32, NaN -> 0, for a row or rows of
    physical values. Array code: the batched Cooling-v0 runs it compiled by numba."""
    y = (x - offset) / scale
    y = np.where(np.isnan(y), 0.0, y)
    return np.minimum(np.maximum(y, low), high).astype(np.float32)


def encode_into(
    x: np.ndarray,
    offset: np.ndarray,
    scale: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    out: np.ndarray,
) -> None:
    """`encode_rows` of the rows x (2-D) into out (float32), element by element: the form the
    batched envs' compiled steps run (numba evaluates `encode_rows`' broadcast array
    expressions ~3x slower than this loop). Same numbers (tests/test_env_contract.py)."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            y = (x[i, j] - offset[j]) / scale[j]
            if np.isnan(y):
                y = 0.0
            out[i, j] = min(max(y, low[j]), high[j])


def encode_loop(
    x: np.ndarray, offset: np.ndarray, scale: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """`encode_rows` (a row or rows) by the element loop `encode_into`: the form the envs
    compile (`compiled_encoder`), ~3x faster compiled than `encode_rows` compiled."""
    rows = x.reshape(-1, offset.shape[0])
    out = np.empty(rows.shape, dtype=np.float32)
    encode_into(rows, offset, scale, low, high, out)
    return out.reshape(x.shape)


def compiled_encoder() -> Any:
    """`encode_loop` compiled by numba (ImportError without it): an `Encoder.fn`."""
    return compiled(encode_loop, encode_into=compiled(encode_into))


_COMPILED: dict[Any, Any] = {}


def compiled(fn: Any, **deps: Any) -> Any:
    """`fn` (array code) compiled by numba, cached on disk and per process; ImportError
    without numba or with DCSIM_NO_JIT=1 (`dcsim.jit`). Envs use it for their per-step array
    code once their kernel is loaded. `deps` rebinds globals `fn` calls to their compiled
    forms (a fused step calling other array code); a function is compiled with one binding
    per process (the first)."""
    if fn not in _COMPILED:
        from dcsim.jit import numba_module

        numba = numba_module()
        if not numba:
            raise ImportError("numba is not installed or DCSIM_NO_JIT=1")
        f = fn
        if deps:
            g = dict(fn.__globals__) | deps
            f = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
        try:
            _COMPILED[fn] = numba.njit(cache=True)(f)
        except RuntimeError:  # no writable cache directory: compile in each process
            _COMPILED[fn] = numba.njit(f)
    return _COMPILED[fn]


def _check_names(values: Mapping[str, float], names: Sequence[str]) -> None:
    """KeyError naming the missing and extra features unless `values` has one per name."""
    if len(values) != len(names):
        missing = [n for n in names if n not in values]
        extra = [k for k in values if k not in names]
        raise KeyError(
            f"observation values do not match features: missing {missing}, extra {extra}"
        )


class Encoder:
    """`encode` for a fixed feature order, its constants built once (the per-step path).

    `encoder(values)` takes the physical values in feature order: one sequence, or a batch
    of them (rows) for a vector env.
    """

    def __init__(self, features: Sequence[Feature]):
        self.names = tuple(f.name for f in features)
        self.offset = np.array([f.offset for f in features], dtype=np.float64)
        self.scale = np.array([f.scale for f in features], dtype=np.float64)
        self.low = np.array([f.low for f in features], dtype=np.float64)
        self.high = np.array([f.high for f in features], dtype=np.float64)
        self.fn = encode_rows  # or its compiled form (`compiled_encoder()`): same numbers
        # `named_blocks`: the features outside the blocks, per block layout
        self._rest: dict[tuple, tuple[np.ndarray, tuple[str, ...]]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Picklable where numba is missing: the compiled `fn` is left out (NumPy's until
        the owner sets it again)."""
        state = self.__dict__.copy()
        state["fn"] = encode_rows
        return state

    def stacked(self) -> np.ndarray:
        """(offset, scale, low, high) as one (4, features) array: the encoding's constants
        as the batched envs' compiled steps take them (`encode_into`)."""
        return np.stack([self.offset, self.scale, self.low, self.high])

    def __call__(
        self, values: Sequence[float] | Sequence[Sequence[float]] | np.ndarray
    ) -> np.ndarray:
        x = np.array(values, dtype=np.float64)
        return self.fn(x, self.offset, self.scale, self.low, self.high)

    def named(self, values: Mapping[str, float]) -> np.ndarray:
        """Physical values by feature name -> the clipped float32 observation (NaN -> 0)."""
        _check_names(values, self.names)
        x = np.fromiter(map(values.__getitem__, self.names), np.float64, len(self.names))
        return self.fn(x, self.offset, self.scale, self.low, self.high)

    def named_blocks(
        self, values: Mapping[str, float], blocks: Sequence[tuple[int, np.ndarray]]
    ) -> np.ndarray:
        """`named` with runs of consecutive features given as arrays, (index of the run's
        first feature, its values), and the other features by name in `values`: the same
        observation without a dict entry per rack."""
        key = tuple((start, len(arr)) for start, arr in blocks)
        rest = self._rest.get(key)
        if rest is None:
            taken = np.zeros(len(self.names), dtype=bool)
            for start, n in key:
                taken[start : start + n] = True
            idx = np.flatnonzero(~taken)
            rest = self._rest[key] = (idx, tuple(self.names[i] for i in idx))
        idx, names = rest
        _check_names(values, names)
        x = np.empty(len(self.names))
        for start, arr in blocks:
            x[start : start + len(arr)] = arr
        x[idx] = np.fromiter(map(values.__getitem__, names), np.float64, len(names))
        return self.fn(x, self.offset, self.scale, self.low, self.high)


def encode(features: Sequence[Feature], values: Mapping[str, float]) -> np.ndarray:
    """Physical values by feature name -> the clipped float32 observation (NaN -> 0)."""
    return Encoder(features).named(values)


def feature_index(features: Sequence[Feature], name: str) -> int:
    for i, f in enumerate(features):
        if f.name == name:
            return i
    raise KeyError(f"no observation feature '{name}'; have {[f.name for f in features]}")


def physical(obs: np.ndarray, features: Sequence[Feature], name: str) -> float:
    """The physical value of feature `name` in `obs` (as clipped by the bounds)."""
    i = feature_index(features, name)
    return float(obs[i]) * features[i].scale + features[i].offset


# ------------------------------------------------------------------ actions
@dataclass(frozen=True)
class Actuator:
    """One entry of a `Box(-1, 1)` action: a range `low`..`high` (`unit`) mapped linearly,
    or, when `choices` is set, the i-th of n choices for a in [-1 + 2i/n, -1 + 2(i+1)/n)."""

    name: str
    unit: str = "1"
    low: float = -1.0
    high: float = 1.0
    choices: tuple[str, ...] = ()

    def value(self, a: float) -> float | str:
        """The physical value (or choice) of action entry a (clipped to [-1, 1])."""
        a = float(a)
        a = -1.0 if a < -1.0 else (1.0 if a > 1.0 else a)  # min(max(a, -1), 1), NaN kept
        if self.choices:
            if a != a:
                raise InputError(
                    "action entry is NaN; expected a number in [-1, 1]", field=self.name
                )
            n = len(self.choices)
            i = int((a + 1.0) * 0.5 * n)
            return self.choices[i if i < n else n - 1]
        return self.low + (a + 1.0) * 0.5 * (self.high - self.low)

    def action(self, v: float | str) -> float:
        """The action entry that gives v: a choice's bin centre, or the range's inverse map
        (clipped to [-1, 1])."""
        if self.choices:
            if v not in self.choices:
                raise InputError(
                    f"unknown choice {v!r}; expected one of {', '.join(self.choices)}",
                    field=self.name,
                )
            return -1.0 + (2.0 * self.choices.index(str(v)) + 1.0) / len(self.choices)
        return min(max(2.0 * (float(v) - self.low) / (self.high - self.low) - 1.0, -1.0), 1.0)


# ------------------------------------------------------------------ metrics
@dataclass(frozen=True)
class Metric:
    """A numeric `info["metrics"]` entry and how an episode aggregates it."""

    name: str
    unit: str
    agg: Aggregation

    def __post_init__(self) -> None:
        if self.agg not in AGGREGATIONS:
            raise ValueError(f"metric {self.name}: aggregation must be one of {AGGREGATIONS}")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool)


class Episode:
    """Aggregates per-step `info["metrics"]` as declared: sum, mean over steps, or max.

    Metrics the env does not declare, non-numeric values and `none` metrics are skipped.
    """

    def __init__(self, metrics: Sequence[Metric]):
        self.agg = {m.name: m.agg for m in metrics if m.agg != "none"}
        self.acc: dict[str, float] = {}
        self.n: dict[str, int] = {}

    def add(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            kind = self.agg.get(k)
            if kind is None or not _is_number(v):
                continue
            v = float(v)
            if k not in self.acc:
                self.acc[k], self.n[k] = v, 1
                continue
            self.acc[k] = max(self.acc[k], v) if kind == "max" else self.acc[k] + v
            self.n[k] += 1

    def result(self) -> dict[str, float]:
        return {k: s / self.n[k] if self.agg[k] == "mean" else s for k, s in self.acc.items()}


# ------------------------------------------------------------------ rendering
RENDER_MODES: tuple[str, ...] = ("rgb_array",)
METADATA: dict[str, Any] = {"render_modes": list(RENDER_MODES), "render_fps": 4}


def render_mode_arg(kwargs: dict[str, Any]) -> str | None:
    """Pop `render_mode` (gymnasium passes it to the constructor) and check it."""
    mode = kwargs.pop("render_mode", None)
    if mode is not None and mode not in RENDER_MODES:
        raise InputError(
            f"unknown render_mode {mode!r}; expected one of: {', '.join(RENDER_MODES)}",
            field="render_mode",
        )
    return mode


def render_frame(env: Any) -> np.ndarray | None:
    """`env.render()`: an H x W x 3 uint8 frame in rgb_array mode (dcsim.viz.env_frames)."""
    if getattr(env, "render_mode", None) != "rgb_array":
        return None
    from dcsim.viz.env_frames import frame

    return frame(env)
