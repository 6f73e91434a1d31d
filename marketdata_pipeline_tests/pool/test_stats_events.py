"""stats() and events are exact in a scripted scenario, and go to the logger too."""

from __future__ import annotations

import logging

import pytest

from marketdata_pipeline.pool import PoolTimeout, reasons
from marketdata_pipeline_tests.pool.fakes import FakeFactory, ServerRefused


def _summary(events):
    return [(e.kind, getattr(e, "session_id", None), getattr(e, "reason", None)) for e in events]


def test_stats_and_events_exact_in_scripted_scenario(make_pool):
    events = []
    pool = make_pool(
        factory=FakeFactory(),
        max_size=2,
        check_idle_after=0.0,
        is_broken=lambda exc: isinstance(exc, ConnectionError),
        on_event=events.append,
        name="scripted",
    )
    a = pool.acquire()  # created 1
    b = pool.acquire()  # created 2
    pool.release(a)
    assert pool.acquire() is a  # reused after a check
    pool.release(b)
    with pytest.raises(ServerRefused), pool.session() as broken:
        raise ServerRefused("reset by peer")
    assert broken is b and b.closed
    a.alive = False
    pool.release(a)
    c = pool.acquire()  # a fails its check: discarded, replaced by created 3
    d = pool.acquire()  # created 4
    with pytest.raises(PoolTimeout):
        pool.acquire(timeout=0.05)
    pool.release(c)
    pool.release(d)

    assert _summary(events) == [
        ("created", 1, None),
        ("acquired", 1, None),
        ("created", 2, None),
        ("acquired", 2, None),
        ("released", 1, None),
        ("acquired", 1, None),
        ("released", 2, None),
        ("acquired", 2, None),
        ("released", 2, None),
        ("discarded", 2, reasons.BROKEN),
        ("released", 1, None),
        ("discarded", 1, reasons.DEAD),
        ("created", 3, None),
        ("acquired", 3, None),
        ("created", 4, None),
        ("acquired", 4, None),
        ("released", 3, None),
        ("released", 4, None),
    ]
    discarded = [e for e in events if e.kind == "discarded"]
    assert discarded[0].error == "ServerRefused: reset by peer"
    assert discarded[1].error == "ServerRefused: session 1 is dead"
    stats = pool.stats()
    expected = {
        "size": 2,
        "idle": 2,
        "in_use": 0,
        "waiting": 0,
        "created": 4,
        "create_failures": 0,
        "acquires": 6,
        "reused": 2,
        "hit_rate": 0.333333,
        "waited": 4,
        "timeouts": 1,
        "discarded_by_reason": {reasons.BROKEN: 1, reasons.DEAD: 1},
        "evictions": {"ttl": 0, "idle": 0},
        "leaks": 0,
    }
    assert {key: stats[key] for key in expected} == expected
    assert 0.0 <= stats["acquire_wait_p50_ms"] <= stats["acquire_wait_p95_ms"]


def test_stats_start_at_zero(make_pool):
    stats = make_pool(max_size=3, name="fresh").stats()
    assert stats == {
        "name": "fresh",
        "size": 0,
        "idle": 0,
        "in_use": 0,
        "waiting": 0,
        "growing": 0,
        "min_size": 0,
        "max_size": 3,
        "target_size": 3,
        "closed": False,
        "created": 0,
        "create_failures": 0,
        "reused": 0,
        "hit_rate": 0.0,
        "acquires": 0,
        "waited": 0,
        "acquire_wait_p50_ms": 0.0,
        "acquire_wait_p95_ms": 0.0,
        "timeouts": 0,
        "discarded_by_reason": {},
        "evictions": {"ttl": 0, "idle": 0},
        "leaks": 0,
        "renewals": 0,
        "capacity_limits": 0,
    }


def test_events_are_logged(make_pool, caplog):
    pool = make_pool(max_size=1, name="logged")
    with caplog.at_level(logging.DEBUG, logger="marketdata_pipeline.pool"), pool.session():
        pass
    assert "pool 'logged': session" in caplog.text and "created in" in caplog.text


def test_failing_event_hook_is_logged_not_raised(make_pool, caplog):
    def hook(event):
        raise RuntimeError("hook bug")

    pool = make_pool(max_size=1, on_event=hook)
    with caplog.at_level(logging.ERROR, logger="marketdata_pipeline.pool"), pool.session():
        pass
    assert "on_event hook raised" in caplog.text
