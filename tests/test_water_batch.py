"""The water side over arrays of halls (`ChilledWaterBatch`) equals `ChilledWaterPlant.step`
lane by lane, bitwise (issue 17: one source of truth for the batched Cooling-v0).

Random states cover every branch of the scalar path: economizer off / auto / on, 'auto'
engaged or not, the fan-stage search stopping at different stages, the mechanical option
winning, chiller capacity shortfall, zero load, cold and hot, dry and saturated air, and the
liquid loop's trim heat on the tower.
"""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.cooling import CoolingConfig, CoolingPlant
from dcsim.cooling.water_batch import MODE_CODES, ChilledWaterBatch

FIELDS = (
    "chiller_w",
    "tower_fan_w",
    "chw_pump_w",
    "cw_pump_w",
    "chw_supply_c",
    "economizer_fraction",
    "chiller_plr",
    "chiller_load_w",
    "condenser_c",
    "heat_rejected_w",
    "tower_fan_speed",
    "water_l",
    "evaporation_l",
    "drift_l",
    "blowdown_l",
)


def _inputs(rng: np.random.Generator, n: int, design_w: float) -> dict[str, np.ndarray]:
    wb = rng.uniform(-20.0, 32.0, n)
    q = rng.uniform(0.0, 1.6, n) * design_w
    q[rng.random(n) < 0.05] = 0.0
    return dict(
        p_prev=rng.uniform(0.0, 0.4, n) * design_w * (rng.random(n) < 0.8),
        q_coils=q,
        chw_set=rng.uniform(4.0, 22.0, n),
        modes=rng.choice(np.array(["off", "auto", "on"]), n, p=[0.2, 0.6, 0.2]),
        wb=wb,
        db=wb + rng.uniform(0.0, 18.0, n) * (rng.random(n) < 0.9),
        other=rng.uniform(0.0, 0.3, n) * design_w * (rng.random(n) < 0.3),
    )


@pytest.mark.parametrize("ctype", ["air", "liquid"])
def test_batch_water_side_equals_scalar_bitwise(ctype: str) -> None:
    plant = CoolingPlant(CoolingConfig(type=ctype), 32, 32 * 40e3)
    water = plant.water
    batch = ChilledWaterBatch(water)
    rng = np.random.default_rng(17)
    branches: dict[str, int] = {}
    for trial in range(6):
        x = _inputs(rng, 400, water.q_chw_design)
        if trial == 0:  # every lane in one mode: the single-mode paths of the batch
            x["modes"][:] = "auto"
        if trial == 1:
            x["modes"][:] = "on"
        got = batch.step(
            x["p_prev"],
            x["q_coils"],
            x["chw_set"],
            np.array([MODE_CODES[m] for m in x["modes"]]),
            x["wb"],
            x["other"],
            300.0,
            x["db"],
        )
        for i in range(len(x["wb"])):
            water.p_chiller_prev = float(x["p_prev"][i])
            ref = water.step(
                float(x["q_coils"][i]),
                float(x["chw_set"][i]),
                str(x["modes"][i]),
                float(x["wb"][i]),
                float(x["other"][i]),
                300.0,
                float(x["db"][i]),
            )
            for f in FIELDS:
                assert getattr(got, f)[i] == getattr(ref, f), (trial, i, f)
            # the scalar path's state update is the batch's (chiller_w, condenser_c)
            assert (water.p_chiller_prev, water.t_cond_prev) == (
                got.chiller_w[i],
                got.condenser_c[i],
            )
            mode = str(x["modes"][i])
            frac = ref.economizer_fraction
            key = f"{mode}:{'free' if frac >= 1 else 'partial' if frac > 0 else 'none'}"
            branches[key] = branches.get(key, 0) + 1
            if ref.chw_supply_c > x["chw_set"][i] and mode != "on":
                branches["shortfall"] = branches.get("shortfall", 0) + 1
    # the random states reach the branches that matter (else the test proves little)
    for key in ("auto:free", "auto:partial", "auto:none", "off:none", "on:free", "shortfall"):
        assert branches.get(key, 0) > 0, (key, branches)
