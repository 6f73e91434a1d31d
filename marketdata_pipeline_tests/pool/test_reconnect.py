"""Growth when the factory fails: backoff with jitter, reconnect timeout, capacity limits."""

from __future__ import annotations

import threading
import time

import pytest

from marketdata_pipeline.pool import Backoff, CapacityLimited, PoolTimeout
from marketdata_pipeline_tests.pool.fakes import CapacityRefused, FakeFactory, ServerRefused
from marketdata_pipeline_tests.threads import run_together


def is_capacity(exc: BaseException) -> bool:
    return isinstance(exc, CapacityRefused)


def test_reconnect_with_backoff_after_factory_fails_three_times(make_pool):
    events = []
    factory = FakeFactory(fail_next=3)
    pool = make_pool(factory=factory, max_size=2, reconnect_backoff=(0.02, 0.2), on_event=events.append)
    with pool.session(timeout=3.0) as session:
        assert session.number == 1
    backoffs = [e for e in events if isinstance(e, Backoff)]
    assert [e.attempt for e in backoffs] == [1, 2, 3]
    assert all("refused the connection" in e.error for e in backoffs)
    # Full jitter: each delay is drawn in [0, 0.02 * 2**(attempt - 1)].
    assert all(0 <= e.delay_s <= 0.02 * 2 ** (e.attempt - 1) for e in backoffs)
    assert pool.stats()["create_failures"] == 3
    assert factory.calls == 4


def test_server_down_timeout_names_last_error(make_pool):
    factory = FakeFactory(fail_next=10_000)
    pool = make_pool(factory=factory, max_size=2)
    started = time.monotonic()
    with pytest.raises(PoolTimeout) as caught:
        pool.acquire(timeout=0.3)
    assert time.monotonic() - started < 0.5
    assert "last error creating a session: ServerRefused" in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)
    assert isinstance(caught.value.__cause__, ServerRefused)


def test_reconnect_timeout_fails_waiters_early(make_pool):
    factory = FakeFactory(fail_next=10_000)
    pool = make_pool(factory=factory, max_size=1, reconnect_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(PoolTimeout, match="reconnect_timeout"):
        pool.acquire(timeout=5.0)
    assert time.monotonic() - started < 1.0


def test_pool_recovers_after_outage(make_pool):
    factory = FakeFactory(fail_next=10_000)
    pool = make_pool(factory=factory, max_size=1, reconnect_timeout=0.1)
    with pytest.raises(PoolTimeout):
        pool.acquire(timeout=1.0)
    factory.fail_next = 0
    with pool.session(timeout=1.0) as session:
        assert not session.closed


def test_capacity_error_lowers_target_and_pool_keeps_working(make_pool):
    events = []
    factory = FakeFactory(capacity=2)
    pool = make_pool(
        factory=factory,
        max_size=4,
        capacity_retry=30.0,
        is_capacity_error=is_capacity,
        on_event=events.append,
    )
    served = []

    def borrow() -> None:
        for _ in range(5):
            with pool.session(timeout=5.0):
                time.sleep(0.005)
                served.append(1)

    threads = [threading.Thread(target=borrow) for _ in range(6)]
    run_together(threads, timeout=10)
    stats = pool.stats()
    assert len(served) == 30
    assert len(factory.made) == 2, (stats, events)
    assert stats["target_size"] == 2 and stats["size"] == 2
    assert stats["capacity_limits"] >= 1
    limited = [e for e in events if isinstance(e, CapacityLimited)]
    assert limited and limited[-1].target_size == 2 and "login limit" in limited[0].error
    # Refused attempts are bounded: no tight retry loop against the server.
    assert factory.calls <= 2 + 4


def test_lowered_target_is_probed_again_later(make_pool):
    factory = FakeFactory(capacity=1)
    pool = make_pool(factory=factory, max_size=3, capacity_retry=0.1, is_capacity_error=is_capacity)
    first = pool.acquire()
    with pytest.raises(PoolTimeout):
        pool.acquire(timeout=0.2)
    assert pool.stats()["target_size"] == 1
    factory.capacity = 3
    second = pool.acquire(timeout=2.0)
    assert second is not first
    assert pool.stats()["target_size"] >= 2
    pool.release(first)
    pool.release(second)


def test_capacity_error_with_no_session_keeps_retrying(make_pool):
    factory = FakeFactory(capacity=0)
    pool = make_pool(factory=factory, max_size=2, is_capacity_error=is_capacity)

    def free_a_slot() -> None:
        time.sleep(0.1)
        factory.capacity = 1

    threading.Thread(target=free_a_slot).start()
    with pool.session(timeout=2.0) as session:
        assert session.number == 1
    assert pool.stats()["capacity_limits"] >= 1


def test_unclassified_refusals_leave_target_alone(make_pool):
    factory = FakeFactory(capacity=0)
    pool = make_pool(factory=factory, max_size=2)
    with pytest.raises(PoolTimeout, match="CapacityRefused"):
        pool.acquire(timeout=0.2)
    stats = pool.stats()
    assert stats["target_size"] == 2 and stats["capacity_limits"] == 0
