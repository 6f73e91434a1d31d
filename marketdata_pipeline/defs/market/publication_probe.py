"""Ask BaoStock whether a trading day is published: one short-lived session, one query, always closed."""

from __future__ import annotations

from datetime import date

from marketdata_pipeline.baostock import BaoStockError, BaoStockSession
from marketdata_pipeline.baostock.budget import EndpointLedger, RequestBudget
from marketdata_pipeline.defs.market.partitions import DATE_FORMAT
from marketdata_pipeline.defs.settings import load_settings

# A sensor tick must end well within Dagster's 60 s sensor timeout, even when the
# server stalls on every request: connect + login + 3 pages of query_all_stock + logout
# cost at most 5 + 5 x 10 = 55 s. A page of 2,000 rows takes well under a second.
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 10.0


def unpublished_reason(day: date) -> str | None:
    """None when BaoStock lists securities for `day` (`query_all_stock` non-empty), else why not.

    Uses the settings' address and BAOSTOCK_USER/PASSWORD/API_KEY. Never raises a BaoStock
    error: an unreachable or refusing server becomes a reason naming host:port.
    """
    settings = load_settings()
    host, port = settings.address
    per_day = settings.max_requests_per_day
    ledger = EndpointLedger(settings.state_dir, f"{host}:{port}") if per_day else None
    # Its few requests count toward the day's budget and cap like a run's.
    budget = RequestBudget(settings.max_requests_per_second, per_day, ledger)
    session = BaoStockSession(
        host,
        port,
        user=settings.user,
        password=settings.password,
        api_key=settings.api_key or None,
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
