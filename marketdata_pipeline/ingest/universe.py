"""The universe: securities trading on a day, with their listing facts (IPO, delisting, type) and batch."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import pandas as pd
import pyarrow as pa

from marketdata_pipeline.batching import batch_of
from marketdata_pipeline.ingest.calls import (
    REFERENCE_DATA_RETRY,
    RetryPolicy,
    call_with_retry,
    result_or_raise,
    run_bounded,
)
from marketdata_pipeline.ingest.completeness import ListingWindow, normalize_listed
from marketdata_pipeline.ingest.inputs import required_date, worker_count
from marketdata_pipeline.ingest.result_fields import pick_columns, pick_fields

ALL_STOCK_FIELDS = ("code", "tradeStatus", "code_name")
STOCK_BASIC_FIELDS = ("code", "code_name", "ipoDate", "outDate", "type", "status")
UNIVERSE_COLUMNS = ("code", "code_name", "tradeStatus", "ipoDate", "outDate", "type", "status", "batch")
DAY_COLUMN = "trade_date"
_LISTED = pa.schema([(name, pa.string()) for name in (DAY_COLUMN, *ALL_STOCK_FIELDS)])

STOCK_TYPE, INDEX_TYPE = "1", "2"

Rows = list[tuple[str, ...]]


@dataclass(frozen=True)
class UniverseChunk:
    """Consecutive days' universes in one frame: `rows` has DAY_COLUMN (ISO) then UNIVERSE_COLUMNS,
    by day and code, all strings ("" where BaoStock has no value). A day of `days` without rows
    had nothing listed (not a trading day, or not published yet)."""

    days: list[date]
    rows: pd.DataFrame

    def of_day(self, day: date) -> pd.DataFrame:
        """One day's universe: UNIVERSE_COLUMNS, by code."""
        of_day = self.rows[DAY_COLUMN] == day.isoformat()
        return self.rows.loc[of_day, list(UNIVERSE_COLUMNS)].reset_index(drop=True)


def fetch_universe(session_or_pool, day: date | str, *, retry: RetryPolicy | None = None) -> pd.DataFrame:
    """Every security trading on `day` (`query_all_stock`) with its listing facts and batch.

    Joins `query_stock_basic()` for ipoDate, outDate, type and status (empty
    strings when BaoStock has no basic row for a code). Columns are
    UNIVERSE_COLUMNS, all strings, sorted by code. Empty before the day's data
    is published or on a non-trading day. Errors raise: a universe is whole or
    nothing. Takes a pool (retries transport errors) or one logged-in session.
    """
    day = required_date(day, "day")
    if not hasattr(session_or_pool, "query_all_stock"):
        return fetch_universes(session_or_pool, [day], retry=retry)[day]
    basics = _basics_frame(_stock_basic_rows(session_or_pool))
    rows = _universe_rows({day: _all_stock_table(session_or_pool, day)}, basics)
    return UniverseChunk([day], rows).of_day(day)


def fetch_universes(
    pool, days: Iterable[date | str], max_workers: int | None = None, *, retry: RetryPolicy | None = None
) -> dict[date, pd.DataFrame]:
    """`fetch_universe` for each of `days`, as day -> frame, in day order (see `fetch_universe_chunks`)."""
    days = list(days)  # one chunk holds them all
    chunks = fetch_universe_chunks(pool, days, max(len(days), 1), max_workers, retry=retry)
    return {day: chunk.of_day(day) for chunk in chunks for day in chunk.days}


