"""When data is published: bars of a trading day at 17:30 Shanghai time, adjust factors at 18:00."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
BARS_PUBLISHED = time(17, 30)
FACTORS_PUBLISHED = time(18, 0)


class PublicationClock:
    """`today` as a date means that whole day is published; a datetime (naive = Shanghai) or None
    (the live Shanghai clock) applies the publication times."""

    def __init__(self, today: date | datetime | None = None):
        if today is not None and not isinstance(today, date):
            raise TypeError(f"today must be a date, a datetime or None, not {type(today).__name__}")
        self.today = today

    def bars_through(self) -> date:
        """The last calendar day whose daily bars are published."""
        return self._through(BARS_PUBLISHED)

    def factors_through(self) -> date:
        """The last calendar day whose adjust factors are published."""
        return self._through(FACTORS_PUBLISHED)

    def today_date(self) -> date:
        return self._now().date() if not _is_plain_date(self.today) else self.today

    def _through(self, published_at: time) -> date:
        if _is_plain_date(self.today):
            return self.today
        now = self._now()
        return now.date() if now.time() >= published_at else now.date() - timedelta(days=1)

    def _now(self) -> datetime:
        if self.today is None:
            return datetime.now(SHANGHAI).replace(tzinfo=None)
        if self.today.tzinfo is not None:
            return self.today.astimezone(SHANGHAI).replace(tzinfo=None)
        return self.today


def _is_plain_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)
