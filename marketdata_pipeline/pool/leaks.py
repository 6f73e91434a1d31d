"""Leak tracking: sessions held past `leak_threshold`, and who holds the sessions when a borrower times out.

A mixin of SessionPool: reads the pool's state (`_out`, `_idle`, `_waiting`,
`_growing`, `_target`, `_last_create_error`) under its lock.
"""

from __future__ import annotations

import threading
import time

from marketdata_pipeline.pool.entry import SessionEntry
from marketdata_pipeline.pool.errors import describe_error
from marketdata_pipeline.pool.events import PoolEvent, SessionLeaked

_monotonic = time.monotonic


class LeakTracking:
    """Report sessions held too long (once each) and explain an exhausted pool."""

    def _find_leaks_locked(self, now: float) -> list[tuple[SessionEntry, float]]:
        threshold = self.config.leak_threshold
        if threshold is None:
            return []
        leaked = []
        for entry in self._out.values():
            held = now - entry.checked_out_at
            if not entry.leak_reported and held >= threshold:
                entry.leak_reported = True
                self._metrics.leaks += 1
                leaked.append((entry, held))
        return leaked

    def _report_outstanding_locked(self, now: float) -> list[PoolEvent]:
        events: list[PoolEvent] = []
        for entry in self._out.values():
            if not entry.leak_reported:
                entry.leak_reported = True
                self._metrics.leaks += 1
                events.append(
                    SessionLeaked(self.name, entry.id, now - entry.checked_out_at, entry.borrower_stack())
                )
        return events

    def _exhaustion_message_locked(self, waited_s: float) -> str:
        """Why no session came: who holds them, and what the factory last said."""
        parts = [
            f"pool {self.name!r}: no session within {waited_s:.2f} s",
            f"{len(self._out)} in use, {len(self._idle)} idle, {self._growing} being created, "
            f"{len(self._waiting)} waiting (max_size={self.config.max_size}, target={self._target})",
        ]
        if self._out:
            oldest = min(self._out.values(), key=lambda e: e.checked_out_at)
            parts.append(
                f"longest held: session {oldest.id} for {_monotonic() - oldest.checked_out_at:.2f} s "
                f"by thread {_thread_name(oldest.borrower_thread)}{_borrow_site(oldest)}"
            )
        if self._last_create_error is not None:
            parts.append(f"last error creating a session: {describe_error(self._last_create_error)}")
        return "; ".join(parts)


def _thread_name(ident: int | None) -> str:
    for thread in threading.enumerate():
        if thread.ident == ident:
            return repr(thread.name)
    return f"#{ident} (ended)"


def _borrow_site(entry: SessionEntry) -> str:
    if entry.borrower is None or not entry.borrower:
        return " (set leak_threshold to record borrowers' stacks)"
    frame = entry.borrower[-1]
    return f", borrowed at {frame.filename}:{frame.lineno} in {frame.name}"
