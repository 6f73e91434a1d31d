"""One pooled session with its bookkeeping: ages, borrower, leak state."""

from __future__ import annotations

import sys
import threading
import traceback
from typing import Any


class SessionEntry:
    """The pool's record of a session; the session itself is never inspected."""

    __slots__ = (
        "session",
        "id",
        "created_at",
        "expires_at",
        "last_used",
        "checked_out_at",
        "uses",
        "borrower",
        "borrower_thread",
        "leak_reported",
        "retire_reason",
    )

    def __init__(self, session: Any, session_id: int, now: float, expires_at: float | None) -> None:
        self.session = session
        self.id = session_id  # numbered per pool, in creation order
        self.created_at = now
        self.expires_at = expires_at
        self.last_used = now
        self.checked_out_at = now
        self.uses = 0
        self.borrower: traceback.StackSummary | None = None
        self.borrower_thread: int | None = None
        self.leak_reported = False
        self.retire_reason: str | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def borrower_stack(self) -> str:
        """The borrower's stack at checkout, innermost call last (empty when not captured)."""
        if self.borrower is None:
            return ""
        return "".join(self.borrower.format()).rstrip()

    def describe_borrower(self) -> str:
        """Who holds the session, for a timeout message: the thread's name and where it borrowed."""
        names = {thread.ident: repr(thread.name) for thread in threading.enumerate()}
        holder = names.get(self.borrower_thread, f"#{self.borrower_thread} (ended)")
        if not self.borrower:
            return f"thread {holder} (set leak_threshold to record borrowers' stacks)"
        frame = self.borrower[-1]
        return f"thread {holder}, borrowed at {frame.filename}:{frame.lineno} in {frame.name}"


Disposal = tuple[SessionEntry, str, BaseException | None]
"""A session leaving the pool: its entry, the close reason (see `reasons`), and the error that caused it."""


_SKIPPED_MODULES = ("marketdata_pipeline.pool", "contextlib")
"""Frames left off the top of a borrower's stack: the pool's own, and `with` machinery."""


def capture_borrower() -> traceback.StackSummary:
    """The caller's stack without the pool's own frames; source lines are read only when formatted."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_SKIPPED_MODULES):
        frame = frame.f_back
    summary = traceback.StackSummary.extract(traceback.walk_stack(frame), limit=32, lookup_lines=False)
    summary.reverse()
    return summary
