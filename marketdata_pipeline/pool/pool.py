"""SessionPool: lend sessions made by any factory, one borrower at a time - the whole policy, in one class.

Lock discipline (after psycopg_pool's pool.py). One lock, `self._lock`,
guards every mutable field of the pool; `self._changed`, a condition on it,
wakes `wait_ready()` and `close()` when sessions come and go. A critical
section only decides - which entry is lent, which one leaves, how many slots
grow - and records the decision in the counters; everything slow or foreign
runs after the lock is released: creating sessions (the workers, `worker.py`),
checking and renewing them (the borrower's own thread), closing them and
emitting events (`_dispose`, `EventSink`). So a slow login or a user's hook
never stalls a checkout or a return. A borrower that must wait queues a
`Waiter` with its own condition: a hand-off wakes exactly that thread, in
FIFO order, and the waiter's own lock settles the race with its timeout.
Methods named `*_locked` run with `self._lock` held; no other lock is ever
taken inside it except a waiter's (`hand`) and the workers' queue (`run`).

Collaborators: `entry` (the per-session record), `waiter`, `config`,
`events` (+ `reasons`, `metrics`), `errors`, `worker` (background tasks).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Generic, TypeVar

from marketdata_pipeline.backoff import ExponentialBackoff
from marketdata_pipeline.pool import events, reasons
from marketdata_pipeline.pool.config import PoolConfig
from marketdata_pipeline.pool.entry import Disposal, SessionEntry, capture_borrower
from marketdata_pipeline.pool.errors import PoolClosed, PoolTimeout, TooManyWaiting, describe_error
from marketdata_pipeline.pool.metrics import PoolMetrics
from marketdata_pipeline.pool.waiter import Waiter
from marketdata_pipeline.pool.worker import MaintenanceTask, Workers

S = TypeVar("S")

WORKERS = 3
"""Background threads per pool (psycopg_pool's default): logins in parallel, housekeeping, probes."""

_monotonic = time.monotonic


class SessionPool(Generic[S]):
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

    The `settings` are `PoolConfig`'s fields (sizes, timeouts, `name`), validated there.

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
        on_event: events.EventHook | None = None,
        **settings: Any,
    ) -> None:
        self.config = PoolConfig(**settings)
        if not callable(factory):
            raise ValueError(f"factory must be a callable returning a new session, got {factory!r}")
        self.name = self.config.name
        self._factory = factory
        self._check = check
        self._close_session = close
        self._renew = renew
        # An interruption (KeyboardInterrupt, GeneratorExit) mid-request always leaves the session in an
        # unknown state; an Exception does unless `is_broken` says otherwise.
        self._is_broken = is_broken or (lambda exc: True)
        self._is_capacity_error = is_capacity_error or (lambda exc: False)
        self._is_fatal = is_fatal or (lambda exc: False)
        self._sink = events.EventSink(on_event)
        self._metrics = PoolMetrics()
        self._ids = itertools.count(1)
        self._random = random.Random()
        self._backoff = ExponentialBackoff(*self.config.reconnect_backoff, rng=self._random)
        # Guarded by self._lock:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._idle: deque[SessionEntry] = deque()  # least recently used first
        self._waiting: deque[Waiter] = deque()
        self._out: dict[int, SessionEntry] = {}  # lent out (or being checked), by id(session)
        self._forced: dict[int, SessionEntry] = {}  # force-closed by close() while lent out
        self._nconns = 0  # sessions that exist plus those being created
        self._growing = 0
        self._target = self.config.max_size
        self._capacity_probe_at: float | None = None
        self._last_create_error: BaseException | None = None
        self._refused: BaseException | None = None
        self._closed = False
        self._workers = Workers(WORKERS, self.name)
        # A pool dropped without close() still stops its threads (the tasks hold it only weakly);
        # the workers stop only then or in close(), so while the pool is open they take every task.
        weakref.finalize(self, self._workers.stop, 0.0).atexit = False
        housekeeping = Housekeeping(self)
        self._workers.run(housekeeping, housekeeping.every)
        with self._lock:
            self._grow_locked()

    # -- lending ----------------------------------------------------------

    def session(self, timeout: float | None = None) -> Lease[S]:
        """Context manager: a session for the `with` block, returned (or discarded if broken) after it."""
        return Lease(self, timeout)

    def acquire(self, timeout: float | None = None) -> S:
        """Check out a session; raises PoolTimeout, TooManyWaiting or PoolClosed.

        Pair every call with `release()` or `discard()`; prefer `session()`.
        """
        started = _monotonic()
        deadline = started + (self.config.acquire_timeout if timeout is None else timeout)
        borrower = capture_borrower() if self.config.leak_threshold else None
        waited = False
        while True:
            entry, recorded, waited_now = self._checkout(started, deadline, borrower)
            waited = waited or waited_now
            if recorded or self._ready_for_use(entry):
                break
        if not recorded:
            with self._lock:
                if id(entry.session) not in self._out:  # close() force-closed it during its check
                    self._forced.pop(id(entry.session), None)
                    raise PoolClosed(f"pool {self.name!r} was closed while checking a session to lend")
                self._record_acquire_locked(entry, started, waited, borrower)
        if self._sink.wants(logging.DEBUG):
            self._sink.emit(events.SessionAcquired(self.name, entry.id, entry.checked_out_at - started))
        return entry.session

    def release(self, session: S) -> None:
        """Return a session: it goes to the first waiter, or to the idle set, or is closed if retired."""
        self._return(session, None, None)

    def discard(self, session: S, reason: str = reasons.BROKEN, error: BaseException | None = None) -> None:
        """Take a checked-out session out of the pool for good and close it (never put back)."""
        self._return(session, reason, error)

    def _return(self, session: S, reason: str | None, error: BaseException | None) -> None:
        """A session coming back: kept (no `reason` and none to retire it) or dropped and closed."""
        now = _monotonic()
        with self._lock:
            entry = self._take_back_locked(session)
            if entry is None:
                return
            if reason is None:
                entry.last_used = now
            dropped = self._put_back_locked(entry, reason, error, now)
            if dropped:
                self._grow_locked()  # a waiter may need the slot it freed
        self._emit_returned(entry, now)
        self._dispose(dropped)

    def _put_back_locked(
        self, entry: SessionEntry, reason: str | None, error: BaseException | None, now: float
    ) -> list[Disposal]:
        """Lend a session that came back again, unless `reason` or the retire rule says it leaves."""
        reason = reason or self._retire_reason_locked(entry, now)
        if reason is None:
            self._give_locked(entry)
            return []
        return [self._drop_locked(entry, reason, error)]

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
                # Queued before growing, so the new session goes to the first in line, not to us.
                waiter = self._enqueue_locked(started)
                self._grow_locked()
        self._dispose(stale)
        if entry is not None:
            return entry, recorded, False
        return self._wait_in_queue(waiter, deadline), False, True

    def _pop_idle_locked(self, now: float, stale: list[Disposal]) -> SessionEntry | None:
        """The most recently used idle entry (so cold ones age out), dropping aged ones on the way."""
        while self._idle:
            entry = self._idle.pop()
            reason = self._age_reason_locked(entry, now)
            if reason is None:
                return entry
            stale.append(self._drop_locked(entry, reason))
        return None

    def _needs_io_check(self, entry: SessionEntry, now: float) -> bool:
        if entry.expired(now) and self._renew is not None:
            return True
        # Without a renew hook an expired entry is the age rule's to drop, under the lock; a
        # lifetime that ends between that decision and here does not make the session unusable.
        after = self.config.check_idle_after
        return self._check is not None and after is not None and now - entry.last_used >= after

    def _ready_for_use(self, entry: SessionEntry) -> bool:
        """Renew or check a lent entry outside the lock; a failing one is discarded."""
        now = _monotonic()
        if not self._needs_io_check(entry, now):
            return True
        renewing = entry.expired(now) and self._renew is not None
        try:
            (self._renew if renewing else self._check)(entry.session)
        except Exception as exc:
            self._drop_lent(entry, reasons.RENEW_FAILED if renewing else reasons.DEAD, exc)
            return False
        if renewing:
            with self._lock:
                self._metrics.counts["renewals"] += 1
                entry.expires_at = self._expiry(now)
        return True

    def _drop_lent(self, entry: SessionEntry, reason: str, error: BaseException) -> None:
        with self._lock:
            if self._take_back_locked(entry.session) is None:
                return  # force-closed by close() meanwhile, and counted and closed there
            dropped = [self._drop_locked(entry, reason, error)]
            self._grow_locked()
        self._dispose(dropped)

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
        except BaseException as exc:
            self._abandon(waiter, timed_out=isinstance(exc, PoolTimeout))
            raise
        if entry is None:
            self._abandon(waiter, timed_out=True)
            with self._lock:
                message = self._exhaustion_message_locked(_monotonic() - waiter.started)
                cause = self._last_create_error if self._nconns == self._growing else None
            raise PoolTimeout(message) from cause
        return entry

    def _abandon(self, waiter: Waiter, timed_out: bool) -> None:
        """Take a waiter that gave up out of the queue; give back a session handed to it just before."""
        with self._lock, suppress(ValueError):
            self._metrics.counts["timeouts"] += timed_out
            self._waiting.remove(waiter)
        if waiter.entry is not None:
            self.release(waiter.entry.session)

    def _record_acquire_locked(
        self, entry: SessionEntry, started: float, waited: bool, borrower: Any
    ) -> None:
        now = _monotonic()
        self._metrics.record_acquire(now - started, entry.uses > 0, waited)
        entry.borrower = borrower
        entry.uses += 1
        entry.checked_out_at = now
        entry.borrower_thread = threading.get_ident()
        entry.leak_reported = False

    def _take_back_locked(self, session: S) -> SessionEntry | None:
        entry = self._out.pop(id(session), None)
        if entry is not None:
            if self._closed:
                self._changed.notify_all()  # close() is waiting for the last return
            return entry
        if self._forced.pop(id(session), None) is not None:
            return None  # force-closed by close(); the late return is expected
        raise ValueError(f"pool {self.name!r}: {type(session).__name__} was not checked out from this pool")

    def _give_locked(self, entry: SessionEntry) -> None:
        """Hand `entry` to the first waiter still waiting, else put it in the idle set."""
        key = id(entry.session)
        while self._waiting:
            waiter = self._waiting.popleft()
            self._out[key] = entry
            if waiter.hand(entry):
                return
            del self._out[key]  # that waiter timed out a moment ago: try the next
        self._idle.append(entry)

    def _emit_returned(self, entry: SessionEntry, now: float) -> None:
        held = now - entry.checked_out_at
        if entry.leak_reported:
            self._sink.emit(
                events.SessionLeaked(self.name, entry.id, held, entry.borrower_stack(), returned=True)
            )
        if self._sink.wants(logging.DEBUG):
            self._sink.emit(events.SessionReleased(self.name, entry.id, held))

    # -- retirement: the age rule, eviction, checks, resizing --------------

    def _age_reason_locked(self, entry: SessionEntry, now: float) -> str | None:
        """The one age rule: past its lifetime (unless renewed in place), or idle too long above min_size."""
        if entry.expired(now) and self._renew is None:
            return reasons.MAX_LIFETIME
        max_idle = self.config.max_idle
        if max_idle is not None and now - entry.last_used >= max_idle and self._nconns > self.config.min_size:
            return reasons.MAX_IDLE
        return None

    def _retire_reason_locked(self, entry: SessionEntry, now: float) -> str | None:
        """Why a session coming back must leave rather than be lent again (None: it stays)."""
        if self._closed:
            return reasons.POOL_CLOSED
        if self._refused is not None:
            return reasons.REFUSED
        if entry.retire_reason is not None:
            return entry.retire_reason
        if self._nconns > self._target:
            return reasons.SHRUNK
        return self._age_reason_locked(entry, now)

    def evict(self, predicate: Callable[[S], bool] | None = None, reason: str = reasons.EVICTED) -> int:
        """Close idle sessions matching `predicate` (all if None) now, and checked-out ones on return.

        Returns how many sessions were marked. The pool refills on demand.
        `predicate` runs under the pool's lock: keep it to a cheap lookup.
        """
        with self._lock:
            matches = [e for e in self._idle if predicate is None or predicate(e.session)]
            for entry in matches:
                self._idle.remove(entry)
            dropped = [self._drop_locked(entry, reason) for entry in matches]
            marked = [e for e in self._out.values() if predicate is None or predicate(e.session)]
            for entry in marked:
                entry.retire_reason = reason
            self._grow_locked()
        self._dispose(dropped)
        return len(dropped) + len(marked)

    def check_idle(
        self, check: Callable[[S], Any] | None = None, replace_timeout: float = 5.0
    ) -> dict[str, Any]:
        """Check every idle session now (default: the pool's `check`), discard the dead, replace them.

        The idle sessions are lent to the checker meanwhile, so no borrower gets
        one mid-check. Waits up to `replace_timeout` for the replacements.
        Returns checked, healthy, replaced and errors (one line per dead session).
        """
        check = check or self._check
        if check is None:
            raise ValueError(f"pool {self.name!r} has no check; pass check= to check_idle()")
        with self._lock:
            self._raise_if_closed_locked()
            entries = list(self._idle)
            self._idle.clear()
            for entry in entries:
                self._out[id(entry.session)] = entry
        dead: dict[int, BaseException] = {}
        for entry in entries:
            try:
                check(entry.session)
            except Exception as exc:
                dead[entry.id] = exc
        disposals: list[Disposal] = []
        now = _monotonic()
        with self._lock:
            for entry in entries:
                error = dead.get(entry.id)
                if self._take_back_locked(entry.session) is not None:  # None: force-closed meanwhile
                    disposals += self._put_back_locked(entry, reasons.DEAD if error else None, error, now)
            replacements = self._grow_locked(extra=len(dead))
        self._dispose(disposals)
        deadline = _monotonic() + replace_timeout
        for task in replacements:
            task.done.wait(max(0.0, deadline - _monotonic()))
        return {
            "checked": len(entries),
            "healthy": len(entries) - len(dead),
            "replaced": sum(task.created for task in replacements),
            "errors": [f"session {number}: {describe_error(error)}" for number, error in dead.items()],
        }

    def resize(self, min_size: int | None = None, max_size: int | None = None) -> None:
        """Change the size limits; surplus idle sessions close now, surplus checked-out ones on return."""
        with self._lock:
            self.config = dataclasses.replace(  # validated again
                self.config,
                min_size=self.config.min_size if min_size is None else min_size,
                max_size=self.config.max_size if max_size is None else max_size,
            )
            self._target = self.config.max_size
            self._capacity_probe_at = None
            surplus = []
            while self._nconns > self._target and self._idle:
                surplus.append(self._drop_locked(self._idle.popleft(), reasons.SHRUNK))
            self._grow_locked()
        self._dispose(surplus)

    def _housekeep(self) -> None:
        """A background tick: evict aged idle sessions, report leaks, probe a lower target, keep min_size."""
        now = _monotonic()
        stale: list[Disposal] = []
        leaked: list[events.PoolEvent] = []
        with self._lock:
            if self._closed:
                return
            for entry in list(self._idle):  # least recently used first
                reason = self._age_reason_locked(entry, now)
                if reason is not None:
                    self._idle.remove(entry)
                    stale.append(self._drop_locked(entry, reason))
            if self.config.leak_threshold is not None:
                leaked = self._report_leaks_locked(now, self.config.leak_threshold)
            if self._capacity_probe_at is not None and now >= self._capacity_probe_at:
                # `capacity_retry` has passed since the server refused a session: allow one more.
                self._target = min(self._target + 1, self.config.max_size)
                at_max = self._target == self.config.max_size
                self._capacity_probe_at = None if at_max else now + self.config.capacity_retry
            self._grow_locked()
        self._sink.emit_all(leaked)
        self._dispose(stale)

    # -- growth (runs on the workers) --------------------------------------

    def _grow_locked(self, extra: int = 0) -> list[AddSession]:
        """Start creating as many sessions as waiters and min_size (or `extra`) need, within the target.

        Creation runs on the workers, outside the lock: a factory may take
        seconds (connect, log in) and must not block checkouts and returns;
        and the new session goes to the first waiter in line rather than to
        whoever triggered the growth, which keeps the queue FIFO.
        """
        if self._closed or self._refused is not None:
            return []
        wanted = max(len(self._waiting) - self._growing, self.config.min_size - self._nconns, extra)
        tasks = []
        for _ in range(max(0, min(wanted, self._target - self._nconns))):
            task = AddSession(self)
            self._nconns += 1
            self._growing += 1
            self._workers.run(task)
            tasks.append(task)
        return tasks

    def _add_session(self, task: AddSession) -> None:
        """One attempt at the session `task` holds a slot for; a failure is retried later, on a worker."""
        task.attempt += 1
        started = _monotonic()
        try:
            session = self._factory()
        except Exception as exc:
            if self._is_fatal(exc):
                self._cancel_growth(task)
                self.refuse(exc)
                return
            delay = self._after_create_failure(exc, task)
            if delay is None:
                task.done.set()
            elif not self._workers.run(task, delay):
                self._cancel_growth(task)  # closed meanwhile
            return
        now = _monotonic()
        entry = SessionEntry(session, next(self._ids), now, self._expiry(now))
        # Announced before it is handed over, so "created" always precedes its "acquired".
        if self._sink.wants(logging.DEBUG):
            self._sink.emit(events.SessionCreated(self.name, entry.id, now - started))
        with self._lock:
            self._growing -= 1
            self._metrics.counts["created"] += 1
            self._last_create_error = None
            dropped = [self._drop_locked(entry, reasons.POOL_CLOSED)] if self._closed else []
            if not dropped:
                self._give_locked(entry)
            self._changed.notify_all()  # wait_ready() counts sessions
        task.created = True
        task.done.set()
        self._dispose(dropped)

    def _after_create_failure(self, exc: Exception, task: AddSession) -> float | None:
        """Seconds to wait before the next attempt, or None when this slot is given up."""
        to_emit: list[events.PoolEvent] = []
        stranded: list[Waiter] = []
        now = _monotonic()
        with self._lock:
            self._metrics.counts["create_failures"] += 1
            self._last_create_error = exc
            if self._is_capacity_error(exc):
                # Settle at what exists, including creations in flight: each of those refused too
                # lowers the target by its own slot, so the pool ends at what the server allows.
                self._target = max(1, self._nconns - 1)
                self._capacity_probe_at = now + self.config.capacity_retry
                self._metrics.counts["capacity_limits"] += 1
                to_emit.append(events.CapacityLimited(self.name, self._target, describe_error(exc)))
            needed = self._waiting or self._nconns <= self.config.min_size
            keep = not self._closed and needed and self._nconns <= self._target and now < task.give_up_at
            if keep:
                delay = min(self._backoff.delay(task.attempt), task.give_up_at - now)
                to_emit.append(events.Backoff(self.name, task.attempt, delay, describe_error(exc)))
            else:
                # Released under the same lock that lowered the target: in between, a return would
                # see one session too many and close a healthy one.
                stranded = self._give_up_slot_locked(fatal=now >= task.give_up_at)
        self._sink.emit_all(to_emit)
        for waiter in stranded:
            error = PoolTimeout(
                f"pool {self.name!r}: could not create a session for {self.config.reconnect_timeout:.1f} s "
                f"(reconnect_timeout); last error: {describe_error(exc)}"
            )
            error.__cause__ = exc
            waiter.fail(error)
        return delay if keep else None

    def _cancel_growth(self, task: AddSession) -> None:
        with self._lock:
            self._give_up_slot_locked(fatal=False)
        task.done.set()

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

    def _expiry(self, now: float) -> float | None:
        lifetime = self.config.max_lifetime
        if lifetime is None:
            return None
        # Jitter spreads expiries so sessions created together are not all replaced at once.
        return now + lifetime * (1.0 - self.config.lifetime_jitter * self._random.random())

    def run_task(self, task: MaintenanceTask, delay: float = 0.0) -> bool:
        """Run `task` on the pool's workers in `delay` seconds (False once the pool is closed)."""
        return not self._closed and self._workers.run(task, delay)

    # -- leaks and timeouts: who holds the sessions ------------------------

    def _report_leaks_locked(self, now: float, threshold: float) -> list[events.PoolEvent]:
        """A SessionLeaked for each session held `threshold` seconds or more, once per checkout."""
        leaked: list[events.PoolEvent] = []
        for entry in self._out.values():
            held = now - entry.checked_out_at
            if not entry.leak_reported and held >= threshold:
                entry.leak_reported = True
                self._metrics.counts["leaks"] += 1
                leaked.append(events.SessionLeaked(self.name, entry.id, held, entry.borrower_stack()))
        return leaked

    def _exhaustion_message_locked(self, waited_s: float) -> str:
        """Why no session came: who holds them, and what the factory last said."""
        parts = [
            f"pool {self.name!r}: no session within {waited_s:.2f} s",
            f"{len(self._out)} in use, {len(self._idle)} idle, {self._growing} being created, "
            f"{len(self._waiting)} waiting (max_size={self.config.max_size}, target={self._target})",
        ]
        if self._out:
            oldest = min(self._out.values(), key=lambda e: e.checked_out_at)
            held = _monotonic() - oldest.checked_out_at
            by = oldest.describe_borrower()
            parts.append(f"longest held: session {oldest.id} for {held:.2f} s by {by}")
        if self._last_create_error is not None:
            parts.append(f"last error creating a session: {describe_error(self._last_create_error)}")
        return "; ".join(parts)

    # -- lifecycle ----------------------------------------------------------

    @property
    def max_size(self) -> int:
        return self.config.max_size

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def refused(self) -> BaseException | None:
        """The error the pool refuses with (see `refuse`), or None."""
        return self._refused

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

    def refuse(self, error: BaseException) -> None:
        """Stop lending for good: waiters and every later checkout get `error`, idle sessions close.

        For an answer that means the server must not be asked again (blacklisted,
        credentials rejected): the pool makes no more sessions, so no more logins.
        """
        with self._lock:
            if self._refused is not None or self._closed:
                return
            self._refused = error
            waiters, idle = self._drain_locked(reasons.REFUSED, error)
            self._changed.notify_all()
        for waiter in waiters:
            waiter.fail(error)
        self._dispose(idle)

    def close(self, timeout: float = 5.0) -> None:
        """Drain the pool: waiters get PoolClosed, idle sessions close now, borrowed ones on return.

        Sessions still out when `timeout` expires are reported as leaked and
        force-closed (their borrower's later `release()` is accepted and ignored).
        The workers are joined: no pool thread outlives `close()` but one stuck
        in a factory call longer than `timeout`.
        """
        deadline = _monotonic() + timeout
        with self._lock:
            if self._closed:
                return
            self._closed = True
            waiters, idle = self._drain_locked(reasons.POOL_CLOSED)
            still_out = self._report_leaks_locked(_monotonic(), 0.0)
        for waiter in waiters:
            waiter.fail(PoolClosed(f"pool {self.name!r} was closed while waiting for a session"))
        self._sink.emit_all(still_out)
        self._dispose(idle)
        for task in self._workers.stop(max(0.0, deadline - _monotonic())):
            task.cancel()
        with self._changed:
            while self._out and deadline > _monotonic():
                self._changed.wait(deadline - _monotonic())
            leftovers = [self._drop_locked(entry, reasons.FORCE_CLOSED) for entry in self._out.values()]
            self._forced.update(self._out)
            self._out.clear()
        self._dispose(leftovers)

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
            return {
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
                **self._metrics.snapshot(),
            }

    def __enter__(self) -> SessionPool[S]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._nconns - self._growing}/{self.config.max_size}"
        return f"<{type(self).__name__} {self.name!r} {state}>"

    # -- leaving the pool ---------------------------------------------------

    def _drain_locked(
        self, reason: str, error: BaseException | None = None
    ) -> tuple[list[Waiter], list[Disposal]]:
        """Empty the queue and the idle set (refuse, close): the waiters to wake, the sessions to close."""
        waiters = list(self._waiting)
        self._waiting.clear()
        idle = [self._drop_locked(entry, reason, error) for entry in self._idle]
        self._idle.clear()
        return waiters, idle

    def _drop_locked(self, entry: SessionEntry, reason: str, error: BaseException | None = None) -> Disposal:
        """Count a session leaving the pool; what `_dispose` needs to close it later, outside the lock."""
        self._nconns -= 1
        kind = reasons.EVICTION_KINDS.get(reason)
        if kind is not None:
            self._metrics.evictions[kind] += 1
        else:
            self._metrics.discarded[reason] += 1
        return entry, reason, error

    def _dispose(self, items: list[Disposal]) -> None:
        """Close sessions that left the pool and tell the hooks why (outside the lock)."""
        for entry, reason, error in items:
            if self._close_session is not None:
                try:
                    self._close_session(entry.session)
                except Exception:
                    # Closing is best effort: the session is gone from the pool either way.
                    events.LOGGER.warning(
                        "pool %r: closing session %d raised", self.name, entry.id, exc_info=True
                    )
            if reason in reasons.EVICTION_KINDS:
                self._sink.emit(events.SessionEvicted(self.name, entry.id, reason))
            else:
                detail = describe_error(error) if error is not None else None
                self._sink.emit(events.SessionDiscarded(self.name, entry.id, reason, detail))

    def _raise_if_closed_locked(self) -> None:
        if self._closed:
            raise PoolClosed(f"pool {self.name!r} is closed")
        if self._refused is not None:
            raise self._refused


