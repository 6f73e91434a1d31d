"""Bar revisions: every stored daily_bars value a re-fetch changed, recorded in `bar_revisions`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import duckdb

REVISIONS_TABLE = """
    CREATE TABLE IF NOT EXISTS bar_revisions (
        code VARCHAR NOT NULL,
        trade_date DATE NOT NULL,
        "column" VARCHAR NOT NULL,
        old DOUBLE,
        new DOUBLE,
        seen_at TIMESTAMP NOT NULL,
        batch VARCHAR NOT NULL
    )
"""

REVISED_COLUMNS: tuple[str, ...] = (
    "open", "high", "low", "close", "preclose", "volume", "amount", "turn", "trade_status",
    "pct_chg", "pe_ttm", "ps_ttm", "pcf_ncf_ttm", "pb_mrq", "is_st",
)  # fmt: skip
"""The values of a bar that can be revised (all but its key and bookkeeping), compared as DOUBLE."""


def record_revisions(con: duckdb.DuckDBPyConnection, incoming: str, *, seen_at: datetime) -> int:
    """Record each value of `incoming` (SQL: typed daily_bars rows) that differs from the stored bar of
    the same (code, trade_date); call it in the replacing transaction, before the old rows go."""
    changes = ", ".join(
        f"{{'column': '{col}', 'old': CAST(old.{col} AS DOUBLE), 'new': CAST(new.{col} AS DOUBLE)}}"
        for col in REVISED_COLUMNS
    )
    ((count,),) = con.execute(
        f"""
        INSERT INTO bar_revisions
        SELECT code, trade_date, change['column'], change['old'], change['new'], $seen_at, batch FROM (
            SELECT new.code, new.trade_date, old.batch, unnest([{changes}]) AS change
            FROM ({incoming}) AS new JOIN daily_bars AS old USING (code, trade_date)
        ) WHERE change['old'] IS DISTINCT FROM change['new']
        """,
        {"seen_at": seen_at},
    ).fetchall()
    return int(count)


def with_trailing_days(
    con: duckdb.DuckDBPyConnection, batch_days: Mapping[str, list[date]], count: int
) -> dict[str, list[date]]:
    """Each batch's days plus the last `count` days before its first on which the batch has stored
    bars (trading days, by construction), so that a run re-fetches them and records what changed."""
    extended = {}
    for batch, days in batch_days.items():
        trailing = con.execute(
            """
            SELECT DISTINCT trade_date FROM daily_bars WHERE batch = $batch AND trade_date < $first
            ORDER BY trade_date DESC LIMIT $count
            """,
            {"first": min(days), "count": max(count, 0), "batch": batch},
        ).fetchall()
        extended[batch] = sorted({*days, *(day for (day,) in trailing)})
    return extended
