"""Cooling, climate and Cooling-v0 speed (pytest-benchmark).

Run: pytest benchmarks/bench_cooling.py --benchmark-only -q
Target (issue 6 point 6): Cooling-v0 >= 5,000 steps/s on one core with 1,024 accelerators.
"""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.climate import ClimateConfig, WeatherConfig, WeatherSample, build_weather
from dcsim.cooling import CoolingConfig, CoolingPlant, simulate_period
from dcsim.envs.cooling import CoolingEnv


@pytest.mark.parametrize("typ", ["air", "liquid"])
def test_plant_step_64_racks(benchmark, typ):
    plant = CoolingPlant(CoolingConfig(type=typ), 64, 64 * 20e3)
    w = WeatherSample(25.0, 18.0, 0.5)
    p = np.full(64, 16e3)
    plant.reset(w, p)
    benchmark(plant.step, p, w, 60.0)


def test_plant_step_1024_racks(benchmark):
    plant = CoolingPlant(CoolingConfig(), 1024, 1024 * 20e3)
    w = WeatherSample(25.0, 18.0, 0.5)
    p = np.full(1024, 16e3)
    plant.reset(w, p)
    benchmark(plant.step, p, w, 60.0)


def test_cooling_env_1000_steps(benchmark):
    """1,000 env steps per round (1,024 accelerators, 64 racks); steps/s = 1000 / mean."""
    env = CoolingEnv(episode_steps=1000)
    env.reset(seed=0)
    a = env.to_action(22.0, 12.0, "auto")

    def run():
        env.reset()
        for _ in range(1000):
            env.step(a)

    benchmark.pedantic(run, rounds=5, iterations=1)


def test_synthetic_weather_year(benchmark):
    cfg = ClimateConfig(weather=WeatherConfig(preset="temperate"))
    benchmark(build_weather, cfg, None, 0)


def test_weather_at_many_1e5(benchmark):
    w = build_weather(ClimateConfig(), None, 0)
    t = np.linspace(0, 365 * 86400.0, 100_000)
    benchmark(w.at_many, t)


def test_annual_hourly_simulation(benchmark):
    benchmark.pedantic(
        simulate_period, args=(CoolingConfig(), ClimateConfig()), rounds=3, iterations=1
    )
