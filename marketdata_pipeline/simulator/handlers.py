"""Answers to BaoStock queries: validate a request's fields and build the response's fields.

Each handler takes the request body fields (method name first) and returns
(response type, response body fields), or raises `Refusal` carrying the
BaoStock error code the real server answers for that input.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
from baostock.common import contants as cons

from marketdata_pipeline.baostock.fields import FIELDS_BY_FREQUENCY
from marketdata_pipeline.simulator import kdata
from marketdata_pipeline.simulator.clock import PublicationClock
from marketdata_pipeline.simulator.market import Market

SUCCESS = [cons.BSERR_SUCCESS, "success"]
ALL_STOCK_FIELDS = "code,tradeStatus,code_name"
TRADE_DATES_FIELDS = "calendar_date, is_trading_day"
ADJUST_FACTOR_FIELDS = "code,dividOperateDate,foreAdjustFactor,backAdjustFactor,adjustFactor"
DAILY_FACTOR_SPELLINGS = ("adjustFactor", "adjustFacto")
"""How query_daily_adjust_factor may name its last field: the package demo's, and the one seen live."""
STOCK_BASIC_FIELDS = "code, code_name, ipoDate, outDate, type, status"
WHOLE_MARKET_FIELDS = ",".join(kdata.WHOLE_MARKET_FIELDS)
_CODE_RE = re.compile(r"^(sh|sz)\.\d{6}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WHOLE_MARKET_CACHE = 4  # ~6 MB of row strings per day


class Refusal(Exception):
    """A request the server answers with an error frame (type 04)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


def records_json(rows: list[list[str]]) -> str:
    """The JSON position of a body: `{"record":[[...]]}`, or "" when there are no rows."""
    if not rows:
        return ""
    return json.dumps({"record": rows}, ensure_ascii=False, separators=(",", ":"))


def numeric_records_json(rows: list[list[str]]) -> str:
    """records_json for rows of numbers, dates and codes only (nothing to escape): a plain join."""
    if not rows:
        return ""
    return '{"record":[["' + '"],["'.join('","'.join(row) for row in rows) + '"]]}'


class Answers:
    """The query handlers of one simulator: a market and a publication clock."""

    def __init__(self, market: Market, clock: PublicationClock):
        self.market = market
        self.clock = clock
        self.market_depth_days: int | None = None
        """How many trading days back (through the latest published) whole-market answers reach;
        older days answer empty, as a server whose history is shallower would. None: all history."""
        self._whole_market: OrderedDict[tuple[str, str], list[list[str]]] = OrderedDict()
        self._lock = threading.Lock()
        self.daily_factor_field = DAILY_FACTOR_SPELLINGS[0]
        self.handlers: dict[str, tuple[str, Callable[[list[str]], list[str]]]] = {
            cons.MESSAGE_TYPE_GETKDATAPLUS_REQUEST: (cons.MESSAGE_TYPE_GETKDATAPLUS_RESPONSE, self.k_data),
            cons.MESSAGE_TYPE_QUERYALLSTOCK_REQUEST: (
                cons.MESSAGE_TYPE_QUERYALLSTOCK_RESPONSE,
                self.all_stock,
            ),
            cons.MESSAGE_TYPE_QUERYTRADEDATES_REQUEST: (
                cons.MESSAGE_TYPE_QUERYTRADEDATES_RESPONSE,
                self.trade_dates,
            ),
            cons.MESSAGE_TYPE_ADJUSTFACTOR_REQUEST: (
                cons.MESSAGE_TYPE_ADJUSTFACTOR_RESPONSE,
                self.adjust_factor,
            ),
            cons.MESSAGE_TYPE_QUERYSTOCKBASIC_REQUEST: (
                cons.MESSAGE_TYPE_QUERYSTOCKBASIC_RESPONSE,
                self.stock_basic,
            ),
            cons.MESSAGE_TYPE_GETKDaily_D_AStock_REQUEST: (
                cons.MESSAGE_TYPE_GETKDaily_D_AStock_RESPONSE,
                self.whole_market_day,
            ),
            cons.MESSAGE_TYPE_GETKDaily_ADJUSTFACTOR_REQUEST: (
                cons.MESSAGE_TYPE_GETKDaily_ADJUSTFACTOR_RESPONSE,
                self.daily_adjust_factor,
            ),
        }

    def k_data(self, f: list[str]) -> list[str]:
        method, user, page, per_page, code, fields, start, end, frequency, flag = _expect(f, 10)
        page_no, size = _paging(page, per_page)
        sym = self._symbol(code)
        first, last = _date_range(start, end)
        if frequency not in FIELDS_BY_FREQUENCY:
            raise Refusal(cons.BSERR_PARAM_ERR, f"frequency {frequency!r} is not one of d,w,m,5,15,30,60")
        if flag not in (kdata.RAW, kdata.BACK, kdata.FORWARD):
            raise Refusal(cons.BSERR_PARAM_ERR, f"adjustflag {flag!r} is not 1, 2 or 3")
        names = _field_list(fields, FIELDS_BY_FREQUENCY[frequency])
        rows = []
        span = self._day_span(first, min(last, self.clock.bars_through()))
        if span is not None:
            factors = self.market.timeline.index_on_or_before(self.clock.factors_through())
            rows = kdata.kdata_rows(self.market, sym, *span, frequency, flag, names, factors)
        body = numeric_records_json(rows[(page_no - 1) * size : page_no * size])
        return [*SUCCESS, method, user, page, per_page, body, code, fields, start, end, frequency, flag]

    def all_stock(self, f: list[str]) -> list[str]:
        method, user, page, per_page, day = _expect(f, 5)
        page_no, size = _paging(page, per_page)
        rows = self._listed_on(_parse_date(day, "day"))
        return [*SUCCESS, method, user, page, per_page, _page(rows, page_no, size), day, ALL_STOCK_FIELDS]

    def trade_dates(self, f: list[str]) -> list[str]:
        method, user, page, per_page, start, end = _expect(f, 6)
        page_no, size = _paging(page, per_page)
        first, last = _date_range(start, end)
        calendar = self.market.timeline.calendar
        first, last = max(first, calendar.first), min(last, calendar.last)
        sessions = calendar.sessions
        lo, hi = np.searchsorted(sessions, [first.toordinal(), last.toordinal() + 1])
        trading = set(sessions[lo:hi].tolist())
        rows = [
            [d.isoformat(), "1" if d.toordinal() in trading else "0"]
            for d in (first + timedelta(days=k) for k in range((last - first).days + 1))
        ]
        body = _page(rows, page_no, size)
        return [*SUCCESS, method, user, page, per_page, body, start, end, TRADE_DATES_FIELDS]

    def adjust_factor(self, f: list[str]) -> list[str]:
        method, user, page, per_page, code, start, end = _expect(f, 7)
        page_no, size = _paging(page, per_page)
        sym = self._symbol(code)
        first, last = _date_range(start, end)
        last = min(last, self.clock.factors_through())
        tl = self.market.timeline
        table = self.market.factor_table(sym)
        lo, hi = tl.index_on_or_after(first), tl.index_on_or_before(last)
        rows = self._factor_rows(sym, [k for k, d in enumerate(table.ex_days.tolist()) if lo <= d <= hi])
        body = _page(rows, page_no, size)
        return [*SUCCESS, method, user, page, per_page, body, code, start, end, ADJUST_FACTOR_FIELDS]

    def stock_basic(self, f: list[str]) -> list[str]:
        method, user, page, per_page, code, code_name = _expect(f, 6)
        page_no, size = _paging(page, per_page)
        if code and not _CODE_RE.match(code):
            raise Refusal(cons.BSERR_CODE_INVALIED, f"code {code!r} is not like sh.600000")
        u, p = self.market.universe, self.market.profiles
        today = self.clock.today_date().toordinal()
        positions = [u.position[code]] if code in u.position else ([] if code else range(len(u.codes)))
        rows = [
            [
                u.codes[s],
                u.names[s],
                date.fromordinal(int(p.ipo_ordinal[s])).isoformat(),
                date.fromordinal(int(p.out_ordinal[s])).isoformat() if p.out_ordinal[s] else "",
                u.types[s],
                "0" if 0 < p.out_ordinal[s] <= today else "1",
            ]
            for s in positions
            if p.ipo_ordinal[s] <= today and code_name in u.names[s]
        ]
        body = _page(rows, page_no, size)
        return [*SUCCESS, method, user, page, per_page, body, code, code_name, STOCK_BASIC_FIELDS]

    def whole_market_day(self, f: list[str]) -> list[str]:
        method, user, day = _expect(f, 3)
        when = _parse_date(day, "date")
        rows: list[list[str]] = []
        index = self.market.timeline.index_of(when)
        if index is not None and when <= self.clock.bars_through() and self._within_depth(index):
            rows = self._whole_market_rows(day, index)
        return [*SUCCESS, method, user, numeric_records_json(rows), WHOLE_MARKET_FIELDS]

    def _within_depth(self, index: int) -> bool:
        if self.market_depth_days is None:
            return True
        latest = self.market.timeline.index_on_or_before(self.clock.bars_through())
        return index > latest - self.market_depth_days

    def daily_adjust_factor(self, f: list[str]) -> list[str]:
        method, user, day = _expect(f, 3)
        when = _parse_date(day, "date")
        rows: list[list[str]] = []
        index = self.market.timeline.index_of(when)
        if index is not None and when <= self.clock.factors_through():
            p = self.market.profiles
            year = int(self.market.timeline.year_of[index])
            for sym in np.flatnonzero(p.ex_day[:, year] == index).tolist():
                table = self.market.factor_table(sym)
                rows += self._factor_rows(sym, np.flatnonzero(table.ex_days == index).tolist())
        fields = ADJUST_FACTOR_FIELDS.rpartition(",")[0] + "," + self.daily_factor_field
        return [*SUCCESS, method, user, records_json(rows), fields]

    def _factor_rows(self, sym: int, picks: list[int]) -> list[list[str]]:
        table = self.market.factor_table(sym)
        published = self.market.timeline.index_on_or_before(self.clock.factors_through())
        known = table.back[table.ex_days <= published]
        latest = float(known[-1]) if len(known) else 1.0
        code = self.market.universe.codes[sym]
        rows = []
        for k in picks:
            back = float(table.back[k])
            day = self.market.timeline.iso(int(table.ex_days[k]))
            rows.append([code, day, f"{round(back / latest, 6):.6f}", f"{back:.6f}", f"{back:.6f}"])
        return rows

    def _whole_market_rows(self, day: str, index: int) -> list[list[str]]:
        key = (day, self.clock.bars_through().isoformat())
        with self._lock:
            rows = self._whole_market.get(key)
        if rows is None:
            rows = kdata.whole_market_rows(self.market, index)
            with self._lock:
                self._whole_market[key] = rows
                while len(self._whole_market) > _WHOLE_MARKET_CACHE:
                    self._whole_market.popitem(last=False)
        return rows

    def _listed_on(self, day: date) -> list[list[str]]:
        tl, p, u = self.market.timeline, self.market.profiles, self.market.universe
        index = tl.index_of(day)
        if index is None or day > self.clock.bars_through():
            return []
        year = int(tl.year_of[index])
        listed = (p.ipo_idx <= index) & (index < p.out_idx)
        suspended = (p.susp_start[:, year] <= index) & (index < p.susp_end[:, year])
        # Plain lists: indexing numpy arrays element by element costs ~1 us a value (5,600 per page).
        suspended = self.market.universe_suspended(index, suspended).tolist()
        codes, names = u.codes, u.names
        return [[codes[s], "0" if suspended[s] else "1", names[s]] for s in np.flatnonzero(listed).tolist()]

    def _symbol(self, code: str) -> int:
        sym = self.market.universe.position.get(code)
        if sym is None:
            raise Refusal(cons.BSERR_CODE_INVALIED, f"code {code!r} is not a known security (like sh.600000)")
        return sym

    def _day_span(self, first: date, last: date) -> tuple[int, int] | None:
        tl = self.market.timeline
        lo, hi = tl.index_on_or_after(first), tl.index_on_or_before(last)
        return (lo, hi) if lo <= hi else None


def _expect(fields: list[str], count: int) -> list[str]:
    if len(fields) != count:
        raise Refusal(cons.BSERR_PARAM_ERR, f"{fields[0]} takes {count - 1} fields, got {len(fields) - 1}")
    return fields


def _paging(page: str, per_page: str) -> tuple[int, int]:
    if not (page.isdigit() and per_page.isdigit()) or int(page) < 1 or int(per_page) < 1:
        raise Refusal(
            cons.BSERR_PARAM_ERR, f"page {page!r} and per_page {per_page!r} must be positive integers"
        )
    return int(page), int(per_page)


def _page(rows: list[list[str]], page: int, per_page: int) -> str:
    return records_json(rows[(page - 1) * per_page : page * per_page])


def _parse_date(text: str, name: str) -> date:
    try:
        if not _DATE_RE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise Refusal(cons.BSERR_DATE_ERR, f"{name} {text!r} is not a date like 2024-01-02") from None


def _date_range(start: str, end: str) -> tuple[date, date]:
    first, last = _parse_date(start, "start_date"), _parse_date(end, "end_date")
    if first > last:
        raise Refusal(cons.BSERR_START_BIGTHAN_END, f"start_date {start} is after end_date {end}")
    return first, last


def _field_list(fields: str, allowed: tuple[str, ...]) -> list[str]:
    names = [name.strip() for name in fields.split(",")]
    bad = [name for name in names if name not in allowed]
    if bad or not names:
        raise Refusal(cons.BSERR_INDICATOR_INVALIED, f"fields {bad} are not among {','.join(allowed)}")
    return names
