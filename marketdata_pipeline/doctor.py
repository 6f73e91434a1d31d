"""`marketdata doctor`: one short-lived session against the configured server, and what a bootstrap costs.

Run before anything else on a new machine or account. It checks, in order:
reachability (a TCP connect to each endpoint), login through the `baostock`
resource's pool (the same endpoints, fallbacks, account, request caps and
daily ledger as a run; it also proves the server accepts this client
version), latency (three pings), whether the last published day is listed
(the publication sensor's own probe) and whether the whole-market query
answers for it and for a day five years ago, today's request budget and any
cool-down on record; then prints what the next full bootstrap since 2015
would cost: requests, minutes at the current cap, days of the daily budget,
disk. About fifteen requests in all, charged to the daily budget and spaced
by the request cap like any run's.
"""

from __future__ import annotations

import math
import socket
import statistics
import time
from collections.abc import Callable
from datetime import date

import dagster as dg
from baostock.common import contants as cons

from marketdata_pipeline.baostock import BaoStockError, BaoStockSession
from marketdata_pipeline.baostock.budget import EndpointLedger
from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.defs.market import partitions
from marketdata_pipeline.defs.market.publication_probe import SESSION_WAIT_S, listed_securities
from marketdata_pipeline.defs.sessions import cooldown
from marketdata_pipeline.defs.sessions.resources import BaoStockPoolResource
from marketdata_pipeline.defs.settings import load_settings
from marketdata_pipeline.ingest import fetch_trade_calendar, trading_days
from marketdata_pipeline.market_calendar import latest_published_day

HISTORY_START = date.fromisoformat(partitions.HISTORY_START)
CONNECT_TIMEOUT_S = 5.0
PER_PAGE = cons.BAOSTOCK_PER_PAGE_COUNT
BYTES_PER_BAR = 60
"""Warehouse bytes per stored daily bar: 46 measured on a checkpointed DuckDB file of 2.03 million
bars with random values (all columns and the (code, trade_date) key); rounded up for the other tables."""
SYMBOL_PAGES = 2
"""Pages of one symbol's history since 2015 (about 2,400 trading days at 2,000 rows a page)."""


def run_doctor(out: Callable[[str], None] = print) -> int:
    """Print the findings; 0 when every check passed, 1 otherwise."""
    with dg.build_resources({"baostock": BaoStockPoolResource.from_settings(load_settings())}) as resources:
        baostock: BaoStockPoolResource = resources.baostock
        endpoints = [f"{host}:{port}" for host, port in baostock.endpoints()]
        out(
            f"BaoStock server {', '.join(endpoints)} (client version {cons.BAOSTOCK_CLIENT_VERSION}), "
            f"user {baostock.user}"
        )
        paused = cooldown.paused_reason()
        if paused:
            out(f"FAIL cool-down: {paused}")
            return 1
        status = _examine(baostock, out)
    if baostock.max_requests_per_day:
        spent = EndpointLedger(baostock.state_dir, endpoints[0]).spent_today()
        limit = baostock.max_requests_per_day
        out(f"today's budget: {spent:,} of {limit:,} requests spent (Asia/Shanghai day)")
    return status


def _examine(baostock: BaoStockPoolResource, out) -> int:
    checks = _Checks(out)
    if not checks.run("reachable", lambda: _reachable(baostock.endpoints())):
        return 1
    pool = baostock.pool
    if not checks.run("login", lambda: _login(pool)):
        return 1
    last = latest_published_day()
    checks.run("published", lambda: f"{last}: {listed_securities(pool, last):,} securities listed")
    calendar = trading_days(fetch_trade_calendar(pool, HISTORY_START, date.today()))
    with pool.session(timeout=SESSION_WAIT_S) as session:
        checks.run("latency", lambda: _latency(session))
        five_years_ago = next((d for d in calendar if d >= last.replace(year=last.year - 5)), None)
        market_now = checks.run("whole market, last published day", lambda: _whole_market(session, last))
        market_then = five_years_ago is not None and checks.run(
            "whole market, five years ago", lambda: _whole_market(session, five_years_ago)
        )
    symbols = checks.symbols or 5_000
    days = [d for d in calendar if d <= last]
    out("")
    rate, per_day = baostock.max_requests_per_second, baostock.max_requests_per_day
    out(_bootstrap_cost(last, len(days), symbols, market_now and market_then, rate, per_day))
    return 0 if checks.passed else 1


