"""The simulated market's sessions: day indices, their years and months, and date lookups."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import numpy as np

from marketdata_pipeline.simulator.calendar import TradingCalendar, trading_calendar

MARKET_START = date(2005, 1, 4)


@dataclass(frozen=True)
class Timeline:
    """Sessions from MARKET_START on; a bar's day index is its position here."""

    days: np.ndarray
    year_of: np.ndarray
    month_of: np.ndarray
    year_start: np.ndarray
    month_start: np.ndarray
    first_year: int
    calendar: TradingCalendar

    @property
    def size(self) -> int:
        return len(self.days)

    @property
    def years(self) -> int:
        return len(self.year_start) - 1

    def index_on_or_after(self, day: date) -> int:
        """The first session on or after `day` (size when past the end)."""
        return int(np.searchsorted(self.days, day.toordinal(), side="left"))

    def index_on_or_before(self, day: date) -> int:
        """The last session on or before `day` (-1 when before the start)."""
        return int(np.searchsorted(self.days, day.toordinal(), side="right")) - 1

    def index_of(self, day: date) -> int | None:
        """The session index of `day`, or None when it is not a session of the simulated market."""
        pos = self.index_on_or_after(day)
        return pos if pos < self.size and int(self.days[pos]) == day.toordinal() else None

    def iso(self, index: int) -> str:
        return date.fromordinal(int(self.days[index])).isoformat()

    @functools.cached_property
    def iso_dates(self) -> list[str]:
        return [date.fromordinal(int(d)).isoformat() for d in self.days]


@functools.cache
def market_timeline() -> Timeline:
    """Build the timeline once per process (the calendar behind it is slow to build)."""
    calendar = trading_calendar()
    days = calendar.sessions[calendar.sessions >= MARKET_START.toordinal()]
    dates = [date.fromordinal(int(d)) for d in days]
    first_year = MARKET_START.year
    year_of = np.array([d.year - first_year for d in dates], dtype=np.int64)
    month_of = np.array([(d.year - first_year) * 12 + d.month - 1 for d in dates], dtype=np.int64)
    years = int(year_of[-1]) + 1
    year_start = np.searchsorted(year_of, np.arange(years + 1), side="left")
    month_start = np.searchsorted(month_of, np.arange(years * 12 + 1), side="left")
    return Timeline(days, year_of, month_of, year_start, month_start, first_year, calendar)
