"""Rows per (trade day, batch): what the warehouse holds and what the simulator's whole market answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from marketdata_pipeline.baostock.session import BaoStockSession
from marketdata_pipeline.batching import batch_of
from marketdata_pipeline.storage import open_warehouse


def stored_rows(path: Path, days: Iterable[date], batches: Iterable[str]) -> Counter:
    """(trade_date, batch) -> rows of daily_bars in the warehouse at `path`, for those days and batches."""
    with open_warehouse(path, read_only=True) as con:
        rows = con.execute(
            "SELECT trade_date, batch, count(*) FROM daily_bars "
            "WHERE list_contains(?, trade_date) AND list_contains(?, batch) GROUP BY ALL",
            [list(days), list(batches)],
        ).fetchall()
    return Counter({(day, batch): count for day, batch, count in rows})


def simulator_rows(address: tuple[str, int], days: Iterable[date], batches: Iterable[str]) -> Counter:
    """(trade_date, batch) -> A-shares in the simulator's whole-market answer of each day."""
    wanted = set(batches)
    counts: Counter = Counter()
    with BaoStockSession(*address, request_timeout=60) as session:
        for day in days:
            answer = session.query_daily_history_k_AStock(day.isoformat())
            code = answer.fields.index("code")
            counts.update(
                (day, batch) for batch in map(batch_of, (row[code] for row in answer.rows)) if batch in wanted
            )
    return counts
