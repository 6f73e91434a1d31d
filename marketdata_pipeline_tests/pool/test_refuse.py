"""A fatal error refuses the pool: waiters and later checkouts get it, nothing is created or reused again."""

from __future__ import annotations

import threading
import time

import pytest

from marketdata_pipeline.pool import reasons
from marketdata_pipeline_tests.pool.fakes import FakeFactory
from marketdata_pipeline_tests.threads import run_together


class Stop(Exception):
    """What a server says when it must not be asked again."""


def is_stop(exc: BaseException) -> bool:
    return isinstance(exc, Stop)


def test_a_fatal_factory_error_fails_every_waiter_at_once_and_creates_nothing_more(make_pool):
    calls = []

    def factory():
        calls.append(1)
        raise Stop("blacklisted")

    pool = make_pool(factory=factory, max_size=3, acquire_timeout=10.0, is_fatal=is_stop)
    errors: list[BaseException] = []

    def borrow() -> None:
        try:
            pool.acquire()
        except Stop as exc:
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=borrow) for _ in range(3)]
    run_together(threads, timeout=5)
    assert len(errors) == 3 and time.monotonic() - started < 2  # not the 10 s acquire timeout
    assert len(calls) <= 3  # the creations already under way, no retries
    with pytest.raises(Stop):
        pool.acquire(timeout=1)
    assert len(calls) <= 3 and pool.stats()["size"] == 0


def test_a_fatal_error_inside_a_session_refuses_the_pool_and_closes_the_idle_ones(make_pool, factory):
    pool = make_pool(max_size=2, is_fatal=is_stop)
    first, second = pool.acquire(), pool.acquire()
    pool.release(second)
    with pytest.raises(Stop), pool.session():  # `first` is still out; the idle `second` is lent here
        raise Stop("blacklisted")
    assert pool.refused is not None and second.closed
    pool.release(first)  # a late return is closed, never reused
    assert first.closed
    assert pool.stats()["discarded_by_reason"][reasons.REFUSED] == 2
    with pytest.raises(Stop):
        pool.acquire(timeout=1)
    assert len(factory.made) == 2


def test_other_errors_keep_the_usual_retries(make_pool):
    factory = FakeFactory(fail_next=2)
    pool = make_pool(factory=factory, is_fatal=is_stop)
    with pool.session() as session:
        assert session.number == 1
    assert factory.calls == 3 and pool.refused is None  # two refused connects were retried
