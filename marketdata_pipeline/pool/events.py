"""Pool events: small dataclasses sent to the `on_event` hook and to the pool's logger.

Every event names its pool. Events never carry a session object or its repr
(a session may hold credentials), only the pool's own integer session id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

LOGGER = logging.getLogger("marketdata_pipeline.pool")


@dataclass(frozen=True, slots=True)
class PoolEvent:
    """Base of every event; `kind` is a short stable name ("created", "leaked", ...)."""

    kind: ClassVar[str] = "event"
    level: ClassVar[int] = logging.DEBUG
    pool: str

    def describe(self) -> str:
        """One line for the log."""
        return self.kind


@dataclass(frozen=True, slots=True)
class SessionEvent(PoolEvent):
    """Base of the events about one session, named by the pool's id for it."""

    session_id: int


@dataclass(frozen=True, slots=True)
class SessionCreated(SessionEvent):
    kind: ClassVar[str] = "created"
    elapsed_s: float

    def describe(self) -> str:
        return f"session {self.session_id} created in {self.elapsed_s * 1000:.1f} ms"


@dataclass(frozen=True, slots=True)
class SessionAcquired(SessionEvent):
    kind: ClassVar[str] = "acquired"
    wait_s: float

    def describe(self) -> str:
        return f"session {self.session_id} acquired after {self.wait_s * 1000:.1f} ms"


@dataclass(frozen=True, slots=True)
class SessionReleased(SessionEvent):
    kind: ClassVar[str] = "released"
    held_s: float

    def describe(self) -> str:
        return f"session {self.session_id} released after {self.held_s * 1000:.1f} ms"


@dataclass(frozen=True, slots=True)
class SessionDiscarded(SessionEvent):
    kind: ClassVar[str] = "discarded"
    level: ClassVar[int] = logging.INFO
    reason: str
    error: str | None = None

    def describe(self) -> str:
        cause = f": {self.error}" if self.error else ""
        return f"session {self.session_id} discarded {self.reason}{cause}"


@dataclass(frozen=True, slots=True)
class SessionEvicted(SessionEvent):
    kind: ClassVar[str] = "evicted"
    level: ClassVar[int] = logging.INFO
    reason: str

    def describe(self) -> str:
        return f"session {self.session_id} evicted {self.reason}"


@dataclass(frozen=True, slots=True)
class SessionLeaked(SessionEvent):
    """A session held past `leak_threshold` (`returned=False`), or such a session coming back."""

    kind: ClassVar[str] = "leaked"
    level: ClassVar[int] = logging.WARNING
    held_s: float
    stack: str
    returned: bool = False

    def describe(self) -> str:
        if self.returned:
            return f"previously reported leaked session {self.session_id} returned after {self.held_s:.2f} s"
        return (
            f"session {self.session_id} held for {self.held_s:.2f} s, possible leak; "
            f"borrowed at:\n{self.stack}"
        )


@dataclass(frozen=True, slots=True)
class Backoff(PoolEvent):
    """Creating a session failed; the next attempt waits `delay_s`."""

    kind: ClassVar[str] = "backoff"
    level: ClassVar[int] = logging.WARNING
    attempt: int
    delay_s: float
    error: str

    def describe(self) -> str:
        return (
            f"creating a session failed (attempt {self.attempt}), "
            f"retrying in {self.delay_s:.2f} s: {self.error}"
        )


@dataclass(frozen=True, slots=True)
class CapacityLimited(PoolEvent):
    """The server refused more sessions; the pool lowered its target size instead of hammering it."""

    kind: ClassVar[str] = "capacity_limited"
    level: ClassVar[int] = logging.WARNING
    target_size: int
    error: str

    def describe(self) -> str:
        return f"server refused another session, target size lowered to {self.target_size}: {self.error}"


@dataclass(frozen=True, slots=True)
class Failover(PoolEvent):
    """New sessions now go to another endpoint (`from_endpoint` is None at first use)."""

    kind: ClassVar[str] = "failover"
    level: ClassVar[int] = logging.WARNING
    from_endpoint: str | None
    to_endpoint: str
    reason: str

    def describe(self) -> str:
        return f"endpoint {self.from_endpoint} -> {self.to_endpoint}: {self.reason}"


EventHook = Callable[[PoolEvent], None]


class EventSink:
    """Sends events to the user's hook and to the logger; a failing hook is logged, never raised."""

    __slots__ = ("_hook",)

    def __init__(self, hook: EventHook | None) -> None:
        self._hook = hook

    def wants(self, level: int) -> bool:
        """Whether an event of `level` would go anywhere (lets hot paths skip building it)."""
        return self._hook is not None or LOGGER.isEnabledFor(level)

    def emit(self, event: PoolEvent) -> None:
        if LOGGER.isEnabledFor(event.level):
            LOGGER.log(event.level, "pool %r: %s", event.pool, event.describe())
        if self._hook is None:
            return
        try:
            self._hook(event)
        except Exception:
            LOGGER.exception("pool %r: on_event hook raised on %s event", event.pool, event.kind)

    def emit_all(self, events: list[PoolEvent]) -> None:
        for event in events:
            self.emit(event)
