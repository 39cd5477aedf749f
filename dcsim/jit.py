"""The one switch for compiled code (numba): the network kernels here, Cooling-v0's plant
kernel (`dcsim.cooling.fast`) and the envs' compiled array code (`dcsim.envs.contract.compiled`)
all ask `numba_module()`.

A kernel is plain Python over scalars and NumPy arrays. numba is a dependency; a kernel is
compiled on first use with `cache=True` (the machine code
is kept in `__pycache__`, or numba's user cache when that is read-only, so later processes
load it instead of compiling); numba is imported only then, so start-up does not pay for it.
Loading numba and its cached code still costs ~0.5 CPU-s, more than the few small kernel calls
that building an env makes; `Kernel.runner` runs those interpreted (the same function, the
same results, tested) until a process-wide budget is spent, so a first `gym.make` stays
under 0.5 s and numba loads only when an env steps.
Without numba (an install that lacks it), or with DCSIM_NO_JIT=1, callers run their NumPy path instead: `compiled()`
is None. Tests run every kernel (compiled or interpreted via `py`) against that path,
switching numba off by setting `_NUMBA = False`.
"""

from __future__ import annotations

import importlib.util
import os
import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np

_NUMBA: Any = None  # the numba module once imported, False when unavailable
COLD_WORK = 2048  # largest call (flows, or incidence entries) run interpreted before numba loads
COLD_BUDGET_S = 0.1  # interpreted CPU-s a process spends that way (loading numba costs ~0.5)
_cold_spent = 0.0


def jit_enabled() -> bool:
    """Whether compiled kernels will be used, answered without importing numba."""
    if _NUMBA is not None:
        return bool(_NUMBA)
    if os.environ.get("DCSIM_NO_JIT", "") in ("1", "true", "yes"):
        return False
    return importlib.util.find_spec("numba") is not None


def numba_loaded() -> bool:
    """Whether numba is imported and on already (so compiled code costs no import), without
    importing it: work too small to pay for loading numba (a reset, a cold env's first
    steps) uses compiled code only then."""
    return bool(_NUMBA)


def numba_module() -> Any:
    """numba, or False when it is not installed or DCSIM_NO_JIT=1 turns compiled code off."""
    global _NUMBA
    if _NUMBA is None:
        _NUMBA = False
        if os.environ.get("DCSIM_NO_JIT", "") not in ("1", "true", "yes"):
            try:
                import numba

                _NUMBA = numba
            except ImportError:  # optional: the NumPy paths stand in
                pass
    return _NUMBA


class Kernel:
    """A Python function compiled with numba on first request; `py` is the function itself."""

    def __init__(self, py: Callable[..., Any], deps: dict[str, Kernel] | None = None):
        self.py = py
        self.deps = deps or {}  # kernels py calls by these global names
        self._compiled: Callable[..., Any] | None = None

    def compiled(self) -> Callable[..., Any] | None:
        """The compiled kernel, or None when numba is unavailable or disabled."""
        nb = numba_module()
        if not nb:
            return None
        if self._compiled is None:
            fn = self.py
            if self.deps:  # the compiled function calls the compiled dependencies
                glb = {**fn.__globals__, **{k: d.compiled() for k, d in self.deps.items()}}
                fn = types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__)
            self._compiled = nb.njit(cache=True, nogil=True)(fn)
        return self._compiled

    def runner(self, work: int) -> Callable[..., Any] | None:
        """What to call for a job of `work` units: `compiled()`, except that while numba is
        not loaded yet a small job (<= COLD_WORK) runs `py`, timed against COLD_BUDGET_S,
        so start-up does not load numba for a few milliseconds of work. None exactly when
        `compiled()` is None (the caller's NumPy path)."""
        if _NUMBA is None and work <= COLD_WORK and _cold_spent < COLD_BUDGET_S and jit_enabled():
            return self._timed_py
        return self.compiled()

    def _timed_py(self, *args: Any) -> Any:
        global _cold_spent
        t0 = time.process_time()
        try:
            with np.errstate(over="ignore"):  # integer hashes wrap, silently, as compiled
                return self.py(*args)
        finally:
            _cold_spent += time.process_time() - t0


def kernel(py: Callable[..., Any], deps: dict[str, Kernel] | None = None) -> Kernel:
    """Mark a function as an optional compiled kernel (deps: kernels it calls by name)."""
    return Kernel(py, deps)
