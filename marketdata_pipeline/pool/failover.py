"""Endpoint failover, all of it: which endpoint a new session goes to, skipping dead ones, failing back.

New sessions go to the first endpoint that is up, in the configured order. A
failing endpoint is marked down and skipped for `retry_after` seconds; then
it is tried again, by the next session it would serve or, when it is
preferred over the one in use, by a probe on the pool's workers. When a
preferred endpoint answers again, sessions move back to it: idle ones now,
borrowed ones on return. Knows nothing of any protocol: connecting and
probing are callables.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from marketdata_pipeline.pool import reasons
from marketdata_pipeline.pool.errors import PoolError, describe_error
from marketdata_pipeline.pool.events import EventSink, Failover
from marketdata_pipeline.pool.worker import MaintenanceTask

E = TypeVar("E")
S = TypeVar("S")


class AllEndpointsDown(PoolError):
    """Every endpoint failed; the message lists each endpoint with its error."""


@dataclass(slots=True)
class _EndpointState:
    label: str
    down_until: float | None = None
    last_error: str | None = None


class FailoverEndpoints(Generic[E, S]):
    """An ordered list of endpoints with up/down state, and the sessions placed on each; thread-safe.

    `reachable(endpoint)` is the failback probe: it returns if the endpoint
    serves again and raises otherwise. Make it as strict as a new session's
    creation (BaoStockPool logs in): an endpoint that passes it gets every
    session moved to it. Sessions are remembered weakly (weak-referenceable).
    """

    def __init__(
        self,
        endpoints: Sequence[E],
        *,
        is_endpoint_failure: Callable[[BaseException], bool],
        reachable: Callable[[E], object],
        retry_after: float = 2.0,
        label: Callable[[E], str] = str,
        pool_name: str = "pool",
        events: EventSink | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("endpoints must name at least one endpoint, e.g. [('127.0.0.1', 10030)]")
        if isinstance(retry_after, bool) or not isinstance(retry_after, int | float) or not retry_after > 0:
            raise ValueError(f"retry_after must be > 0 seconds, got {retry_after!r}")
        self.endpoints = tuple(endpoints)
        self._states = [_EndpointState(label(e)) for e in self.endpoints]
        self._is_failure = is_endpoint_failure
        self._reachable = reachable
        self._retry_after = retry_after
        self._pool_name = pool_name
        self._events = events or EventSink(None)
        self._lock = threading.Lock()
        self._current: int | None = None
        self._placed: weakref.WeakKeyDictionary[S, int] = weakref.WeakKeyDictionary()
        self.failovers = 0

    @property
    def current(self) -> E | None:
        """The endpoint the last new session went to (None before the first)."""
        return None if self._current is None else self.endpoints[self._current]

    def open(self, connect: Callable[[E], S]) -> S:
        """A session from the first endpoint that accepts one (a pool's factory calls this).

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
                self._mark(index, exc)
                failures.append(f"{self._states[index].label} ({describe_error(exc)})")
                last = exc
                continue
            self._mark_up(index)
            with self._lock:
                self._placed[session] = index
            return session
        raise AllEndpointsDown(f"no endpoint accepted a session: {'; '.join(failures)}") from last

    def fail_back(self, pool: Any) -> None:
        """Call on checkout: at most once per `retry_after`, probe a down preferred endpoint on a worker.

        Lazy on purpose: an idle pool sends nothing, not even a TCP connect.
        """
        index = self._due_probe()
        if index is not None:
            pool.run_task(FailBack(pool, self, index))

    def status(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {"endpoint": s.label, "up": s.down_until is None, "last_error": s.last_error}
                for s in self._states
            ]

    def _due_probe(self) -> int | None:
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

    def _probe(self, index: int) -> bool:
        """Whether a down endpoint answers again (then it is marked up)."""
        try:
            self._reachable(self.endpoints[index])
        except Exception as exc:
            self._mark(index, exc)
            return False
        self._mark(index, None)
        return True

    def _placed_after(self, session: S, index: int) -> bool:
        """Whether `session` lives on an endpoint less preferred than `index` (runs under the pool's lock)."""
        with self._lock:
            return self._placed.get(session, index) > index

    def _candidates(self) -> list[int]:
        now = time.monotonic()
        with self._lock:
            ready = [i for i, s in enumerate(self._states) if s.down_until is None or now >= s.down_until]
        # With every endpoint marked down, still try them all rather than fail without trying.
        return ready or list(range(len(self._states)))

    def _mark(self, index: int, exc: BaseException | None) -> None:
        """Mark an endpoint down for `retry_after` because of `exc`, or up again (None)."""
        with self._lock:
            state = self._states[index]
            state.down_until = None if exc is None else time.monotonic() + self._retry_after
            state.last_error = None if exc is None else describe_error(exc)

    def _mark_up(self, index: int) -> None:
        """Mark an endpoint up as the one new sessions go to; a switch is counted and announced."""
        self._mark(index, None)
        with self._lock:
            state = self._states[index]
            previous, self._current = self._current, index
            if previous is None or previous == index:
                return
            self.failovers += 1
            if index < previous:
                reason = "preferred endpoint is back"
            else:
                error = self._states[previous].last_error
                reason = f"{self._states[previous].label} is down ({error})" if error else "endpoint switched"
        self._events.emit(Failover(self._pool_name, self._states[previous].label, state.label, reason))


class FailBack(MaintenanceTask):
    """Probe a preferred endpoint; when it answers, evict the sessions on endpoints after it."""

    def __init__(self, pool: Any, endpoints: FailoverEndpoints, index: int) -> None:
        super().__init__(pool)
        self._endpoints = endpoints
        self._index = index

    def _run(self, pool: Any) -> None:
        if self._endpoints._probe(self._index):
            pool.evict(lambda session: self._endpoints._placed_after(session, self._index), reasons.EVICTED)
