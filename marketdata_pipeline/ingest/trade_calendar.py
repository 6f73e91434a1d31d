"""The trade calendar: each calendar day in a range and whether the exchanges traded on it."""

from __future__ import annotations

from datetime import date

import pandas as pd

from marketdata_pipeline.ingest.calls import (
    REFERENCE_DATA_RETRY,
    RetryPolicy,
    call_with_retry,
    result_or_raise,
)
from marketdata_pipeline.ingest.inputs import check_range
from marketdata_pipeline.ingest.result_fields import pick_fields
from marketdata_pipeline.market_calendar import xshg_trading_days

CALENDAR_FIELDS = ("calendar_date", "is_trading_day")


def fetch_trade_calendar(
    pool, start: date | str, end: date | str, *, retry: RetryPolicy | None = None
) -> pd.DataFrame:
    """Every calendar day from `start` to `end` with `is_trading_day` "1"/"0" (strings), by date.

    Whole or nothing: a failure after retries raises.
    """
    start_iso, end_iso = (day.isoformat() for day in check_range(start, end))

    def query(session) -> list[tuple[str, ...]]:
        answer = session.query_trade_dates(start_iso, end_iso)
        return pick_fields(answer, CALENDAR_FIELDS, f"query_trade_dates({start_iso}, {end_iso})")

    rows = result_or_raise(call_with_retry(pool, query, retry or REFERENCE_DATA_RETRY))
    return pd.DataFrame(sorted(rows), columns=list(CALENDAR_FIELDS), dtype=str)


def trading_days(calendar: pd.DataFrame) -> list[date]:
    """The trading days of a calendar frame, as sorted dates."""
    days = calendar.loc[calendar["is_trading_day"] == "1", "calendar_date"]
    return sorted(date.fromisoformat(day) for day in days)


def calendar_mismatches(calendar: pd.DataFrame) -> list[str]:
    """Days on which BaoStock's trading-day flag disagrees with the XSHG calendar."""
    if calendar.empty:
        return []
    first, last = calendar["calendar_date"].min(), calendar["calendar_date"].max()
    xshg = {day.isoformat() for day in xshg_trading_days(date.fromisoformat(first), date.fromisoformat(last))}
    flagged = calendar.assign(xshg=calendar["calendar_date"].isin(xshg))
    return flagged.loc[(flagged["is_trading_day"] == "1") != flagged["xshg"], "calendar_date"].tolist()
