"""Run monitoring's view of a run worker: alive only if its process exists, runs, and is the same process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from marketdata_pipeline.run_launcher import worker_alive


def test_a_running_process_is_alive():
    assert worker_alive(os.getpid(), time.time())


def test_a_process_that_ended_is_dead():
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    assert not worker_alive(ended.pid, time.time())


def test_a_zombie_is_dead():
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while worker_alive(exited.pid, time.time()) and time.monotonic() < deadline:
            time.sleep(0.05)  # not reaped: the process table still lists it, as state Z
        assert not worker_alive(exited.pid, time.time())
        assert os.path.exists(f"/proc/{exited.pid}"), "still listed: a zombie"
    finally:
        exited.wait()


def test_a_pid_reused_by_a_later_process_is_not_the_run_worker():
    # The run started (epoch 0) before this process did: the pid now belongs to someone else.
    assert not worker_alive(os.getpid(), 0.0)
