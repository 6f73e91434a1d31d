"""A month of one batch loaded from a simulator into a warehouse, as the daily_bars run stores it."""

from __future__ import annotations

import contextlib
from datetime import date, datetime

import pandas as pd

from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.ingest import (
    a_share_codes,
    fetch_adjust_factors,
    fetch_daily_bars,
    fetch_trade_calendar,
    fetch_universes,
    listing_windows,
    trading_days,
)
from marketdata_pipeline.market_calendar import chain_sessions
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.storage import (
    CheckResult,
    ensure_schema,
    open_warehouse,
    replace_adjust_factors,
    replace_daily_bars,
    replace_stock_universe,
    replace_trade_calendar,
    run_adjust_factors_checks,
    run_daily_bars_checks,
)

BATCH = "b05"
# June 2024 holds most of the seed's ex-dates (the simulator puts them 105-140 trading days into a year).
FIRST, LAST = date(2024, 6, 3), date(2024, 6, 28)
HISTORY_START = date(2015, 1, 1)
KINDS = ("preclose_chain", "suspension_rules", "price_limits", "volume_units", "universe_matches_bars")
"""The anomaly kinds with a check of the same name (revisions have their own test)."""
RATE = 0.02


@contextlib.contextmanager
def pool_on(simulator) -> BaoStockPool:
    with BaoStockPool([simulator.address], max_size=4, request_timeout=30.0, acquire_timeout=30.0) as pool:
        yield pool


def load_month(
    simulator, con, first: date = FIRST, last: date = LAST, batch: str = BATCH, factors: bool = True
) -> list[str]:
    """Store calendar, universe, bars and (unless not `factors`) adjust factors of `batch` over
    first..last; return its codes."""
    with pool_on(simulator) as pool:
        calendar = fetch_trade_calendar(pool, first, last)
        replace_trade_calendar(con, calendar, first, last)
        days = trading_days(calendar)
        universes = fetch_universes(pool, days)
        for day, universe in universes.items():  # the batch's share only: what its checks read
            replace_stock_universe(con, universe[universe["batch"] == batch].drop(columns="batch"), day)
        listed = pd.concat(universes.values()).drop_duplicates("code")
        listed = listed[listed["batch"] == batch]
        codes = a_share_codes(listed)
        report = fetch_daily_bars(pool, codes, days, listed=listing_windows(listed))
        assert report.failures == []
        replace_daily_bars(con, report.bars, batch=batch, start=days[0], end=days[-1], codes=codes)
        if factors:
            rows, failures = fetch_adjust_factors(pool, codes, HISTORY_START, last)
            assert failures == []
            replace_adjust_factors(con, rows, codes)
    return codes


def every_check(con, run_id: str | None = None, first: date = FIRST, last: date = LAST) -> list[CheckResult]:
    """Every daily_bars and adjust_factors check on the month (factors as fetched after its last day)."""
    days = {"start": first, "end": last, "run_id": run_id, "sessions": chain_sessions(first, last)}
    fetched = datetime(last.year, last.month, last.day, 12)  # 20:00 Shanghai
    return [
        *run_daily_bars_checks(con, batches=[BATCH], **days, since=datetime(2000, 1, 1))[BATCH],
        *run_adjust_factors_checks(con, batch=BATCH, **days, refreshed_at=fetched),
    ]


def anomalous_month(seed: int, path, run_id: str) -> tuple[dict[str, CheckResult], dict, dict, int]:
    """A month loaded into a new warehouse at `path` from a simulator with every kind at RATE,
    checked as run `run_id`: (results by check, rows each check found, rows each kind altered,
    codes loaded)."""
    with Simulator(seed=seed, today=LAST, anomalies=[f"{kind}:{RATE}" for kind in KINDS]) as simulator:
        with open_warehouse(path) as con:
            ensure_schema(con)
            codes = load_month(simulator, con)
            results = {result.name: result for result in every_check(con, run_id=run_id)}
            found = {kind: findings_of(con, run_id, kind) for kind in KINDS}
        injected = {kind: set(simulator.injected(kind, codes, FIRST, LAST)) for kind in KINDS}
    return results, found, injected, len(codes)


def findings_of(con, run_id: str, check_name: str) -> set[tuple[str, str]]:
    """(code, ISO date) of every row check_findings holds for one check of one run."""
    rows = con.execute(
        "SELECT code, strftime(trade_date, '%Y-%m-%d') FROM check_findings "
        "WHERE run_id = ? AND check_name = ?",
        [run_id, check_name],
    ).fetchall()
    return set(rows)


def expected_rows(kind: str, injected: dict) -> set:
    """The injected rows a check can see: the chain needs a previous bar (none before the month's
    first day), and a row a suspension anomaly emptied has no volume left to have units."""
    rows = injected[kind]
    if kind == "preclose_chain":
        return {(code, day) for code, day in rows if day != FIRST.isoformat()}
    if kind == "volume_units":
        return rows - injected["suspension_rules"]
    return rows
