"""Lending: checkout, return and hand-off to waiters, the pool's hot path (a mixin of SessionPool).

Uses the pool's state (`_lock`, `_idle`, `_waiting`, `_out`, `_forced`,
`_metrics`, `_events`) and its shared plumbing (`_drop_locked`, `_dispose`,
`_grow_locked`), all defined in `pool.py` and `growth.py`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Generic, TypeVar

from marketdata_pipeline.pool import reasons
from marketdata_pipeline.pool.entry import Disposal, SessionEntry, capture_borrower
from marketdata_pipeline.pool.errors import PoolClosed, PoolTimeout, TooManyWaiting
from marketdata_pipeline.pool.events import SessionAcquired, SessionLeaked, SessionReleased
from marketdata_pipeline.pool.waiter import Waiter

S = TypeVar("S")

_monotonic = time.monotonic
_DEBUG = 10  # logging.DEBUG, bound once for the hot path


class Lending(Generic[S]):
    """Lend sessions out and take them back; a returned session goes to the first waiter in line."""

    def session(self, timeout: float | None = None) -> Lease[S]:
        """Context manager: a session for the `with` block, returned (or discarded if broken) after it."""
        return Lease(self, timeout)

    def acquire(self, timeout: float | None = None) -> S:
        """Check out a session; raises PoolTimeout, TooManyWaiting or PoolClosed.

        Pair every call with `release()` or `discard()`; prefer `session()`.
        """
        started = _monotonic()
        deadline = started + (self.config.acquire_timeout if timeout is None else timeout)
        borrower = capture_borrower(self._skip_prefixes) if self.config.leak_threshold else None
        waited = False
        while True:
            entry, recorded, waited_now = self._checkout(started, deadline, borrower)
            waited = waited or waited_now
            if recorded or self._ready_for_use(entry):
                break
        if not recorded:
            with self._lock:
                self._record_acquire_locked(entry, started, waited, borrower)
        if self._events.wants(_DEBUG):
            self._events.emit(SessionAcquired(self.name, entry.id, entry.checked_out_at - started))
        return entry.session

    def release(self, session: S) -> None:
        """Return a session: it goes to the first waiter, or to the idle set, or is closed if retired."""
        now = _monotonic()
        with self._lock:
            entry = self._take_back_locked(session)
            if entry is None:
                return
            reason = self._retire_reason_locked(entry, now)
            if reason is None:
                entry.last_used = now
                self._give_locked(entry, now)
            else:
                self._drop_locked(entry, reason)
                self._grow_locked()
        self._emit_returned(entry, now)
        if reason is not None:
            self._dispose([(entry, reason, None)])

    def discard(self, session: S, reason: str = reasons.BROKEN, error: BaseException | None = None) -> None:
        """Take a checked-out session out of the pool for good and close it (never put back)."""
        now = _monotonic()
        with self._lock:
            entry = self._take_back_locked(session)
            if entry is None:
                return
            self._drop_locked(entry, reason)
            self._grow_locked()
        self._emit_returned(entry, now)
        self._dispose([(entry, reason, error)])

    def _checkout(self, started: float, deadline: float, borrower: Any) -> tuple[SessionEntry, bool, bool]:
        """An entry lent to this caller, whether its acquire is already recorded, and whether it waited.

        A hit that needs no I/O check is recorded under the same lock it was
        taken with, so the hot path costs one lock round-trip.
        """
        stale: list[Disposal] = []
        with self._lock:
            self._raise_if_closed_locked()
            now = _monotonic()
            entry = self._pop_idle_locked(now, stale)
            if entry is not None:
                self._out[id(entry.session)] = entry
                recorded = not self._needs_io_check(entry, now)
                if recorded:
                    self._record_acquire_locked(entry, started, False, borrower)
            else:
                waiter = self._enqueue_locked(started)
                self._grow_locked()
        self._dispose(stale)
        if entry is not None:
            return entry, recorded, False
        return self._wait_in_queue(waiter, deadline), False, True

    def _pop_idle_locked(self, now: float, stale: list[Disposal]) -> SessionEntry | None:
        """The most recently used idle entry (so cold ones age out), skipping expired ones."""
        max_idle = self.config.max_idle
        while self._idle:
            entry = self._idle.pop()
            if entry.expired(now) and self._renew is None:
                reason = reasons.MAX_LIFETIME
            elif max_idle is not None and now - entry.last_used >= max_idle:
                reason = reasons.MAX_IDLE
            else:
                return entry
            self._drop_locked(entry, reason)
            stale.append((entry, reason, None))
        return None

    def _needs_io_check(self, entry: SessionEntry, now: float) -> bool:
        if entry.expires_at is not None and now >= entry.expires_at:
            return True  # only reachable with a renew hook; otherwise expired entries never get here
        after = self.config.check_idle_after
        return self._check is not None and after is not None and now - entry.last_used >= after

    def _ready_for_use(self, entry: SessionEntry) -> bool:
        """Renew or check a lent entry outside the lock; a failing one is discarded."""
        now = _monotonic()
        if entry.expired(now) and self._renew is not None:
            return self._renew_entry(entry, now)
        if not self._needs_io_check(entry, now):
            return True
        try:
            self._check(entry.session)
        except Exception as exc:
            self._drop_lent(entry, reasons.DEAD, exc)
            return False
        return True

    def _renew_entry(self, entry: SessionEntry, now: float) -> bool:
        try:
            self._renew(entry.session)
        except Exception as exc:
            self._drop_lent(entry, reasons.RENEW_FAILED, exc)
            return False
        with self._lock:
            self._metrics.renewals += 1
            entry.expires_at = self._expiry(now)
        return True

    def _drop_lent(self, entry: SessionEntry, reason: str, error: BaseException) -> None:
        with self._lock:
            self._out.pop(id(entry.session), None)
            self._drop_locked(entry, reason)
            self._grow_locked()
        self._dispose([(entry, reason, error)])

    def _enqueue_locked(self, started: float) -> Waiter:
        limit = self.config.max_waiting
        if limit and len(self._waiting) >= limit:
            raise TooManyWaiting(
                f"pool {self.name!r}: {len(self._waiting)} borrowers already waiting (max_waiting={limit}); "
                f"raise max_waiting or max_size, or shed load"
            )
        waiter = Waiter(started)
        self._waiting.append(waiter)
        return waiter

    def _wait_in_queue(self, waiter: Waiter, deadline: float) -> SessionEntry:
        try:
            entry = waiter.wait(deadline)
        except PoolClosed:
            raise
        except PoolTimeout:
            with self._lock:
                self._metrics.timeouts += 1
            raise
        except BaseException:
            self._abandon(waiter)
            raise
        if entry is None:
            self._abandon(waiter)
            with self._lock:
                self._metrics.timeouts += 1
                message = self._exhaustion_message_locked(_monotonic() - waiter.started)
                cause = self._last_create_error if self._nconns == self._growing else None
            raise PoolTimeout(message) from cause
        return entry

    def _abandon(self, waiter: Waiter) -> None:
        """Take a waiter that gave up out of the queue; give back a session handed to it just before."""
        with self._lock, suppress(ValueError):
            self._waiting.remove(waiter)
        if waiter.entry is not None:
            self.release(waiter.entry.session)

    def _record_acquire_locked(
        self, entry: SessionEntry, started: float, waited: bool, borrower: Any
    ) -> None:
        now = _monotonic()
        entry.borrower = borrower
        self._metrics.record_acquire(now - started, entry.uses > 0, waited)
        entry.uses += 1
        entry.checked_out_at = now
        entry.borrower_thread = threading.get_ident()
        entry.leak_reported = False

    # -- return -----------------------------------------------------------

    def _take_back_locked(self, session: S) -> SessionEntry | None:
        entry = self._out.pop(id(session), None)
        if entry is not None:
            if self._closed:
                self._changed.notify_all()
            return entry
        if self._forced.pop(id(session), None) is not None:
            return None  # force-closed by close(); the late return is expected
        raise ValueError(f"pool {self.name!r}: {type(session).__name__} was not checked out from this pool")

    def _retire_reason_locked(self, entry: SessionEntry, now: float) -> str | None:
        if self._closed:
            return reasons.POOL_CLOSED
        if self._refused is not None:
            return reasons.REFUSED
        if entry.retire_reason is not None:
            return entry.retire_reason
        if self._nconns > self._target:
            return reasons.SHRUNK
        if entry.expired(now) and self._renew is None:
            return reasons.MAX_LIFETIME
        return None

    def _give_locked(self, entry: SessionEntry, now: float) -> None:
        """Hand `entry` to the first waiter still waiting, else put it in the idle set."""
        key = id(entry.session)
        while self._waiting:
            waiter = self._waiting.popleft()
            self._out[key] = entry
            if waiter.hand(entry):
                return
            del self._out[key]
        self._idle.append(entry)

    def _emit_returned(self, entry: SessionEntry, now: float) -> None:
        held = now - entry.checked_out_at
        if entry.leak_reported:
            self._events.emit(SessionLeaked(self.name, entry.id, held, entry.borrower_stack(), returned=True))
        if self._events.wants(_DEBUG):
            self._events.emit(SessionReleased(self.name, entry.id, held))


class Lease(Generic[S]):
    """`with pool.session() as s:` - returns the session, or discards it if the block broke it."""

    __slots__ = ("_pool", "_timeout", "_session")

    def __init__(self, pool: Lending[S], timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout

    def __enter__(self) -> S:
        self._session = self._pool.acquire(self._timeout)
        return self._session

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is not None and isinstance(exc, Exception) and self._pool._is_fatal(exc):
            self._pool.refuse(exc)  # first, so the session below is closed without a goodbye
            self._pool.discard(self._session, reasons.REFUSED, exc)
        elif exc is not None and _breaks(self._pool._is_broken, exc):
            self._pool.discard(self._session, reasons.BROKEN, exc)
        else:
            self._pool.release(self._session)


def _breaks(is_broken: Callable[[BaseException], bool] | None, exc: BaseException) -> bool:
    # An interruption (KeyboardInterrupt, GeneratorExit) mid-request leaves the session in an unknown state.
    if not isinstance(exc, Exception) or is_broken is None:
        return True
    return bool(is_broken(exc))
