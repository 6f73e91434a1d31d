"""The market's calendar and clock: XSHG trading days, Asia/Shanghai time, when BaoStock publishes a day.

Plain Python, no Dagster: the definitions, the demo, doctor and the simulator all
read these rules here, so a holiday or a publication time is written once.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

TIMEZONE = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TIMEZONE)
FIRST_SESSION = date(1990, 12, 19)
"""The Shanghai exchange's first trading day."""
BARS_PUBLISHED_AT = time(17, 30)
"""BaoStock publishes a trading day's daily bars at about this Shanghai time."""
FACTORS_PUBLISHED_AT = time(18, 0)
"""... and its adjust factors at about this one."""


@functools.cache
def xshg_calendar():
    """exchange_calendars' XSHG from its first session through the last day it records holidays for.

    Built once per process; exchange_calendars (1.6 s to import) is imported on first use only.
    """
    import exchange_calendars

    return exchange_calendars.get_calendar(
        "XSHG", start=FIRST_SESSION.isoformat(), end=recorded_through().isoformat()
    )


def recorded_through() -> date:
    """The last day the calendar knows holidays for: beyond it every weekday counts as a trading day."""
    from exchange_calendars.exchange_calendar_xshg import XSHGExchangeCalendar

    return XSHGExchangeCalendar.bound_max().date()


def is_trading_day(day: date) -> bool:
    """Whether XSHG trades on `day` (beyond the recorded horizon: whether it is a weekday)."""
    calendar = xshg_calendar()
    stamp = pd.Timestamp(day)
    if stamp > calendar.last_session:
        return stamp.dayofweek < 5
    return stamp >= calendar.first_session and calendar.is_session(stamp)


def xshg_trading_days(start: date, end: date) -> list[date]:
    """The XSHG trading days from `start` to `end`, both included."""
    return [d for d in pd.date_range(start, end, freq="D").date if is_trading_day(d)]


@functools.lru_cache(maxsize=32)
def chain_sessions(start: date, end: date) -> tuple[date, ...]:
    """The XSHG sessions the day-over-day checks of start..end compare along: from a month before
    `start` (past the longest holiday, to the session before it) through `end`. Cached: the
    adjust_factors run asks for the same 11 years once per batch."""
    return tuple(xshg_trading_days(start - timedelta(days=31), end))


def weekday_holidays(start: date) -> list[date]:
    """The weekdays from `start` through the recorded horizon on which XSHG is closed."""
    calendar = xshg_calendar()
    weekdays = pd.bdate_range(start, calendar.last_session)
    return [stamp.date() for stamp in weekdays.difference(calendar.sessions)]


def closed_reason(day: date) -> str | None:
    """Why XSHG does not trade on `day`, or None when it does."""
    if is_trading_day(day):
        return None
    why = day.strftime("%A") if day.weekday() >= 5 else "exchange holiday"
    return f"{day} is not an XSHG trading day ({why})"


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)


def published_through(shanghai: datetime, published_at: time = BARS_PUBLISHED_AT) -> date:
    """The last calendar day published at `shanghai` (Shanghai wall-clock time): that day from
    `published_at` on, before it the day before."""
    return shanghai.date() if shanghai.time() >= published_at else shanghai.date() - timedelta(days=1)


def latest_published_day(now: datetime | None = None, published_at: time = BARS_PUBLISHED_AT) -> date:
    """The latest trading day whose data BaoStock has published at `now` (default: the clock)."""
    return _trading_day_on_or_before(
        published_through((now or shanghai_now()).astimezone(SHANGHAI), published_at)
    )


def latest_published_days(count: int, now: datetime | None = None) -> list[date]:
    """The `count` latest published trading days, oldest first."""
    latest = latest_published_day(now)
    return [*trading_days_before(latest, count - 1), latest]


def trading_days_before(day: date, count: int) -> list[date]:
    """The `count` XSHG trading days right before `day`, oldest first."""
    days = []
    while len(days) < count:
        day = _trading_day_on_or_before(day - timedelta(days=1))
        days.append(day)
    return days[::-1]


def unpublished_reason(day: date, now: datetime, published_at: time = BARS_PUBLISHED_AT) -> str | None:
    """Why BaoStock has not published `day` at `now` (a future day, or before `published_at`), or None."""
    latest = latest_published_day(now, published_at)
    if day <= latest:
        return None
    return (
        f"{day} is not published yet: BaoStock publishes a trading day at about {published_at:%H:%M} "
        f"{TIMEZONE} and it is {now.astimezone(SHANGHAI):%Y-%m-%d %H:%M} there "
        f"(latest published day: {latest})"
    )


def _trading_day_on_or_before(day: date) -> date:
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day
