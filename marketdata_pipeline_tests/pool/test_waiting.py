"""Waiters: FIFO order, spikes, timeouts, the bounded queue, and race-free hand-off."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from marketdata_pipeline.pool import PoolTimeout, TooManyWaiting
from marketdata_pipeline.pool.entry import SessionEntry
from marketdata_pipeline.pool.waiter import Waiter
from marketdata_pipeline_tests.pool.fakes import FakeFactory, wait_until
from marketdata_pipeline_tests.threads import run_together


def test_spike_of_50_threads_on_pool_of_4(make_pool):
    factory = FakeFactory(delay=0.005)
    pool = make_pool(factory=factory, max_size=4, acquire_timeout=10.0)
    overlaps: list[int] = []
    served: list[int] = []
    lock = threading.Lock()

    def borrow(number: int) -> None:
        with pool.session() as session:
            session.borrowers += 1
            if session.borrowers != 1:
                overlaps.append(session.number)
            time.sleep(0.002)
            session.borrowers -= 1
        with lock:
            served.append(number)

    threads = [threading.Thread(target=borrow, args=(n,)) for n in range(50)]
    run_together(threads, timeout=10)
    assert sorted(served) == list(range(50))
    assert overlaps == []
    assert len(factory.made) <= 4
    stats = pool.stats()
    assert stats["acquires"] == 50
    assert stats["size"] == stats["idle"] == len(factory.made)
    assert stats["in_use"] == 0 and stats["waiting"] == 0
    assert not any(session.closed for session in factory.made)


def test_waiters_are_served_in_fifo_order(make_pool):
    pool = make_pool(max_size=1)
    held = pool.acquire()
    order: list[int] = []

    def wait_then_record(number: int) -> None:
        with pool.session():
            order.append(number)

    threads = []
    for number in range(8):
        thread = threading.Thread(target=wait_then_record, args=(number,))
        thread.start()
        threads.append(thread)
        assert wait_until(lambda n=number: pool.stats()["waiting"] == n + 1)
    pool.release(held)
    for thread in threads:
        thread.join(5)
    assert order == list(range(8))


def test_acquire_timeout_raises_within_timeout(make_pool):
    pool = make_pool(max_size=1)
    held = pool.acquire()
    started = time.monotonic()
    with pytest.raises(PoolTimeout) as caught:
        pool.acquire(timeout=0.3)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 0.3 + 0.2
    message = str(caught.value)
    assert "no session within 0.3" in message
    assert "1 in use" in message and "longest held: session" in message
    assert repr(threading.current_thread().name) in message
    assert pool.stats()["timeouts"] == 1
    assert pool.stats()["waiting"] == 0
    pool.release(held)


def test_timed_out_waiter_never_swallows_a_session(make_pool, factory):
    pool = make_pool(max_size=1)
    for attempt in range(40):
        held = pool.acquire()
        outcome: list[str] = []

        def wait_briefly(outcome: list[str] = outcome) -> None:
            try:
                with pool.session():
                    outcome.append("served")
            except PoolTimeout:
                outcome.append("timeout")

        waiter = threading.Thread(target=wait_briefly)
        waiter.start()
        # Release around the waiter's deadline, so hand-off and timeout race.
        time.sleep(0.01 + (attempt % 5) * 0.001)
        pool.release(held)
        waiter.join(2)
        assert outcome in (["served"], ["timeout"])
        assert wait_until(lambda: pool.stats()["idle"] == 1), pool.stats()
    assert len(factory.made) == 1
    assert pool.stats()["in_use"] == 0


def test_hand_off_to_gone_waiter_goes_to_next_waiter(make_pool):
    pool = make_pool(max_size=1)
    held = pool.acquire()
    results: dict[str, object] = {}

    def acquire_as(label: str, timeout: float) -> None:
        try:
            with pool.session(timeout) as session:
                results[label] = session
        except PoolTimeout as exc:
            results[label] = exc

    impatient = threading.Thread(target=acquire_as, args=("impatient", 0.05))
    patient = threading.Thread(target=acquire_as, args=("patient", 3.0))
    impatient.start()
    assert wait_until(lambda: pool.stats()["waiting"] == 1)
    patient.start()
    impatient.join(2)
    pool.release(held)
    patient.join(2)
    assert isinstance(results["impatient"], PoolTimeout)
    assert results["patient"] is held


def test_waiter_that_gave_up_refuses_a_late_hand_off():
    waiter = Waiter(time.monotonic())
    assert waiter.wait(deadline=time.monotonic() + 0.01) is None
    late = SessionEntry(object(), 1, time.monotonic(), None)
    assert waiter.hand(late) is False
    assert waiter.entry is None


def test_waiter_served_once_refuses_a_second_hand_off():
    waiter = Waiter(time.monotonic())
    first = SessionEntry(object(), 1, time.monotonic(), None)
    assert waiter.hand(first) is True
    assert waiter.hand(SessionEntry(object(), 1, time.monotonic(), None)) is False
    assert waiter.wait(deadline=time.monotonic() + 1) is first


def test_interrupted_waiter_leaves_the_queue(make_pool):
    pool = make_pool(max_size=1)
    held = pool.acquire()

    class Interrupted(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Interrupted):
            pool.acquire(timeout=3.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert pool.stats()["waiting"] == 0
    pool.release(held)
    assert pool.stats()["idle"] == 1
    with pool.session(timeout=0.5) as session:
        assert session is held


def test_too_many_waiting_fails_fast(make_pool):
    pool = make_pool(max_size=1, max_waiting=2)
    held = pool.acquire()
    threads = [threading.Thread(target=_acquire_quietly, args=(pool, 1.0)) for _ in range(2)]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: pool.stats()["waiting"] == 2)
    started = time.monotonic()
    with pytest.raises(TooManyWaiting, match="max_waiting=2"):
        pool.acquire(timeout=5.0)
    assert time.monotonic() - started < 0.1
    pool.release(held)
    for thread in threads:
        thread.join(3)


def _acquire_quietly(pool, timeout: float) -> None:
    with pool.session(timeout=timeout):
        time.sleep(0.01)
