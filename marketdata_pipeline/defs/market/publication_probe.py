"""Ask BaoStock whether a trading day is published: one short-lived session, one query, always closed."""

from __future__ import annotations

from datetime import date

from marketdata_pipeline.baostock import BaoStockError, BaoStockSession
from marketdata_pipeline.baostock.budget import EndpointLedger, RequestBudget
from marketdata_pipeline.defs.market.partitions import DATE_FORMAT
from marketdata_pipeline.defs.settings import baostock_address, baostock_state_dir, setting

# A sensor tick must end well within Dagster's 60 s sensor timeout, even when the
# server stalls on every request: connect + login + 3 pages of query_all_stock + logout
# cost at most 5 + 5 x 10 = 55 s. A page of 2,000 rows takes well under a second.
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 10.0


def unpublished_reason(day: date) -> str | None:
    """None when BaoStock lists securities for `day` (`query_all_stock` non-empty), else why not.

    Uses `baostock_address()` and BAOSTOCK_USER/PASSWORD/API_KEY. Never raises a BaoStock
    error: an unreachable or refusing server becomes a reason naming host:port.
    """
    host, port = baostock_address()
    per_day = setting("BAOSTOCK_MAX_REQUESTS_PER_DAY")
    ledger = EndpointLedger(baostock_state_dir(), f"{host}:{port}") if per_day else None
    # Its few requests count toward the day's budget and cap like a run's.
    budget = RequestBudget(setting("BAOSTOCK_MAX_REQUESTS_PER_SECOND"), per_day, ledger)
    session = BaoStockSession(
        host,
        port,
        user=setting("BAOSTOCK_USER"),
        password=setting("BAOSTOCK_PASSWORD"),
        api_key=setting("BAOSTOCK_API_KEY") or None,
        connect_timeout=CONNECT_TIMEOUT,
        request_timeout=REQUEST_TIMEOUT,
        budget=budget,
    )
    try:
        with session:
            listed = len(session.query_all_stock(day.strftime(DATE_FORMAT)))
    except BaoStockError as exc:
        return f"cannot ask BaoStock at {session.endpoint} whether {day} is published - will ask again: {exc}"
    finally:
        budget.close()
    if not listed:
        return f"BaoStock at {session.endpoint} has not published {day} yet (query_all_stock is empty)"
    return None
