"""Daily bar rows: the 18 daily fields, picking them out of an answer, collecting a run's rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

import pandas as pd
import pyarrow as pa

from marketdata_pipeline.baostock.fields import DAILY_FIELDS
from marketdata_pipeline.ingest.result_fields import pick_fields

DAILY_FIELDS_CSV = ",".join(DAILY_FIELDS)
DATE_AT, CODE_AT = DAILY_FIELDS.index("date"), DAILY_FIELDS.index("code")
"""Where a daily row (a tuple in DAILY_FIELDS order) has its date and its code."""

Row = tuple[str, ...]


def daily_rows(result, source: str) -> list[Row]:
    """The rows of a ResultSet as tuples in DAILY_FIELDS order (ProtocolError if one is missing)."""
    return pick_fields(result, DAILY_FIELDS, source)


CHUNK_ROWS = 20_000
"""Rows a collector with a sink holds at most before handing them on (~25 MB of wire strings)."""


class BarCollector:
    """The rows of one run, each (code, date) once: rows outside the run are dropped, first row wins.

    With a `sink`, rows leave in chunks (an Arrow table of DAILY_FIELDS strings) once `chunk_rows`
    are pending, and only a bitmap of which days each code has stays: memory does not grow with the
    range. Without one, every row is kept for `to_frame`.
    """

    def __init__(
        self,
        codes: Iterable[str],
        day_isos: Iterable[str],
        *,
        sink: Callable[[pa.Table], object] | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ):
        self._day_index = {iso: index for index, iso in enumerate(day_isos)}
        self._seen = {code: bytearray(len(self._day_index)) for code in codes}
        self._pending: list[Row] = []
        self._sink, self._chunk_rows = sink, chunk_rows
        self._count = 0
        self.peak_pending = 0
        """The most rows held at once: what a bounded-memory test reads."""

    def wants(self, row: Row) -> bool:
        """Whether `row` is one of the run's codes on one of its days."""
        return row[CODE_AT] in self._seen and row[DATE_AT] in self._day_index

    def add(self, rows: Iterable[Row]) -> int:
        """Keep the wanted rows not seen yet; returns how many were new."""
        added = 0
        for row in rows:
            seen, index = self._seen.get(row[CODE_AT]), self._day_index.get(row[DATE_AT])
            if seen is None or index is None or seen[index]:
                continue
            seen[index] = 1
            self._pending.append(row)
            added += 1
        self._count += added
        self.peak_pending = max(self.peak_pending, len(self._pending))
        if self._sink is not None and len(self._pending) >= self._chunk_rows:
            self.flush()
        return added

    def flush(self) -> None:
        """Hand the pending rows to the sink (no-op without one)."""
        if self._sink is not None and self._pending:
            chunk, self._pending = self._pending, []
            self._sink(_table(chunk))

    def missing_days(self, code: str, expected: Iterable[date]) -> list[date]:
        """The `expected` days (run days) for which `code` has no row yet."""
        seen = self._seen[code]
        return [day for day in expected if not seen[self._day_index[day.isoformat()]]]

    def __len__(self) -> int:
        return self._count

    def to_frame(self) -> pd.DataFrame:
        """The kept rows, sorted by code then date (empty with a sink: the sink has had them all)."""
        self.flush()
        return _table(sorted(self._pending, key=lambda row: (row[CODE_AT], row[DATE_AT]))).to_pandas()


def _table(rows: list[Row]) -> pa.Table:
    """Rows as Arrow string columns: transposed in C, one array per field (each value still copied
    out of its Python string, ~150 ns)."""
    columns = zip(*rows, strict=True) if rows else ((),) * len(DAILY_FIELDS)
    return pa.table([pa.array(values, pa.string()) for values in columns], names=list(DAILY_FIELDS))
