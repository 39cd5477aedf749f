"""`dcsim/PowerCap-v0`: POLCA's row power-oversubscription task for reinforcement learning."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pydantic import Field

from dcsim.cost import FlatCostConfig
from dcsim.envs.contract import (
    METADATA,
    Encoder,
    EnvKwargs,
    Feature,
    Metric,
    RewardTerm,
    compiled_encoder,
    observation_space,
    parse_kwargs,
    render_frame,
    render_mode_arg,
    reward_weights,
    weigh,
)
from dcsim.polca import (
    PeriodPower,
    RowConfig,
    RowObservation,
    RowSimulation,
    action_to_clock,
    characterize,
    clock_to_action,
    kernels,
    polca_fraction,
)
from dcsim.schema import validate_model

ACTION_NAMES = ("lp_clock", "hp_clock")


def features(baseline_servers: int) -> tuple[Feature, ...]:
    """Observation entries; all bounded to [0, 3]."""

    def f(name: str, unit: str, scale: float = 1.0) -> Feature:
        return Feature(name, unit, scale, low=0.0, high=3.0)

    return (
        f("row_power_frac", "1"),  # last 1-s row power / budget
        f("row_power_frac_avg", "1"),  # mean over the last control period
        f("row_load", "1"),  # mean server load (request rate / saturation throughput)
        f("brake_active", "1"),
        f("lp_clock_frac", "1"),  # applied clocks / f_max (median over the group)
        f("hp_clock_frac", "1"),
        f("time_frac", "1"),  # elapsed share of the episode
        f("servers", "servers", scale=float(baseline_servers)),
    )


class PowerCapKwargs(EnvKwargs):
    """PowerCap-v0 arguments; ranges are checked by `RowConfig` (errors name `row.<field>`)."""

    n_servers: int = 60
    baseline_servers: int = 40
    horizon_s: float = 1800.0
    control_period_s: float = 5.0
    mean_load: float = 0.6
    cap_delay_max_s: float = 40.0
    row: dict[str, Any] | None = None
    cost: FlatCostConfig = Field(default_factory=FlatCostConfig)


class PowerCapEnv(gym.Env):
    """Keep an oversubscribed row of LLM inference servers under its power budget.

    ## Description
    A row of DGX-class inference servers (default: 60 A100-80G servers, i.e. +50 % over the
    40 the budget was provisioned for at nameplate power) serves a bursty conversation
    workload (Gamma arrivals, Azure 2023 conversation trace burstiness). Each step is one
    control period (default 5 s) of `dcsim.polca.RowSimulation`: the physics ticks every
    second, clock commands land after a random out-of-band delay (up to 40 s), and a
    power brake drops every GPU to ~288 MHz-equivalent within 5 s whenever the row exceeds its
    budget. Half the servers run high-priority work. Same task as `dcsim reproduce polca`;
    `dcsim.agents.polca.PolcaAgent` is the heuristic baseline.

    ## Action space
    `Box(-1, 1, (2,), float32)`: target clock of low-priority and high-priority servers, each
    mapped linearly to a fraction of f_max in [`clock_lo`, 1] (`clock_lo` = 288/1410).

    ## Observation space
    `Box(0, 3, (8,), float32)`, entries declared in `env.features` (read them with
    `dcsim.envs.contract.physical`): row power share (last second and period mean), mean
    server load, brake flag, applied low/high-priority clocks, elapsed share of the episode,
    servers (scaled by the baseline servers). Values are clipped to the bounds.

    ## Rewards
    `reward = sum(info["reward_terms"].values())`, each term its weight (`reward_weights`,
    defaults in `REWARD`) times
    `over_budget = -(mean over the period's seconds of max(0, P/budget - 1)) * 100`,
    `brake = -(seconds braked in the period) / period`,
    `brake_event = -(brakes that engaged in the period)`,
    `hp_latency = -(median-latency slowdown of high-priority requests - 1) * 100`,
    `lp_latency = -(same for low priority) * 100`,
    `cost = -(the period's electricity bill / the budget's bill for the period)` (weight 0 by
    default; `info["metrics"]["electricity_usd"]` is the bill at the `dcsim.cost` price of
    the `cost` argument: region, flat price or overrides); slowdowns are arrival-weighted over the
    period's server-seconds, each scored at its load and applied clock by bilinear
    interpolation of the characterised serving table (`RowSimulation.slowdown`), as power
    is, so a clock between two characterised clocks pays an in-between latency. Default
    weights over_budget=1, brake=5, brake_event=100, hp_latency=1, lp_latency=0.1: a brake
    is a constraint violation (POLCA's acceptance is zero brakes), and one costs as much as
    doubling the high-priority median latency for a period, on top of the latency the
    steady-state table scores for the braked seconds (which misses the backlog a brake
    leaves). `info["cost"]` reports the constraints in physical units for constrained RL,
    with CoDesign-v0's names: `brakes` (engaged in the period), `brake_s`,
    `over_budget_kw_min`.

    ## Episode end
    Never terminates; truncates after `horizon_s / control_period_s` steps (default 360).

    ## Arguments
    `n_servers` (60), `baseline_servers` (40), `horizon_s` (1800), `control_period_s` (5),
    `mean_load` (0.6), `cap_delay_max_s` (40), `reward_weights` (term -> weight), and `row`
    (a full `RowConfig` mapping that overrides the rest); validated by `PowerCapKwargs`.
    `info` holds `reward_terms`, `cost` and `metrics` (declared in `METRICS`: row power share
    peak/mean, brake, applied clocks); no wall-clock values. Deterministic given the reset seed.
    """

    metadata = METADATA
    render = render_frame
    Kwargs = PowerCapKwargs
    REWARD = (
        RewardTerm("over_budget", 1.0, violation=True),
        RewardTerm("brake", 5.0, violation=True),
        RewardTerm("brake_event", 100.0, violation=True),
        RewardTerm("hp_latency", 1.0),
        RewardTerm("lp_latency", 0.1),
        RewardTerm("cost", 0.0),
    )
    METRICS = (
        Metric("row_power_frac_peak", "1", "max"),
        Metric("row_power_frac_mean", "1", "mean"),
        Metric("brake_events_total", "1", "max"),  # cumulative count
        Metric("brake_active", "1", "mean"),
        Metric("lp_clock_frac", "1", "mean"),
        Metric("hp_clock_frac", "1", "mean"),
        Metric("electricity_usd", "USD", "sum"),
    )

    def __init__(self, **kwargs: Any) -> None:
        self.render_mode = render_mode_arg(kwargs)
        self.kw = kw = parse_kwargs(self.Kwargs, kwargs)
        self.weights = reward_weights(self.REWARD, kw.reward_weights)
        base = kw.model_dump(exclude={"row", "reward_weights", "cost"})
        self.usd_per_kwh = kw.cost.flat_prices()[0]
        self.row_cfg = validate_model(RowConfig, base | (kw.row or {}), prefix="row")
        # Short characterisation (cached per process): enough cells for smooth interpolation.
        self.table = characterize(
            self.row_cfg.hardware, self.row_cfg.model, sim_s=90.0, warmup_s=20.0
        )
        self.clock_lo = polca_fraction("brake")
        self.period = self.row_cfg.control_period_s
        self.max_steps = int(np.ceil(self.row_cfg.horizon_s / self.period))
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.features = features(self.row_cfg.baseline_servers)
        self.observation_space = observation_space(self.features)
        self._encode = Encoder(self.features)
        self.sim: RowSimulation | None = None
        self._steps = 0
        self._compiled: bool | None = None  # the row's compiled loops, loaded on the first step

    # ------------------------------------------------------------------ helpers
    def to_action(self, lp_clock_frac: float, hp_clock_frac: float) -> np.ndarray:
        """Clock fractions of f_max -> action in [-1, 1]."""
        return clock_to_action(np.array([lp_clock_frac, hp_clock_frac]), self.clock_lo).astype(
            np.float32
        )

    def _obs(self, o: RowObservation) -> np.ndarray:
        sim = self.sim
        assert sim is not None
        t = max(sim.t_idx - 1, 0)
        vals = {
            "row_power_frac": o.row_power_frac,
            "row_power_frac_avg": o.row_power_frac_avg,
            "row_load": float(np.add.reduce(sim.rho[t]) / sim.N),  # the mean, cheaper
            "brake_active": 1.0 if o.brake_active else 0.0,
            "lp_clock_frac": o.lp_clock_frac,
            "hp_clock_frac": o.hp_clock_frac,
            "time_frac": self._steps / self.max_steps,
            "servers": sim.N,
        }
        return self._encode.named(vals)

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        sub_seed = int(self.np_random.integers(0, 2**31 - 1))
        cfg = self.row_cfg.model_copy(update={"seed": sub_seed})
        self.sim = RowSimulation(cfg, self.table)
        self.sim.start(brake=True)
        self.sim.advance(1.0)  # first tick so the observation has a power reading
        self._steps = 0
        self._brakes = self.sim.brake_events
        o = self.sim.observe()
        return self._obs(o), {"metrics": self._metrics(self.sim.period_power(0, self.sim.t_idx), o)}

    def _metrics(self, pp: PeriodPower, o: RowObservation) -> dict[str, float]:
        sim = self.sim
        assert sim is not None
        # the clocks' medians are the observation's (NaN: no server)
        return {
            "row_power_frac_peak": pp.peak_frac,
            "row_power_frac_mean": pp.mean_frac,
            "brake_events_total": float(sim.brake_events),
            "brake_active": float(sim.brake_active),
            "lp_clock_frac": o.lp_clock_frac if sim.lp_servers.size else float("nan"),
            "hp_clock_frac": o.hp_clock_frac if sim.hp_servers.size else float("nan"),
            # the row's wall energy over the period (1-s ticks) at the dcsim.cost price
            "electricity_usd": pp.energy_j / 3.6e6 * self.usd_per_kwh,
        }

    def _load_kernels(self) -> None:
        """On the first step: the row's compiled loops (`polca.kernels`, numba ~0.5 s to
        load, so not at reset) and the compiled observation encoder; same numbers."""
        self._compiled = kernels(load=True) is not None
        if self._compiled:
            self._encode.fn = compiled_encoder()

    def step(self, action: np.ndarray):
        sim = self.sim
        assert sim is not None, "call reset() first"
        if self._compiled is None:
            self._load_kernels()
        a_lp, a_hp = np.asarray(action, dtype=float).reshape(2).tolist()
        sim.command(action_to_clock(a_lp, self.clock_lo), action_to_clock(a_hp, self.clock_lo))
        t0 = sim.t_idx
        sim.advance(self.period)
        t1 = sim.t_idx
        self._steps += 1
        o = sim.observe()
        pp = sim.period_power(t0, t1)  # 1-s ticks
        metrics = self._metrics(pp, o)
        braked = float(pp.braked_s)
        hp_s, lp_s = sim.slowdowns(t0, t1, sim.priority_high, ~sim.priority_high)
        brakes = sim.brake_events - self._brakes  # brakes that engaged in this period
        self._brakes = sim.brake_events
        raw = {
            "over_budget": -(pp.over_frac * 100.0) if t1 > t0 else 0.0,
            "brake": -braked / self.period,
            "brake_event": -float(brakes),
            "hp_latency": -(hp_s - 1.0) * 100.0,
            "lp_latency": -(lp_s - 1.0) * 100.0,
            # the period's electricity bill over the budget's bill for the period
            "cost": -metrics["row_power_frac_mean"] if t1 > t0 else 0.0,
        }
        terms = weigh(self.weights, raw)
        reward = float(sum(terms.values()))
        truncated = bool(self._steps >= self.max_steps or sim.done)
        cost = {  # constraint costs in physical units (CoDesign-v0's names), for safe RL
            "brakes": float(brakes),
            "brake_s": braked,
            "over_budget_kw_min": pp.over_w / 1000.0 / 60.0,
        }
        info = {"reward_terms": terms, "metrics": metrics, "cost": cost}
        return self._obs(o), reward, False, truncated, info
