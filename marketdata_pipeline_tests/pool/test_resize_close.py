"""resize() and close(): shrinking, growing, draining with waiters and with sessions out."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from marketdata_pipeline.pool import PoolClosed, SessionLeaked, SessionPool, reasons
from marketdata_pipeline.pool.pool import WORKERS
from marketdata_pipeline_tests.pool.fakes import FakeFactory, wait_until


def test_resize_shrinks_idle_now_and_borrowed_on_return(make_pool, factory):
    pool = make_pool(max_size=4)
    sessions = [pool.acquire() for _ in range(4)]
    for session in sessions[:2]:
        pool.release(session)
    pool.resize(max_size=1)
    assert pool.stats()["size"] == 2
    pool.release(sessions[2])
    pool.release(sessions[3])
    stats = pool.stats()
    assert stats["size"] == 1 and stats["max_size"] == 1
    assert stats["discarded_by_reason"] == {reasons.SHRUNK: 3}
    assert sum(s.closed for s in factory.made) == 3


def test_resize_grows_to_new_min_size(make_pool, factory):
    pool = make_pool(max_size=2)
    pool.resize(min_size=3, max_size=5)
    pool.wait_ready(timeout=2.0)
    assert pool.stats()["size"] == 3 and pool.max_size == 5


def test_resize_serves_waiters_with_new_room(make_pool):
    pool = make_pool(max_size=1)
    held = pool.acquire()
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(timeout=3.0)))
    waiter.start()
    assert wait_until(lambda: pool.stats()["waiting"] == 1)
    pool.resize(max_size=2)
    waiter.join(2)
    assert got and got[0] is not held
    pool.release(held)
    pool.release(got[0])


@pytest.mark.parametrize(
    ("minimum", "maximum", "message"),
    [(3, 2, "must not exceed max_size"), (0, 0, "max_size must be an integer >= 1")],
)
def test_resize_rejects_bad_sizes(make_pool, minimum, maximum, message):
    pool = make_pool()
    with pytest.raises(ValueError, match=message):
        pool.resize(minimum, maximum)


def test_close_wakes_waiters_with_pool_closed(make_pool):
    pool = make_pool(max_size=1)
    held = pool.acquire()
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            pool.acquire(timeout=5.0)
        except PoolClosed as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wait) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: pool.stats()["waiting"] == 3)
    closer = threading.Thread(target=pool.close, kwargs={"timeout": 2.0})
    started = time.monotonic()
    closer.start()
    for thread in threads:
        thread.join(2)
    assert len(errors) == 3 and time.monotonic() - started < 1.0
    pool.release(held)
    closer.join(2)
    assert held.closed
    with pytest.raises(PoolClosed):
        pool.acquire()


def test_close_closes_idle_sessions_and_session_returned_later(make_pool, factory):
    events = []
    pool = make_pool(max_size=3, on_event=events.append)
    borrowed = pool.acquire()
    idle = pool.acquire()
    pool.release(idle)
    returner = threading.Timer(0.1, pool.release, args=(borrowed,))
    returner.start()
    pool.close(timeout=2.0)
    returner.join()
    assert idle.closed and borrowed.closed
    assert borrowed.close_calls == 1
    leaks = [e for e in events if isinstance(e, SessionLeaked)]
    assert [e.returned for e in leaks] == [False, True]
    assert pool.stats()["discarded_by_reason"] == {reasons.POOL_CLOSED: 2}


def test_close_force_closes_sessions_not_returned_in_time(make_pool, factory):
    pool = make_pool(max_size=2)
    borrowed = pool.acquire()
    started = time.monotonic()
    pool.close(timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 1.0
    assert borrowed.closed
    stats = pool.stats()
    assert stats["leaks"] == 1 and stats["size"] == 0
    assert stats["discarded_by_reason"] == {reasons.FORCE_CLOSED: 1}
    pool.release(borrowed)  # the late return is accepted and ignored
    assert borrowed.close_calls == 1


def test_close_waits_for_session_being_created(make_pool):
    factory = FakeFactory(delay=0.2)
    pool = make_pool(factory=factory, max_size=1)
    failed = []
    waiter = threading.Thread(target=lambda: _acquire_or_record(pool, failed))
    waiter.start()
    assert wait_until(lambda: factory.started == 1) and pool.stats()["growing"] == 1
    pool.close(timeout=2.0)
    waiter.join(2)
    assert failed and isinstance(failed[0], PoolClosed)
    assert len(factory.made) == 1 and factory.made[0].closed


def test_close_is_idempotent_and_context_manager_closes(make_pool, factory):
    with make_pool(max_size=1) as pool, pool.session():
        pass
    assert pool.closed and factory.made[0].closed
    pool.close()


def _acquire_or_record(pool, errors: list[BaseException]) -> None:
    try:
        pool.release(pool.acquire(timeout=3.0))
    except PoolClosed as exc:
        errors.append(exc)


def test_close_joins_the_workers_and_a_dropped_pool_stops_them_too(factory):
    closed = SessionPool(factory, max_size=2, min_size=1, name="closed")
    closed.wait_ready(timeout=2.0)
    assert len(_workers_of("closed")) == WORKERS
    closed.close(timeout=1.0)
    assert _workers_of("closed") == []
    dropped = SessionPool(factory, max_size=2, min_size=1, name="dropped", max_idle=0.05)
    dropped.wait_ready(timeout=2.0)
    del dropped  # never closed: its tasks hold it weakly, so it is collected and its workers stop
    gc.collect()
    assert wait_until(lambda: _workers_of("dropped") == [], timeout=2.0)


def _checkout_blocked_in_its_check(make_pool, factory, dies: bool = True):
    """A pool whose one idle session ends its checkout check once `fail` is set (failing it if `dies`),
    and a borrower thread stuck in that check (it runs outside the pool's lock, so close() can run)."""
    armed, entered, fail = threading.Event(), threading.Event(), threading.Event()

    def blocking_check(session):
        if not armed.is_set():
            return
        entered.set()
        fail.wait(5)
        if dies:
            raise ConnectionError(f"session {session.number} is dead")

    pool = make_pool(max_size=1, check=blocking_check, check_idle_after=0.0)
    pool.release(pool.acquire())
    armed.set()
    failed: list[BaseException] = []
    borrower = threading.Thread(target=lambda: _acquire_or_record(pool, failed))
    borrower.start()
    assert entered.wait(3)
    return pool, borrower, failed, fail


def test_close_returns_as_soon_as_a_session_in_its_checkout_check_is_dropped(make_pool, factory):
    pool, borrower, failed, fail = _checkout_blocked_in_its_check(make_pool, factory)
    closing = threading.Thread(target=pool.close, kwargs={"timeout": 30.0})
    started = time.monotonic()
    closing.start()
    # close() joins the pool's workers first, then waits for what is out: let it get there.
    assert wait_until(lambda: pool.closed and not _workers_of(pool.name))
    time.sleep(0.2)
    fail.set()
    closing.join(30)
    borrower.join(3)
    assert time.monotonic() - started < 10.0  # not the whole close timeout: nothing is out any more
    assert failed and isinstance(failed[0], PoolClosed)
    stats = pool.stats()
    assert stats["size"] == 0 and stats["discarded_by_reason"] == {reasons.DEAD: 1}
    assert factory.made[0].close_calls == 1


@pytest.mark.parametrize("dies", [True, False])
def test_a_session_force_closed_during_its_checkout_check_is_counted_once_and_never_lent(
    make_pool, factory, dies
):
    pool, borrower, failed, fail = _checkout_blocked_in_its_check(make_pool, factory, dies)
    pool.close(timeout=0.1)  # the check still runs: the session is force-closed
    fail.set()
    borrower.join(3)
    assert failed and isinstance(failed[0], PoolClosed)
    stats = pool.stats()
    assert stats["size"] == 0 and stats["discarded_by_reason"] == {reasons.FORCE_CLOSED: 1}
    assert factory.made[0].close_calls == 1


def _workers_of(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{name}-worker-")]
