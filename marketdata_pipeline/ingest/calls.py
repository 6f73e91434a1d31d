"""One query on a pooled session with bounded retries, and bounded concurrent work.

A `TransportError` means the session is broken (and `NotLoggedInError` that
its login expired): the pool discards it when it leaves the `with
pool.session()` block, so a retry runs on a fresh session. Other answer errors
(bad code, bad parameters, server error) are the server's final word and are
not retried. Nothing here raises for a failed query - the outcome carries the
error, so one symbol's or one day's failure never stops the others - except a
`StopError` (blacklisted, credentials rejected, daily budget spent): it is
raised at once, so the whole fetch and run end without a retry, a fallback or
another symbol; the pool already refuses every further checkout with it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from marketdata_pipeline.backoff import ExponentialBackoff
from marketdata_pipeline.baostock.errors import NotLoggedInError, ServerError, StopError, TransportError

RETRIED = (TransportError, NotLoggedInError)
"""Errors that condemn the session, not the request: worth a retry on a fresh session."""

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a query is retried after a RETRIED error."""

    attempts: int = 3
    """Tries in all, the first included."""
    backoff_s: float = 0.05
    """Longest pause before the first retry; doubles per retry, capped at max_backoff_s (full jitter)."""
    max_backoff_s: float = 1.0
    retried_answers: tuple[type[Exception], ...] = ()
    """Answer errors also retried (on the same or another session): a server error (10005001)
    on reference data a run cannot do without, which the next try usually gets."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        self.backoff()  # refuses delays that are not finite, positive, initial <= cap

    def backoff(self) -> ExponentialBackoff:
        return ExponentialBackoff(self.backoff_s, self.max_backoff_s)


# Reference data (universe, calendar) is whole or nothing: one server error (10005001) would fail
# the whole run, so it is retried too, after a longer pause.
REFERENCE_DATA_RETRY = RetryPolicy(backoff_s=1.0, max_backoff_s=5.0, retried_answers=(ServerError,))


@dataclass(frozen=True)
class Call:
    """The outcome of one query with retries: its result or its last error, and requests sent."""

    result: Any = None
    error: Exception | None = None
    requests: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def call_with_retry(pool, query: Callable[[Any], Any], policy: RetryPolicy) -> Call:
    """Run `query(session)` on a session from `pool`, retrying RETRIED errors per `policy`.

    `Call.requests` counts the request frames the sessions sent (every page of
    a paged answer, every retry), read off the session's own counter, whatever
    the query raised.
    """
    sent, transport_error = 0, None
    for attempt in range(1, policy.attempts + 1):
        try:
            with pool.session() as session:
                before = session.requests
                try:
                    result = query(session)
                finally:
                    sent += session.requests - before
            return Call(result=result, requests=sent)
        except StopError:
            raise  # the run must end: see the module docstring
        except (*RETRIED, *policy.retried_answers) as exc:
            transport_error = exc
            if attempt == policy.attempts:
                return Call(error=exc, requests=sent)
            time.sleep(policy.backoff().delay(attempt))
        except Exception as exc:  # isolation: the caller records it, the run goes on
            if transport_error is None:
                return Call(error=exc, requests=sent)
            # A retry that gets no session (PoolTimeout because logins hang, say) is a consequence:
            # the transport error that started it is the diagnosis, and the later error a note.
            transport_error.add_note(f"retry {attempt - 1} failed: {type(exc).__name__}: {exc}")
            return Call(error=transport_error, requests=sent)
    raise AssertionError("unreachable: the loop returns on its last attempt")


def result_or_raise(call: Call) -> Any:
    """The call's result, or its error raised: for reference data that is whole or nothing."""
    if call.error is not None:
        raise call.error
    return call.result


def run_bounded(
    work: Callable[[T], R], items: Iterable[T], max_workers: int, *, ahead: int | None = None
) -> Iterator[tuple[T, R]]:
    """Yield `(item, work(item))` in completion order, on at most `max_workers` threads.

    `work` must not raise (it returns its errors). Results are consumed on the
    caller's thread, so callers aggregate without locks. At most `max_workers`
    + `ahead` (default `max_workers`) items are taken from `items` and not yet
    handed over, and a result is let go once yielded: memory holds a few
    answers, not the whole fetch, however many items there are. A caller that
    spends long on some results (storing a chunk) asks for more `ahead`, so the
    workers go on meanwhile. Leaving the loop early cancels the work not yet
    started and waits for what is running.
    """
    source = iter(items)
    in_flight: dict[Future[R], T] = {}
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ingest") as executor:

        def submit(count: int) -> None:
            for item in itertools.islice(source, count):
                in_flight[executor.submit(work, item)] = item

        submit(max_workers + (max_workers if ahead is None else ahead))
        try:
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                finished = done.pop()
                yield in_flight.pop(finished), finished.result()
                submit(1)  # the other items in flight keep the workers busy meanwhile
        finally:
            for future in in_flight:
                future.cancel()
