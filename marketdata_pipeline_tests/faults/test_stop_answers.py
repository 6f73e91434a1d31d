"""Answers that mean "stop" end the whole fetch within a handful of requests, counted at the socket.

Blacklisted (10001011), rejected credentials (10001002), an unknown account
code (10001015) and a login limit with no session in hand: no retry, no
per-symbol fallback, no new login. Each test puts a counting proxy between a
pool and the simulator and flips one fault; the proxy fixture checks that no
socket is left open afterwards.
"""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest

from marketdata_pipeline.baostock import BaoStockPool, BaoStockSession, BlacklistedError, LoginLimitError
from marketdata_pipeline.baostock.errors import AccountRefused, CredentialsRejected
from marketdata_pipeline.ingest import fetch_daily_bars
from marketdata_pipeline.ingest.report import FetchReport

DAYS = [date(2024, 12, 2), date(2024, 12, 3), date(2024, 12, 4), date(2024, 12, 5), date(2024, 12, 6)]
MONTH = [date(2024, 12, d) for d in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26)]
POOL_SIZE = 4


def a_shares(simulator, count: int) -> list[str]:
    """The first `count` codes the simulator lists, asked directly (not through the proxy)."""
    with BaoStockSession(*simulator.address) as session:
        rows = session.query_all_stock("2024-12-31").rows
    return [row[0] for row in rows if row[0].startswith(("sh.6", "sz.0", "sz.3"))][:count]


def pool_through(proxy, **options) -> BaoStockPool:
    options = {"max_size": POOL_SIZE, "acquire_timeout": 30.0, "request_timeout": 5.0} | options
    return BaoStockPool([proxy.address], **options)


def flip_when(proxy, requests: int, flip) -> threading.Thread:
    """Call `flip()` once the proxy has seen `requests` request frames; returns the watching thread."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while proxy.requests < requests and time.monotonic() < deadline:
            time.sleep(0.001)
        flip()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def blacklist(simulator) -> None:
    simulator.faults.error_code = "10001011"
    simulator.faults.error_rate = 1.0


@pytest.mark.parametrize("strategy", ["symbol", "market"])
def test_blacklisted_mid_fetch_stops_within_a_handful_of_requests(faulty_simulator, counting_proxy, strategy):
    codes = a_shares(faulty_simulator, 400)
    faulty_simulator.faults.latency_ms = 2
    flipped_at: list[int] = []

    def flip() -> None:
        blacklist(faulty_simulator)
        flipped_at.append(counting_proxy.requests)

    with pool_through(counting_proxy) as pool:
        watcher = flip_when(counting_proxy, 8 if strategy == "market" else 60, flip)
        started = time.monotonic()
        with pytest.raises(BlacklistedError, match="blacklisted") as caught:
            fetch_daily_bars(pool, codes, MONTH if strategy == "market" else DAYS, strategy=strategy)
        took = time.monotonic() - started
        watcher.join(5)
        # Two sessions may both have been answered "blacklisted": the pool keeps the first.
        assert pool.stopped is not None and pool.stopped.code == caught.value.code == "10001011"
    after_blacklist = counting_proxy.requests - flipped_at[0]
    # At most the requests in flight when the answer came, one per session: no retry, no fallback,
    # no logout, no new login.
    assert after_blacklist <= POOL_SIZE, counting_proxy.requests_by_type()
    assert took < 10
    assert "try again" in str(caught.value) and "BAOSTOCK_MAX_REQUESTS_PER_SECOND" in str(caught.value)


def test_blacklisted_login_fails_the_fetch_at_once(faulty_simulator, counting_proxy):
    codes = a_shares(faulty_simulator, 200)
    blacklist(faulty_simulator)
    started = time.monotonic()
    with pool_through(counting_proxy) as pool, pytest.raises(BlacklistedError):
        fetch_daily_bars(pool, codes, DAYS, strategy="symbol")
    assert time.monotonic() - started < 3
    assert counting_proxy.requests_by_type() in ({"00": n} for n in range(1, POOL_SIZE + 1))


def test_rejected_credentials_are_final_and_name_the_variables(faulty_simulator, counting_proxy):
    codes = a_shares(faulty_simulator, 50)
    faulty_simulator.faults.password = "the-right-one"
    started = time.monotonic()
    with pool_through(counting_proxy, password="wrong") as pool:
        with pytest.raises(CredentialsRejected) as caught:
            fetch_daily_bars(pool, codes, DAYS, strategy="symbol")
        with pytest.raises(CredentialsRejected):  # and stays refused: no new login
            pool.session(timeout=1).__enter__()
    assert time.monotonic() - started < 3  # was 4 minutes of retries
    assert counting_proxy.requests_by_type()["00"] <= POOL_SIZE  # was 124 logins
    assert caught.value.code == "10001002"
    message = str(caught.value)
    assert "BAOSTOCK_USER" in message and "BAOSTOCK_PASSWORD" in message and "wrong" not in message


def test_an_unknown_account_code_stops_instead_of_retrying(faulty_simulator, counting_proxy):
    faulty_simulator.faults.error_code = "10001015"
    faulty_simulator.faults.error_rate = 1.0
    pool = pool_through(counting_proxy)
    with pool, pytest.raises(AccountRefused, match="10001015"), pool.session():
        pass
    assert counting_proxy.requests <= POOL_SIZE


def test_login_limit_with_no_session_fails_at_once_and_with_sessions_the_pool_settles(
    faulty_simulator, counting_proxy
):
    faulty_simulator.faults.max_logins = 0
    started = time.monotonic()
    with pool_through(counting_proxy) as pool, pytest.raises(LoginLimitError), pool.session():
        pass
    assert time.monotonic() - started < 3  # not the 30 s acquire timeout
    faulty_simulator.faults.max_logins = 2
    codes = a_shares(faulty_simulator, 40)
    with pool_through(counting_proxy) as pool:
        report: FetchReport = fetch_daily_bars(pool, codes, DAYS, strategy="symbol")
        assert report.failures == [] and pool.stats()["size"] == 2
        assert pool.stopped is None


def test_unknown_answer_codes_on_every_query_open_the_breaker(faulty_simulator, counting_proxy):
    codes = a_shares(faulty_simulator, 300)
    with pool_through(counting_proxy) as pool:
        with pool.session():
            pass  # logged in before the server starts answering nonsense
        faulty_simulator.faults.error_code = "10003999"
        faulty_simulator.faults.error_rate = 1.0
        report = fetch_daily_bars(pool, codes, DAYS, strategy="symbol")
    assert len(report.failures) == len(codes)
    assert counting_proxy.requests < 30  # the breaker's threshold plus the requests in flight
    assert {failure.error_type for failure in report.failures} >= {"NotTried"}
