"""Sessions leave the pool by age: max lifetime (with jitter), max idle, check on checkout, evict()."""

from __future__ import annotations

import threading
import time

from marketdata_pipeline.pool import SessionPool, reasons
from marketdata_pipeline_tests.pool.fakes import renew, wait_until


def test_session_past_max_lifetime_is_replaced_on_checkout(make_pool, factory):
    pool = make_pool(max_size=1, max_lifetime=0.1, lifetime_jitter=0.0)
    with pool.session() as first:
        pass
    time.sleep(0.15)
    with pool.session() as second:
        assert second is not first
    assert first.closed
    assert pool.stats()["evictions"]["ttl"] == 1


def test_expired_idle_sessions_are_evicted_in_background(make_pool, factory):
    pool = make_pool(max_size=2, max_lifetime=0.1, lifetime_jitter=0.0)
    with pool.session():
        pass
    assert wait_until(lambda: pool.stats()["evictions"]["ttl"] == 1, timeout=2.0)
    assert factory.made[0].closed
    assert pool.stats()["size"] == 0


def test_lifetime_jitter_spreads_expiries(make_pool):
    pool = make_pool(max_size=8, max_lifetime=100.0, lifetime_jitter=0.5)
    sessions = [pool.acquire() for _ in range(8)]
    expiries = {round(entry.expires_at - entry.created_at, 3) for entry in pool._out.values()}
    assert len(expiries) > 1
    assert all(50.0 <= lifetime <= 100.0 for lifetime in expiries)
    for session in sessions:
        pool.release(session)


def test_session_returned_after_lifetime_is_closed_not_pooled(make_pool):
    pool = make_pool(max_size=1, max_lifetime=0.05, lifetime_jitter=0.0)
    session = pool.acquire()
    time.sleep(0.08)
    pool.release(session)
    assert session.closed
    assert pool.stats()["idle"] == 0


def test_renew_hook_refreshes_expired_session_in_place(make_pool, factory):
    pool = make_pool(max_size=1, max_lifetime=0.05, lifetime_jitter=0.0, renew=renew)
    with pool.session() as first:
        pass
    time.sleep(0.08)
    with pool.session() as second:
        assert second is first
    assert first.renewals == 1
    assert pool.stats()["renewals"] == 1
    assert len(factory.made) == 1


def test_failed_renew_discards_and_replaces(make_pool, factory):
    pool = make_pool(max_size=1, max_lifetime=0.05, lifetime_jitter=0.0, renew=renew)
    with pool.session() as first:
        first.alive = False
    time.sleep(0.08)
    with pool.session() as second:
        assert second is not first
    assert pool.stats()["discarded_by_reason"] == {reasons.RENEW_FAILED: 1}


def test_idle_sessions_above_min_size_are_evicted(make_pool, factory):
    pool = make_pool(min_size=1, max_size=3, max_idle=0.1)
    sessions = [pool.acquire() for _ in range(3)]
    for session in sessions:
        pool.release(session)
    assert wait_until(lambda: pool.stats()["evictions"]["idle"] == 2, timeout=2.0)
    time.sleep(0.15)
    stats = pool.stats()
    assert stats["size"] == 1 and stats["evictions"]["idle"] == 2


def test_check_on_checkout_discards_dead_session(make_pool, factory):
    pool = make_pool(max_size=2, check_idle_after=0.0)
    with pool.session() as first:
        pass
    first.alive = False
    with pool.session() as second:
        assert second is not first
    assert first.closed
    assert pool.stats()["discarded_by_reason"] == {reasons.DEAD: 1}


def test_check_skipped_for_recently_used_session(make_pool):
    checks: list[int] = []
    pool = make_pool(max_size=1, check_idle_after=10.0, check=lambda s: checks.append(s.number))
    with pool.session():
        pass
    with pool.session():
        pass
    assert checks == []


def test_evict_closes_idle_now_and_borrowed_on_return(make_pool, factory):
    pool = make_pool(max_size=2)
    idle, borrowed = pool.acquire(), pool.acquire()
    pool.release(idle)
    assert pool.evict() == 2
    assert idle.closed and not borrowed.closed
    pool.release(borrowed)
    assert borrowed.closed
    assert pool.stats()["discarded_by_reason"] == {reasons.EVICTED: 2}


def test_check_idle_discards_dead_and_replaces_them(make_pool, factory):
    pool = make_pool(max_size=3)
    sessions = [pool.acquire() for _ in range(3)]
    for session in sessions:
        pool.release(session)
    sessions[1].alive = False
    report = pool.check_idle()
    assert {k: report[k] for k in ("checked", "healthy", "replaced")} == {
        "checked": 3,
        "healthy": 2,
        "replaced": 1,
    }
    assert report["errors"] == ["session 2: ServerRefused: session 2 is dead"]
    stats = pool.stats()
    assert stats["size"] == 3 and stats["idle"] == 3
    assert stats["discarded_by_reason"] == {reasons.DEAD: 1}
    assert sessions[1].closed and len(factory.made) == 4


def test_check_idle_leaves_borrowed_sessions_alone(make_pool):
    checked = []
    pool = make_pool(max_size=2, check=lambda s: checked.append(s.number))
    borrowed = pool.acquire()
    idle = pool.acquire()
    pool.release(idle)
    assert pool.check_idle()["checked"] == 1
    assert checked == [idle.number]
    pool.release(borrowed)


def test_check_idle_during_close_leaves_nothing_open(make_pool, factory):
    pool = make_pool(max_size=2)
    sessions = [pool.acquire() for _ in range(2)]
    for session in sessions:
        pool.release(session)

    def close_pool_mid_check(session) -> None:
        if session is sessions[0]:
            pool.close(timeout=0.0)

    report = pool.check_idle(close_pool_mid_check)
    assert report["checked"] == 2 and report["replaced"] == 0
    assert all(session.close_calls == 1 for session in factory.made)
    assert pool.stats()["size"] == 0 and pool.stats()["idle"] == 0


def test_a_lifetime_ending_during_a_hand_off_neither_drops_the_session_nor_calls_a_missing_check(
    make_pool, monkeypatch
):
    # A session handed to a waiter is checked outside the lock; its lifetime ends just before.
    # With no check hook, that check used to call None and drop the session as dead.
    pool = make_pool(max_size=1, max_lifetime=100.0, lifetime_jitter=0.0, check=None)
    first = pool.acquire()
    ready_for_use = SessionPool._ready_for_use

    def lifetime_ends_now(self, entry):
        entry.expires_at = time.monotonic() - 1.0
        return ready_for_use(self, entry)

    monkeypatch.setattr(SessionPool, "_ready_for_use", lifetime_ends_now)
    releaser = threading.Timer(0.1, pool.release, [first])
    releaser.start()
    try:
        second = pool.acquire(timeout=5.0)
    finally:
        releaser.join()
    assert second is first
    assert not first.closed
    assert pool.stats()["discarded_by_reason"] == {}
    pool.release(second)
