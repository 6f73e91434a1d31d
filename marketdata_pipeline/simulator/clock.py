"""The simulator's clock: which days it has published, by market_calendar's publication times."""

from __future__ import annotations

from datetime import date, datetime, time

from marketdata_pipeline.market_calendar import (
    BARS_PUBLISHED_AT,
    FACTORS_PUBLISHED_AT,
    SHANGHAI,
    published_through,
)


class PublicationClock:
    """`today` as a date means that whole day is published; a datetime (naive = Shanghai) or None
    (the live Shanghai clock) applies the publication times."""

    def __init__(self, today: date | datetime | None = None):
        if today is not None and not isinstance(today, date):
            raise TypeError(f"today must be a date, a datetime or None, not {type(today).__name__}")
        self.today = today

    def bars_through(self) -> date:
        """The last calendar day whose daily bars are published."""
        return self._through(BARS_PUBLISHED_AT)

    def factors_through(self) -> date:
        """The last calendar day whose adjust factors are published."""
        return self._through(FACTORS_PUBLISHED_AT)

    def today_date(self) -> date:
        return self._now().date() if not _is_plain_date(self.today) else self.today

    def _through(self, published_at: time) -> date:
        if _is_plain_date(self.today):
            return self.today
        return published_through(self._now(), published_at)

    def _now(self) -> datetime:
        if self.today is None:
            return datetime.now(SHANGHAI).replace(tzinfo=None)
        if self.today.tzinfo is not None:
            return self.today.astimezone(SHANGHAI).replace(tzinfo=None)
        return self.today


def _is_plain_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)
