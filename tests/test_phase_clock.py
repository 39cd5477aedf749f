"""`dcsim.workload.PhaseClock` books what a discrete-event run of a synchronous job's
iterations books: the SimPy process `dcsim.sim` used (kept here as the readable reference),
interrupted at every interval end and resumed at the next interval's step time."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.workload import PhaseClock, StepTime


def des_bookings(steps: list[StepTime], spans: list[float]) -> list[tuple[float, ...]]:
    """The SimPy job process of dcsim.sim (before issue 13.1): per interval (compute s, comm s,
    iterations, completed)."""
    env = simpy.Environment()
    cur: dict = {}
    acc = [0.0, 0.0, 0.0, 0]

    def job():
        phase, left = "compute", 1.0
        while True:
            s = cur["st"]
            dur = (s.compute_s if phase == "compute" else s.exposed_comm_s) * left
            start = env.now
            interrupted = False
            try:
                if dur > 0:
                    yield env.timeout(dur)
                done = 1.0
            except simpy.Interrupt:
                interrupted = True
                done = min((env.now - start) / dur, 1.0) if dur > 0 else 1.0
            spent = env.now - start
            acc[0 if phase == "compute" else 1] += spent
            acc[2] += spent / s.total_s
            left *= 1.0 - done
            if left <= 1e-9:
                if phase == "compute":
                    phase = "comm"
                else:
                    phase = "compute"
                    acc[3] += 1
                left = 1.0
            if interrupted:
                yield cur["resume"]

    out = []
    cur["resume"] = env.event()
    proc = None
    t = 0.0
    for k, (s, span) in enumerate(zip(steps, spans, strict=True)):
        cur["st"] = s
        acc[:] = [0.0, 0.0, 0.0, 0]
        if proc is None:
            proc = env.process(job())
        elif k > 0:
            cur["resume"].succeed()
        t += span
        env.run(until=t)
        cur["resume"] = env.event()
        proc.interrupt("interval end")
        while env.peek() <= t:
            env.step()
        out.append(tuple(acc))
    return out


def clock_bookings(steps: list[StepTime], spans: list[float]) -> list[tuple[float, ...]]:
    clock, out = PhaseClock(), []
    for s, span in zip(steps, spans, strict=True):
        b, clock = clock.advance(s, span)
        out.append((b.compute_s, b.comm_s, b.iterations, b.completed))
    return out


def _check(steps, spans):
    want, got = des_bookings(steps, spans), clock_bookings(steps, spans)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g[:3], w[:3], rtol=1e-9, atol=1e-9)
        assert g[3] == w[3]


step_time = st.builds(
    lambda c, e: StepTime(c, c + e, e),
    st.floats(0.05, 30.0),
    st.sampled_from([0.0, 0.0]) | st.floats(0.01, 20.0),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(step_time, st.floats(0.1, 400.0)), min_size=1, max_size=12))
def test_phase_clock_books_what_the_des_books(seq):
    """Clock changes every interval, intervals shorter and longer than a phase, no exposed
    communication (zero-length phases)."""
    _check([s for s, _ in seq], [span for _, span in seq])


def test_long_interval_books_whole_iterations_and_conserves_time():
    s = StepTime(3.0, 5.0, 2.0)
    b, clock = PhaseClock().advance(s, 1000.0)
    assert b.compute_s + b.comm_s == pytest.approx(1000.0, rel=1e-12)
    assert b.iterations == pytest.approx(200.0, rel=1e-12) and b.completed == 200
    assert clock == PhaseClock()
    # 1001 s: one more second of compute, a third of the next compute phase left
    b, clock = PhaseClock().advance(s, 1001.0)
    assert b.compute_s == pytest.approx(601.0) and b.completed == 200
    assert not clock.comm and clock.left == pytest.approx(2.0 / 3.0)
