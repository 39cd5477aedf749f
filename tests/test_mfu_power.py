"""Per-chip training efficiency and training power against published measurements (issue 12.4).

- MFU per hardware profile, sourced (Llama 3 on H100, Korthikanti et al. on A100, MLPerf
  Training for B200 and MI300X); the scenario's `workload.mfu` overrides it and the summary
  says which one a run used.
- Training power: an 8-GPU H100 node measured at up to 8.4 kW in LLM training (Latif et al.,
  arXiv 2412.08602), so the H100 runs near its 700 W limit and caps below that cost throughput.
"""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.config import load_scenario
from dcsim.hardware import catalog, get_profile
from dcsim.power import PHASE_ACTIVITY, DevicePowerModel
from dcsim.sim import Simulation, summarize
from dcsim.workload import TrainingConfig, comm_activity, compute_activity, resolve_mfu
from tests.conftest import SMALL


def sim_of(**over) -> Simulation:
    o = dict(SMALL)
    o.update(over)
    return Simulation(load_scenario(None, o))


# --------------------------------------------------------------------------- MFU per chip
@pytest.mark.parametrize("name", sorted(catalog()))
def test_every_profile_has_a_sourced_training_mfu(name):
    mfu = get_profile(name).training.mfu
    assert 0.2 <= mfu.value <= 0.6  # published large-scale dense training: ~0.3-0.56
    assert mfu.source.strip() and mfu.confidence in ("high", "medium", "low")


def test_published_mfu_ranges():
    # Llama 3 (arXiv 2407.21783): 38-43 % on H100; Korthikanti et al. (arXiv 2205.05198):
    # 41.5-56.3 % on A100 with Megatron-LM.
    assert 0.38 <= get_profile("H100-SXM").mfu <= 0.43
    assert 0.415 <= get_profile("A100-80G").mfu <= 0.563


def test_mi300x_is_not_faster_than_h100_for_training():
    """Equal MFU made MI300X 1.32x faster (peak 1307 vs 989 TFLOPS). MLPerf Training v5.0
    Llama 2 70B LoRA (8 GPUs): MI300X slightly slower than H100; SemiAnalysis (Dec 2024)
    found it further behind on public software. Per-GPU ratio must land at 0.85-1.0."""
    h100 = sim_of(**{"cluster.hardware": "H100-SXM"}).ref_tokens_per_s
    mi300x = sim_of(**{"cluster.hardware": "MI300X"}).ref_tokens_per_s
    assert 0.85 <= mi300x / h100 <= 1.0


def test_b200_over_h100_matches_mlperf():
    """MLPerf Training v4.1: B200 2.2x H100 per GPU (GPT-3 175B, Llama 2 70B LoRA)."""
    h100 = get_profile("H100-SXM")
    b200 = get_profile("B200")
    ratio = b200.peak_flops * b200.mfu / (h100.peak_flops * h100.mfu)
    assert ratio == pytest.approx(2.2, rel=0.05)


def test_scenario_mfu_overrides_the_profile_and_says_so():
    prof = get_profile("H100-SXM")
    own_mfu = prof.mfu_at(TrainingConfig().model_params)  # size class of the default model
    assert resolve_mfu(TrainingConfig(), prof) == own_mfu
    assert own_mfu[1].startswith("hardware profile")
    assert resolve_mfu(TrainingConfig(mfu=0.3), prof) == (0.3, "scenario")
    own = sim_of()
    forced = sim_of(**{"workload.mfu": 0.3})
    # compute time ~ 1 / MFU (6ND / (n * peak * MFU)); TP = 8 hides the DP all-reduce here
    ratio = forced._step_time(1.0, "ecmp").compute_s / own._step_time(1.0, "ecmp").compute_s
    assert ratio == pytest.approx(own_mfu[0] / 0.3)
    s_own = summarize([own.step() for _ in range(2)], own)
    s_forced = summarize([forced.step() for _ in range(2)], forced)
    assert (s_own["mfu"], s_own["mfu_source"]) == own_mfu
    assert (s_forced["mfu"], s_forced["mfu_source"]) == (0.3, "scenario")


# --------------------------------------------------------------------------- power
def test_phase_activities_have_one_source():
    cfg = TrainingConfig()
    assert compute_activity(cfg) == PHASE_ACTIVITY["training"]
    assert comm_activity(cfg) == PHASE_ACTIVITY["communication"]
    sim = sim_of()
    assert (sim.a_compute, sim.a_comm) == (
        PHASE_ACTIVITY["training"],
        PHASE_ACTIVITY["communication"],
    )
    assert sim_of(**{"workload.compute_activity": 0.7}).a_compute == 0.7


def test_dgx_h100_draws_measured_training_power():
    """8-GPU H100 node in LLM training: 8.4 kW max (Latif et al., arXiv 2412.08602), ~7.75 kW
    typical (Newkirk et al., arXiv 2506.14551). The whole server (GPUs, host, PSU losses,
    server fans from the cooling model) must land within 10 % of 8.4 kW."""
    sim = sim_of()
    recs = [sim.step() for _ in range(5)]
    r = recs[-1]
    assert r.exposed_comm_s == 0.0  # the whole interval computes
    per_server = (r.it_w - sim.switch_w) / sim.n_servers
    assert per_server == pytest.approx(8400.0, rel=0.10)
    per_gpu = r.accel_w / sim.n_dev
    assert 640.0 <= per_gpu <= 700.0  # near the 700 W limit, as measured in training


def test_cap_below_natural_training_draw_costs_throughput():
    """H100 training draws ~656 W: a 600 W cap must slow the step, a 680 W cap must not."""
    tdp = get_profile("H100-SXM").tdp_w
    free = sim_of()
    base = free.step()
    capped = sim_of(**{"power.cap_frac": 600.0 / tdp}).step()
    above = sim_of(**{"power.cap_frac": 680.0 / tdp}).step()
    assert capped.step_time_s > 1.02 * base.step_time_s
    assert capped.accel_w / free.n_dev == pytest.approx(600.0, rel=1e-6)  # the cap binds
    assert above.step_time_s == base.step_time_s and above.accel_w == base.accel_w
    # a cap just under the natural draw still costs something: power-limited, as measured
    natural = float(free.power.power_w(free.a_compute, 1.0))
    near = sim_of(**{"power.cap_frac": (natural - 10.0) / tdp}).step()
    assert near.step_time_s > base.step_time_s


def test_capped_clock_is_the_power_model_inverse():
    m = DevicePowerModel.from_profile(get_profile("H100-SXM"))
    a = PHASE_ACTIVITY["training"]
    f = m.freq_for_cap(600.0, a)
    assert float(m.power_w(a, f)) == pytest.approx(600.0)
    assert float(np.asarray(f)) < 1.0
