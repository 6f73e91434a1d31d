"""Eviction: sessions taken out on purpose: aged ones each housekeeping tick, evict(), check_idle(), resize().

A mixin of SessionPool: uses the pool's state (`_lock`, `_idle`, `_out`,
`_nconns`, `_target`, `config`) and its plumbing (`_drop_locked`,
`_dispose`, `_give_locked`, `_grow_locked`, `_probe_capacity_locked`,
`_find_leaks_locked`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from marketdata_pipeline.pool import reasons
from marketdata_pipeline.pool.entry import Disposal, SessionEntry
from marketdata_pipeline.pool.errors import describe_error
from marketdata_pipeline.pool.events import SessionLeaked

S = TypeVar("S")

_monotonic = time.monotonic


class Eviction(Generic[S]):
    """Close the sessions the pool no longer wants: aged, dead, surplus, or asked for."""

    def evict(self, predicate: Callable[[S], bool] | None = None, reason: str = reasons.EVICTED) -> int:
        """Close idle sessions matching `predicate` (all if None) now, and checked-out ones on return.

        Returns how many sessions were marked. The pool refills on demand.
        `predicate` runs under the pool's lock: keep it to a cheap lookup.
        """
        with self._lock:
            matches = [e for e in self._idle if predicate is None or predicate(e.session)]
            for entry in matches:
                self._idle.remove(entry)
                self._drop_locked(entry, reason)
            marked = [e for e in self._out.values() if predicate is None or predicate(e.session)]
            for entry in marked:
                entry.retire_reason = reason
            self._grow_locked()
        self._dispose([(entry, reason, None) for entry in matches])
        return len(matches) + len(marked)

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
        dead = self._find_dead(entries, check)
        errors_by_id = {entry.id: error for entry, error in dead}
        with self._lock:
            disposals = self._return_checked_locked(entries, errors_by_id, _monotonic())
            replacements = self._grow_locked(extra=len(dead))
        self._dispose(disposals)
        replaced = self._await_growth(replacements, _monotonic() + replace_timeout)
        errors = [f"session {entry.id}: {describe_error(error)}" for entry, error in dead]
        return {
            "checked": len(entries),
            "healthy": len(entries) - len(dead),
            "replaced": replaced,
            "errors": errors,
        }

    def _return_checked_locked(
        self, entries: list[SessionEntry], errors_by_id: dict[int, BaseException], now: float
    ) -> list[Disposal]:
        """Put checked entries back (or retire them); the pool may have closed during the check."""
        disposals: list[Disposal] = []
        for entry in entries:
            if self._out.pop(id(entry.session), None) is None:
                continue  # force-closed by close() while the check ran
            error = errors_by_id.get(entry.id)
            reason = reasons.DEAD if error is not None else self._retire_reason_locked(entry, now)
            if reason is None:
                self._give_locked(entry, now)
                continue
            self._drop_locked(entry, reason)
            disposals.append((entry, reason, error))
        if self._closed:
            self._changed.notify_all()
        return disposals

    def _find_dead(
        self, entries: list[SessionEntry], check: Callable[[S], Any]
    ) -> list[tuple[SessionEntry, BaseException]]:
        dead = []
        for entry in entries:
            try:
                check(entry.session)
            except Exception as exc:
                dead.append((entry, exc))
        return dead

    def resize(self, min_size: int | None = None, max_size: int | None = None) -> None:
        """Change the size limits; surplus idle sessions close now, surplus checked-out ones on return."""
        with self._lock:
            self.config = self.config.resized(
                self.config.min_size if min_size is None else min_size,
                self.config.max_size if max_size is None else max_size,
            )
            self._target = self.config.max_size
            self._capacity_probe_at = None
            surplus = []
            while self._nconns > self._target and self._idle:
                entry = self._idle.popleft()
                self._drop_locked(entry, reasons.SHRUNK)
                surplus.append((entry, reasons.SHRUNK, None))
            self._grow_locked()
        self._dispose(surplus)

    def _housekeeping_interval(self) -> float:
        candidates = [1.0, self.config.capacity_retry / 2]
        for value, share in (
            (self.config.max_idle, 4),
            (self.config.max_lifetime, 8),
            (self.config.leak_threshold, 4),
        ):
            if value is not None:
                candidates.append(value / share)
        return min(max(min(candidates), 0.01), 5.0)

    def _housekeep(self) -> None:
        """Evict aged idle sessions, report leaks, probe a lowered target, keep min_size."""
        now = _monotonic()
        with self._lock:
            if self._closed:
                return
            stale = self._evict_idle_locked(now)
            leaked = self._find_leaks_locked(now)
            self._probe_capacity_locked(now)
            self._grow_locked()
        self._events.emit_all(
            [SessionLeaked(self.name, entry.id, held, entry.borrower_stack()) for entry, held in leaked]
        )
        self._dispose(stale)

    def _evict_idle_locked(self, now: float) -> list[Disposal]:
        stale: list[Disposal] = []
        keep: deque[SessionEntry] = deque()
        max_idle = self.config.max_idle
        for entry in self._idle:  # oldest-used first
            if entry.expired(now) and self._renew is None:
                reason = reasons.MAX_LIFETIME
            elif (
                max_idle is not None
                and now - entry.last_used >= max_idle
                and self._nconns > self.config.min_size
            ):
                reason = reasons.MAX_IDLE
            else:
                keep.append(entry)
                continue
            self._drop_locked(entry, reason)
            stale.append((entry, reason, None))
        self._idle = keep
        return stale
