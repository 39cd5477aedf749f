"""The env contract (dcsim/envs/contract.py): its pieces, and every env following it."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.envs import ENV_IDS
from dcsim.envs.contract import (
    AGGREGATIONS,
    Encoder,
    EnvKwargs,
    Episode,
    Feature,
    Metric,
    RewardTerm,
    compiled,
    compiled_encoder,
    encode,
    encode_into,
    encode_loop,
    encode_rows,
    observation_space,
    physical,
    reward_weights,
    weigh,
)
from dcsim.errors import InputError
from dcsim.resources import find_bundled

TERMS = (RewardTerm("energy", 1.0), RewardTerm("violation", 2.0, violation=True))


def test_reward_weights_defaults_and_overrides() -> None:
    assert reward_weights(TERMS, None) == {"energy": 1.0, "violation": 2.0}
    assert reward_weights(TERMS, {"violation": 7}) == {"energy": 1.0, "violation": 7.0}
    assert reward_weights(TERMS, {}, defaults={"energy": 3.0}) == {"energy": 3.0, "violation": 2.0}


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan, "1", True, None])
def test_reward_weights_refuse_bad_values(bad: object) -> None:
    with pytest.raises(InputError) as e:
        reward_weights(TERMS, {"energy": bad})
    assert e.value.field == "reward.energy"


def test_reward_weights_refuse_unknown_term_listing_allowed() -> None:
    with pytest.raises(InputError) as e:
        reward_weights(TERMS, {"enrgy": 1.0})
    assert e.value.field == "reward.enrgy"
    assert "energy" in e.value.message and "violation" in e.value.message


def test_weigh_multiplies_each_term() -> None:
    assert weigh({"a": 2.0, "b": 0.5}, {"a": -3.0, "b": 4.0}) == {"a": -6.0, "b": 2.0}


def test_features_encode_scale_clip_and_read_back() -> None:
    feats = (
        Feature("inlet_c", "C", scale=40.0),
        Feature("pue", "1", offset=1.0),
        Feature("load", "1", low=0.0, high=1.0),
    )
    space = observation_space(feats)
    assert space.shape == (3,) and space.low[2] == 0.0 and space.high[0] == 10.0
    obs = encode(feats, {"inlet_c": 30.0, "pue": 1.25, "load": 3.0})
    assert obs.dtype == np.float32 and space.contains(obs)
    assert obs[0] == pytest.approx(0.75) and obs[1] == pytest.approx(0.25)
    assert obs[2] == 1.0  # clipped to the bound
    assert physical(obs, feats, "inlet_c") == pytest.approx(30.0)
    assert physical(obs, feats, "pue") == pytest.approx(1.25)
    assert encode(feats, {"inlet_c": math.nan, "pue": math.inf, "load": 0.5})[:2].tolist() == [
        0.0,
        10.0,
    ]
    with pytest.raises(KeyError):
        physical(obs, feats, "outlet_c")
    with pytest.raises(KeyError):
        encode(feats, {"inlet_c": 1.0})


def test_episode_aggregates_as_declared() -> None:
    ep = Episode(
        [
            Metric("energy_kwh", "kWh", "sum"),
            Metric("power_w", "W", "mean"),
            Metric("events_total", "1", "max"),
            Metric("t_s", "s", "none"),
        ]
    )
    for k, (e, p, n) in enumerate([(1.0, 10.0, 1.0), (2.0, 30.0, 3.0), (3.0, 20.0, 2.0)]):
        ep.add({"energy_kwh": e, "power_w": p, "events_total": n, "t_s": 60.0 * k, "label": "x"})
    assert ep.result() == {"energy_kwh": 6.0, "power_w": 20.0, "events_total": 3.0}


def test_metric_refuses_unknown_aggregation() -> None:
    with pytest.raises(ValueError):
        Metric("x", "1", "median")  # type: ignore[arg-type]


# ------------------------------------------------------------------ every env
ENV_SMALL = {
    "dcsim/Datacenter-v0": {
        "overrides": {"cluster.servers": 8, "cluster.servers_per_rack": 2, "time.steps": 12}
    },
    "dcsim/Cooling-v0": {"n_accelerators": 64, "episode_steps": 12},
    "dcsim/PowerCap-v0": {"horizon_s": 60.0},
    "dcsim/FlowSplit-v0": {"episode_steps": 6},
    "dcsim/Placement-v0": {"n_jobs": 12},
    "dcsim/CoDesign-v0": {
        "episode_steps": 12,
        "engine": {
            "racks": 8,
            "inference": {"servers": 2},
            "workload": {"mix": {"job_sizes": {8: 1}}},
        },
    },
}


def _cls(env_id: str) -> type:
    from dcsim.evaluation import env_class

    return env_class(env_id)


def _make(env_id: str, **kw: object):
    _cls(env_id)
    return gym.make(env_id, **ENV_SMALL[env_id], **kw).unwrapped


def test_every_env_id_is_covered() -> None:
    assert set(ENV_SMALL) == set(ENV_IDS)


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_env_declares_kwargs_reward_and_metrics(env_id: str) -> None:
    cls = _cls(env_id)
    assert issubclass(cls.Kwargs, EnvKwargs)
    names = [t.name for t in cls.REWARD]
    assert names and len(set(names)) == len(names)
    assert all(math.isfinite(t.weight) and t.weight >= 0 for t in cls.REWARD)
    metrics = [m.name for m in cls.METRICS]
    assert metrics and len(set(metrics)) == len(metrics)
    assert all(m.agg in AGGREGATIONS for m in cls.METRICS)


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_features_build_the_observation_space(env_id: str) -> None:
    env = _make(env_id)
    feats = env.features
    assert all(isinstance(f, Feature) for f in feats)
    assert len({f.name for f in feats}) == len(feats)
    space = env.observation_space
    assert space.shape == (len(feats),)
    np.testing.assert_array_equal(space.low, [f.low for f in feats])
    np.testing.assert_array_equal(space.high, [f.high for f in feats])
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(3):
        assert space.contains(obs)
        for f in feats:  # physical() inverts the declared scaling within the bounds
            v = physical(obs, feats, f.name)
            assert f.low * f.scale + f.offset - 1e-6 * abs(f.scale) <= v
            assert v <= f.high * f.scale + f.offset + 1e-6 * abs(f.scale)
        obs, *_ = env.step(env.action_space.sample())


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_metrics_reported_are_the_metrics_declared(env_id: str) -> None:
    env = _make(env_id)
    declared = {m.name for m in env.METRICS}
    env.reset(seed=0)
    env.action_space.seed(0)
    seen: set[str] = set()
    for _ in range(3):
        *_, info = env.step(env.action_space.sample())
        numeric = {
            k
            for k, v in info["metrics"].items()
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        }
        assert numeric <= declared, f"undeclared metrics: {sorted(numeric - declared)}"
        seen |= numeric
    assert declared <= seen, f"declared but never reported: {sorted(declared - seen)}"


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_unknown_reward_term_and_bad_weight_are_input_errors(env_id: str) -> None:
    first = _cls(env_id).REWARD[0].name
    with pytest.raises(InputError) as e:
        _make(env_id, reward_weights={"bogus": 1.0})
    assert e.value.field == "reward.bogus" and first in e.value.message
    with pytest.raises(InputError) as e:
        _make(env_id, reward_weights={first: -1.0})
    assert e.value.field == f"reward.{first}"


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_unknown_kwarg_is_input_error_naming_it(env_id: str) -> None:
    with pytest.raises(InputError) as e:
        _make(env_id, no_such_argument=1)
    assert e.value.field == "no_such_argument"


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_reward_weights_scale_each_term_as_declared(env_id: str) -> None:
    """Weights 1 give the raw terms; other weights give reward == sum(weight * raw term)."""
    names = [t.name for t in _cls(env_id).REWARD]
    ones = dict.fromkeys(names, 1.0)
    w = {n: 0.5 + 1.5 * i for i, n in enumerate(names)}  # 0.5, 2.0, 3.5, ...
    a, b = _make(env_id, reward_weights=ones), _make(env_id, reward_weights=w)
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    a.action_space.seed(5)
    nonzero = 0
    for _ in range(4):
        act = a.action_space.sample()
        oa, ra, *_, ia = a.step(act)
        ob, rb, *_, ib = b.step(act)
        np.testing.assert_array_equal(oa, ob)  # weights change the reward, not the dynamics
        raw = ia["reward_terms"]
        assert set(raw) == set(names) == set(ib["reward_terms"])
        assert ra == pytest.approx(sum(raw.values()))
        for n in names:
            assert ib["reward_terms"][n] == pytest.approx(w[n] * raw[n], rel=1e-12, abs=1e-12)
        assert rb == pytest.approx(sum(w[n] * raw[n] for n in names), rel=1e-12, abs=1e-12)
        nonzero += sum(raw[n] != 0 for n in names)
    assert nonzero > 0  # the check above was not vacuous


# ------------------------------------------------------------------ evaluation follows it
class _ToyEnv:
    """Two steps with known metrics; names chosen so that suffix guessing would be wrong."""

    REWARD = (RewardTerm("comfort", 1.0, violation=True), RewardTerm("violation", 1.0))
    METRICS = (
        Metric("energy_kwh", "kWh", "max"),  # a suffix guess would sum
        Metric("inlet_max_c", "C", "mean"),  # a guess would take the max
        Metric("hits", "1", "sum"),  # a guess would average
        Metric("t_s", "s", "none"),
    )
    STEPS = (
        ({"comfort": -1.0, "violation": -5.0}, {"energy_kwh": 1.0, "inlet_max_c": 20.0, "hits": 2}),
        ({"comfort": 0.0, "violation": -5.0}, {"energy_kwh": 3.0, "inlet_max_c": 30.0, "hits": 5}),
    )

    @property
    def unwrapped(self) -> _ToyEnv:
        return self

    def reset(self, seed: int | None = None):
        self.k = 0
        return np.zeros(1), {}

    def step(self, action):
        terms, metrics = self.STEPS[self.k]
        self.k += 1
        info = {"reward_terms": terms, "metrics": {**metrics, "t_s": 60.0 * self.k}}
        return np.zeros(1), sum(terms.values()), False, self.k == 2, info


class _Idle:
    def reset(self) -> None:
        pass

    def predict(self, obs):
        return 0


def test_run_episode_aggregates_and_counts_violations_as_declared() -> None:
    from dcsim.evaluation import run_episode

    ep = run_episode(_ToyEnv(), _Idle(), seed=0)
    assert ep["energy_kwh"] == 3.0  # max, as declared
    assert ep["inlet_max_c"] == 25.0  # mean, as declared
    assert ep["hits"] == 7.0  # sum, as declared
    assert "t_s" not in ep
    assert ep["violation_steps"] == 1.0  # only `comfort` is declared a violation term
    assert ep["r_violation"] == -10.0 and ep["return"] == -11.0


def test_power_cap_episode_metrics_follow_declaration() -> None:
    """A real env through evaluate(): the declared aggregation, not a guess from the name."""
    from dcsim.evaluation import evaluate, load_spec

    spec = load_spec("tasks/powercap.yaml", overrides={"horizon_s": 60.0})
    ev = evaluate(spec, "uncapped", episodes=1)
    env = spec.make()
    env.reset(seed=0)
    agg = {m.name: m.agg for m in env.METRICS}
    rows = []
    while True:
        *_, trunc, info = env.step(np.ones(2, dtype=np.float32))
        rows.append(info["metrics"])
        if trunc:
            break
    for name, kind in agg.items():
        vals = [r[name] for r in rows]
        want = {"sum": sum(vals), "mean": sum(vals) / len(vals), "max": max(vals)}[kind]
        assert ev.episodes[0][name] == pytest.approx(want), name


@pytest.mark.parametrize("task", ["powercap", "placement", "cooling", "flowsplit"])
def test_task_reward_section_is_reward_weights(task: str) -> None:
    from dcsim.evaluation import load_spec
    from dcsim.schema import read_yaml

    path = find_bundled("scenarios", f"tasks/{task}.yaml")
    reward = read_yaml(path).get("reward") or {}
    spec = load_spec(str(path))
    assert spec.kwargs.get("reward_weights", {}) == reward
    assert "weights" not in spec.kwargs and not any(k.startswith("w_") for k in spec.kwargs)


def test_scenario_reward_block_and_reward_override_reach_datacenter() -> None:
    """A dcsim scenario drives Datacenter-v0 through its `scenario_kwargs`; `--reward`
    weights go in as `reward_weights` on top of the scenario's `reward:` block."""
    from dcsim.evaluation import load_spec

    small = {"cluster.servers": 8, "cluster.servers_per_rack": 2}
    env = load_spec(None, "datacenter", overrides=small, reward={"energy": 3.0}).make()
    sc = env.loaded.scenario.reward
    assert env.weights == {
        "energy": 3.0,
        "carbon": sc.carbon,
        "throughput": sc.throughput,
        "violation": sc.violation,
    }
    with pytest.raises(InputError) as e:
        load_spec(None, "datacenter", overrides=small, reward={"energi": 1.0}).make()
    assert e.value.field == "reward.energi"


