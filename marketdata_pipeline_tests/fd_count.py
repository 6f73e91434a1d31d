"""Count this process's open file descriptors, to prove nothing leaks."""

import contextlib
import gc
import os
import time
import warnings
from collections.abc import Iterator


def open_fds() -> int:
    """How many file descriptors this process has open now (Linux /proc)."""
    return len(os.listdir("/proc/self/fd"))


def files_open_under(prefix: str) -> list[str]:
    """The paths starting with `prefix` (a file and its WAL, say) that this process holds open now.

    Unlike a count, unmoved by an fd some other thread of this process opens or closes meanwhile.
    """
    held = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed since the listing
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(prefix):
                held.append(target)
    return held


def wait_for_fds(expected: int, timeout: float = 2.0) -> int:
    """Poll until the fd count falls to `expected` (server threads close asynchronously)."""
    deadline = time.monotonic() + timeout
    count = open_fds()
    while count > expected and time.monotonic() < deadline:
        time.sleep(0.02)
        count = open_fds()
    return count


@contextlib.contextmanager
def no_leaked_fds() -> Iterator[None]:
    """Fail when the block leaves a file descriptor open or lets the garbage collector close one.

    Counting alone misses a socket dropped without close(): CPython closes it
    when the last reference goes, with a ResourceWarning, so those count too.
    """
    before = open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    assert wait_for_fds(before) <= before
    unclosed = [str(warning.message) for warning in caught if issubclass(warning.category, ResourceWarning)]
    assert not unclosed, unclosed
