"""SessionPool: the pool's state and lifecycle (open, wait_ready, close, stats), assembled from its parts.

The policy is split by job: lending (checkout, return, hand-off to waiters)
in `lending.py`, growth (background creation, backoff, capacity limits) in
`growth.py`, eviction and housekeeping in `eviction.py`, leak tracking in
`leaks.py`. They are mixins over the one state defined here, all guarded by
`self._lock`. Locking rule: decide under `self._lock`, act (create, check,
close, emit events) outside it, so a slow factory or a user hook never stalls
checkouts.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from marketdata_pipeline.pool import reasons
from marketdata_pipeline.pool.config import PoolConfig
from marketdata_pipeline.pool.entry import Disposal, SessionEntry
from marketdata_pipeline.pool.errors import PoolClosed, PoolTimeout, describe_error
from marketdata_pipeline.pool.events import (
    LOGGER,
    EventHook,
    EventSink,
    SessionDiscarded,
    SessionEvicted,
)
from marketdata_pipeline.pool.eviction import Eviction
from marketdata_pipeline.pool.growth import Grower, Growth
from marketdata_pipeline.pool.housekeeper import Housekeeper
from marketdata_pipeline.pool.leaks import LeakTracking
from marketdata_pipeline.pool.lending import Lending
from marketdata_pipeline.pool.metrics import PoolMetrics
from marketdata_pipeline.pool.waiter import Waiter

S = TypeVar("S")

_monotonic = time.monotonic


class SessionPool(Lending[S], Growth, Eviction, LeakTracking):
    """A pool of sessions made by `factory()`, lent out one borrower at a time.

    - `factory()` returns a new, ready session (it may raise; the pool retries
      with exponential backoff and jitter for up to `reconnect_timeout`).
    - `check(session)` raises if the session is dead; run on checkout when the
      session sat idle for `check_idle_after` seconds or more (0 = always).
    - `close(session)` releases its resources; `renew(session)`, if given,
      refreshes a session past `max_lifetime` in place instead of replacing it.
    - `is_broken(exc)` says whether an exception raised inside `session()`
      leaves the session unusable (default: every exception does).
    - `is_capacity_error(exc)` says whether a factory error means "the server
      allows no more sessions": the pool then lowers its target size to what
      it has and probes for more every `capacity_retry` seconds.
    - `is_fatal(exc)` says whether an error (from the factory, or raised inside
      `session()`) means "stop using this server": the pool then `refuse()`s -
      no more creations, every waiter and later checkout gets that error.

    Waiters are served first come, first served; `acquire_timeout` bounds the
    wait and `max_waiting` (0 = unlimited) the queue. Sessions held longer than
    `leak_threshold` are reported once with the borrower's stack.
    """

    def __init__(
        self,
        factory: Callable[[], S],
        *,
        check: Callable[[S], Any] | None = None,
        close: Callable[[S], Any] | None = None,
        renew: Callable[[S], Any] | None = None,
        is_broken: Callable[[BaseException], bool] | None = None,
        is_capacity_error: Callable[[BaseException], bool] | None = None,
        is_fatal: Callable[[BaseException], bool] | None = None,
        min_size: int = 0,
        max_size: int = 4,
        acquire_timeout: float = 30.0,
        max_waiting: int = 0,
        max_lifetime: float | None = None,
        lifetime_jitter: float = 0.1,
        max_idle: float | None = None,
        check_idle_after: float | None = None,
        reconnect_backoff: tuple[float, float] = (0.1, 10.0),
        reconnect_timeout: float = 300.0,
        leak_threshold: float | None = None,
        capacity_retry: float = 60.0,
        name: str = "pool",
        on_event: EventHook | None = None,
        wrapper_modules: Iterable[str] = (),
    ) -> None:
        self.config = PoolConfig(
            min_size=min_size,
            max_size=max_size,
            acquire_timeout=acquire_timeout,
            max_waiting=max_waiting,
            max_lifetime=max_lifetime,
            lifetime_jitter=lifetime_jitter,
            max_idle=max_idle,
            check_idle_after=check_idle_after,
            reconnect_backoff=tuple(reconnect_backoff),
            reconnect_timeout=reconnect_timeout,
            leak_threshold=leak_threshold,
            capacity_retry=capacity_retry,
            name=name,
        )
        if not callable(factory):
            raise ValueError(f"factory must be a callable returning a new session, got {factory!r}")
        self.name = name
        self._factory = factory
        self._check = check
        self._close_session = close
        self._renew = renew
        self._is_broken = is_broken
        self._is_capacity_error = is_capacity_error or (lambda exc: False)
        self._is_fatal = is_fatal or (lambda exc: False)
        self._refused: BaseException | None = None
        self._skip_prefixes = ("marketdata_pipeline.pool", "contextlib", *wrapper_modules)
        self._events = EventSink(on_event)
        self._metrics = PoolMetrics()
        self._ids = itertools.count(1)
        self._random = random.Random()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._idle: deque[SessionEntry] = deque()
        self._waiting: deque[Waiter] = deque()
        self._out: dict[int, SessionEntry] = {}
        self._forced: dict[int, SessionEntry] = {}
        self._nconns = 0  # sessions that exist plus those being created
        self._growing = 0
        self._target = max_size
        self._capacity_probe_at: float | None = None
        self._last_create_error: BaseException | None = None
        self._growers: set[Grower] = set()
        self._closed = False
        self._closing = threading.Event()
        self._housekeeper = Housekeeper(self, self._housekeeping_interval(), f"{name}-housekeeper")
        self._housekeeper.start()
        with self._lock:
            self._grow_locked()

    # -- public API (acquire/release: lending.py; evict/check_idle/resize: eviction.py) --

    @property
    def max_size(self) -> int:
        return self.config.max_size

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until `min_size` sessions exist; PoolTimeout (naming the last factory error) otherwise."""
        deadline = _monotonic() + timeout
        with self._changed:
            while self._nconns - self._growing < self.config.min_size:
                self._raise_if_closed_locked()
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    raise PoolTimeout(self._exhaustion_message_locked(timeout)) from self._last_create_error
                self._changed.wait(remaining)

    def close(self, timeout: float = 5.0) -> None:
        """Drain the pool: waiters get PoolClosed, idle sessions close now, borrowed ones on return.

        Sessions still out when `timeout` expires are reported as leaked and
        force-closed (their borrower's later `release()` is accepted and ignored).
        """
        deadline = _monotonic() + timeout
        with self._lock:
            if self._closed:
                return
            self._closed = True
            waiters = list(self._waiting)
            self._waiting.clear()
            idle = list(self._idle)
            self._idle.clear()
            for entry in idle:
                self._drop_locked(entry, reasons.POOL_CLOSED)
            growers = list(self._growers)
            still_out = self._report_outstanding_locked(_monotonic())
        self._closing.set()
        for waiter in waiters:
            waiter.fail(PoolClosed(f"pool {self.name!r} was closed while waiting for a session"))
        self._events.emit_all(still_out)
        self._dispose([(entry, reasons.POOL_CLOSED, None) for entry in idle])
        self._housekeeper.stop(max(0.0, deadline - _monotonic()))
        for thread in growers:
            thread.join(max(0.0, deadline - _monotonic()))
        self._await_returns(deadline)
        self._force_close_outstanding()

    def refuse(self, error: BaseException) -> None:
        """Stop lending for good: waiters and every later checkout get `error`, idle sessions close.

        For an answer that means the server must not be asked again (blacklisted,
        credentials rejected): the pool makes no more sessions, so no more logins.
        """
        with self._lock:
            if self._refused is not None or self._closed:
                return
            self._refused = error
            waiters = list(self._waiting)
            self._waiting.clear()
            idle = list(self._idle)
            self._idle.clear()
            for entry in idle:
                self._drop_locked(entry, reasons.REFUSED)
            self._changed.notify_all()
        for waiter in waiters:
            waiter.fail(error)
        self._dispose([(entry, reasons.REFUSED, error) for entry in idle])

    @property
    def refused(self) -> BaseException | None:
        """The error the pool refuses with (see `refuse`), or None."""
        return self._refused

    def stats(self) -> dict[str, Any]:
        """A flat snapshot: sizes now, plus counters since the pool opened.

        Sizes: size (sessions that exist), idle, in_use, waiting, growing (being
        created), min_size, max_size, target_size (max_size, or lower while the
        server refuses more sessions). Counters: created, create_failures,
        acquires, reused (acquires served by a session that served before),
        hit_rate (reused / acquires), waited (acquires that queued),
        acquire_wait_p50_ms / _p95_ms (over the last 4,096 acquires), timeouts,
        discarded_by_reason (by close reason, see `reasons`), evictions
        ({"ttl", "idle"}), leaks, renewals, capacity_limits.
        """
        with self._lock:
            snapshot: dict[str, Any] = {
                "name": self.name,
                "size": self._nconns - self._growing,
                "idle": len(self._idle),
                "in_use": len(self._out),
                "waiting": len(self._waiting),
                "growing": self._growing,
                "min_size": self.config.min_size,
                "max_size": self.config.max_size,
                "target_size": self._target,
                "closed": self._closed,
            }
            snapshot.update(self._metrics.snapshot())
        return snapshot

    def __enter__(self) -> SessionPool[S]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._nconns - self._growing}/{self.config.max_size}"
        return f"<{type(self).__name__} {self.name!r} {state}>"

    def _await_returns(self, deadline: float) -> None:
        with self._changed:
            while self._out:
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(remaining)

    def _force_close_outstanding(self) -> None:
        with self._lock:
            leftovers = list(self._out.values())
            self._forced.update(self._out)
            self._out.clear()
            for entry in leftovers:
                self._drop_locked(entry, reasons.FORCE_CLOSED)
        self._dispose([(entry, reasons.FORCE_CLOSED, None) for entry in leftovers])

    # -- shared plumbing --------------------------------------------------

    def _drop_locked(self, entry: SessionEntry, reason: str) -> None:
        """Count a session leaving the pool (it is closed later, outside the lock)."""
        self._nconns -= 1
        kind = reasons.EVICTION_KINDS.get(reason)
        if kind is not None:
            self._metrics.evictions[kind] += 1
        else:
            self._metrics.discarded[reason] += 1

    def _dispose(self, items: list[Disposal]) -> None:
        """Close sessions that left the pool and tell the hooks why."""
        for entry, reason, error in items:
            self._close_quietly(entry)
            if reason in reasons.EVICTION_KINDS:
                self._events.emit(SessionEvicted(self.name, entry.id, reason))
            else:
                detail = describe_error(error) if error is not None else None
                self._events.emit(SessionDiscarded(self.name, entry.id, reason, detail))

    def _close_quietly(self, entry: SessionEntry) -> None:
        if self._close_session is None:
            return
        try:
            self._close_session(entry.session)
        except Exception:
            # Closing is best effort: the session is gone from the pool either way.
            LOGGER.warning("pool %r: closing session %d raised", self.name, entry.id, exc_info=True)

    def _raise_if_closed_locked(self) -> None:
        if self._closed:
            raise PoolClosed(f"pool {self.name!r} is closed")
        if self._refused is not None:
            raise self._refused
