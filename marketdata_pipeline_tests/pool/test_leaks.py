"""Leak detection: a session held past the threshold is reported once, with its borrower's stack."""

from __future__ import annotations

import logging

from marketdata_pipeline.pool import SessionLeaked
from marketdata_pipeline_tests.pool.fakes import wait_until


def borrow_and_forget(pool):
    return pool.acquire()


def test_leak_report_carries_borrowers_stack(make_pool, caplog):
    events = []
    pool = make_pool(max_size=2, leak_threshold=0.1, on_event=events.append)
    with caplog.at_level(logging.WARNING, logger="marketdata_pipeline.pool"):
        session = borrow_and_forget(pool)
        assert wait_until(lambda: any(isinstance(e, SessionLeaked) for e in events), timeout=2.0)
        leaked = [e for e in events if isinstance(e, SessionLeaked)]
        assert len(leaked) == 1
        report = leaked[0]
        assert not report.returned and report.held_s >= 0.1
        assert "borrow_and_forget" in report.stack
        assert "test_leak_report_carries_borrowers_stack" in report.stack
        assert "marketdata_pipeline/pool/" not in report.stack
        pool.release(session)
    returned = [e for e in events if isinstance(e, SessionLeaked)][-1]
    assert returned.returned and returned.session_id == report.session_id
    assert pool.stats()["leaks"] == 1
    assert "possible leak" in caplog.text and "borrow_and_forget" in caplog.text


def test_leak_is_reported_once_per_loan(make_pool):
    events = []
    pool = make_pool(max_size=1, leak_threshold=0.05, on_event=events.append)
    session = pool.acquire()
    assert wait_until(lambda: pool.stats()["leaks"] == 1)
    wait_until(lambda: False, timeout=0.2)
    assert pool.stats()["leaks"] == 1
    pool.release(session)
    with pool.session():
        pass
    assert pool.stats()["leaks"] == 1


def test_no_leak_reported_below_threshold(make_pool):
    pool = make_pool(max_size=1, leak_threshold=1.0)
    for _ in range(20):
        with pool.session():
            pass
    assert pool.stats()["leaks"] == 0


def test_timeout_message_points_at_the_borrower(make_pool):
    pool = make_pool(max_size=1, leak_threshold=30.0)
    held = borrow_and_forget(pool)
    try:
        pool.acquire(timeout=0.05)
    except Exception as exc:
        assert "in borrow_and_forget" in str(exc)
    else:
        raise AssertionError("acquire should have timed out")
    pool.release(held)
