"""Query answers: where each answer type keeps its rows and fields, and the `ResultSet` they make.

An answer body split on the separator reads `[0]` error code, `[1]` message,
`[2]` method, `[3]` user, then an answer-specific layout (see
docs/baostock-protocol.md). The layout is read by position on the whole body:
the official client drops the last character of compressed k-data bodies
(`[21:-1]`), which eats part of the adjustflag echo; reading the decoded body
as is loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain

import pandas as pd
from baostock.common import contants as cons

from marketdata_pipeline.baostock.errors import ProtocolError
from marketdata_pipeline.baostock.frames import Frame


@dataclass(frozen=True)
class AnswerLayout:
    """Positions of the JSON records and the field list; paged answers carry page and per_page at [4], [5]."""

    records_at: int
    fields_at: int
    paged: bool


_PAGED_8 = AnswerLayout(records_at=6, fields_at=8, paged=True)
ANSWER_LAYOUTS: dict[str, AnswerLayout] = {
    cons.MESSAGE_TYPE_GETKDATAPLUS_RESPONSE: _PAGED_8,
    cons.MESSAGE_TYPE_QUERYALLSTOCK_RESPONSE: _PAGED_8,
    cons.MESSAGE_TYPE_QUERYTRADEDATES_RESPONSE: AnswerLayout(records_at=6, fields_at=9, paged=True),
    cons.MESSAGE_TYPE_ADJUSTFACTOR_RESPONSE: AnswerLayout(records_at=6, fields_at=10, paged=True),
    cons.MESSAGE_TYPE_QUERYSTOCKBASIC_RESPONSE: AnswerLayout(records_at=6, fields_at=9, paged=True),
    cons.MESSAGE_TYPE_QUERYHS300STOCKS_RESPONSE: _PAGED_8,
    cons.MESSAGE_TYPE_QUERYSZ50STOCKS_RESPONSE: _PAGED_8,
    cons.MESSAGE_TYPE_QUERYZZ500STOCKS_RESPONSE: _PAGED_8,
    cons.MESSAGE_TYPE_GETKDaily_D_AStock_RESPONSE: AnswerLayout(records_at=4, fields_at=5, paged=False),
    cons.MESSAGE_TYPE_GETKDaily_ADJUSTFACTOR_RESPONSE: AnswerLayout(records_at=4, fields_at=5, paged=False),
}


@dataclass(frozen=True)
class Page:
    """One answer's rows; `number` and `per_page` are None for unpaged answers."""

    number: int | None
    per_page: int | None
    fields: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class ResultSet:
    """Every row of a query, all pages joined; values are the strings the server sent."""

    method: str
    fields: list[str]
    rows: list[list[str]] = field(repr=False)
    pages: int = 1

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[list[str]]:
        return iter(self.rows)

    def to_dataframe(self) -> pd.DataFrame:
        """The rows as a DataFrame of object (str) columns named by `fields`; no value is converted."""
        return pd.DataFrame(self.rows, columns=self.fields, dtype=object)


def parse_page(answer: Frame) -> Page:
    """Rows and fields of a successful query answer, checked for shape; ProtocolError otherwise."""
    layout = ANSWER_LAYOUTS.get(answer.msg_type)
    if layout is None:
        raise ProtocolError(f"answer type {answer.msg_type!r} is not a query answer this client reads")
    body = answer.fields
    if len(body) <= layout.fields_at:
        raise ProtocolError(
            f"answer type {answer.msg_type} has {len(body)} fields, expected at least {layout.fields_at + 1}"
        )
    fields = parse_fields(body[layout.fields_at])
    rows = parse_records(body[layout.records_at])
    _check_widths(rows, fields)
    if not layout.paged:
        return Page(None, None, fields, rows)
    return Page(_page_int(body[4], "page"), _page_int(body[5], "per_page"), fields, rows)


def parse_fields(text: str) -> list[str]:
    """`'calendar_date, is_trading_day'` -> `['calendar_date', 'is_trading_day']`."""
    return [name.strip() for name in text.split(cons.ATTRIBUTE_SPLIT)] if text.strip() else []


def parse_records(text: str) -> list[list[str]]:
    """`{"record": [["v", ...], ...]}` -> rows; an empty text is no rows.

    Unlike the official client, whitespace inside values is kept (a real index
    name reads "...(ECPI ESG)指数"); raw control characters are tolerated.
    """
    if not text.strip():
        return []
    try:
        document = json.loads(text, strict=False)
    except ValueError as exc:
        raise ProtocolError(f"answer records are not JSON: {exc}") from exc
    records = document.get("record") if isinstance(document, dict) else None
    if not isinstance(records, list) or not _all_rows_of_strings(records):
        raise ProtocolError(f'answer records are not {{"record": [[str, ...], ...]}}: {text[:80]!r}')
    return records


def _all_rows_of_strings(records: list) -> bool:
    # map(type, ...) runs in C: a whole-market answer is checked in about a millisecond
    return set(map(type, records)) <= {list} and set(map(type, chain.from_iterable(records))) <= {str}


def _check_widths(rows: list[list[str]], fields: list[str]) -> None:
    if set(map(len, rows)) <= {len(fields)}:
        return
    index, row = next((index, row) for index, row in enumerate(rows) if len(row) != len(fields))
    raise ProtocolError(f"row {index} has {len(row)} values for {len(fields)} fields {fields}")


def _page_int(text: str, name: str) -> int:
    if not text.isdigit():
        raise ProtocolError(f"answer {name} {text!r} is not a number")
    return int(text)
