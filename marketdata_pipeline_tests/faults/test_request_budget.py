"""The request cap and the daily budget, measured at the socket; the blacklist cool-down on record.

The cap spaces the frames of all sessions of one pool (at most N in any
sliding second); the daily budget is counted per Asia/Shanghai day in a file
shared by every pool on the machine, so it holds across runs and restarts.
"""

from __future__ import annotations

import bisect
import json
import time
from datetime import date, timedelta

import pytest

from marketdata_pipeline.baostock import BaoStockPool, BlacklistedError
from marketdata_pipeline.baostock.budget import EndpointLedger, RequestRate, shanghai_day
from marketdata_pipeline.baostock.errors import DailyBudgetExhausted
from marketdata_pipeline.ingest import fetch_daily_bars
from marketdata_pipeline_tests.faults.test_stop_answers import DAYS, a_shares, blacklist


def per_second_peak(proxy, run) -> tuple[int, float, int]:
    """Run `run()`: (most requests that reached the proxy within any 1 s, seconds, total).

    Each frame carries the kernel's receive time at the proxy's socket, so neither a test
    thread nor a proxy thread descheduled on a loaded machine (a neighbour test process,
    another CI run) can stretch or squeeze a window the way a sampler of the count would.
    """
    first = len(proxy.arrivals())
    started = time.monotonic()
    run()
    took = time.monotonic() - started
    arrivals = proxy.arrivals()[first:]
    peak = max((bisect.bisect_left(arrivals, at + 1.0) - i for i, at in enumerate(arrivals)), default=0)
    return peak, took, proxy.requests


@pytest.mark.slow
# Alone: the kernel stamps a frame 3-9 ms after the limiter records it on an idle machine, and
# later beside a neighbour test process; the limiter waits 50 ms past the window for that (without
# the slack 12 frames reached the socket within a second), and a neighbour's load could exceed it.
@pytest.mark.alone
def test_the_default_cap_holds_at_the_socket_for_all_sessions_of_a_pool(faulty_simulator, counting_proxy):
    codes = a_shares(faulty_simulator, 30)
    with BaoStockPool([counting_proxy.address], max_size=4, max_requests_per_second=10) as pool:
        peak, took, total = per_second_peak(
            counting_proxy, lambda: fetch_daily_bars(pool, codes, DAYS, strategy="symbol")
        )
    # 30 range requests + 4 logins (+ logouts at close): uncapped this takes ~0.1 s.
    assert total >= 34
    assert peak <= 11  # 10 per sliding second; one more may be mid-flight at a sample's edge
    assert took >= (34 - 10) / 10 * 0.9


def test_no_cap_means_no_wait():
    rate = RequestRate(0)
    started = time.monotonic()
    for _ in range(1000):
        rate.send_in_turn(lambda: None)
    assert time.monotonic() - started < 0.1


def test_a_run_that_would_overrun_the_daily_budget_stops_before_sending(
    faulty_simulator, counting_proxy, tmp_path
):
    codes = a_shares(faulty_simulator, 12)
    options = {"max_size": 2, "max_requests_per_day": 20, "state_dir": str(tmp_path)}
    with BaoStockPool([counting_proxy.address], **options) as pool:
        fetch_daily_bars(pool, codes[:6], DAYS, strategy="symbol")
    ledger = EndpointLedger(tmp_path, f"{counting_proxy.address[0]}:{counting_proxy.address[1]}")
    spent = counting_proxy.requests
    assert ledger.spent_today() == spent  # unused reservations were given back at close
    needs_more = pytest.raises(DailyBudgetExhausted, match=rf"{20 - spent} left, this needs 12")
    with BaoStockPool([counting_proxy.address], **options) as pool, needs_more:
        fetch_daily_bars(pool, codes, DAYS, strategy="symbol")
    assert counting_proxy.requests == spent  # nothing was sent


def test_the_daily_budget_is_shared_by_pools_and_refuses_the_request_past_it(
    faulty_simulator, counting_proxy, tmp_path
):
    options = {"max_size": 1, "max_requests_per_day": 7, "state_dir": str(tmp_path)}
    with BaoStockPool([counting_proxy.address], **options) as first, BaoStockPool(
        [counting_proxy.address], **options
    ) as second, first.session() as a, second.session() as b:  # 2 logins
        for session in (a, b, a, b, a):
            session.ping()
        with pytest.raises(DailyBudgetExhausted, match="7 of BAOSTOCK_MAX_REQUESTS_PER_DAY=7"):
            b.ping()
    assert counting_proxy.requests_by_type().get("33") == 5  # the refused ping never reached the socket


def test_the_daily_count_restarts_on_a_new_shanghai_day(tmp_path):
    ledger = EndpointLedger(tmp_path, "example:10030")
    yesterday = (date.fromisoformat(shanghai_day()) - timedelta(days=1)).isoformat()
    ledger.path.write_text(json.dumps({"day": yesterday, "requests": 40_000, "stop": None}))
    assert ledger.spent_today() == 0
    assert ledger.take(10, 40_000) == 10


def test_a_blacklist_is_recorded_with_its_cool_down_and_survives_a_restart(
    faulty_simulator, counting_proxy, tmp_path
):
    blacklist(faulty_simulator)
    options = {"state_dir": str(tmp_path), "blacklist_cooldown_s": 3600.0}
    pool = BaoStockPool([counting_proxy.address], **options)
    with pool, pytest.raises(BlacklistedError), pool.session():
        pass
    endpoint = f"{counting_proxy.address[0]}:{counting_proxy.address[1]}"
    stop = EndpointLedger(tmp_path, endpoint).active_stop()  # a new reader: what a restarted daemon sees
    assert stop is not None and stop.code == "10001011"
    assert timedelta(minutes=59) < stop.until - stop.at <= timedelta(hours=1)
    reason = stop.reason(endpoint, EndpointLedger(tmp_path, endpoint).path)
    assert "blacklisted" in reason and "resumes after" in reason
