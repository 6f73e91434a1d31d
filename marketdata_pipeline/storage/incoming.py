"""Incoming BaoStock rows: the accepted string columns, their validation and their typing, all in SQL.

Rows arrive as pandas DataFrames or Arrow tables of strings exactly as BaoStock sends them ("" means
no value).
They are scanned by DuckDB from the registered DataFrame, checked column by column, and cast
into the warehouse's types; no value is ever formatted into SQL text. Errors name a row by its
code, its date and "row N", its 0-based position in the DataFrame.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.types import infer_dtype


class Kind(Enum):
    """How a BaoStock string becomes a warehouse value: (what is accepted, the SQL cast, the SQL type)."""

    DATE = ("a date YYYY-MM-DD", "CAST({v} AS DATE)", "DATE")
    DOUBLE = ("a finite decimal number", "CAST({v} AS DOUBLE)", "DOUBLE")
    BIGINT = ("an integer", "CAST({v} AS BIGINT)", "BIGINT")
    SMALLINT = ("a small integer", "CAST({v} AS SMALLINT)", "SMALLINT")
    FLAG = ("0 or 1", "CAST({v} AS SMALLINT)", "SMALLINT")
    BOOLEAN = ("0 or 1", "({v} = '1')", "BOOLEAN")
    CODE = ("a code like sh.600000", "{v}", "VARCHAR")
    TEXT = ("text", "{v}", "VARCHAR")
    UNADJUSTED = ("3 (unadjusted; daily_bars stores raw prices, adjust at read time)", "{v}", None)

    def __init__(self, accepted: str, cast: str, sql_type: str | None) -> None:
        self.accepted = accepted
        self.cast = cast
        self.sql_type = sql_type


_NUMBER = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"

# Strict on purpose: DuckDB's own casts would round "1.5" to a BIGINT and accept "2024-1-2" or " 2".
_MALFORMED: dict[Kind, str] = {
    Kind.DATE: r"NOT regexp_full_match({v}, '\d{{4}}-\d{{2}}-\d{{2}}') OR TRY_CAST({v} AS DATE) IS NULL",
    Kind.DOUBLE: rf"NOT regexp_full_match({{v}}, '{_NUMBER}') OR NOT isfinite(TRY_CAST({{v}} AS DOUBLE))",
    Kind.BIGINT: r"NOT regexp_full_match({v}, '[-+]?[0-9]+') OR TRY_CAST({v} AS BIGINT) IS NULL",
    Kind.SMALLINT: r"NOT regexp_full_match({v}, '[-+]?[0-9]+') OR TRY_CAST({v} AS SMALLINT) IS NULL",
    Kind.FLAG: "{v} NOT IN ('0', '1')",
    Kind.BOOLEAN: "{v} NOT IN ('0', '1')",
    Kind.CODE: r"NOT regexp_full_match({v}, '[a-z]{{2}}\.[0-9]{{6}}')",
    Kind.TEXT: "false",
    Kind.UNADJUSTED: "{v} <> '3'",
}


SUSPENDED_FLAG = "tradestatus"
"""The daily-bar field whose "0" marks a suspended row."""


@dataclass(frozen=True)
class Field:
    """One BaoStock column: its name on the wire, its warehouse column (None: checked, not stored).

    `when_suspended` is the canonical stored value on a suspended row (tradestatus 0), whatever the
    answer sent: the two daily queries describe the same suspended day differently.
    """

    source: str
    target: str | None
    kind: Kind
    required: bool = False
    description: str = ""
    when_suspended: str | None = None

    @property
    def value(self) -> str:
        """The column as SQL, with BaoStock's empty string read as NULL."""
        return f"NULLIF(\"{self.source}\", '')"

    def malformed(self) -> str:
        """A SQL predicate: true where this column's value is unacceptable."""
        missing = f"{self.value} IS NULL"
        bad = _MALFORMED[self.kind].format(v=self.value)
        return f"({missing} OR {bad})" if self.required else f"({missing} IS FALSE AND ({bad}))"

    def typed(self) -> str:
        """The SQL expression giving the warehouse value (strict: a missed bad value still fails)."""
        cast = self.kind.cast.format(v=self.value)
        if self.when_suspended is not None:
            cast = f"CASE WHEN \"{SUSPENDED_FLAG}\" = '0' THEN {self.when_suspended} ELSE {cast} END"
        return f"{cast} AS {self.target}"

    @property
    def sql_type(self) -> str:
        """The warehouse column's type, e.g. `DATE NOT NULL`."""
        return f"{self.kind.sql_type}{' NOT NULL' if self.required else ''}"