class AddSession(MaintenanceTask):
    """Create a session for a slot the pool already counted; `done` is set at the end, `created` says how."""

    def __init__(self, pool: SessionPool) -> None:
        super().__init__(pool)
        self.attempt = 0
        self.give_up_at = _monotonic() + pool.config.reconnect_timeout
        self.created = False
        self.done = threading.Event()

    def _run(self, pool: SessionPool) -> None:
        pool._add_session(self)

    def _cancel(self, pool: SessionPool) -> None:
        pool._cancel_growth(self)


class Housekeeping(MaintenanceTask):
    """The periodic tick (`SessionPool._housekeep`), rescheduling itself until the pool closes."""

    def __init__(self, pool: SessionPool) -> None:
        super().__init__(pool)
        config = pool.config
        # Often enough for the shortest age, leak and capacity timing; between 10 ms and 5 s.
        candidates = [1.0, config.capacity_retry / 2]
        for value, share in ((config.max_idle, 4), (config.max_lifetime, 8), (config.leak_threshold, 4)):
            if value is not None:
                candidates.append(value / share)
        self.every = min(max(min(candidates), 0.01), 5.0)

    def _run(self, pool: SessionPool) -> None:
        try:
            pool._housekeep()
        finally:
            pool.run_task(self, self.every)


class Lease(Generic[S]):
    """`with pool.session() as s:` - returns the session, or discards it if the block broke it."""

    __slots__ = ("_pool", "_timeout", "_session")

    def __init__(self, pool: SessionPool[S], timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout

    def __enter__(self) -> S:
        self._session = self._pool.acquire(self._timeout)
        return self._session

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        pool = self._pool
        if exc is None:
            pool.release(self._session)
        elif isinstance(exc, Exception) and pool._is_fatal(exc):
            pool.refuse(exc)  # first, so the session below is closed without a goodbye
            pool.discard(self._session, reasons.REFUSED, exc)
        elif not isinstance(exc, Exception) or pool._is_broken(exc):
            pool.discard(self._session, reasons.BROKEN, exc)
        else:
            pool.release(self._session)
