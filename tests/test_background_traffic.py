"""Long-lived background flows (`dcsim.network.background`) and stopping a flow run early."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dcsim.errors import InputError
from dcsim.network import load_topology, run_flows
from dcsim.network.background import BackgroundTraffic
from dcsim.network.patterns import traffic_time


def test_run_flows_until_stops_at_the_watched_flows_closed_form() -> None:
    """Link 0 (cap 2) carries flows a (2 B) and b (10 B); link 1 (cap 1) carries c (5 B).
    Max-min: a = b = 1 B/s, c = 1 B/s; a ends at t = 2, then b has 8 B left; c has 3 B left."""
    A = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    cap = np.array([2.0, 1.0])
    run = run_flows(A, cap, np.array([2.0, 10.0, 5.0]), until=np.array([True, False, False]))
    assert run.finish_s[0] == pytest.approx(2.0)
    assert run.remaining == pytest.approx([0.0, 8.0, 3.0])
    assert run.link_bytes == pytest.approx([4.0, 2.0])  # bytes sent by the stop, per link
    full = run_flows(A, cap, np.array([2.0, 10.0, 5.0]))
    assert full.remaining is None and full.makespan_s == pytest.approx(6.0)  # b: 2 + 8 / 2


def test_background_occupies_switch_links_only_and_slows_a_crossing_flow() -> None:
    fab = load_topology("leaf_spine_small")
    bg = BackgroundTraffic(fab, mean_flows=40.0, mean_lifetime_s=0.02, seed=1)
    assert bg.n_active > 0 and bg.ids.size == bg.n_active
    used = np.asarray(bg.A.sum(axis=1)).ravel() > 0
    assert not np.any(used & fab.host_link_mask)  # the job owns its NICs
    assert used.any()
    # a flow on a path shared with k background flows gets at most an equal share there
    src, dst = np.array([0]), np.array([fab.n_hosts - 1])
    alone = traffic_time(fab, src, dst, 1e9, "spray").time_s
    shared = traffic_time(fab, src, dst, 1e9, "spray", background=bg)
    assert shared.time_s >= alone * (1 - 1e-12)
    assert shared.background_left is not None
    assert np.all(shared.background_left <= bg.remaining)


def test_background_arrivals_follow_the_declared_rate_and_bad_inputs() -> None:
    fab = load_topology("leaf_spine_small")
    bg = BackgroundTraffic(fab, mean_flows=10.0, mean_lifetime_s=0.01, seed=3)
    n0 = bg.admitted
    bg.admit(10.0)  # 10 s at 1,000 arrivals/s: Poisson, sd ~ 100
    assert abs((bg.admitted - n0) - 10_000) < 500
    with pytest.raises(InputError) as e:
        BackgroundTraffic(fab, mean_flows=-1.0, mean_lifetime_s=0.01)
    assert e.value.field == "background_flows"
    with pytest.raises(InputError):
        BackgroundTraffic(fab, mean_flows=1.0, mean_lifetime_s=0.0)
