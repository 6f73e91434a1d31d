"""Count this process's open file descriptors, to prove nothing leaks."""

import os
import time


def open_fds() -> int:
    """How many file descriptors this process has open now (Linux /proc)."""
    return len(os.listdir("/proc/self/fd"))


def wait_for_fds(expected: int, timeout: float = 2.0) -> int:
    """Poll until the fd count falls to `expected` (server threads close asynchronously)."""
    deadline = time.monotonic() + timeout
    count = open_fds()
    while count > expected and time.monotonic() < deadline:
        time.sleep(0.02)
        count = open_fds()
    return count
