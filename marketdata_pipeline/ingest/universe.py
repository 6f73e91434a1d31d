"""The universe: securities trading on a day, with their listing facts (IPO, delisting, type) and batch."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

import pandas as pd

from marketdata_pipeline.batching import batch_of
from marketdata_pipeline.ingest.calls import (
    REFERENCE_DATA_RETRY,
    RetryPolicy,
    call_with_retry,
    result_or_raise,
    run_bounded,
)
from marketdata_pipeline.ingest.completeness import ListingWindow
from marketdata_pipeline.ingest.inputs import as_date, iso_day, required_date, worker_count
from marketdata_pipeline.ingest.result_fields import pick_fields

ALL_STOCK_FIELDS = ("code", "tradeStatus", "code_name")
STOCK_BASIC_FIELDS = ("code", "code_name", "ipoDate", "outDate", "type", "status")
STOCK_BASIC_COLUMNS = (*STOCK_BASIC_FIELDS, "batch")
UNIVERSE_COLUMNS = ("code", "code_name", "tradeStatus", "ipoDate", "outDate", "type", "status", "batch")

STOCK_TYPE, INDEX_TYPE = "1", "2"

Rows = list[tuple[str, ...]]


def fetch_universe(session_or_pool, day: date | str, *, retry: RetryPolicy | None = None) -> pd.DataFrame:
    """Every security trading on `day` (`query_all_stock`) with its listing facts and batch.

    Joins `query_stock_basic()` for ipoDate, outDate, type and status (empty
    strings when BaoStock has no basic row for a code). Columns are
    UNIVERSE_COLUMNS, all strings, sorted by code. Empty before the day's data
    is published or on a non-trading day. Errors raise: a universe is whole or
    nothing. Takes a pool (retries transport errors) or one logged-in session.
    """
    day_iso = iso_day(day, "day")

    def query(session) -> pd.DataFrame:
        return _universe_frame(_all_stock_rows(session, day_iso), _listing_facts(_stock_basic_rows(session)))

    if hasattr(session_or_pool, "query_all_stock"):
        return query(session_or_pool)
    return result_or_raise(call_with_retry(session_or_pool, query, retry or REFERENCE_DATA_RETRY))


def fetch_universes(
    pool, days: Iterable[date | str], max_workers: int | None = None, *, retry: RetryPolicy | None = None
) -> dict[date, pd.DataFrame]:
    """`fetch_universe` for each of `days`, as day -> frame, in day order (see `fetch_universe_chunks`)."""
    days = list(days)  # one chunk holds them all
    chunks = fetch_universe_chunks(pool, days, max(len(days), 1), max_workers, retry=retry)
    return {day: universe for chunk in chunks for day, universe in chunk.items()}


def fetch_universe_chunks(
    pool,
    days: Iterable[date | str],
    chunk_days: int,
    max_workers: int | None = None,
    *,
    retry: RetryPolicy | None = None,
) -> Iterator[dict[date, pd.DataFrame]]:
    """`fetch_universe` for each of `days`, `chunk_days` days at a time (day -> frame, in day order).

    Stock basics are fetched once for all the days, the days concurrently; the requests in flight go
    on while the caller stores a chunk. Whole or nothing: the first day that fails (after retries)
    raises, and the days not started are cancelled.
    """
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be >= 1, got {chunk_days}")
    days = sorted({required_date(day, "days") for day in days})
    if not days:
        return  # nothing to ask, not even the stock basics
    retry = retry or REFERENCE_DATA_RETRY
    facts = _listing_facts(result_or_raise(call_with_retry(pool, _stock_basic_rows, retry)))

    def fetch_day(day: date):
        return call_with_retry(pool, lambda session: _all_stock_rows(session, day.isoformat()), retry)

    chunk: dict[date, pd.DataFrame] = {}
    # A chunk's days ahead: while the caller stores one chunk, the next one's requests go on.
    for day, call in run_bounded(fetch_day, days, worker_count(pool, max_workers), ahead=chunk_days):
        chunk[day] = _universe_frame(result_or_raise(call), facts)
        if len(chunk) == chunk_days:
            yield dict(sorted(chunk.items()))
            chunk = {}
    if chunk:
        yield dict(sorted(chunk.items()))


def fetch_stock_basic(pool, *, retry: RetryPolicy | None = None) -> pd.DataFrame:
    """Every security BaoStock knows, listed or delisted (`query_stock_basic()`), with its batch.

    Columns STOCK_BASIC_COLUMNS, strings, sorted by code.
    """
    rows = result_or_raise(call_with_retry(pool, _stock_basic_rows, retry or REFERENCE_DATA_RETRY))
    with_batch = sorted((*row, batch_of(row[0])) for row in rows)
    return pd.DataFrame(with_batch, columns=list(STOCK_BASIC_COLUMNS), dtype=str)


def a_share_codes(universe: pd.DataFrame, *, include_indices: bool = False) -> list[str]:
    """The codes of A-shares (type "1") in `universe`, plus indices (type "2") if asked, sorted."""
    kinds = {STOCK_TYPE, INDEX_TYPE} if include_indices else {STOCK_TYPE}
    return sorted(universe.loc[universe["type"].isin(kinds), "code"].tolist())


def listing_windows(universe: pd.DataFrame) -> dict[str, ListingWindow]:
    """code -> (ipo_date, out_date) from a universe frame, for `fetch_daily_bars(listed=...)`."""
    return {
        code: (as_date(ipo, f"{code} ipoDate"), as_date(out, f"{code} outDate"))
        for code, ipo, out in universe[["code", "ipoDate", "outDate"]].itertuples(index=False)
    }


def _all_stock_rows(session, day_iso: str) -> Rows:
    return pick_fields(session.query_all_stock(day_iso), ALL_STOCK_FIELDS, f"query_all_stock({day_iso})")


def _stock_basic_rows(session) -> Rows:
    return pick_fields(session.query_stock_basic(), STOCK_BASIC_FIELDS, "query_stock_basic()")


ListingFacts = dict[str, tuple[str, ...]]
"""code -> (ipoDate, outDate, type, status, batch): a universe row's columns after its own three."""


def _listing_facts(basic: Rows) -> ListingFacts:
    return {code: (ipo, out, kind, status, batch_of(code)) for code, _, ipo, out, kind, status in basic}


def _universe_frame(listed: Rows, facts: ListingFacts) -> pd.DataFrame:
    # Plain tuples and object columns: a day is 5,600 rows, and a history load builds thousands.
    rows = [
        (code, code_name, trade_status, *(facts.get(code) or ("", "", "", "", batch_of(code))))
        for code, trade_status, code_name in listed
    ]
    rows.sort()
    return pd.DataFrame(rows, columns=list(UNIVERSE_COLUMNS), dtype=object)
