"""Atomic writes: each replaces one slice of a table in one transaction, or records ingest failures.

Every function validates all incoming rows before it touches the database (a bad value or a row
outside the slice raises ValueError and nothing is written), then deletes the slice and inserts the
typed rows in one transaction: a crash or an error leaves the old slice or the new one, never a mix.
Re-running with the same rows gives the same table. Call `ensure_schema(con)` once before writing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime

import duckdb
import pandas as pd

from marketdata_pipeline.batching import BATCHES, batch_of
from marketdata_pipeline.storage.columns import (
    ADJUST_FACTORS,
    DAILY_BARS,
    STOCK_UNIVERSE_BY_DAY,
    STOCK_UNIVERSE_DAY,
    TRADE_CALENDAR,
)
from marketdata_pipeline.storage.connection import bound, utc_now, write_transaction
from marketdata_pipeline.storage.incoming import (
    ROW,
    MalformedRowsError,
    RowSpec,
    describe_row,
    registered_frame,
    validated,
)
from marketdata_pipeline.storage.revisions import record_revisions


def replace_daily_bars(
    con: duckdb.DuckDBPyConnection,
    bars: pd.DataFrame,
    *,
    batch: str,
    start: date,
    end: date,
    codes: Collection[str] | None = None,
) -> int:
    """Replace the daily bars of `batch` dated `start`..`end` with `bars`; return the rows inserted.

    `bars` holds BaoStock's daily fields as strings (see `columns.DAILY_BARS`). With `codes`, only
    those codes' rows in the slice are replaced (others, e.g. symbols whose fetch failed, are kept)
    and every row must be of one of them. Every row must fall in the slice.
    """
    _check_range(start, end)
    wanted = _checked_codes(codes, batch)
    with validated(con, DAILY_BARS, bars) as view:
        _check_dates_within(con, DAILY_BARS, view, start, end)
        _check_codes_belong(con, view, batch, wanted)
        return _replace_bars_slice(con, DAILY_BARS.select_typed(view), batch, start, end, wanted)


def replace_daily_bars_from_stage(
    con: duckdb.DuckDBPyConnection,
    staged: str,
    *,
    batch: str,
    start: date,
    end: date,
    codes: Collection[str],
) -> int:
    """Replace the rows of `codes` (all of `batch`) dated `start`..`end` with those in the `staged` table.

    `staged` names a table of typed bars already validated (`stage.attached` yields it); only its
    rows of `codes` within the slice are copied, so one stage serves every batch of a run.
    """
    _check_range(start, end)
    wanted = _checked_codes(codes, batch)
    typed = (
        f"SELECT * FROM {staged} WHERE trade_date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE) "
        "AND list_contains($codes, code)"
    )
    return _replace_bars_slice(con, typed, batch, start, end, wanted)


def _replace_bars_slice(
    con: duckdb.DuckDBPyConnection, typed: str, batch: str, start: date, end: date,
    wanted: frozenset[str] | None,
) -> int:  # fmt: skip
    """Delete the slice (limited to `wanted` codes) and insert the rows of the `typed` query, atomically."""
    where = "batch = $batch AND trade_date BETWEEN $start AND $end"
    params: dict[str, object] = {"batch": batch, "start": start, "end": end}
    if wanted is not None:
        where += " AND list_contains($codes, code)"
        params["codes"] = sorted(wanted)
    now = utc_now()
    insert = f"INSERT INTO daily_bars BY NAME SELECT *, $batch AS batch, $now AS ingested_at FROM ({typed})"
    with write_transaction(con):
        record_revisions(con, typed, params, replaced=where, seen_at=now)
        con.execute(f"DELETE FROM daily_bars WHERE {where}", params)
        return _inserted(con.execute(insert, bound(insert, {**params, "now": now})))


def rows_per_day(con: duckdb.DuckDBPyConnection, *, batch: str, start: date, end: date) -> dict[date, int]:
    """Stored daily_bars rows of `batch` per trading day from `start` to `end` (days without rows absent)."""
    found = con.execute(
        "SELECT trade_date, count(*) FROM daily_bars WHERE batch = ? AND trade_date BETWEEN ? AND ? "
        "GROUP BY trade_date",
        [batch, start, end],
    ).fetchall()
    return {day: int(count) for day, count in found}


def replace_adjust_factors(
    con: duckdb.DuckDBPyConnection, factors: pd.DataFrame, codes: Collection[str]
) -> int:
    """Replace every adjust factor of `codes` with `factors` (BaoStock's query_adjust_factor rows).

    A code of `codes` without rows in `factors` is left with none (it has had no ex-date).
    """
    wanted = _checked_codes(codes, batch=None)
    with validated(con, ADJUST_FACTORS, factors) as view:
        _check_codes_belong(con, view, batch=None, wanted=wanted)
        with write_transaction(con):
            con.execute("DELETE FROM adjust_factors WHERE list_contains(?, code)", [sorted(wanted)])
            typed = ADJUST_FACTORS.select_typed(view)
            return _inserted(con.execute(f"INSERT INTO adjust_factors BY NAME {typed}"))


def replace_stock_universe(con: duckdb.DuckDBPyConnection, universe: pd.DataFrame, trade_date: date) -> int:
    """Replace the universe of `trade_date` with `universe`; each code's batch is stored beside it.

    `universe` is query_all_stock's rows joined with query_stock_basic's (see
    `columns.STOCK_UNIVERSE_BY_DAY`, less its day).
    """
    rows = universe.assign(**{STOCK_UNIVERSE_DAY: trade_date.isoformat()})
    return replace_stock_universes(con, rows, [trade_date])[trade_date]


def replace_stock_universes(
    con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, days: Collection[date]
) -> dict[date, int]:
    """Replace the universe of each of `days` with its `rows` (STOCK_UNIVERSE_BY_DAY: a universe's
    rows plus their day) in one validation and one transaction; return the rows stored per day.

    A history load stores thousands of days: one statement per chunk of days, not per day.
    """
    days = sorted(days)
    for day in days:
        _check_range(day, day)
    if not days:
        return {}
    with validated(con, STOCK_UNIVERSE_BY_DAY, rows) as view:
        _check_dates_within(con, STOCK_UNIVERSE_BY_DAY, view, days[0], days[-1], among=days)
        codes = _distinct_codes(con, view)
        batches = pd.DataFrame({"code": codes, "batch": [batch_of(code) for code in codes]}, dtype="str")
        # The range lets DuckDB skip the table's row groups of other days (list_contains alone scans all).
        of_days = "trade_date BETWEEN $first AND $last AND list_contains($days, trade_date)"
        bounds = {"first": days[0], "last": days[-1], "days": days}
        with registered_frame(con, batches) as batch_view, write_transaction(con):
            con.execute(f"DELETE FROM stock_universe WHERE {of_days}", bounds)
            typed = STOCK_UNIVERSE_BY_DAY.select_typed(f"{view} JOIN {batch_view} USING (code)", "batch")
            con.execute(f"INSERT INTO stock_universe BY NAME {typed}")
            counts = con.execute(
                f"SELECT trade_date, count(*) FROM stock_universe WHERE {of_days} GROUP BY 1", bounds
            ).fetchall()
    stored = {day: int(count) for day, count in counts}
    return {day: stored.get(day, 0) for day in days}


def replace_trade_calendar(
    con: duckdb.DuckDBPyConnection, calendar: pd.DataFrame, start: date, end: date
) -> int:
    """Replace the calendar from `start` to `end` with `calendar` (query_trade_dates rows).

    The rows must list every calendar date of the range exactly once: a gap would be ambiguous.
    """
    _check_range(start, end)
    with validated(con, TRADE_CALENDAR, calendar) as view:
        _check_dates_within(con, TRADE_CALENDAR, view, start, end)
        _check_every_date_listed(con, view, start, end)
        with write_transaction(con):
            con.execute("DELETE FROM trade_calendar WHERE calendar_date BETWEEN ? AND ?", [start, end])
            typed = TRADE_CALENDAR.select_typed(view)
            return _inserted(con.execute(f"INSERT INTO trade_calendar BY NAME {typed}"))


def record_failures(
    con: duckdb.DuckDBPyConnection, failures: Iterable[object], *, run_id: str, batch: str | None
) -> int:
    """Append failures (objects with code, start_date, end_date, error_type, message); return how many."""
    recorded_at = utc_now()
    rows = [[run_id, batch, *_failure_values(i, failure), recorded_at] for i, failure in enumerate(failures)]
    if not rows:
        return 0
    with write_transaction(con):
        con.executemany("INSERT INTO ingest_failures VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


_FAILURE_FIELDS = ("code", "start_date", "end_date", "error_type", "message")


def _failure_values(index: int, failure: object) -> list[object]:
    missing = [name for name in _FAILURE_FIELDS if not hasattr(failure, name)]
    if missing:
        raise TypeError(
            f"failure #{index} ({type(failure).__name__}) has no {', '.join(missing)}; "
            f"pass objects with attributes {', '.join(_FAILURE_FIELDS)}"
        )
    code, start, end, error_type, message = (getattr(failure, name) for name in _FAILURE_FIELDS)
    return [code, _as_date(index, "start_date", start), _as_date(index, "end_date", end), error_type, message]


def _as_date(index: int, name: str, value: object) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"failure #{index}: {name} must be a date, an ISO date string or None, got {value!r}")


def _check_range(start: date, end: date) -> None:
    for value in (start, end):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise TypeError(f"slice bounds must be datetime.date values, got {value!r}")
    if start > end:
        raise ValueError(f"slice start {start} is after its end {end}")


def _checked_codes(codes: Collection[str] | None, batch: str | None) -> frozenset[str] | None:
    if batch is not None and batch not in BATCHES:
        raise ValueError(f"batch {batch!r} is not one of {BATCHES[0]}..{BATCHES[-1]}")
    if codes is None:
        return None
    if isinstance(codes, str):
        raise TypeError(f"codes must be a collection of codes, not the string {codes!r}")
    wanted = frozenset(codes)
    strays = sorted(code for code in wanted if batch is not None and batch_of(code) != batch)
    if strays:
        raise ValueError(
            f"codes {strays[:5]} are not in batch {batch} (their batch is {batch_of(strays[0])}, ...)"
        )
    return wanted


def _check_dates_within(
    con: duckdb.DuckDBPyConnection, spec: RowSpec, view: str, start: date, end: date,
    among: list[date] | None = None,
) -> None:  # fmt: skip
    """Refuse rows dated outside start..end, or on a day not `among` the ones replaced: nothing
    would delete that day's stored rows first."""
    day = f'CAST("{spec.date_column}" AS DATE)'
    outside = f"{day} NOT BETWEEN $start AND $end"
    if among:
        outside += f" OR NOT list_contains($among, {day})"
    found = con.execute(
        f"SELECT {ROW}, count(*) OVER () FROM {view} WHERE {outside} ORDER BY {ROW} LIMIT 1",
        {"start": start, "end": end, **({"among": among} if among else {})},
    ).fetchall()
    if found:
        ((row, count),) = found
        slice_ = f"the days replaced ({start}..{end})" if among else f"the slice {start}..{end}"
        raise MalformedRowsError(
            f"{spec.name}: {count} row(s) fall outside {slice_}, "
            f"first{describe_row(con, spec, view, row)}; "
            "nothing was written - pass only the slice's rows or widen start/end"
        )


def _distinct_codes(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    return [row[0] for row in con.execute(f"SELECT DISTINCT code FROM {view} ORDER BY code").fetchall()]


def _check_codes_belong(
    con: duckdb.DuckDBPyConnection, view: str, batch: str | None, wanted: frozenset[str] | None
) -> None:
    codes = _distinct_codes(con, view)
    strays = [code for code in codes if batch is not None and batch_of(code) != batch]
    if strays:
        raise MalformedRowsError(
            f"rows of codes {strays[:5]} belong to batch {batch_of(strays[0])}, not {batch}; "
            "nothing was written - pass each batch its own codes"
        )
    strays = [code for code in codes if wanted is not None and code not in wanted]
    if strays:
        raise MalformedRowsError(
            f"rows of codes {strays[:5]} are not among the codes being replaced; "
            "nothing was written - add them to `codes` or drop their rows"
        )


def _check_every_date_listed(con: duckdb.DuckDBPyConnection, view: str, start: date, end: date) -> None:
    missing = con.execute(
        f"SELECT day::DATE FROM range(CAST(? AS DATE), CAST(? AS DATE) + 1, INTERVAL 1 DAY) AS days(day) "
        f"ANTI JOIN {view} ON CAST({view}.calendar_date AS DATE) = day::DATE ORDER BY 1",
        [start, end],
    ).fetchall()
    if missing:
        raise MalformedRowsError(
            f"trade calendar: {len(missing)} date(s) of {start}..{end} are not listed, "
            f"first {missing[0][0]}; "
            "nothing was written - pass every calendar date of the range"
        )


def _inserted(result: duckdb.DuckDBPyConnection) -> int:
    ((count,),) = result.fetchall()
    return int(count)
