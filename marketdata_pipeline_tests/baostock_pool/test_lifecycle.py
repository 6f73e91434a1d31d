"""TTL re-login, health checks, close() with sessions out, and no file descriptor left behind."""

from __future__ import annotations

import threading
import time

from marketdata_pipeline.pool import reasons
from marketdata_pipeline_tests.baostock_pool.conftest import fetch_day
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pool.fakes import wait_until
from marketdata_pipeline_tests.threads import run_together


def test_session_past_ttl_logs_in_again_before_reuse(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=1, session_ttl=0.2)
    with pool.session() as first:
        fetch_day(first)
        logged_in_at = first.logged_in_at
    time.sleep(0.3)
    with pool.session() as again:
        assert again is first and again.logged_in_at > logged_in_at
        assert fetch_day(again)
    stats = pool.stats()
    assert stats["renewals"] == 1 and stats["logins"] == 2
    assert simulator.stats()["logins"] == 2 and simulator.stats()["logouts"] == 1


def test_health_check_pings_idle_sessions_and_replaces_dead_ones(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=3)
    with pool.session() as a, pool.session() as b, pool.session():
        fetch_day(a)
    b.close()  # dies while idle, locally: only a real request can tell
    pings_before = simulator.stats()["requests_by_method"].get("query_trade_dates", 0)
    report = pool.health_check()
    assert (report.checked, report.healthy, report.replaced) == (3, 2, 1)
    assert not report.ok and len(report.errors) == 1 and "ConnectionLostError" in report.errors[0]
    assert simulator.stats()["requests_by_method"]["query_trade_dates"] - pings_before == 2
    assert report.stats["size"] == 3 and report.stats["idle"] == 3
    assert report.stats["discarded_by_reason"] == {reasons.DEAD: 1}
    assert pool.health_check().ok


def test_close_with_sessions_out_closes_them_and_frees_logins(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=3, leak_threshold=60.0)
    idle_one = threading.Event()
    held = []

    def hold_forever() -> None:
        with pool.session() as session:
            held.append(session)
            idle_one.wait(5)

    holder = threading.Thread(target=hold_forever)
    holder.start()
    assert wait_until(lambda: held)
    with pool.session() as idle:
        fetch_day(idle)
    pool.close(timeout=0.2)
    assert held[0].closed and idle.closed
    stats = pool.stats()
    assert stats["leaks"] == 1 and stats["discarded_by_reason"] == {
        reasons.POOL_CLOSED: 1,
        reasons.FORCE_CLOSED: 1,
    }
    idle_one.set()
    holder.join(2)
    assert wait_until(lambda: simulator.stats()["active_connections"] == 0)
    # Both logged out: the forced one's borrower was not mid-request, so its socket was still sound.
    assert simulator.stats()["logouts"] == 2 and simulator.stats()["active_logins"] == 0


def test_no_file_descriptor_left_after_close(simulator, make_pool):
    before = open_fds()
    pool = make_pool([simulator.address], min_size=2, max_size=4)
    pool.wait_ready(timeout=3.0)
    threads = [threading.Thread(target=_fetch_a_few, args=(pool,)) for _ in range(6)]
    run_together(threads, timeout=5)
    simulator.kill_connections()
    with pool.session() as session:
        fetch_day(session)
    assert open_fds() > before
    pool.close()
    assert wait_for_fds(before) <= before


def _fetch_a_few(pool) -> None:
    for _ in range(5):
        with pool.session() as session:
            fetch_day(session)
