"""Reference data: the universe of a day with listing facts and batches, the calendar, adjust factors."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd

from marketdata_pipeline.ingest.answers import pick_fields
from marketdata_pipeline.ingest.batching import batch_of
from marketdata_pipeline.ingest.calls import RetryPolicy, call_with_retry, run_bounded
from marketdata_pipeline.ingest.completeness import ListingWindow
from marketdata_pipeline.ingest.inputs import as_date, check_codes, worker_count
from marketdata_pipeline.ingest.report import FetchFailure

ALL_STOCK_FIELDS = ("code", "tradeStatus", "code_name")
STOCK_BASIC_FIELDS = ("code", "code_name", "ipoDate", "outDate", "type", "status")
UNIVERSE_COLUMNS = ("code", "code_name", "tradeStatus", "ipoDate", "outDate", "type", "status", "batch")
CALENDAR_FIELDS = ("calendar_date", "is_trading_day")
ADJUST_FACTOR_FIELDS = ("code", "dividOperateDate", "foreAdjustFactor", "backAdjustFactor", "adjustFactor")

STOCK_TYPE, INDEX_TYPE = "1", "2"


def fetch_universe(session_or_pool, day: date | str, *, retry: RetryPolicy | None = None) -> pd.DataFrame:
    """Every security trading on `day` (`query_all_stock`) with its listing facts and batch.

    Joins `query_stock_basic()` for ipoDate, outDate, type and status (empty
    strings when BaoStock has no basic row for a code). Columns are
    UNIVERSE_COLUMNS, all strings, sorted by code. Empty before the day's data
    is published or on a non-trading day. Errors raise: a universe is whole or
    nothing.
    """
    day_iso = _iso(day, "day")

    def query(session) -> pd.DataFrame:
        listed = pick_fields(
            session.query_all_stock(day_iso), ALL_STOCK_FIELDS, f"query_all_stock({day_iso})"
        )
        basic = pick_fields(session.query_stock_basic(), STOCK_BASIC_FIELDS, "query_stock_basic()")
        return _join_universe(listed, basic)

    if hasattr(session_or_pool, "query_all_stock"):
        return query(session_or_pool)
    return _result_or_raise(call_with_retry(session_or_pool, query, retry or RetryPolicy()))


def _join_universe(listed: list[tuple[str, ...]], basic: list[tuple[str, ...]]) -> pd.DataFrame:
    facts = {row[0]: row for row in basic}
    rows = []
    for code, trade_status, code_name in listed:
        _, _, ipo, out, kind, status = facts.get(code, (code, code_name, "", "", "", ""))
        rows.append((code, code_name, trade_status, ipo, out, kind, status, batch_of(code)))
    rows.sort()
    return pd.DataFrame(rows, columns=list(UNIVERSE_COLUMNS), dtype=str)


def a_share_codes(universe: pd.DataFrame, *, include_indices: bool = False) -> list[str]:
    """The codes of A-shares (type "1") in `universe`, plus indices (type "2") if asked, sorted."""
    kinds = {STOCK_TYPE, INDEX_TYPE} if include_indices else {STOCK_TYPE}
    return sorted(universe.loc[universe["type"].isin(kinds), "code"].tolist())


def listing_windows(universe: pd.DataFrame) -> dict[str, ListingWindow]:
    """code -> (ipo_date, out_date) from a universe frame, for `fetch_daily_bars(listed=...)`."""
    return {
        code: (as_date(ipo, f"{code} ipoDate"), as_date(out, f"{code} outDate"))
        for code, ipo, out in universe[["code", "ipoDate", "outDate"]].itertuples(index=False)
    }


def fetch_trade_calendar(
    pool, start: date | str, end: date | str, *, retry: RetryPolicy | None = None
) -> pd.DataFrame:
    """Every calendar day from `start` to `end` with `is_trading_day` "1"/"0" (strings), by date."""
    start_iso, end_iso = _iso(start, "start"), _iso(end, "end")
    if start_iso > end_iso:
        raise ValueError(f"start={start_iso} is after end={end_iso}: pass start <= end")

    def query(session) -> list[tuple[str, ...]]:
        answer = session.query_trade_dates(start_iso, end_iso)
        return pick_fields(answer, CALENDAR_FIELDS, f"query_trade_dates({start_iso}, {end_iso})")

    rows = _result_or_raise(call_with_retry(pool, query, retry or RetryPolicy()))
    return pd.DataFrame(sorted(rows), columns=list(CALENDAR_FIELDS), dtype=str)


def trading_days(calendar: pd.DataFrame) -> list[date]:
    """The trading days of a calendar frame, as sorted dates."""
    days = calendar.loc[calendar["is_trading_day"] == "1", "calendar_date"]
    return sorted(date.fromisoformat(day) for day in days)


def fetch_adjust_factors(
    pool,
    codes: Iterable[str],
    start: date | str,
    end: date | str,
    max_workers: int | None = None,
    *,
    retry: RetryPolicy | None = None,
) -> tuple[pd.DataFrame, list[FetchFailure]]:
    """Adjust factors of each code's ex-dates in [start, end], one request per code, concurrently.

    Returns the factors (ADJUST_FACTOR_FIELDS, strings, sorted by code and
    date) and the codes that failed; one code's failure never stops the others.
    """
    start_day, end_day = as_date(start, "start"), as_date(end, "end")
    if start_day is None or end_day is None or start_day > end_day:
        raise ValueError(f"start={start!r}, end={end!r}: pass two dates with start <= end")
    retry = retry or RetryPolicy()

    def fetch_code(code: str):
        def query(session) -> list[tuple[str, ...]]:
            answer = session.query_adjust_factor(code, start_day.isoformat(), end_day.isoformat())
            return [row for row in pick_fields(answer, ADJUST_FACTOR_FIELDS, code) if row[0] == code]

        return call_with_retry(pool, query, retry)

    rows, failures = [], []
    for code, call in run_bounded(fetch_code, check_codes(codes), worker_count(pool, max_workers)):
        if call.ok:
            rows.extend(call.result)
        else:
            failures.append(FetchFailure.from_error(code, start_day, end_day, call.error))
    frame = pd.DataFrame(sorted(set(rows)), columns=list(ADJUST_FACTOR_FIELDS), dtype=str)
    return frame, sorted(failures, key=lambda failure: failure.code)


def _result_or_raise(call):
    if not call.ok:
        raise call.error
    return call.result


def _iso(value: date | str, name: str) -> str:
    day = as_date(value, name)
    if day is None:
        raise ValueError(f"{name} is empty: pass a datetime.date or 'YYYY-MM-DD'")
    return day.isoformat()
