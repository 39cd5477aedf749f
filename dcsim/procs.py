"""Process hygiene shared by sweep workers and training env workers (issue 14.6)."""

from __future__ import annotations

import os
import signal
import threading
import time


def die_with_parent(parent_pid: int) -> None:
    """Call in a child process: end it when `parent_pid` dies (even by SIGKILL), so no
    worker outlives the sweep or training run that started it.

    Linux delivers SIGKILL on parent death (prctl PR_SET_PDEATHSIG); elsewhere, and for the
    race where the parent died before the call, a daemon thread watches the parent pid.
    Ctrl-C is left to the parent (SIGINT ignored here): a terminal sends it to the whole
    process group, and each worker would print a KeyboardInterrupt traceback; the parent
    keeps what finished and its exit ends the workers.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()
