"""Daily bar rows: the 18 daily fields, picking them out of an answer, collecting a run's rows."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from marketdata_pipeline.baostock.fields import DAILY_FIELDS
from marketdata_pipeline.ingest.answers import pick_fields

DAILY_FIELDS_CSV = ",".join(DAILY_FIELDS)
_DATE, _CODE = DAILY_FIELDS.index("date"), DAILY_FIELDS.index("code")

Row = tuple[str, ...]


def daily_rows(result, source: str) -> list[Row]:
    """The rows of a ResultSet as tuples in DAILY_FIELDS order (ProtocolError if one is missing)."""
    return pick_fields(result, DAILY_FIELDS, source)


def row_code(row: Row) -> str:
    return row[_CODE]


def row_date(row: Row) -> str:
    return row[_DATE]


class BarCollector:
    """The rows of one run, keyed by (code, date): rows outside the run are dropped, first row wins."""

    def __init__(self, codes: Iterable[str], day_isos: Iterable[str]):
        self._codes = frozenset(codes)
        self._days = frozenset(day_isos)
        self._rows: dict[tuple[str, str], Row] = {}
        self.days_by_code: dict[str, set[str]] = {code: set() for code in self._codes}

    def wants(self, row: Row) -> bool:
        """Whether `row` is one of the run's codes on one of its days."""
        return row[_CODE] in self._codes and row[_DATE] in self._days

    def add(self, rows: Iterable[Row]) -> int:
        """Keep the wanted rows not seen yet; returns how many were new."""
        added = 0
        for row in rows:
            key = (row[_CODE], row[_DATE])
            if key in self._rows or not self.wants(row):
                continue
            self._rows[key] = row
            self.days_by_code[key[0]].add(key[1])
            added += 1
        return added

    def __len__(self) -> int:
        return len(self._rows)

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame of DAILY_FIELDS string columns, sorted by code then date."""
        ordered = [self._rows[key] for key in sorted(self._rows)]
        return pd.DataFrame(ordered, columns=list(DAILY_FIELDS), dtype=str)
