"""When BaoStock publishes a trading day: bars about 17:30 Asia/Shanghai, adjust factors about 18:00."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from marketdata_pipeline.defs.market.partitions import TIMEZONE, is_trading_day

SHANGHAI = ZoneInfo(TIMEZONE)
BARS_PUBLISHED_AT = time(17, 30)
FACTORS_PUBLISHED_AT = time(18, 0)


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)


def latest_published_day(now: datetime | None = None, published_at: time = BARS_PUBLISHED_AT) -> date:
    """The latest trading day whose data BaoStock has published at `now` (default: the clock)."""
    local = (now or shanghai_now()).astimezone(SHANGHAI)
    day = local.date() if local.time() >= published_at else local.date() - timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def latest_published_days(count: int, now: datetime | None = None) -> list[date]:
    """The `count` latest published trading days, oldest first."""
    days = [latest_published_day(now)]
    while len(days) < count:
        day = days[-1] - timedelta(days=1)
        while not is_trading_day(day):
            day -= timedelta(days=1)
        days.append(day)
    return days[::-1]


def closed_reason(day: date) -> str | None:
    """Why XSHG does not trade on `day`, or None when it does."""
    if is_trading_day(day):
        return None
    why = day.strftime("%A") if day.weekday() >= 5 else "exchange holiday"
    return f"{day} is not an XSHG trading day ({why})"


def unpublished_reason(day: date, now: datetime, published_at: time = BARS_PUBLISHED_AT) -> str | None:
    """Why BaoStock has not published `day` at `now` (a future day, or before `published_at`), or None."""
    latest = latest_published_day(now, published_at)
    if day <= latest:
        return None
    return (
        f"{day} is not published yet: BaoStock publishes a trading day at about {published_at:%H:%M} "
        f"{TIMEZONE} and it is {now:%Y-%m-%d %H:%M} there (latest published day: {latest})"
    )
