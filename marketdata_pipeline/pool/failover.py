"""Endpoint failover: new sessions go to the first endpoint that is up, in the configured order.

A failing endpoint is marked down and skipped for `retry_after` seconds, then
tried again (lazily by the next session it would serve, or by `probe()`).
When a preferred endpoint comes back, sessions return to it. Knows nothing
of any protocol: connecting and probing are callables.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from marketdata_pipeline.pool.errors import PoolError
from marketdata_pipeline.pool.events import EventSink, Failover

E = TypeVar("E")
S = TypeVar("S")


class AllEndpointsDown(PoolError):
    """Every endpoint failed; the message lists each endpoint with its error."""


class _EndpointState:
    __slots__ = ("label", "down_until", "last_error")

    def __init__(self, label: str) -> None:
        self.label = label
        self.down_until: float | None = None
        self.last_error: str | None = None


class FailoverEndpoints(Generic[E]):
    """An ordered list of endpoints with up/down state; thread-safe."""

    def __init__(
        self,
        endpoints: Sequence[E],
        *,
        is_endpoint_failure: Callable[[BaseException], bool],
        retry_after: float = 2.0,
        label: Callable[[E], str] = str,
        pool_name: str = "pool",
        events: EventSink | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("endpoints must name at least one endpoint, e.g. [('127.0.0.1', 10030)]")
        if not retry_after > 0:
            raise ValueError(f"retry_after must be > 0 seconds, got {retry_after!r}")
        self.endpoints = tuple(endpoints)
        self._states = [_EndpointState(label(e)) for e in self.endpoints]
        self._is_failure = is_endpoint_failure
        self._retry_after = retry_after
        self._pool_name = pool_name
        self._events = events or EventSink(None)
        self._lock = threading.Lock()
        self._current: int | None = None
        self.failovers = 0

    @property
    def current(self) -> E | None:
        """The endpoint the last new session went to (None before the first)."""
        return None if self._current is None else self.endpoints[self._current]

    def open(self, connect: Callable[[E], S]) -> tuple[int, S]:
        """A session from the first endpoint that accepts one, with that endpoint's index.

        Errors that `is_endpoint_failure` rejects (e.g. "login refused") are not
        the endpoint's fault and propagate at once, without trying the next.
        """
        failures: list[str] = []
        last: BaseException | None = None
        for index in self._candidates():
            try:
                session = connect(self.endpoints[index])
            except Exception as exc:
                if not self._is_failure(exc):
                    raise
                self._mark_down(index, exc)
                failures.append(f"{self._states[index].label} ({type(exc).__name__}: {exc})")
                last = exc
                continue
            self._mark_up(index)
            return index, session
        raise AllEndpointsDown(f"no endpoint accepted a session: {'; '.join(failures)}") from last

    def due_probe(self) -> int | None:
        """A down endpoint preferred over the current one whose retry time has come, if any."""
        now = time.monotonic()
        with self._lock:
            limit = len(self._states) if self._current is None else self._current
            for index in range(limit):
                state = self._states[index]
                if state.down_until is not None and now >= state.down_until:
                    state.down_until = now + self._retry_after  # one probe per period, however many callers
                    return index
        return None

    def probe(self, index: int, reachable: Callable[[E], object]) -> bool:
        """Check a down endpoint; True (and marked up) when `reachable` returns without raising."""
        try:
            reachable(self.endpoints[index])
        except Exception as exc:
            self._mark_down(index, exc)
            return False
        with self._lock:
            self._states[index].down_until = None
            self._states[index].last_error = None
        return True

    def is_preferred(self, index: int) -> bool:
        """Whether no endpoint before `index` is up (sessions on it need not move)."""
        with self._lock:
            return all(s.down_until is not None for s in self._states[:index])

    def status(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {"endpoint": s.label, "up": s.down_until is None, "last_error": s.last_error}
                for s in self._states
            ]

    def _candidates(self) -> list[int]:
        now = time.monotonic()
        with self._lock:
            ready = [i for i, s in enumerate(self._states) if s.down_until is None or now >= s.down_until]
        # With every endpoint marked down, still try them all rather than fail without trying.
        return ready or list(range(len(self._states)))

    def _mark_down(self, index: int, exc: BaseException) -> None:
        with self._lock:
            state = self._states[index]
            state.down_until = time.monotonic() + self._retry_after
            state.last_error = f"{type(exc).__name__}: {exc}"

    def _mark_up(self, index: int) -> None:
        with self._lock:
            state = self._states[index]
            state.down_until = None
            state.last_error = None
            previous, self._current = self._current, index
            if previous is None or previous == index:
                return
            self.failovers += 1
            reason = self._switch_reason(previous, index)
        self._events.emit(Failover(self._pool_name, self._states[previous].label, state.label, reason))

    def _switch_reason(self, previous: int, index: int) -> str:
        if index < previous:
            return "preferred endpoint is back"
        error = self._states[previous].last_error
        return f"{self._states[previous].label} is down ({error})" if error else "endpoint switched"
