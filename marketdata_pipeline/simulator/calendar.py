"""The XSHG trading calendar the simulator serves, built once per process."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import numpy as np

FIRST_CALENDAR_DATE = date(1990, 12, 19)


@dataclass(frozen=True)
class TradingCalendar:
    """Shanghai sessions as sorted date ordinals, plus the span the calendar covers."""

    sessions: np.ndarray
    first: date
    last: date

    def is_session(self, day: date) -> bool:
        ordinal = day.toordinal()
        pos = int(np.searchsorted(self.sessions, ordinal))
        return pos < len(self.sessions) and int(self.sessions[pos]) == ordinal


@functools.cache
def trading_calendar() -> TradingCalendar:
    """The XSHG calendar from 1990-12-19 to the last year exchange_calendars records (slow: cached)."""
    import exchange_calendars

    last_year = _last_recorded_year()
    calendar = exchange_calendars.get_calendar(
        "XSHG", start=FIRST_CALENDAR_DATE.isoformat(), end=f"{last_year}-12-31"
    )
    ordinals = np.array([ts.date().toordinal() for ts in calendar.sessions], dtype=np.int64)
    return TradingCalendar(ordinals, FIRST_CALENDAR_DATE, date(last_year, 12, 31))


def _last_recorded_year() -> int:
    from exchange_calendars.exchange_calendar_xshg import XSHGExchangeCalendar

    return XSHGExchangeCalendar.bound_max().year
