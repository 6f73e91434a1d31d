"""The pool's background thread: periodic eviction, leak detection, min-size upkeep, capacity probes."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from marketdata_pipeline.pool.events import LOGGER


class Housekeeper:
    """Calls `pool._housekeep()` every `interval` seconds until stopped.

    It holds only a weak reference to the pool (as psycopg_pool's background
    tasks do), so a pool that is dropped without `close()` can still be
    garbage-collected; the thread then ends on its next tick.
    """

    def __init__(self, pool: Any, interval: float, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_run, args=(weakref.ref(pool), interval, self._stop), name=name, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)


def _run(pool_ref: Callable[[], Any], interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        pool = pool_ref()
        if pool is None:
            return
        try:
            pool._housekeep()
        except Exception:
            # One bad tick (a failing close hook, say) must not end eviction and leak detection for good.
            LOGGER.exception("pool housekeeping failed; retrying in %.2f s", interval)
        del pool
