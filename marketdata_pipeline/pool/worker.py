"""The pool's background work: a fixed set of worker threads running small tasks, now or after a delay.

After psycopg_pool's `sched.py` and `MaintenanceTask`: every creation, retry,
housekeeping tick and failback probe is a task object on one time-ordered
queue, served by the same few threads, instead of a new thread per job. A
task holds its pool only through a weak reference, so a pool dropped without
`close()` can still be collected (its workers then stop, see `SessionPool`).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import weakref
from typing import Any

from marketdata_pipeline.pool.events import LOGGER


class MaintenanceTask:
    """One piece of background work for a pool; `_run(pool)` does it, if the pool still exists."""

    def __init__(self, pool: Any) -> None:
        self._pool = weakref.ref(pool)

    def run(self) -> None:
        pool = self._pool()
        if pool is not None:
            self._run(pool)

    def cancel(self) -> None:
        """The task will never run (the pool closed first): give back what it holds."""
        pool = self._pool()
        if pool is not None:
            self._cancel(pool)

    def _run(self, pool: Any) -> None:
        raise NotImplementedError

    def _cancel(self, pool: Any) -> None:
        """Nothing to give back by default."""


class Workers:
    """`size` daemon threads serving one queue of tasks ordered by due time."""

    def __init__(self, size: int, name: str) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[tuple[float, int, MaintenanceTask]] = []
        self._order = itertools.count()  # ties on due time run in submission order
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-worker-{n}", daemon=True) for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, task: MaintenanceTask, delay: float = 0.0) -> bool:
        """Queue `task` to run in `delay` seconds; False (task not queued) once stopped."""
        with self._cond:
            if self._stopped:
                return False
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), task))
            self._cond.notify()
        return True

    def stop(self, timeout: float) -> list[MaintenanceTask]:
        """Stop taking tasks, join the threads (a running task finishes first); the tasks never run."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._stopped = True
            dropped = [task for _, _, task in self._queue]
            self._queue.clear()
            self._cond.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():  # a task may close its own pool
                thread.join(max(0.0, deadline - time.monotonic()))
        return dropped

    def _work(self) -> None:
        while True:
            with self._cond:
                task = self._next_due_locked()
            if task is None:
                return
            try:
                task.run()
            except Exception:
                # One failing task (a close hook raising, say) must not end the pool's background work.
                LOGGER.exception("pool background task %s failed", type(task).__name__)
            del task  # drop the strong reference before sleeping: the pool must stay collectable

    def _next_due_locked(self) -> MaintenanceTask | None:
        while not self._stopped:
            timeout = None
            if self._queue:
                timeout = self._queue[0][0] - time.monotonic()
                if timeout <= 0:
                    return heapq.heappop(self._queue)[2]
            self._cond.wait(timeout)
        return None
