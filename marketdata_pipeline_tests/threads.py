"""Running a test's threads together: start them all, then join each within a bound."""

from __future__ import annotations

import threading
from collections.abc import Iterable


def run_together(threads: Iterable[threading.Thread], timeout: float) -> None:
    """Start every thread before joining any (so they contend), then join each for `timeout` s."""
    threads = list(threads)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
