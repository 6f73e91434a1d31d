"""A borrower waiting in the FIFO queue, with its own condition for a race-free hand-off."""

from __future__ import annotations

import threading
import time

from marketdata_pipeline.pool.entry import SessionEntry


class GaveUp(Exception):
    """Marks a waiter that stopped waiting (timed out); never escapes the pool."""


_GAVE_UP = GaveUp()


class Waiter:
    """One waiting borrower; whoever hands it a session learns whether it is still there.

    `hand()` and the waiter's timeout both decide under the waiter's own
    condition, so exactly one wins: a session handed to a waiter that has just
    timed out is refused and the giver passes it on to the next waiter (or back
    to the idle set). One condition per waiter wakes exactly the thread served,
    in FIFO order, instead of a thundering herd on a shared `notify_all`.
    """

    __slots__ = ("entry", "error", "started", "_cond")

    def __init__(self, started: float) -> None:
        self.entry: SessionEntry | None = None
        self.error: BaseException | None = None
        self.started = started
        self._cond = threading.Condition(threading.Lock())

    def hand(self, entry: SessionEntry) -> bool:
        """Give the waiter a session; False when it already gave up (the caller keeps the session)."""
        return self._settle(entry, None)

    def fail(self, error: BaseException) -> bool:
        """Wake the waiter with an error instead of a session; False when it is already settled."""
        return self._settle(None, error)

    def _settle(self, entry: SessionEntry | None, error: BaseException | None) -> bool:
        with self._cond:
            if self.entry is not None or self.error is not None:
                return False
            self.entry, self.error = entry, error
            self._cond.notify()
            return True

    def wait(self, deadline: float) -> SessionEntry | None:
        """The handed session, or None on timeout; raises the error given by `fail()`.

        On an interruption (KeyboardInterrupt, a signal handler raising) the
        waiter is marked as gone before the exception propagates, so no hand-off
        can land afterwards; a session handed just before stays in `entry` for
        the caller to give back.
        """
        with self._cond:
            try:
                while self.entry is None and self.error is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self.error = _GAVE_UP
                        break
                    self._cond.wait(remaining)
            except BaseException as exc:
                if self.entry is None and self.error is None:
                    self.error = exc
                raise
        if self.entry is not None:
            return self.entry
        if self.error is _GAVE_UP:
            return None
        raise self.error
