"""Data checks on a written slice of daily_bars (batch x start..end): plain queries, small results."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

import duckdb

EXAMPLES = 5


@dataclass(frozen=True)
class CheckResult:
    """One check on one slice: whether it passed, its counts, and a few offending rows as dicts."""

    name: str
    passed: bool
    numbers: dict[str, int]
    examples: tuple[dict[str, object], ...]


def _slice(batch: str, start: date, end: date) -> dict[str, object]:
    """The named parameters of _SLICE."""
    return {"batch": batch, "start": start, "end": end}


_SLICE = "batch = $batch AND trade_date BETWEEN $start AND $end"


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> tuple[dict, ...]:
    result = con.execute(sql, dict(params))
    names = [column[0] for column in result.description]
    return tuple(dict(zip(names, row, strict=True)) for row in result.fetchall())


def _numbers(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> dict[str, int]:
    (row,) = _dicts(con, sql, params)
    return {name: int(value or 0) for name, value in row.items()}


def check_unique_bars(con: duckdb.DuckDBPyConnection, *, batch: str, start: date, end: date) -> CheckResult:
    """Each (code, trade_date) of the slice appears once."""
    params = _slice(batch, start, end)
    repeated = f"SELECT code, trade_date, count(*) AS copies FROM daily_bars WHERE {_SLICE} GROUP BY ALL"
    numbers = _numbers(
        con,
        f"SELECT sum(copies) AS rows, count(*) FILTER (WHERE copies > 1) AS duplicate_keys, "
        f"sum(copies - 1) AS extra_rows FROM ({repeated})",
        params,
    )
    examples = _dicts(con, f"{repeated} HAVING copies > 1 ORDER BY ALL LIMIT {EXAMPLES}", params)
    return CheckResult("unique (code, trade_date)", numbers["duplicate_keys"] == 0, numbers, examples)


# A trading row missing a price is a violation too; spelled out because greatest/least skip NULLs.
_OHLC_VIOLATION = (
    "(open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL "
    "OR high < greatest(open, close) OR low > least(open, close) OR low > high)"
)


def check_ohlc(con: duckdb.DuckDBPyConnection, *, batch: str, start: date, end: date) -> CheckResult:
    """On trading (non-suspended) rows: low <= min(open, close) <= max(open, close) <= high."""
    params = _slice(batch, start, end)
    trading = f"FROM daily_bars WHERE {_SLICE} AND trade_status = 1"
    numbers = _numbers(
        con,
        f"SELECT count(*) AS rows_checked, count(*) FILTER (WHERE {_OHLC_VIOLATION}) AS violations {trading}",
        params,
    )
    examples = _dicts(
        con,
        f"SELECT trade_date, code, open, high, low, close {trading} AND {_OHLC_VIOLATION} "
        f"ORDER BY trade_date, code LIMIT {EXAMPLES}",
        params,
    )
    return CheckResult("OHLC consistency", numbers["violations"] == 0, numbers, examples)


A_SHARES: tuple[int, ...] = (1,)
"""stock_basic's type of A-shares (2 index, 3 other, 4 convertible bond, 5 ETF)."""


def check_completeness(
    con: duckdb.DuckDBPyConnection,
    *,
    batch: str,
    start: date,
    end: date,
    expected_per_date: Mapping[date, int] | None = None,
    types: Collection[int] | None = A_SHARES,
) -> CheckResult:
    """Rows per date equal the symbols expected that date.

    By default the expectation is the batch's codes in stock_universe for the date whose stock_basic
    type is in `types` (None: every code; pass the types that were fetched, e.g. (1, 2) with indices).
    Checked dates are the trading days of trade_calendar, the universe's dates and the slice's dates
    within start..end; a date without any universe rows has no expectation and fails the check (write
    the universe first). With `expected_per_date`, the expectation is that count per date, over its
    dates and the slice's.
    """
    params = _slice(batch, start, end)
    if expected_per_date is None:
        if types is not None:
            params["types"] = sorted(int(kind) for kind in types)
        return _complete_against_universe(con, params, filter_types=types is not None)
    params["dates"] = list(expected_per_date)
    params["counts"] = [int(count) for count in expected_per_date.values()]
    return _complete_against_counts(con, params)


