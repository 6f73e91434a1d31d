"""The stored universe read back: which days are stored, and their codes shaped like fetched rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import pandas as pd

# Per code, its latest row over the days: listing facts (IPO, out date, type) do not change by day.
# The columns and their order are those of a fetched universe (ingest.universe.UNIVERSE_COLUMNS).
_STORED_UNIVERSE = """
    SELECT DISTINCT ON (code) code, code_name, CAST(trade_status AS VARCHAR) AS tradeStatus,
           coalesce(strftime(ipo_date, '%Y-%m-%d'), '') AS ipoDate,
           coalesce(strftime(out_date, '%Y-%m-%d'), '') AS outDate,
           coalesce(CAST(type AS VARCHAR), '') AS type, coalesce(CAST(status AS VARCHAR), '') AS status, batch
    FROM stock_universe WHERE list_contains($days, trade_date) AND list_contains($batches, batch)
    ORDER BY code, trade_date DESC
"""


def stored_universe_days(con: duckdb.DuckDBPyConnection, days: list[date]) -> set[date]:
    """Which of `days` already have their universe in the warehouse."""
    rows = con.execute(
        "SELECT DISTINCT trade_date FROM stock_universe WHERE list_contains(?, trade_date)", [days]
    ).fetchall()
    return {row[0] for row in rows}


def stored_universe(con: duckdb.DuckDBPyConnection, days: list[date], batches: Iterable[str]) -> pd.DataFrame:
    """The codes of `batches` stored for any of `days`, once each, as strings like `fetch_universe` rows.

    Filtered in SQL: a year of the whole market is over a million rows, of which a run needs its
    batches' share only.
    """
    return con.execute(_STORED_UNIVERSE, {"days": days, "batches": sorted(batches)}).df().astype(str)