@dataclass(frozen=True)
class RowSpec:
    """The exact columns one kind of BaoStock answer must have, which of them name a row, and the
    table columns they become (its DDL and its typed SELECT)."""

    name: str
    fields: tuple[Field, ...]
    date_column: str | None
    code_column: str | None = "code"

    @property
    def key(self) -> tuple[str, ...]:
        """The columns that name a row and may not repeat in one write: its code and its date."""
        return tuple(column for column in (self.code_column, self.date_column) if column is not None)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.source for f in self.fields)

    @property
    def stored(self) -> tuple[Field, ...]:
        """The fields that become warehouse columns, in the table's order."""
        return tuple(f for f in self.fields if f.target is not None)

    def select_typed(self, view: str, *extra: str) -> str:
        """SELECT the stored columns of `view` cast to the warehouse's types, plus `extra` expressions."""
        stored = [f.typed() for f in self.stored]
        return f"SELECT {', '.join([*stored, *extra])} FROM {view}"

    def create_table(self, table: str, *extra: str, keyed: bool) -> str:
        """CREATE TABLE of the stored columns, then `extra` column definitions; `keyed`: the key as
        PRIMARY KEY."""
        columns = [*(f"{f.target} {f.sql_type}" for f in self.stored), *extra]
        if keyed:
            columns.append(
                f"PRIMARY KEY ({', '.join(f.target for f in self.fields if f.source in self.key)})"
            )
        return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})"


class MalformedRowsError(ValueError):
    """Incoming rows that cannot be stored as they are; nothing was written."""


ROW = "_incoming_row"


@contextmanager
def validated(con: duckdb.DuckDBPyConnection, spec: RowSpec, rows: pd.DataFrame | pa.Table) -> Iterator[str]:
    """Register `rows`' accepted columns plus a row number (column ROW) as a view; yield its name once
    every value is acceptable and no key repeats (else MalformedRowsError naming the first bad row)."""
    with registered_frame(con, _normalized(spec, rows)) as view:
        check_values(con, spec, view)
        check_unique(con, spec, view)
        yield view