def fetch_universe_chunks(
    pool,
    days: Iterable[date | str],
    chunk_days: int,
    max_workers: int | None = None,
    *,
    retry: RetryPolicy | None = None,
) -> Iterator[UniverseChunk]:
    """The universes of `days`, `chunk_days` days at a time: a chunk's days sorted, the chunks in
    the order their days complete.

    Stock basics are fetched once for all the days, beside the days' first requests; the days go
    concurrently, and the requests in flight go on while the caller stores a chunk. Whole or
    nothing: the first day (or the basics) that fails (after retries) raises, and the days not
    started are cancelled.
    """
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be >= 1, got {chunk_days}")
    days = sorted({required_date(day, "days") for day in days})
    if not days:
        return  # nothing to ask, not even the stock basics
    retry = retry or REFERENCE_DATA_RETRY

    def fetch_day(day: date):
        return call_with_retry(pool, lambda session: _all_stock_table(session, day), retry)

    # A thread of its own: a day's run waited for the basics' pages before asking for its day.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="basics") as side:
        basics = side.submit(fetch_stock_basic, pool, retry=retry)  # .result(): the frame, or its error
        chunk: dict[date, pa.Table] = {}
        # A chunk's days ahead: while the caller stores one chunk, the next one's requests go on.
        answers = run_bounded(fetch_day, days, worker_count(pool, max_workers), ahead=chunk_days)
        for count, (day, call) in enumerate(answers, start=1):
            chunk[day] = result_or_raise(call)
            if len(chunk) == chunk_days or count == len(days):
                yield UniverseChunk(sorted(chunk), _universe_rows(chunk, basics.result()))
                chunk = {}


def fetch_stock_basic(pool, *, retry: RetryPolicy | None = None) -> pd.DataFrame:
    """Every security BaoStock knows, listed or delisted (`query_stock_basic()`), with its batch.

    Columns STOCK_BASIC_FIELDS then batch, strings, sorted by code.
    """
    basic = result_or_raise(call_with_retry(pool, _stock_basic_rows, retry or REFERENCE_DATA_RETRY))
    return _basics_frame(basic)


def a_share_codes(universe: pd.DataFrame, *, include_indices: bool = False) -> list[str]:
    """The codes of A-shares (type "1") in `universe`, plus indices (type "2") if asked, sorted."""
    kinds = {STOCK_TYPE, INDEX_TYPE} if include_indices else {STOCK_TYPE}
    return sorted(universe.loc[universe["type"].isin(kinds), "code"].tolist())


def listing_windows(universe: pd.DataFrame) -> dict[str, ListingWindow]:
    """code -> (ipo_date, out_date) from a universe frame, for `fetch_daily_bars(listed=...)`."""
    windows = universe[["code", "ipoDate", "outDate"]].itertuples(index=False)
    return normalize_listed({code: (ipo, out) for code, ipo, out in windows})


def _all_stock_table(session, day: date) -> pa.Table:
    """The day's answer as Arrow columns, by code: one array per field, no tuple or frame per row."""
    source = f"query_all_stock({day.isoformat()})"
    columns = pick_columns(session.query_all_stock(day.isoformat()), ALL_STOCK_FIELDS, source)
    table = pa.table({DAY_COLUMN: [day.isoformat()] * len(columns["code"]), **columns}, schema=_LISTED)
    return table.sort_by("code")


def _stock_basic_rows(session) -> Rows:
    return pick_fields(session.query_stock_basic(), STOCK_BASIC_FIELDS, "query_stock_basic()")


def _basics_frame(basic: Rows) -> pd.DataFrame:
    """Stock basic rows with each code's batch, by code (a code answered twice: its last row)."""
    with_batch = [(*row, batch_of(row[0])) for row in basic]
    rows = pd.DataFrame(with_batch, columns=[*STOCK_BASIC_FIELDS, "batch"], dtype="str")
    return rows.drop_duplicates("code", keep="last").sort_values("code", ignore_index=True)


def _universe_rows(tables: dict[date, pa.Table], basics: pd.DataFrame) -> pd.DataFrame:
    """The days' answers (by day) joined with the basics, in day then code order."""
    listed = pa.concat_tables([tables[day] for day in sorted(tables)]).to_pandas()
    facts = basics.drop(columns="code_name")  # the day's own name comes from query_all_stock
    rows = listed.merge(facts, on="code", how="left", sort=False)  # keeps the day-then-code order
    unknown = rows["batch"].isna()  # a code without a basic row: still listed, still batched
    rows.loc[unknown, "batch"] = rows.loc[unknown, "code"].map(batch_of)
    return rows.fillna("")[[DAY_COLUMN, *UNIVERSE_COLUMNS]]
