"""The XSHG trading calendar the simulator serves: market_calendar's sessions as day ordinals."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import numpy as np

from marketdata_pipeline.market_calendar import FIRST_SESSION, recorded_through, xshg_calendar


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
    """The XSHG calendar from its first session through the last day it records (built once)."""
    ordinals = np.array([ts.date().toordinal() for ts in xshg_calendar().sessions], dtype=np.int64)
    return TradingCalendar(ordinals, FIRST_SESSION, recorded_through())