def _reachable(endpoints: list[tuple[str, int]]) -> str:
    """TCP connect times of every endpoint; raises for the first that cannot be reached, naming it."""
    times = []
    for host, port in endpoints:
        started = time.monotonic()
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            raise ValueError(
                f"cannot connect to {host}:{port} ({exc}); check BAOSTOCK_HOST/BAOSTOCK_PORT"
            ) from None
        times.append(f"{host}:{port} in {(time.monotonic() - started) * 1000:.0f} ms")
    return "TCP connect to " + ", ".join(times)


def _login(pool: BaoStockPool) -> str:
    started = time.monotonic()
    with pool.session(timeout=SESSION_WAIT_S):
        pass
    return f"at {pool.endpoint} in {(time.monotonic() - started) * 1000:.0f} ms, client version accepted"


class _Checks:
    """Runs named checks, printing `ok` or `FAIL` with the error; remembers the symbol count seen."""

    def __init__(self, out):
        self.out = out
        self.passed = True
        self.symbols = 0

    def run(self, name: str, check: Callable[[], str]) -> bool:
        try:
            found = check()
        except (BaoStockError, ValueError) as exc:
            self.passed = False
            self.out(f"FAIL {name}: {type(exc).__name__}: {exc}")
            return False
        if isinstance(found, tuple):
            found, self.symbols = found[0], max(self.symbols, found[1])
        self.out(f"ok   {name}: {found}")
        return True


def _latency(session: BaoStockSession) -> str:
    rounds = [session.ping() * 1000 for _ in range(3)]
    return f"median round trip {statistics.median(rounds):.0f} ms over 3 pings (max {max(rounds):.0f} ms)"


def _whole_market(session: BaoStockSession, day: date) -> tuple[str, int]:
    rows = len(session.query_daily_history_k_AStock(day.isoformat()))
    if not rows:
        raise ValueError(
            f"query_daily_history_k_AStock({day}) answered no rows: a bootstrap of such days must ask "
            "symbol by symbol"
        )
    return f"{day}: {rows:,} rows in one answer", rows


def _bootstrap_cost(last: date, days: int, symbols: int, whole_market: bool, rate: int, per_day: int) -> str:
    """The requests, time, days of budget and disk of loading every trading day since 2015."""
    pages = math.ceil(symbols / PER_PAGE)
    universe = days * pages + pages  # query_all_stock of every day, query_stock_basic once
    bars = days if whole_market else symbols * SYMBOL_PAGES
    factors = symbols
    total = universe + bars + factors
    minutes = f"{total / rate / 60:,.0f} min at {rate}/s" if rate else "no rate cap"
    budget_days = f", {math.ceil(total / per_day)} day(s) of the {per_day:,}/day budget" if per_day else ""
    disk_gb = days * symbols * 0.85 * BYTES_PER_BAR / 1e9  # ~85% of today's codes listed on an average day
    how = "one whole-market request per day" if whole_market else "one range request per symbol (2 pages)"
    return (
        f"next full bootstrap ({HISTORY_START}..{last}, {days:,} trading days, "
        f"~{symbols:,} A-shares; bars by {how}):\n"
        f"  requests: {total:,} (universe {universe:,}, bars {bars:,}, adjust factors {factors:,})\n"
        f"  time: {minutes}{budget_days}\n"
        f"  disk: about {disk_gb:.1f} GB of DuckDB"
    )
