"""The env contract (dcsim/envs/contract.py): its pieces, and every env following it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dcsim.envs.contract import (
    Episode,
    Feature,
    Metric,
    RewardTerm,
    encode,
    observation_space,
    physical,
    reward_weights,
    weigh,
)
from dcsim.errors import InputError

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
