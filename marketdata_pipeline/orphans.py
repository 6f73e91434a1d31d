"""No orphaned step workers: a step process ends when the run worker that started it dies.

Dagster's multiprocess executor runs each step in a child process of the run
worker. Killed with kill -9 (or by the OOM killer), the run worker cannot
stop its children, and an orphaned step would go on fetching from BaoStock
and writing the warehouse while run monitoring marks its run failed and a
retry starts. Linux delivers a signal to a child when its parent dies if the
child asks (prctl PR_SET_PDEATHSIG); SIGKILL is safe here because a partition
is replaced in one transaction, so a killed write leaves the old slice whole.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def end_with_parent() -> bool:
    """In a step's child process on Linux, have the kernel SIGKILL it when its parent dies; whether it did.

    Does nothing in a process nobody spawned for one step (a CLI or test process running steps in
    process), nor off Linux.
    """
    if not sys.platform.startswith("linux") or multiprocessing.parent_process() is None:
        return False
    parent = multiprocessing.parent_process().pid
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before the request: it will never be delivered
        os.kill(os.getpid(), signal.SIGKILL)
    return True
