"""The running training jobs' step, booked in one compiled pass over arrays.

Why: the multi-tenant engine books every running job every step (its span to the step's end
or its last iteration, its phases, their mean activity, its accelerators' power); as a Python
loop that is ~10 us per job on a 2-core sandbox, a quarter of a CoDesign-v0 step with ~20 jobs
(issue 13.7). `book_jobs` runs the same operations, in the same order, as the engine's
readable loop (`Engine._rack_power` with `compiled_booking` off): `dcsim.workload.book_phases`
(the one phase model, compiled as written), `dcsim.power.interval_activity` and
`DevicePowerModel.power_w_scalar` restated on scalars (as `dcsim.sim_kernel` restates them).
tests/test_tenancy.py holds the two to the same numbers, bitwise.
"""

from __future__ import annotations

import numpy as np

from dcsim.jit import kernel
from dcsim.workload import book_phases

# columns of `jobs` (running jobs, J_N): this step's clock, step time and state per job
J_F, J_COMPUTE, J_EXPOSED, J_COMM, J_LEFT, J_REMAINING = range(6)
J_N = 6
# columns of `static` (running jobs, S_N): constants of a running set
S_A_COMPUTE, S_A_COMM, S_ACC = range(3)
S_N = 3
# entries of `dev`: the device's power law (`DevicePowerModel`), idle activity, unit size
D_F_MIN, D_V_FLOOR, D_LEAK, D_IDLE_W, D_DYN_W, D_A_IDLE, D_UNIT = range(7)
# columns of `out` (running jobs, O_N): the job's booking of the step
O_SHARE, O_COMPUTE, O_COMM_S, O_ITERS, O_COMPLETED, O_COMM, O_LEFT = range(7)
O_N = 7


def book_jobs(
    jobs: np.ndarray,
    static: np.ndarray,
    units: np.ndarray,
    uoff: np.ndarray,
    dev: np.ndarray,
    dt: float,
    acc_w: np.ndarray,
    host_busy: np.ndarray,
    out: np.ndarray,
) -> float:
    """Book each running job j over a step of dt: span = min(dt, remaining x step time), its
    phases (`book_phases`) into out[j], its mean activity over dt, and on its power units
    units[uoff[j]:uoff[j + 1]] the accelerators' power at that activity and its clock
    (x the unit's size) into acc_w and its busy share into host_busy. Returns the sum over
    jobs of (activity - idle activity) x accelerators, in the jobs' order."""
    busy = 0.0
    a_idle = dev[D_A_IDLE]
    for j in range(jobs.shape[0]):
        compute_s, exposed_s = jobs[j, J_COMPUTE], jobs[j, J_EXPOSED]
        total = compute_s + exposed_s  # StepTime.total_s
        span = min(dt, jobs[j, J_REMAINING] * total)
        c_s, m_s, iters, completed, comm, left = book_phases(
            jobs[j, J_COMM] != 0.0, jobs[j, J_LEFT], compute_s, exposed_s, total, span
        )
        # interval_activity(c_s, m_s, dt, a_compute, a_comm)
        b = (c_s * static[j, S_A_COMPUTE] + m_s * static[j, S_A_COMM]) / dt
        idle = 1.0 - (c_s + m_s) / dt
        a = b + max(0.0, idle) * a_idle
        # DevicePowerModel.power_w_scalar(a, f) x the unit's accelerators
        aa = min(max(a, 0.0), 1.0)
        f = min(max(jobs[j, J_F], dev[D_F_MIN]), 1.0)
        v = max(dev[D_V_FLOOR], f)
        s_l = dev[D_LEAK]
        scale = 1.0 - s_l * (1.0 - v) - (1.0 - s_l) * (1.0 - v * v * f)
        p = (dev[D_IDLE_W] + dev[D_DYN_W] * aa * scale) * dev[D_UNIT]
        share = span / dt
        for u in range(uoff[j], uoff[j + 1]):
            acc_w[units[u]] = p
            host_busy[units[u]] = share
        out[j, O_SHARE] = share
        out[j, O_COMPUTE] = c_s
        out[j, O_COMM_S] = m_s
        out[j, O_ITERS] = iters
        out[j, O_COMPLETED] = completed
        out[j, O_COMM] = 1.0 if comm else 0.0
        out[j, O_LEFT] = left
        busy += (a - a_idle) * static[j, S_ACC]
    return busy


BOOK_JOBS = kernel(book_jobs, {"book_phases": kernel(book_phases)})
