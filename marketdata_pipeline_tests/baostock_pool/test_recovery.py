"""The pool never hands out a dead session: server killed, restarted, idle-closed, or down at start."""

from __future__ import annotations

import socket
import time

import pytest

from marketdata_pipeline.baostock import BadParameterError, ConnectionLostError, TransportError
from marketdata_pipeline.baostock.errors import ServerUnreachable
from marketdata_pipeline.pool import PoolTimeout, reasons
from marketdata_pipeline_tests.baostock_pool.conftest import fetch_day


def test_answer_error_leaves_session_in_pool(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=1)
    with pytest.raises(BadParameterError), pool.session() as session:
        session.query_history_k_data_plus("sh.60000", "date,close", start_date="2024-12-31")
    with pool.session() as again:
        assert again is session
        assert fetch_day(again)
    assert pool.stats()["discarded_by_reason"] == {}


def test_transport_error_discards_session_and_replaces_it(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=1)
    with pytest.raises(ConnectionLostError), pool.session() as session:
        simulator.faults.drop_rate = 1.0
        fetch_day(session)
    simulator.faults.drop_rate = 0.0
    with pool.session() as replacement:
        assert replacement is not session
        assert fetch_day(replacement)
    assert pool.stats()["discarded_by_reason"] == {reasons.BROKEN: 1}


def test_connections_killed_while_idle_are_never_handed_out(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=2)
    with pool.session() as first, pool.session() as second:
        fetch_day(first)
        fetch_day(second)
    simulator.kill_connections()
    for _ in range(4):
        with pool.session() as session:
            assert fetch_day(session)
    stats = pool.stats()
    assert stats["discarded_by_reason"] == {reasons.DEAD: 2}
    assert stats["size"] == 1


def test_server_killed_mid_use_next_checkout_works(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=1)
    with pytest.raises(TransportError), pool.session() as session:
        fetch_day(session)
        simulator.kill_connections()
        fetch_day(session)
    with pool.session() as fresh:
        assert fresh is not session and fetch_day(fresh)


def test_server_restart_next_checkout_works(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=2)
    with pool.session() as before:
        fetch_day(before)
    simulator.restart()
    with pool.session() as after:
        assert after is not before and fetch_day(after)
    assert pool.stats()["discarded_by_reason"] == {reasons.DEAD: 1}


def test_pool_recovers_when_server_comes_back(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=1)
    with pool.session() as session:
        fetch_day(session)
    simulator.stop()
    with pytest.raises(PoolTimeout, match="ConnectError"):
        pool.session(timeout=0.3).__enter__()
    simulator.start()
    with pool.session(timeout=3.0) as session:
        assert fetch_day(session)


def test_idle_closed_session_is_replaced_on_checkout(simulator, make_pool):
    simulator.faults.idle_close_s = 0.2
    pool = make_pool([simulator.address], max_size=1)
    with pool.session() as first:
        fetch_day(first)
    time.sleep(0.45)
    with pool.session() as second:
        assert second is not first and fetch_day(second)
    assert simulator.stats()["idle_closed"] >= 1
    assert pool.stats()["discarded_by_reason"] == {reasons.DEAD: 1}


def test_server_down_at_start_fails_within_budget_naming_endpoint(make_pool):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # bound, never listening: connections are refused
        pool = make_pool([("127.0.0.1", port)], acquire_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(ServerUnreachable) as caught:  # two rounds of refused connects, no more
            pool.session().__enter__()
        elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 0.3
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "ConnectError" in message and "BAOSTOCK_HOST" in message
    assert pool.stats()["create_failures"] >= 1
