"""Serving cost model against published vLLM / TensorRT-LLM measurements (issue 16.1).

Each row: the published value, ours (pinned at 1 % so a model change shows up here and in
docs/models.md), and the 20 % tolerance. Rows outside it are pinned with their explanation.
The old roofline (max overlap, 0.8 HBM efficiency, no launch or all-reduce latency) was
1.5-2x optimistic: 1.17 s for the vLLM H200 point (published 2.08 s).
"""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.hardware import get_profile
from dcsim.inference import RooflineCost, ServingConfig, get_llm, tp_allreduce_alpha_s
from dcsim.inference_calibration import POINTS, TOLERANCE, calibration_table, predict
from dcsim.network import alpha_beta_ring_allreduce

# ours at the calibrated constants (published value, ours)
PINNED = {
    ("llama2-70b", "H100-SXM", 64, 128, 128): (3317, 3285),
    ("llama2-70b", "H100-SXM", 64, 128, 2048): (2616, 3642),
    ("llama2-70b", "H100-SXM", 64, 2048, 128): (843, 930),
    ("llama2-70b", "H100-SXM", 64, 2048, 2048): (1583, 2845),
    ("llama2-7b", "H100-SXM", 64, 128, 128): (9193, 8145),
    ("llama2-7b", "H100-SXM", 64, 128, 2048): (5367, 4916),
    ("llama2-7b", "H100-SXM", 64, 2048, 128): (2058, 1841),
    ("llama2-7b", "H100-SXM", 32, 2048, 2048): (2230, 2079),
    ("llama2-70b", "H100-SXM", 1, 128, 1): (0.026, 0.0194),
    ("llama2-70b", "H100-SXM", 1, 2048, 1): (0.109, 0.1144),
    ("llama2-70b", "A100-80G", 1, 128, 1): (0.047, 0.0484),
    ("llama2-70b", "A100-80G", 1, 2048, 1): (0.377, 0.3628),
    ("llama2-7b", "A100-80G", 1, 128, 1): (0.016, 0.0177),
    ("llama2-7b", "A100-80G", 1, 2048, 1): (0.133, 0.1310),
    ("llama3-70b", "H200", 8, 32, 128): (2.08, 2.103),
}


def key(pt) -> tuple:
    return (pt.model, pt.hardware, pt.batch, pt.prompt, pt.output)


@pytest.mark.parametrize(
    "pt", POINTS, ids=lambda p: f"{p.hardware}-{p.model}-{p.batch}-{p.prompt}-{p.output}"
)
def test_published_point(pt) -> None:
    published, ours = PINNED[key(pt)]
    assert pt.published == published
    got = predict(pt)
    assert got == pytest.approx(ours, rel=0.01)
    if pt.note and abs(got / published - 1) > TOLERANCE:
        return  # documented outlier (pinned above; explained in its note and docs/models.md)
    assert abs(got / published - 1) <= TOLERANCE


def test_at_least_eight_points_within_tolerance_and_outliers_explained() -> None:
    rows = calibration_table()
    assert len(rows) == len(PINNED)
    inside = [r for r in rows if r.within_tolerance]
    assert len(inside) >= 8
    assert all(r.point.note for r in rows if not r.within_tolerance)
    # the fit points are what constrain the constants: all but one of them within 20 %
    fit = [r for r in rows if r.point.fit]
    assert sum(not r.within_tolerance for r in fit) <= 1


def test_vllm_h200_point_no_longer_optimistic() -> None:
    """Issue 16: 1.17 s before against 2.08 s published (vLLM H200 TP4, batch 8, 32/128)."""
    c = RooflineCost(get_profile("H200"), get_llm("llama3-70b"), ServingConfig(tp=4))
    _, total = c.batch_latency(8, 32, 128)
    assert total > 1.8


def test_fp8_beats_bf16_on_decode_and_trtllm_h100_point() -> None:
    """Issue 16: H100 BF16 at batch 64 must not beat TRT-LLM's FP8 3,317 tok/s."""
    h100, llm = get_profile("H100-SXM"), get_llm("llama2-70b")
    bf16 = RooflineCost(h100, llm, ServingConfig(tp=4))
    fp8 = RooflineCost(h100, llm, ServingConfig(tp=4, precision="fp8"))
    assert fp8.llm.weight_bytes == pytest.approx(bf16.llm.weight_bytes / 2)
    tput = {
        n: 64 * 128 / c.batch_latency(64, 128, 128)[1] for n, c in (("bf16", bf16), ("fp8", fp8))
    }
    assert tput["bf16"] < 3317 < 1.2 * tput["fp8"]
    assert tput["fp8"] > 1.3 * tput["bf16"]


def test_tp_allreduce_latency_from_network_alpha_beta() -> None:
    """2 all-reduces per layer, each a ring alpha-beta with dcsim.network's scale-up alpha."""
    h100, llm = get_profile("H100-SXM"), get_llm("llama2-70b")
    c = RooflineCost(h100, llm, ServingConfig(tp=4, layer_overhead_s=0.0))
    n_tok = 8
    t, tc, tm = c.iteration(0, 0, n_tok, 0)
    ar = alpha_beta_ring_allreduce(
        4, n_tok * llm.d_model * 2.0, tp_allreduce_alpha_s(), c.comm_rate
    )
    assert float(t - tc - tm) == pytest.approx(2 * llm.n_layers * ar, rel=1e-9)
    one = RooflineCost(h100, get_llm("llama2-7b"), ServingConfig(tp=1, layer_overhead_s=0.0))
    t1, tc1, tm1 = one.iteration(0, 0, n_tok, 0)
    assert float(t1) == pytest.approx(float(tc1 + tm1), rel=1e-12)  # no collective at TP1


def test_step_overhead_is_per_layer_and_clock_independent() -> None:
    a100 = get_profile("A100-80G")
    c0 = RooflineCost(a100, get_llm("llama2-70b"), ServingConfig(tp=4, layer_overhead_s=0.0))
    c1 = RooflineCost(a100, get_llm("llama2-70b"), ServingConfig(tp=4, layer_overhead_s=1e-4))
    f = np.array([1.0, 0.5])
    d = c1.iteration(0, 0, 4, 400, f)[0] - c0.iteration(0, 0, 4, 400, f)[0]
    np.testing.assert_allclose(d, 80 * 1e-4, rtol=1e-9)


def test_fp8_needs_an_fp8_peak() -> None:
    from dcsim.errors import InputError

    with pytest.raises(InputError, match="FP8"):
        RooflineCost(
            get_profile("A100-80G"), get_llm("llama2-7b"), ServingConfig(tp=1, precision="fp8")
        )
