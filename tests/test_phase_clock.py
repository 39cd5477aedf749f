"""`dcsim.workload.PhaseClock` books what a discrete-event run of a synchronous job's
iterations books: the SimPy process `dcsim.sim` used (kept here as the readable reference),
interrupted at every interval end and resumed at the next interval's step time."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dcsim.workload import PhaseClock, StepTime, advance_phase_clocks


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
    # The DES books differences of its absolute clock (~1e-13 s per event here, 1e-9 s over a
    # run); a phase re-timed at a clock change carries that error as a share of the phase,
    # which a longer phase at the new clock books back as seconds: at most x (longest phase /
    # shortest phase) of the sequence (e.g. 2.0e-9 s after 2,700 iterations of 0.086 s then a
    # 1-s phase).
    phases = [x for s in steps for x in (s.compute_s, s.exposed_comm_s) if x > 0]
    atol = 1e-9 * max(1.0, max(phases) / min(phases))
    done_w = done_g = 0  # iterations completed so far
    iters_w = 0.0  # iterations (fractional) booked so far by the DES
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g[:3], w[:3], rtol=1e-9, atol=atol)
        done_w, done_g, iters_w = done_w + w[3], done_g + g[3], iters_w + w[2]
        # An iteration ending on the interval's end (a tie) is done in this interval by the
        # closed form and, by the DES's accumulated clock, a rounding error before or after
        # it: the two may then book it one interval apart (e.g. 40 steps of 0.05 s from t = 1
        # end at 2.9999999999999996 on the DES's clock, 3.0 in closed form); elsewhere they
        # complete the same iterations in the same intervals.
        tie = abs(iters_w - round(iters_w)) <= 1e-9 * max(1.0, iters_w)
        assert done_g == done_w or (tie and abs(done_g - done_w) == 1), (done_g, done_w)


step_time = st.builds(
    lambda c, e: StepTime(c, c + e, e),
    st.floats(0.05, 30.0),
    st.sampled_from([0.0, 0.0]) | st.floats(0.01, 20.0),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(step_time, st.floats(0.1, 400.0)), min_size=1, max_size=12))
@example([(StepTime(1.0, 1.0, 0.0), 1.0), (StepTime(0.05, 0.05, 0.0), 2.0)])  # a tie (_check)
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


def _lanes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Step times (compute, exposed) with the edge cases: no exposed comm, exact divisors of
    60 s (phases ending exactly at an interval's end), phases longer than an interval, tiny
    phases (many iterations per interval)."""
    fixed = [(20.0, 10.0), (15.0, 0.0), (7.5, 2.5), (45.0, 30.0), (90.0, 5.0), (0.25, 0.0)]
    fixed += [(60.0, 0.0), (30.0, 30.0), (1e-3, 1e-3), (0.1, 0.2), (120.0, 0.0), (5.0, 55.0)]
    c, e = rng.uniform(0.3, 80.0, n), rng.uniform(0.0, 40.0, n)
    e[rng.random(n) < 0.2] = 0.0
    pick = rng.random(n) < 0.4
    idx = rng.integers(0, len(fixed), n)
    c = np.where(pick, np.array([x for x, _ in fixed])[idx], c)
    e = np.where(pick, np.array([y for _, y in fixed])[idx], e)
    return c, e


@pytest.mark.parametrize("span", [60.0, 7.0, 0.5, 1e-3, 3600.0, 86400.0])
def test_advance_phase_clocks_is_phase_clock_bitwise(span: float) -> None:
    """The lane-wise clock (batched Datacenter-v0) books every lane exactly as
    `PhaseClock.advance`, over several intervals of changing step times, from any phase and
    share left (incl. left < 1 and a pending zero-length phase); masked lanes raise no
    floating-point error."""
    rng = np.random.default_rng(int(span * 1000) % 2**32)
    n = 400
    comm = rng.random(n) < 0.5
    left = np.where(rng.random(n) < 0.4, 1.0, rng.uniform(2e-9, 1.0, n))
    left[:4] = [1.0 / 3.0, 0.5, 1.0, 1e-8]
    for _ in range(4):
        c, e = _lanes(rng, n)
        with np.errstate(all="raise"):
            got = advance_phase_clocks(comm, left, c, e, span)
        for i in range(n):
            b, clock = PhaseClock(bool(comm[i]), float(left[i])).advance(
                StepTime(float(c[i]), float(e[i]), float(e[i])), span
            )
            assert tuple(x[i] for x in got[:4]) == (
                b.compute_s,
                b.comm_s,
                b.iterations,
                b.completed,
            ), i
            assert (bool(got[4][i]), float(got[5][i])) == (clock.comm, clock.left), i
        comm, left = got[4], got[5]


def test_advance_phase_clocks_edge_lanes() -> None:
    """No lanes; a span of 0 books nothing; a phase ending exactly at the span's end is done
    and the next (zero-length) phase waits for the next interval."""
    out = advance_phase_clocks(np.zeros(0, bool), np.ones(0), np.ones(0), np.ones(0), 60.0)
    assert all(x.shape == (0,) for x in out)
    out = advance_phase_clocks(np.array([False]), np.ones(1), np.ones(1), np.zeros(1), 0.0)
    assert [float(x[0]) for x in out[:4]] == [0.0, 0.0, 0.0, 0.0]
    # 60 s of 20 s compute with no exposed comm: 3 whole iterations; the 3rd compute phase
    # ends at 60 s, its zero-length comm phase is pending: 2 completed
    cs, es, it, done, comm, left = advance_phase_clocks(
        np.array([False]), np.ones(1), np.array([20.0]), np.zeros(1), 60.0
    )
    b, clock = PhaseClock().advance(StepTime(20.0, 0.0, 0.0), 60.0)
    assert (cs[0], es[0], it[0], done[0]) == (b.compute_s, b.comm_s, b.iterations, b.completed)
    assert (bool(comm[0]), left[0]) == (clock.comm, clock.left)
