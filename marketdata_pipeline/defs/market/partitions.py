"""Partitions of the market assets: trading days (XSHG) x symbol batches."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import dagster as dg
import exchange_calendars as xcals
import pandas as pd

from marketdata_pipeline.batching import BATCHES

TIMEZONE = "Asia/Shanghai"
HISTORY_START = "2015-01-01"
DATE_FORMAT = "%Y-%m-%d"


@lru_cache(maxsize=1)
def xshg_calendar() -> xcals.ExchangeCalendar:
    """The Shanghai exchange calendar from 2015 on (loaded once: it takes about a second)."""
    return xcals.get_calendar("XSHG", start=HISTORY_START)


def is_trading_day(day: date) -> bool:
    """Whether XSHG trades on `day` (False beyond the calendar's known horizon on weekends)."""
    calendar = xshg_calendar()
    stamp = pd.Timestamp(day)
    if stamp > calendar.last_session:
        return stamp.dayofweek < 5
    return stamp >= calendar.first_session and calendar.is_session(stamp)


def xshg_trading_days(start: date, end: date) -> list[date]:
    """The XSHG sessions from `start` to `end`, both included."""
    return [d for d in pd.date_range(start, end, freq="D").date if is_trading_day(d)]


def _weekday_holidays() -> list[datetime]:
    calendar = xshg_calendar()
    weekdays = pd.bdate_range(HISTORY_START, calendar.last_session)
    return [d.to_pydatetime() for d in weekdays.difference(calendar.sessions)]


# end_offset=1: today's partition exists from midnight Shanghai time, so the
# 17:45 schedule can fill it; the asset refuses dates BaoStock has not published.
date_partitions = dg.DailyPartitionsDefinition(
    start_date=HISTORY_START,
    timezone=TIMEZONE,
    end_offset=1,
    exclusions=["0 0 * * 6", "0 0 * * 0", *_weekday_holidays()],
)
batch_partitions = dg.StaticPartitionsDefinition(list(BATCHES))
daily_bars_partitions = dg.MultiPartitionsDefinition({"date": date_partitions, "batch": batch_partitions})


def parse_partition_date(key: str) -> date:
    """A date partition key as a date, with a clear error for anything else."""
    try:
        return datetime.strptime(key, DATE_FORMAT).date()
    except ValueError:
        raise ValueError(f"date partition key {key!r} is not YYYY-MM-DD") from None