@contextmanager
def registered_frame(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Iterator[str]:
    """Expose `frame` to SQL on `con` under a fresh name for the block; unregister it afterwards."""
    view = f"_incoming_{uuid.uuid4().hex[:12]}"
    con.register(view, frame)
    try:
        yield view
    finally:
        con.unregister(view)


def _normalized(spec: RowSpec, rows: pd.DataFrame | pa.Table) -> pd.DataFrame | pa.Table:
    if isinstance(rows, pa.Table):
        _check_columns(spec, rows.column_names)
        columns = [_arrow_strings(spec, column, rows[column]) for column in spec.columns]
        return pa.table([*columns, pa.array(np.arange(rows.num_rows))], names=[*spec.columns, ROW])
    if not isinstance(rows, pd.DataFrame):
        kind = type(rows).__name__
        raise TypeError(f"{spec.name}: expected a DataFrame or an Arrow table of strings, got {kind}")
    _check_columns(spec, list(rows.columns))
    columns = {c: _as_strings(spec, c, rows[c]) for c in spec.columns}
    return pd.DataFrame({**columns, ROW: np.arange(len(rows), dtype=np.int64)})


def _check_columns(spec: RowSpec, names: list[str]) -> None:
    missing = [c for c in spec.columns if c not in names]
    unknown = [c for c in names if c not in spec.columns]
    if missing or unknown:
        raise MalformedRowsError(
            f"{spec.name}: columns must be exactly {','.join(spec.columns)} (BaoStock's field names); "
            f"missing {missing}, unexpected {unknown}"
        )


def _as_strings(spec: RowSpec, column: str, values: pd.Series) -> pd.Series:
    # A column of all-missing values is fine; numbers would hide how BaoStock formatted them.
    if infer_dtype(values, skipna=True) not in ("string", "empty"):
        raise _not_strings(spec, column, values.dtype, values.dropna().iloc[0])
    return values.astype("str").reset_index(drop=True)


def _arrow_strings(spec: RowSpec, column: str, values: pa.ChunkedArray) -> pa.ChunkedArray:
    # As for a frame: a column of all-missing values (Arrow's null type) is fine, numbers are not.
    if pa.types.is_null(values.type):
        return values.cast(pa.string())
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        present = values.drop_null()
        raise _not_strings(spec, column, values.type, present[0] if len(present) else None)
    return values


def _not_strings(spec: RowSpec, column: str, dtype, example) -> MalformedRowsError:
    return MalformedRowsError(
        f"{spec.name}: column {column!r} must hold strings as BaoStock sends them "
        f"(dtype {dtype}, e.g. {example!r}); pass the answer's rows unconverted"
    )


def check_values(con: duckdb.DuckDBPyConnection, spec: RowSpec, view: str) -> None:
    """Raise MalformedRowsError naming the first bad value (column, code, date, row) if any."""
    # Each predicate is evaluated once per row (regexes dominate the cost), then aggregated twice.
    flags = ", ".join(f"{f.malformed()} AS bad_{i}" for i, f in enumerate(spec.fields))
    firsts = ", ".join(f"min({ROW}) FILTER (WHERE bad_{i})" for i in range(len(spec.fields)))
    counts = ", ".join(f"count_if(bad_{i})" for i in range(len(spec.fields)))
    (found,) = con.execute(f"SELECT {firsts}, {counts} FROM (SELECT {ROW}, {flags} FROM {view})").fetchall()
    per_field = zip(found[: len(spec.fields)], spec.fields, found[len(spec.fields) :], strict=True)
    bad = [(row, f, count) for row, f, count in per_field if row is not None]
    if not bad:
        return
    row, field, _ = min(bad, key=lambda item: item[0])
    raise MalformedRowsError(
        f"{spec.name}: column {field.source!r} is {_value_at(con, view, field.source, row)!r}"
        f"{describe_row(con, spec, view, row)}; expected {_expectation(field)}. "
        f"{sum(c for _, _, c in bad)} malformed value(s) in {', '.join(f.source for _, f, _ in bad)}; "
        "nothing was written - fix the source rows (or report the BaoStock answer) and re-run"
    )


def _expectation(field: Field) -> str:
    accepted = field.kind.accepted
    return accepted if field.required else f"{accepted} or an empty string"


def _value_at(con: duckdb.DuckDBPyConnection, view: str, column: str, row: int) -> str | None:
    return con.execute(f'SELECT "{column}" FROM {view} WHERE {ROW} = ?', [row]).fetchall()[0][0]


def describe_row(con: duckdb.DuckDBPyConnection, spec: RowSpec, view: str, row: int) -> str:
    """' for code X on D (row N)': how an error names an incoming row."""
    code = f" for code {_value_at(con, view, spec.code_column, row)}" if spec.code_column else ""
    on = f" on {_value_at(con, view, spec.date_column, row)}" if spec.date_column else ""
    return f"{code}{on} (row {row})"


def check_unique(con: duckdb.DuckDBPyConnection, spec: RowSpec, view: str) -> None:
    """Raise MalformedRowsError if two incoming rows share the table's key."""
    key = ", ".join(f'"{c}"' for c in spec.key)
    found = con.execute(
        f"SELECT {key}, count(*) FROM {view} GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT 3"
    ).fetchall()
    if found:
        examples = "; ".join(", ".join(map(str, row[:-1])) + f" x{row[-1]}" for row in found)
        raise MalformedRowsError(
            f"{spec.name}: rows repeat the key ({', '.join(spec.key)}): {examples}; "
            "nothing was written - each key may appear once in one write"
        )
