"""Growth: sessions created in background threads, retried with backoff, capped by what the server allows.

A mixin of SessionPool: uses the pool's state (`_lock`, `_changed`,
`_waiting`, `_nconns`, `_growing`, `_target`, `_growers`, `_metrics`,
`_events`) and its plumbing (`_give_locked`, `_drop_locked`, `_dispose`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Generic, TypeVar

from marketdata_pipeline.pool import reasons
from marketdata_pipeline.pool.backoff import ExponentialBackoff
from marketdata_pipeline.pool.entry import SessionEntry
from marketdata_pipeline.pool.errors import PoolTimeout, describe_error
from marketdata_pipeline.pool.events import Backoff, CapacityLimited, PoolEvent, SessionCreated
from marketdata_pipeline.pool.waiter import Waiter

S = TypeVar("S")

_monotonic = time.monotonic


class Growth(Generic[S]):
    """Start creations when waiters or min_size need them; lower the target when the server says no more."""

    def _grow_locked(self, extra: int = 0) -> list[Grower]:
        """Start creating as many sessions as waiters and min_size (or `extra`) need, within the target.

        Creation runs in its own threads, outside the lock: a factory may take
        seconds (connect, log in) and must not block checkouts and returns; and
        the new session goes to the first waiter in line rather than to
        whoever triggered the growth, which keeps the queue FIFO.
        """
        if self._closed or self._refused is not None:
            return []
        wanted = max(len(self._waiting) - self._growing, self.config.min_size - self._nconns, extra)
        count = min(wanted, self._target - self._nconns)
        started = []
        for _ in range(max(count, 0)):
            self._nconns += 1
            self._growing += 1
            grower = Grower(self)
            try:
                grower.start()
            except RuntimeError:  # "can't start new thread": give the slot back, tell the caller
                self._nconns -= 1
                self._growing -= 1
                raise
            self._growers.add(grower)
            started.append(grower)
        return started

    def _grow_one(self, grower: Grower) -> None:
        backoff = ExponentialBackoff(*self.config.reconnect_backoff, rng=self._random)
        give_up_at = _monotonic() + self.config.reconnect_timeout
        attempt = 0
        try:
            while True:
                attempt += 1
                started = _monotonic()
                try:
                    session = self._factory()
                except Exception as exc:
                    if self._is_fatal(exc):
                        with self._lock:
                            self._give_up_slot_locked(fatal=False)
                        self.refuse(exc)
                        return
                    delay = self._after_create_failure(exc, attempt, backoff, give_up_at)
                    if delay is None:
                        return
                    if self._closing.wait(delay):
                        with self._lock:
                            self._give_up_slot_locked(fatal=False)
                        return
                    continue
                self._add_created(session, started)
                grower.created = True
                return
        finally:
            with self._lock:
                self._growers.discard(grower)

    def _add_created(self, session: S, started: float) -> None:
        now = _monotonic()
        with self._lock:
            session_id = next(self._ids)
        entry = SessionEntry(session, session_id, now, self._expiry(now))
        # Announced before it is handed over, so "created" always precedes its "acquired".
        if self._events.wants(logging.DEBUG):
            self._events.emit(SessionCreated(self.name, entry.id, now - started))
        with self._lock:
            self._growing -= 1
            self._metrics.created += 1
            self._last_create_error = None
            closed = self._closed
            if closed:
                self._drop_locked(entry, reasons.POOL_CLOSED)
            else:
                self._give_locked(entry, now)
            self._changed.notify_all()
        if closed:
            self._dispose([(entry, reasons.POOL_CLOSED, None)])

    def _after_create_failure(
        self, exc: Exception, attempt: int, backoff: ExponentialBackoff, give_up_at: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when this slot is given up."""
        events: list[PoolEvent] = []
        stranded: list[Waiter] = []
        now = _monotonic()
        with self._lock:
            self._metrics.create_failures += 1
            self._last_create_error = exc
            if self._is_capacity_error(exc):
                events.append(self._lower_target_locked(exc, now))
            needed = self._waiting or self._nconns <= self.config.min_size
            keep = not self._closed and needed and self._nconns <= self._target and now < give_up_at
            if keep:
                delay = min(backoff.next_delay(), give_up_at - now)
                events.append(Backoff(self.name, attempt, delay, describe_error(exc)))
            else:
                # Released under the same lock that lowered the target: in between, a return would
                # see one session too many and close a healthy one.
                stranded = self._give_up_slot_locked(fatal=now >= give_up_at)
        self._events.emit_all(events)
        self._fail_stranded(stranded, exc)
        return delay if keep else None

    def _give_up_slot_locked(self, fatal: bool) -> list[Waiter]:
        """Release a growth slot; when `fatal` and no session exists, return the waiters to fail."""
        self._growing -= 1
        self._nconns -= 1
        self._changed.notify_all()
        if not fatal or self._nconns != self._growing:
            return []
        stranded = list(self._waiting)
        self._waiting.clear()
        return stranded

    def _fail_stranded(self, waiters: list[Waiter], cause: BaseException) -> None:
        for waiter in waiters:
            error = PoolTimeout(
                f"pool {self.name!r}: could not create a session for {self.config.reconnect_timeout:.1f} s "
                f"(reconnect_timeout); last error: {describe_error(cause)}"
            )
            error.__cause__ = cause
            waiter.fail(error)

    def _lower_target_locked(self, exc: BaseException, now: float) -> PoolEvent:
        """The server refused another session: settle at what exists instead of retrying in a loop."""
        # Everything but this failed slot, including creations still in flight: each of those that is
        # refused too lowers the target by its own slot, so the pool settles at what the server allows.
        self._target = max(1, self._nconns - 1)
        self._capacity_probe_at = now + self.config.capacity_retry
        self._metrics.capacity_limits += 1
        return CapacityLimited(self.name, self._target, describe_error(exc))

    def _expiry(self, now: float) -> float | None:
        lifetime = self.config.max_lifetime
        if lifetime is None:
            return None
        # Jitter spreads expiries so sessions created together are not all replaced at once.
        return now + lifetime * (1.0 - self.config.lifetime_jitter * self._random.random())

    def _await_growth(self, growers: list[Grower], deadline: float) -> int:
        """How many of these growers made a session before `deadline`."""
        for grower in growers:
            grower.join(max(0.0, deadline - _monotonic()))
        return sum(grower.created for grower in growers)

    def _probe_capacity_locked(self, now: float) -> None:
        """Once `capacity_retry` has passed since the server refused a session, allow one more."""
        if self._capacity_probe_at is None or now < self._capacity_probe_at:
            return
        self._target = min(self._target + 1, self.config.max_size)
        self._capacity_probe_at = (
            None if self._target == self.config.max_size else now + self.config.capacity_retry
        )


class Grower(threading.Thread):
    """One background creation of a session (with its retries); `created` tells how it ended."""

    def __init__(self, pool: Growth) -> None:
        super().__init__(name=f"{pool.name}-grow", daemon=True)
        self.pool = pool
        self.created = False

    def run(self) -> None:
        self.pool._grow_one(self)