def _per_date_numbers(*extra: str) -> str:
    """Totals over the `per_date` (trade_date, expected, actual) relation, plus `extra` columns."""
    columns = [
        "count(*) AS dates_checked",
        "sum(expected) AS expected_rows",
        "sum(actual) AS actual_rows",
        "count(*) FILTER (WHERE actual < expected) AS short_dates",
        "count(*) FILTER (WHERE actual > expected) AS over_dates",
        "count(*) FILTER (WHERE expected IS NULL) AS dates_without_expectation",
        *extra,
    ]
    return f" SELECT {', '.join(columns)} FROM per_date"


_PER_DATE_EXAMPLES = f"""
    SELECT trade_date, expected, actual FROM per_date
    WHERE expected IS DISTINCT FROM actual ORDER BY trade_date LIMIT {EXAMPLES}
"""


def _complete_against_counts(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> CheckResult:
    per_date = f"""
        WITH expected AS (
            SELECT unnest($dates::DATE[]) AS trade_date, unnest($counts::BIGINT[]) AS expected
        ),
        actual AS (SELECT trade_date, count(*) AS actual FROM daily_bars WHERE {_SLICE} GROUP BY ALL),
        per_date AS (
            SELECT trade_date, coalesce(expected, 0) AS expected, coalesce(actual, 0) AS actual
            FROM expected FULL JOIN actual USING (trade_date)
            WHERE trade_date BETWEEN $start AND $end
        )
    """
    numbers = _numbers(con, per_date + _per_date_numbers(), params)
    examples = _dicts(con, per_date + _PER_DATE_EXAMPLES, params)
    passed = numbers["short_dates"] == 0 and numbers["over_dates"] == 0
    return CheckResult("rows per date vs expected", passed, numbers, examples)


def _universe_slices(filter_types: bool) -> str:
    """CTEs: the slice's bars, the universe expected of it, and per-date expected/actual counts."""
    of_types = " AND list_contains($types, type)" if filter_types else ""
    return f"""
    WITH bars AS (SELECT trade_date, code FROM daily_bars WHERE {_SLICE}),
    universe AS (SELECT trade_date, code FROM stock_universe WHERE {_SLICE}{of_types}),
    known AS (SELECT DISTINCT trade_date FROM stock_universe WHERE trade_date BETWEEN $start AND $end),
    days AS (
        SELECT trade_date FROM bars
        UNION SELECT trade_date FROM universe
        UNION SELECT calendar_date FROM trade_calendar
            WHERE is_trading_day AND calendar_date BETWEEN $start AND $end
    ),
    per_date AS (
        SELECT days.trade_date,
               CASE WHEN known.trade_date IS NOT NULL
                    THEN (SELECT count(*) FROM universe WHERE universe.trade_date = days.trade_date) END
                   AS expected,
               (SELECT count(*) FROM bars WHERE bars.trade_date = days.trade_date) AS actual
        FROM days LEFT JOIN known USING (trade_date)
    ),
    missing AS (SELECT trade_date, code FROM universe ANTI JOIN bars USING (trade_date, code)),
    unexpected AS (SELECT trade_date, code FROM bars SEMI JOIN known USING (trade_date)
                   ANTI JOIN universe USING (trade_date, code))
"""


_CODE_EXAMPLES = f"""
    SELECT trade_date, code, 'missing' AS problem FROM missing
    UNION ALL SELECT trade_date, code, 'unexpected' AS problem FROM unexpected
    ORDER BY ALL LIMIT {EXAMPLES}
"""


def _complete_against_universe(
    con: duckdb.DuckDBPyConnection, params: dict[str, object], filter_types: bool
) -> CheckResult:
    slices = _universe_slices(filter_types)
    counts = (
        "(SELECT count(*) FROM missing) AS missing_codes",
        "(SELECT count(*) FROM unexpected) AS unexpected_codes",
    )
    numbers = _numbers(con, slices + _per_date_numbers(*counts), params)
    examples = _dicts(con, slices + _CODE_EXAMPLES, params) or _dicts(
        con, slices + _PER_DATE_EXAMPLES, params
    )
    passed = not any(numbers[name] for name in ("short_dates", "over_dates", "dates_without_expectation"))
    return CheckResult("rows per date vs stock_universe", passed, numbers, examples)