def test_task_weights_have_one_place(tmp_path) -> None:
    from dcsim.evaluation import load_spec

    task = tmp_path / "t.yaml"
    task.write_text("env: dcsim/FlowSplit-v0\nkwargs: {reward_weights: {time: 2.0}}\n")
    with pytest.raises(InputError) as e:
        load_spec(str(task))
    assert e.value.field == "kwargs.reward_weights" and e.value.file == str(task)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    special=st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300]),
)
def test_encode_into_equals_encode_rows(rows: int, seed: int, special: float) -> None:
    """The loop the envs' compiled steps run gives `encode_rows`' float32 bits: NaN
    to 0 then clipped, infinities clipped, values inside the bounds scaled as they are."""
    rng = np.random.default_rng(seed)
    m = 7
    x = rng.normal(0.0, 50.0, (rows, m))
    x[rng.random((rows, m)) < 0.2] = special
    offset = rng.normal(0.0, 5.0, m)
    scale = rng.uniform(0.1, 20.0, m)
    low = np.where(rng.random(m) < 0.5, 0.0, -rng.uniform(0.5, 3.0, m))
    high = rng.uniform(0.5, 3.0, m)
    low[0] = 0.5  # a feature whose range excludes 0: a NaN lands on its low bound
    want = encode_rows(x, offset, scale, low, high)
    try:
        fns = (encode_into, compiled(encode_into))
    except ImportError:  # DCSIM_NO_JIT=1 or no numba: the loop as written
        fns = (encode_into,)
    for fn in fns:
        out = np.full((rows, m), 9.0, dtype=np.float32)
        fn(x, offset, scale, low, high, out)
        assert out.tobytes() == want.tobytes()
    loops = [encode_loop] + ([compiled_encoder()] if len(fns) > 1 else [])
    for fn in loops:  # the Encoder's form: a row or rows
        assert fn(x, offset, scale, low, high).tobytes() == want.tobytes()
        row = fn(x[0], offset, scale, low, high)
        assert row.shape == (m,) and row.tobytes() == want[0].tobytes()


def test_encoder_pickles_without_its_compiled_code() -> None:
    """An Encoder running the compiled loop pickles with NumPy's encode_rows in its place
    (loadable where numba is missing) and encodes the same observation."""
    import pickle

    enc = Encoder([Feature("a", "1", 2.0, low=0.0, high=1.0), Feature("b", "C", 10.0)])
    try:
        enc.fn = compiled_encoder()
    except ImportError:  # DCSIM_NO_JIT=1 or no numba
        pass
    back = pickle.loads(pickle.dumps(enc))
    assert back.fn is encode_rows
    assert back([1.0, 37.0]).tobytes() == enc([1.0, 37.0]).tobytes()
