"""Synthetic per-rack IT load of an AI cluster: training racks and diurnal inference racks.

Used by `dcsim/Cooling-v0` (and usable by any driver that needs rack heat without simulating
jobs): the cluster's racks are split into training racks, which hold a steady high activity,
and inference racks, which follow a daily cycle. Each rack adds AR(1) noise, so neighbouring
steps are correlated like real load is.

Activity (the share of the accelerator's dynamic power range in use, `dcsim.power`):

    training rack:  a = a_train + sd_train * x_t
    inference rack: a = m + A cos(2 pi (hour - h_peak) / 24) + sd_inf * x_t
    x_t = phi x_(t-1) + sqrt(1 - phi^2) e_t,  phi = exp(-dt / tau),  e_t ~ N(0, 1)

clipped to [a_min, a_max]. x_t is the exact discretisation of an Ornstein-Uhlenbeck process
with correlation time tau and unit stationary variance; it starts from rest (x_(-1) = 0), so
its variance grows as 1 - phi^(2(t+1)) over the first few tau of an episode.

Sources and confidence:
- a_train = 0.85 is a rack's time average over whole training steps, compute and the
  communication dips together: POLCA (arXiv 2308.12908) Figs. 4-5 (training near TDP with
  dips at synchronisation); an 8-GPU H100 server measured at 8.4 kW of its 10.2 kW rating
  in LLM training. Not `dcsim.power.PHASE_ACTIVITY["training"]`, which is
  the activity of one phase, not a time average.
- Inference load is diurnal: DynamoLLM (Stojkovic et al., arXiv 2408.00741) shows daily cycles
  in Azure LLM inference traffic, Splitwise (arXiv 2311.18677) shows the same service's
  token-phase activity well below TDP. The mean 0.5, swing +-0.3 (0.2-0.8) and early-afternoon
  peak (14 h) are estimates of a business-hours service, confidence low.
- Noise sd (0.03 training, 0.08 inference) and tau = 15 min: estimates, confidence low.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from dcsim.errors import InputError
from dcsim.power import DevicePowerModel, server_wall_power_w
from dcsim.schema import StrictModel
from dcsim.stochastic import ar1

if TYPE_CHECKING:  # pragma: no cover
    from dcsim.hardware import HardwareProfile


class RackLoadConfig(StrictModel):
    """Training/inference rack mix and the statistics of their activity."""

    training_share: float = Field(
        0.5, ge=0, le=1, description="share of racks training (the first racks); rest serve"
    )
    training_activity: float = Field(
        0.85, ge=0, le=1, description="time-averaged activity of a training rack"
    )
    training_sd: float = Field(0.03, ge=0, description="noise sd of a training rack's activity")
    inference_mean: float = Field(0.5, ge=0, le=1, description="daily mean inference activity")
    inference_amplitude: float = Field(
        0.3, ge=0, le=1, description="half the daily peak-to-trough swing of inference activity"
    )
    inference_peak_hour: float = Field(
        14.0, ge=0, lt=24, description="hour of day of the inference peak"
    )
    inference_sd: float = Field(0.08, ge=0, description="noise sd of an inference rack's activity")
    correlation_s: float = Field(900.0, gt=0, description="AR(1) noise correlation time, s")
    activity_min: float = Field(0.05, ge=0, le=1, description="lowest activity after noise")
    activity_max: float = Field(1.0, ge=0, le=1, description="highest activity after noise")

    @model_validator(mode="after")
    def _bounds_ordered(self) -> RackLoadConfig:
        if self.activity_min >= self.activity_max:
            raise ValueError("activity_min must be below activity_max")
        return self


def training_racks(cfg: RackLoadConfig, n_racks: int) -> np.ndarray:
    """Mask of training racks: the first floor(training_share * n_racks) racks."""
    return np.arange(n_racks) < int(n_racks * cfg.training_share)


def inference_activity(cfg: RackLoadConfig, t_s: np.ndarray) -> np.ndarray:
    """Mean inference activity at times t_s (s since local midnight of day 0), no noise."""
    hour = np.mod(np.asarray(t_s, dtype=float) / 3600.0, 24.0)
    return cfg.inference_mean + cfg.inference_amplitude * np.cos(
        2 * np.pi * (hour - cfg.inference_peak_hour) / 24.0
    )


def rack_activity(
    cfg: RackLoadConfig, n_racks: int, t_s: np.ndarray, dt_s: float, rng: np.random.Generator
) -> np.ndarray:
    """Activity (len(t_s), n_racks) at equally spaced times t_s, dt_s apart.

    Draws len(t_s) * n_racks standard normals from rng (one call), so a seeded generator
    gives the same load every time.
    """
    t = np.asarray(t_s, dtype=float)
    if n_racks < 1 or dt_s <= 0 or t.ndim != 1:
        raise InputError("need n_racks >= 1, dt_s > 0 and a 1-D time axis", field="rack_load")
    n = len(t)
    training = training_racks(cfg, n_racks)
    phi = math.exp(-dt_s / cfg.correlation_s)
    eps = rng.standard_normal((n, n_racks))
    eps *= math.sqrt(1 - phi * phi)
    act = ar1(eps, phi, axis=0)  # the noise, then (in place) the activity
    act *= np.where(training, cfg.training_sd, cfg.inference_sd)
    act += np.where(training[None, :], cfg.training_activity, inference_activity(cfg, t)[:, None])
    return np.clip(act, cfg.activity_min, cfg.activity_max, out=act)


def rack_sizes(n_accelerators: int, per_rack: int) -> np.ndarray:
    """Accelerators in each rack, racks filled in order (the last one may be partial)."""
    if n_accelerators < 1 or per_rack < 1:
        raise InputError(
            "n_accelerators and accelerators_per_rack must be >= 1", field="n_accelerators"
        )
    n_racks = math.ceil(n_accelerators / per_rack)
    out = np.full(n_racks, per_rack, dtype=float)
    out[-1] = n_accelerators - per_rack * (n_racks - 1)
    return out


@dataclass(frozen=True)
class RackPower:
    """Wall power of racks of accelerators from their activity and clock.

    Each accelerator draws `DevicePowerModel.power_w(activity, f)` plus its share of the
    server's host power (CPUs, DRAM, NICs; held at its loaded value), through PSUs of the
    profile's constant efficiency (`dcsim.power.server_wall_power_w`). The clock fraction is
    clipped to the device's [f_min, 1], as in `dcsim run`: a throttle below f_min cannot
    lower the power further.
    """

    device: DevicePowerModel
    accelerators: np.ndarray  # per rack
    host_w_per_accelerator: float
    psu_efficiency: float

    @classmethod
    def from_profile(cls, profile: HardwareProfile, accelerators: np.ndarray) -> RackPower:
        server = profile.server
        return cls(
            device=DevicePowerModel.from_profile(profile),
            accelerators=np.asarray(accelerators, dtype=float),
            host_w_per_accelerator=server.host_power_w.value / server.accelerators,
            psu_efficiency=server.psu_efficiency.value,
        )

    def power_w(self, activity: np.ndarray, freq_frac: np.ndarray | float = 1.0) -> np.ndarray:
        """Per-rack wall power, W, for per-rack activity and clock fraction."""
        acc = self.device.power_w(activity, freq_frac)
        return server_wall_power_w(
            self.accelerators * acc,
            self.accelerators * self.host_w_per_accelerator,
            self.psu_efficiency,
        )

    def design_w(self) -> np.ndarray:
        """Per-rack wall power with every accelerator at TDP (the cooling design load)."""
        return server_wall_power_w(
            self.accelerators * self.device.tdp_w,
            self.accelerators * self.host_w_per_accelerator,
            self.psu_efficiency,
        )


__all__ = [
    "RackLoadConfig",
    "RackPower",
    "rack_sizes",
    "inference_activity",
    "rack_activity",
    "training_racks",
]
