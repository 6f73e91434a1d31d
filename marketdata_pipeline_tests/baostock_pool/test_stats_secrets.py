"""Exact stats and events in a scripted scenario; secrets never leak into repr, logs, events or errors."""

from __future__ import annotations

import logging

import pytest
from baostock.login.loginout import calculate_checksum

from marketdata_pipeline.baostock import BadParameterError, ConnectionLostError
from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.pool import PoolTimeout, reasons
from marketdata_pipeline_tests.baostock_pool.conftest import fetch_day

PASSWORD = "Pa55-very-secret"
API_KEY = "bs-AB" + "q" * 27 + calculate_checksum("AB", "q" * 27)


def test_stats_and_events_exact_in_scripted_scenario(simulator, make_pool):
    events = []
    pool = make_pool([simulator.address], max_size=2, on_event=events.append)
    with pool.session() as session:
        fetch_day(session)
    with pytest.raises(BadParameterError), pool.session() as session:
        session.query_history_k_data_plus("bad-code", "date,close")
    with pytest.raises(ConnectionLostError), pool.session() as session:
        simulator.faults.drop_rate = 1.0
        fetch_day(session)
    simulator.faults.drop_rate = 0.0
    with pool.session() as session:
        fetch_day(session)

    assert [(e.kind, getattr(e, "session_id", None), getattr(e, "reason", None)) for e in events] == [
        ("created", 1, None),
        ("acquired", 1, None),
        ("released", 1, None),
        ("acquired", 1, None),
        ("released", 1, None),
        ("acquired", 1, None),
        ("released", 1, None),
        ("discarded", 1, reasons.BROKEN),
        ("created", 2, None),
        ("acquired", 2, None),
        ("released", 2, None),
    ]
    stats = pool.stats()
    endpoint = f"{simulator.address[0]}:{simulator.address[1]}"
    expected = {
        "size": 1,
        "idle": 1,
        "in_use": 0,
        "created": 2,
        "acquires": 4,
        "reused": 2,
        "hit_rate": 0.5,
        "discarded_by_reason": {reasons.BROKEN: 1},
        "logins": 2,
        "login_failures": 0,
        "failovers": 0,
        "endpoint": endpoint,
        "endpoints": [{"endpoint": endpoint, "up": True, "last_error": None}],
    }
    assert {key: stats[key] for key in expected} == expected
    server = simulator.stats()
    assert server["logins"] == 2 and server["active_logins"] == 1


def test_secrets_never_leak(simulator, make_pool, caplog):
    events = []
    with caplog.at_level(logging.DEBUG):
        pool = make_pool(
            [simulator.address], user="alice", password=PASSWORD, api_key=API_KEY, on_event=events.append
        )
        with pool.session() as session:
            fetch_day(session)
        seen = [repr(pool), repr(session), str(pool.stats()), str(pool.health_check())]
        simulator.stop()
        with pytest.raises(PoolTimeout) as caught:
            pool.session(timeout=0.3).__enter__()
        seen += [str(caught.value), repr(caught.value.__cause__), str(pool.stats())]
        pool.close()
    seen += [caplog.text, *map(repr, events)]
    for text in seen:
        assert PASSWORD not in text and API_KEY not in text
    assert "alice" in repr(pool)


def test_bad_password_is_refused_at_construction_without_echoing_it():
    secret = "line\nbreak-secret"
    with pytest.raises(BadParameterError) as caught:
        BaoStockPool([("127.0.0.1", 1)], password=secret)
    message = str(caught.value)
    assert "password" in message and secret not in message and repr(secret)[1:-1] not in message


def test_bad_api_key_is_refused_at_construction():
    with pytest.raises(BadParameterError, match="not a BaoStock API key"):
        BaoStockPool([("127.0.0.1", 1)], api_key="bs-not-a-key")


@pytest.mark.parametrize(
    "endpoints", [[], [("127.0.0.1",)], [("", 10030)], [("127.0.0.1", 0)], [("127.0.0.1", "10030")]]
)
def test_bad_endpoints_are_named(endpoints):
    with pytest.raises(ValueError, match="endpoint"):
        BaoStockPool(endpoints)


def test_context_manager_closes_every_socket(simulator):
    with BaoStockPool([simulator.address], max_size=2, connect_timeout=1.0) as pool, pool.session() as s:
        fetch_day(s)
    assert s.closed and pool.stats()["closed"]
    assert pool.max_size == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"connect_timeout": 0}, "connect_timeout=0 must be a positive number"),
        ({"request_timeout": -1}, "request_timeout=-1 must be a positive number"),
        ({"max_size": 0}, "max_size must be an integer >= 1"),
        ({"session_ttl": 0}, "session_ttl must be > 0"),
    ],
)
def test_bad_settings_fail_at_construction(options, message):
    with pytest.raises(ValueError, match=message):
        BaoStockPool([("127.0.0.1", 10030)], **options)
