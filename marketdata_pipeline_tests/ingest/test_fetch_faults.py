"""fetch_daily_bars against a misbehaving simulator: drops, errors, hangs, bounded concurrency, no leaks."""

from __future__ import annotations

import pandas as pd

from marketdata_pipeline.baostock.errors import ConnectionLostError
from marketdata_pipeline.ingest import RetryPolicy, a_share_codes, fetch_daily_bars
from marketdata_pipeline.ingest.breaker import Breaker
from marketdata_pipeline.ingest.calls import Call
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.ingest.conftest import pool_on

QUICK_RETRY = RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=0.05)


def test_dropped_connections_are_retried_and_the_bars_stay_exact(simulator, shared_pool, universe, last_days):
    codes, days = a_share_codes(universe)[::40], last_days[-3:]
    expected = fetch_daily_bars(shared_pool, codes, days, strategy="symbol").bars
    before = open_fds()
    simulator.faults.drop_rate = 0.05
    with pool_on(simulator, reconnect_backoff=(0.01, 0.05)) as pool:
        report = fetch_daily_bars(pool, codes, days, strategy="symbol", retry=QUICK_RETRY)
    stats = simulator.stats()
    assert stats["dropped"] > 0, "the fault never fired: the test proved nothing"
    # Three tries at 5% each: a failure is possible but rare; any is reported, typed, and alone.
    assert len(report.failures) <= 2
    assert all(f.error_type in ("ConnectionLostError", "ProtocolError") for f in report.failures)
    assert report.requests > len(codes)  # the retries are counted
    failed = {f.code for f in report.failures}
    pd.testing.assert_frame_equal(
        report.bars, expected[~expected["code"].isin(failed)].reset_index(drop=True)
    )
    assert wait_for_fds(before) <= before


def test_failed_whole_market_days_fall_back_per_symbol(simulator, shared_pool, universe, last_days):
    codes, days = a_share_codes(universe)[:6], last_days[-2:]
    expected = fetch_daily_bars(shared_pool, codes, days, strategy="symbol").bars

    def heal_after_the_market_phase(progress):
        if progress.phase == "market" and progress.days_done == progress.days_total:
            simulator.faults.error_rate = 0.0

    with pool_on(simulator, min_size=2, max_size=2) as pool:
        pool.wait_ready()  # logged in before the server starts answering errors
        simulator.faults.error_rate = 1.0  # a system error (10005001) for each whole-market day
        report = fetch_daily_bars(
            pool, codes, days, strategy="market", on_progress=heal_after_the_market_phase
        )
    assert [(f.code, f.error_type, f.error_code) for f in report.market_failures] == [
        ("*", "ServerError", "10005001")
    ] * 2
    assert report.fallback_symbols == 6
    assert report.failures == []
    pd.testing.assert_frame_equal(report.bars, expected)
    assert report.summary()["market_days_failed"] == 2


def test_hangs_fail_fast_as_timeouts_and_every_symbol_is_reported(simulator, universe, last_days):
    codes, days = a_share_codes(universe)[:4], last_days[-2:]
    before = open_fds()
    settings = {"min_size": 4, "max_size": 4, "request_timeout": 0.3, "acquire_timeout": 1.0}
    with pool_on(simulator, reconnect_backoff=(0.05, 0.2), **settings) as pool:
        pool.wait_ready()
        simulator.faults.hang_rate = 1.0  # queries and the logins of replacement sessions alike
        report = fetch_daily_bars(pool, codes, days, strategy="symbol", retry=QUICK_RETRY)
    assert sorted(f.code for f in report.failures) == codes
    assert {f.error_type for f in report.failures} == {"BaoStockTimeout"}
    # The retry found no session to run on (its logins hang too): said after the diagnosis.
    assert all("retry 1 failed: PoolTimeout" in f.message for f in report.failures)
    assert report.symbols_ok == 0 and report.rows == 0
    # Bounded by the request and acquire timeouts: seconds, not the 30 s defaults or forever.
    assert report.duration_s < 10
    assert wait_for_fds(before) <= before


def test_a_server_that_stops_answering_opens_the_breaker(simulator, universe, last_days):
    codes, days = a_share_codes(universe)[:60], last_days[-2:]
    settings = {"min_size": 2, "max_size": 2, "request_timeout": 0.3, "acquire_timeout": 0.5}
    with pool_on(simulator, reconnect_backoff=(0.05, 0.2), **settings) as pool:
        pool.wait_ready()
        simulator.faults.hang_rate = 1.0
        report = fetch_daily_bars(pool, codes, days, strategy="symbol", retry=QUICK_RETRY)
    assert sorted(f.code for f in report.failures) == codes  # every symbol reported
    tried = [f for f in report.failures if f.error_type != "NotTried"]
    # 2 workers: the breaker opens after 4 failures in a row, plus what was already running.
    assert 4 <= len(tried) <= 6
    not_tried = [f for f in report.failures if f.error_type == "NotTried"]
    assert not_tried and all("BaoStockTimeout" in f.message for f in not_tried)
    assert report.duration_s < 15  # 60 symbols timed out one by one would take minutes


def test_scattered_failures_never_open_the_breaker():
    breaker = Breaker(3)
    for outcome in [ConnectionLostError("x"), ConnectionLostError("x"), None] * 5:
        breaker.record(Call(error=outcome))
        assert not breaker.open
    breaker.record(Call(error=ValueError("bad code")))  # an answer error is no outage
    breaker.record(Call(error=ConnectionLostError("x")))
    breaker.record(Call(error=ConnectionLostError("x")))
    assert not breaker.open
    breaker.record(Call(error=ConnectionLostError("x")))
    assert breaker.open and "last 3 requests failed in a row" in breaker.reason()


def test_concurrency_never_exceeds_the_pool_size(simulator, universe, last_days):
    simulator.faults.latency_ms = 5  # requests overlap, so a missing bound would show
    codes = a_share_codes(universe)[:40]
    before = open_fds()
    with pool_on(simulator, max_size=3) as pool:
        report = fetch_daily_bars(pool, codes, last_days[-2:], strategy="symbol", max_workers=16)
        assert pool.stats()["size"] <= 3
    assert report.failures == [] and report.rows == 80
    peak = simulator.stats()["peak_active_logins"]
    assert 1 < peak <= 3
    assert wait_for_fds(before) <= before
