"""Bar revisions: every stored daily_bars value a re-fetch changed, recorded in `bar_revisions`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from itertools import takewhile

import duckdb

from marketdata_pipeline.storage.columns import DAILY_BARS

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

REVISED_COLUMNS: tuple[str, ...] = tuple(
    f.target for f in DAILY_BARS.stored if f.source not in DAILY_BARS.key
)
"""The values of a bar that can be revised (all but its key and bookkeeping), compared as DOUBLE."""


def record_revisions(
    con: duckdb.DuckDBPyConnection,
    incoming: str,
    params: Mapping[str, object],
    *,
    replaced: str,
    seen_at: datetime,
) -> int:
    """Record each value of `incoming` (SQL: typed daily_bars rows) that differs from the stored bar
    of the same (code, trade_date) among the rows the write `replaced` (a condition on daily_bars;
    `params` names the values of both); call it in the replacing transaction, before the old rows
    go. Joining the replaced slice only, not the whole table, keeps the memory and time of a
    write the slice's: all of daily_bars went through the join before (+450 MB beside 8.6M bars)."""
    changes = ", ".join(
        f"{{'column': '{col}', 'old': CAST(old.{col} AS DOUBLE), 'new': CAST(new.{col} AS DOUBLE)}}"
        for col in REVISED_COLUMNS
    )
    ((count,),) = con.execute(
        f"""
        INSERT INTO bar_revisions
        SELECT code, trade_date, change['column'], change['old'], change['new'], $seen_at, batch FROM (
            SELECT new.code, new.trade_date, old.batch, unnest([{changes}]) AS change
            FROM ({incoming}) AS new
            JOIN (SELECT * FROM daily_bars WHERE {replaced}) AS old USING (code, trade_date)
        ) WHERE change['old'] IS DISTINCT FROM change['new']
        """,
        {**params, "seen_at": seen_at},
    ).fetchall()
    return int(count)


def with_trailing_days(
    con: duckdb.DuckDBPyConnection, batch_days: Mapping[str, list[date]], before: Mapping[str, list[date]]
) -> dict[str, list[date]]:
    """Each batch's days plus its trailing window: of `before[batch]` (the trading days right before
    its first day, oldest first), the latest ones back to the first the batch has no stored bars on.

    A gap ends the window so the slice a run replaces (first..last day) holds only days it fetches:
    a day between would be deleted without being written again, and lost if another run wrote it.
    """
    extended = {}
    for batch, days in batch_days.items():
        candidates = sorted(before.get(batch, []))
        stored = {
            day
            for (day,) in con.execute(
                "SELECT DISTINCT trade_date FROM daily_bars WHERE batch = ? AND list_contains(?, trade_date)",
                [batch, candidates],
            ).fetchall()
        }
        trailing = takewhile(stored.__contains__, reversed(candidates))
        extended[batch] = sorted({*days, *trailing})
    return extended
