"""Ask BaoStock whether a trading day is published, through the run's own pool: one session, one query.

The publication sensor and `marketdata doctor` both ask this way, through a
`BaoStockPool` built from the `baostock` resource's settings: the same
endpoints (fallbacks included), account, request caps and daily ledger as a
run, so the few requests count toward the day's budget like a run's.
"""

from __future__ import annotations

from datetime import date

from marketdata_pipeline.baostock import BaoStockError
from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.defs.market.partitions import DATE_FORMAT
from marketdata_pipeline.defs.sessions.resources import BaoStockPoolResource

# A sensor tick must end within Dagster's 60 s sensor timeout: waiting at most this long for a
# logged-in session (connect + login, endpoint after endpoint) leaves room for one answer.
SESSION_WAIT_S = 15.0


def listed_securities(pool: BaoStockPool, day: date) -> int:
    """How many securities `query_all_stock(day)` lists: 0 until BaoStock has published `day`.

    Raises the pool's BaoStockError when no endpoint answers within SESSION_WAIT_S or the query fails.
    """
    with pool.session(timeout=SESSION_WAIT_S) as session:
        return len(session.query_all_stock(day.strftime(DATE_FORMAT)))


def unlisted_reason(baostock: BaoStockPoolResource, day: date) -> str | None:
    """None when BaoStock lists securities for `day`, else why not (errors become reasons, never raised)."""
    where = ", ".join(f"{host}:{port}" for host, port in baostock.endpoints())
    try:
        listed = listed_securities(baostock.pool, day)
    except BaoStockError as exc:
        return f"cannot ask BaoStock at {where} whether {day} is published - will ask again: {exc}"
    if not listed:
        return f"BaoStock at {where} has not published {day} yet (query_all_stock is empty)"
    return None
