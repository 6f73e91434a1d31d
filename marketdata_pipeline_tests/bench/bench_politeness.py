"""What politeness costs and saves, side by side: the request cap at the socket, and the page timeout
against a server that hangs on 5% of requests (the simulator runs as its own process)."""

from __future__ import annotations

import time

from marketdata_pipeline.baostock import BaoStockPool, BaoStockSession
from marketdata_pipeline.batching import batch_of
from marketdata_pipeline.ingest import fetch_daily_bars
from marketdata_pipeline.launch import running_simulator
from marketdata_pipeline_tests.faults.proxy import CountingProxy
from marketdata_pipeline_tests.faults.test_request_budget import per_second_peak
from marketdata_pipeline_tests.faults.test_stop_answers import DAYS as WEEK
from marketdata_pipeline_tests.faults.test_stop_answers import MONTH

TODAY = "2024-12-31"
SCALE = 0.1
"""Timeouts at a tenth of the defaults (30 s whole answer, 10 s page): the same ratio, a tenth of the wait."""


def batch_codes(address: tuple[str, int], batch: str) -> list[str]:
    with BaoStockSession(*address) as session:
        rows = session.query_stock_basic().rows
    return sorted(row[0] for row in rows if row[4] == "1" and row[5] == "1" and batch_of(row[0]) == batch)


def request_rate() -> None:
    with running_simulator("--today", TODAY) as address, CountingProxy(address) as proxy:
        codes = batch_codes(address, "b03")[:100]
        with BaoStockPool([proxy.address], max_size=4, max_requests_per_second=10) as pool:
            peak, took, total = per_second_peak(
                proxy, lambda: fetch_daily_bars(pool, codes, WEEK, strategy="symbol")
            )
    print(
        f"default cap (10/s), 4 sessions, {total} request frames: {took:.1f} s, "
        f"{(total - 10) / took:.2f}/s after the first second, busiest sliding second {peak}"
    )


def hang_cost() -> None:
    print(f"a month of b03 per symbol, 5% of requests hang, 4 sessions, timeouts x{SCALE}:")
    print("| page timeout | seconds | requests | failures |\n|---|---|---|---|")
    with running_simulator("--today", TODAY) as address:
        codes = batch_codes(address, "b03")
        seconds = {}
        cases = (("= request timeout (before)", 30.0 * SCALE), ("default (after)", 10.0 * SCALE))
        for label, page_timeout in cases:
            hanging = running_simulator("--today", TODAY, "--hang-rate", "0.05", "--seed", "7")
            with hanging as server, BaoStockPool(
                [server], max_size=4, request_timeout=30.0 * SCALE, page_timeout=page_timeout
            ) as pool:
                started = time.monotonic()
                report = fetch_daily_bars(pool, codes, MONTH, strategy="symbol")
                seconds[label] = time.monotonic() - started
            print(f"| {label} | {seconds[label]:.1f} | {report.requests} | {len(report.failures)} |")
    before, after = seconds.values()
    print(f"after / before: {after / before:.2f}x")


def run() -> None:
    request_rate()
    hang_cost()
