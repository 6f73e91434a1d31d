"""Reading back what a run left in the warehouse file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from marketdata_pipeline.storage import open_warehouse
from marketdata_pipeline_tests.pipeline.official import PRICE_COLUMNS, STORED_COLUMNS


def stored_bars(db_path: Path, batch: str, start: date, end: date, table: str = "daily_bars") -> list[tuple]:
    """The slice's rows as `SELECT {STORED_COLUMNS}` from `table` (a table or view), by code then date."""
    if table not in ("daily_bars", "daily_bars_qfq", "daily_bars_hfq"):
        raise ValueError(f"table {table!r} is not daily_bars or one of its adjusted views")
    with open_warehouse(db_path, read_only=True) as con:
        return con.execute(
            f"SELECT {STORED_COLUMNS} FROM {table} WHERE batch = ? AND trade_date BETWEEN ? AND ? "
            "ORDER BY code, trade_date",
            [batch, start, end],
        ).fetchall()


def stored_prices(db_path: Path, table: str, codes: list[str], start: date, end: date) -> dict[tuple, dict]:
    """(code, ISO date) -> the five prices of `table` for `codes`, dated `start`..`end`."""
    columns = ", ".join(PRICE_COLUMNS)
    with open_warehouse(db_path, read_only=True) as con:
        rows = con.execute(
            f"SELECT code, strftime(trade_date, '%Y-%m-%d'), {columns} FROM {table} "
            "WHERE list_contains(?, code) AND trade_date BETWEEN ? AND ?",
            [codes, start, end],
        ).fetchall()
    return {(code, day): dict(zip(PRICE_COLUMNS, values, strict=True)) for code, day, *values in rows}


def slice_versions(db_path: Path, batch: str, start: date, end: date) -> list[tuple]:
    """(ingested_at, rows) of each write that left rows in the slice: one pair for a whole slice."""
    with open_warehouse(db_path, read_only=True) as con:
        return con.execute(
            "SELECT ingested_at, count(*) FROM daily_bars WHERE batch = ? AND trade_date BETWEEN ? AND ? "
            "GROUP BY ingested_at ORDER BY ingested_at",
            [batch, start, end],
        ).fetchall()


def column_types(db_path: Path, table: str = "daily_bars") -> dict[str, str]:
    """Column name -> DuckDB type of `table`."""
    with open_warehouse(db_path, read_only=True) as con:
        return dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
        )


def duplicate_keys(db_path: Path) -> int:
    """How many (code, trade_date) keys appear more than once in daily_bars."""
    with open_warehouse(db_path, read_only=True) as con:
        (count,) = con.execute(
            "SELECT count(*) FROM (SELECT code, trade_date FROM daily_bars GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()
    return count


def row_count(db_path: Path, table: str = "daily_bars") -> int:
    """How many rows `table` holds."""
    if table not in ("daily_bars", "stock_universe", "adjust_factors", "ingest_failures"):
        raise ValueError(f"table {table!r} is not one of the warehouse's tables")
    with open_warehouse(db_path, read_only=True) as con:
        (count,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return count


def rows_per_stored_day(db_path: Path, batch: str, start: date, end: date) -> list[tuple[date, int]]:
    """(trade_date, rows) of the batch's stored days from `start` to `end`, by date."""
    with open_warehouse(db_path, read_only=True) as con:
        return con.execute(
            "SELECT trade_date, count(*) FROM daily_bars WHERE batch = ? AND trade_date BETWEEN ? AND ? "
            "GROUP BY 1 ORDER BY 1",
            [batch, start, end],
        ).fetchall()
