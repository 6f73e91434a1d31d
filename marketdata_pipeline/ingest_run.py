"""One `daily_bars` run in plain Python: the universe, one fetch, each batch's gate and write, checks.

Per batch: a failure gate and an atomic slice write; then the data checks, each evaluated once over
the batches written (with the same days). A run may cover several batches (a day's run covers all
16, and Dagster cuts a backfill along whichever dimension is shorter): fetching once per run means a
day's whole market is asked for once, not once per batch. The Dagster asset (defs/market/assets.py)
passes its logger and run id and turns what this yields into materializations.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import pandas as pd

from marketdata_pipeline.ingest import (
    FetchFailure,
    FetchReport,
    Progress,
    a_share_codes,
    fetch_daily_bars,
    fetch_universe_chunks,
    listing_windows,
)
from marketdata_pipeline.ingest.universe import DAY_COLUMN, STOCK_TYPE, UniverseChunk
from marketdata_pipeline.market_calendar import (
    chain_sessions,
    shanghai_now,
    trading_days_before,
    unpublished_reason,
)
from marketdata_pipeline.storage import (
    BarStage,
    CheckResult,
    attached,
    record_failures,
    replace_daily_bars_from_stage,
    replace_stock_universes,
    rows_per_day,
    run_daily_bars_checks,
    stored_universe,
    stored_universe_days,
    with_trailing_days,
)

Log = logging.Logger | logging.LoggerAdapter
"""Any logger: Dagster's `context.log` fits too."""
UNIVERSE_DAYS_PER_WRITE = 60
"""Universe days fetched and stored at once (5,600 rows each): a run never holds a long range of them."""


class RunRefused(ValueError):
    """The run cannot go ahead as asked (a day not published yet, a day BaoStock lists nothing for):
    the message names the day and the fix. Raised before any bar is written."""


@dataclass(frozen=True)
class RunSettings:
    """What a run reads of its run config (`DailyBarsConfig`, which holds the defaults)."""

    strategy: str
    include_indices: bool
    error_failure_rate: float
    revision_days: int


@dataclass(frozen=True)
class UniverseStored:
    """Universe days whose rows just committed: each day's stored rows and A-shares among them."""

    rows: dict[date, int]
    a_shares: dict[date, int]


@dataclass(frozen=True)
class BatchOutcome:
    """What a run did for one batch: its codes and failures, whether it wrote, the data checks."""

    batch: str
    days: list[date]
    codes: list[str]
    failures: list[FetchFailure]
    written: int | None
    """Rows written, or None when the failure rate stopped the write."""
    data_checks: list[CheckResult]
    rows_per_day: dict[date, int]
    """Stored rows of each of `days` after the write: each partition's own row count."""

    @property
    def wrote(self) -> bool:
        return self.written is not None

    @property
    def failed_codes(self) -> int:
        return len({failure.code for failure in self.failures})

    @property
    def failure_rate(self) -> float:
        return self.failed_codes / len(self.codes) if self.codes else 0.0


@dataclass(frozen=True)
class RunOutcome:
    """The run's one fetch report and what each of its batches did with it."""

    report: FetchReport
    batches: list[BatchOutcome]


def ingest_run(
    pool,
    warehouse,
    settings: RunSettings,
    batch_days: dict[str, list[date]],
    *,
    run_id: str,
    log: Log,
) -> Generator[UniverseStored | BatchOutcome, None, RunOutcome]:
    """Fetch every A-share of the run's batches over the run's days at once, then write per batch.

    Yields what each write committed as soon as it commits (the universe days stored, then each
    written batch's outcome), so a caller records a crash's committed partitions; returns the run's
    outcome. `log` is any logger (Dagster's `context.log` fits); `run_id` marks recorded failures
    and check findings. Raises RunRefused before any request for a day not published yet.
    """
    with startup_heap_frozen():
        batch_days = trailing_window(warehouse, batch_days, settings.revision_days)
        days = sorted({day for batch_dates in batch_days.values() for day in batch_dates})
        refuse_unpublished(days)
        universe = yield from run_universe(pool, warehouse, days, list(batch_days), log)
        by_batch = {
            batch: a_share_codes(
                universe[universe["batch"] == batch], include_indices=settings.include_indices
            )
            for batch in batch_days
        }
        codes = sorted(code for batch_codes in by_batch.values() for code in batch_codes)
        log.info(
            f"{', '.join(batch_days)}: {len(codes)} codes x {len(days)} trading days ({days[0]}..{days[-1]})"
        )
        with BarStage() as stage:
            report = fetch_daily_bars(
                pool,
                codes,
                days,
                listed=listing_windows(universe),
                strategy=settings.strategy,
                on_progress=lambda progress: log.info(progress_line(progress)),
                sink=stage.add,
            )
            for note in report.notes:
                log.warning(note)
            outcomes = []
            # One connection for the run's writes; each batch's slice is still its own transaction.
            with warehouse.get_connection() as con, attached(con, stage) as staged:
                since = datetime.now(UTC).replace(tzinfo=None)
                for batch, codes_of_batch in by_batch.items():
                    own = set(codes_of_batch)
                    failures = [failure for failure in report.failures if failure.code in own]
                    unwritten = BatchOutcome(batch, batch_days[batch], codes_of_batch, failures, None, [], {})
                    outcome = write_batch(con, staged, unwritten, settings.error_failure_rate, run_id, log)
                    outcomes.append(outcome)
                    if outcome.wrote:
                        yield outcome
                outcomes = check_batches(con, settings, outcomes, since=since, run_id=run_id)
        return RunOutcome(report, outcomes)


def write_batch(
    con, staged: str, outcome: BatchOutcome, max_rate: float, run_id: str, log: Log
) -> BatchOutcome:
    """Replace the batch's slice with its staged rows, unless more than `max_rate` of its symbols
    failed: `outcome` (not written yet) with what was written."""
    batch, days, codes = outcome.batch, outcome.days, outcome.codes
    record_failures(con, outcome.failures, run_id=run_id, batch=batch)
    if outcome.failure_rate > max_rate:
        log.error(
            f"{batch}: {outcome.failed_codes} of {len(codes)} symbols failed ({outcome.failure_rate:.1%} > "
            f"{max_rate:.1%}): nothing written, the stored slice is unchanged"
        )
        return outcome
    failed = {failure.code for failure in outcome.failures}
    ok_codes = [code for code in codes if code not in failed]
    slice_ = {"batch": batch, "start": days[0], "end": days[-1]}
    written = replace_daily_bars_from_stage(con, staged, **slice_, codes=ok_codes)
    stored = rows_per_day(con, **slice_)
    return replace(outcome, written=written, rows_per_day={day: stored.get(day, 0) for day in days})


def check_batches(
    con, settings: RunSettings, outcomes: list[BatchOutcome], *, since: datetime, run_id: str
) -> list[BatchOutcome]:
    """`outcomes` with their data checks: each check evaluated once over the written batches that
    share their days (a day's run: all 16 at once); a batch not written gets none."""
    types = (1, 2) if settings.include_indices else (1,)
    spans: dict[tuple[date, date], list[str]] = {}
    for outcome in outcomes:
        if outcome.wrote:
            spans.setdefault((outcome.days[0], outcome.days[-1]), []).append(outcome.batch)
    checked: dict[str, list[CheckResult]] = {}
    for (start, end), batches in spans.items():
        checked |= run_daily_bars_checks(
            con, batches=batches, start=start, end=end, since=since,
            sessions=chain_sessions(start, end), types=types, run_id=run_id,
        )  # fmt: skip
    return [replace(outcome, data_checks=checked.get(outcome.batch, [])) for outcome in outcomes]


@contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """The objects alive when a run starts (Dagster, pandas, the definitions: ~250k) left out of the
    garbage collector's scans until it ends (`gc.freeze`).

    A run allocates a list per answered row, and each full collection rescanned that startup heap:
    a year of universes took 8.5-8.9 s of our CPU, 5.3-6.2 s frozen. Refcounting still frees what
    the run drops; unfreezing at the end hands the startup heap back to the collector.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def refuse_unpublished(days: Iterable[date]) -> None:
    """Refuse before any request a day whose bars are not published yet (never fetch the future)."""
    now = shanghai_now()
    reason = next(filter(None, (unpublished_reason(day, now) for day in sorted(days))), None)
    if reason:
        raise RunRefused(f"{reason}. Materialize it after that.")


def trailing_window(warehouse, batch_days: dict, revision_days: int) -> dict:
    """The run's days per batch plus up to `revision_days` stored XSHG trading days right before them
    (re-fetched so that bar_revisions records what BaoStock changed since)."""
    if revision_days == 0:
        return batch_days
    before = {batch: trading_days_before(min(days), revision_days) for batch, days in batch_days.items()}
    with warehouse.get_connection() as con:
        return with_trailing_days(con, batch_days, before)


def run_universe(
    pool, warehouse, days: list[date], batches: list[str], log: Log
) -> Generator[UniverseStored, None, pd.DataFrame]:
    """The codes of `batches` listed on any of `days`, with their listing facts, read from the
    warehouse once the days missing there are fetched and stored (yielding each chunk stored):
    memory does not grow with the range."""
    with warehouse.get_connection() as con:
        stored = stored_universe_days(con, days)
        if stored.issuperset(days):  # a backfill's later runs: one connection, not two
            return stored_universe(con, days, batches)
    yield from store_fetched_universes(pool, warehouse, [day for day in days if day not in stored], log)
    with warehouse.get_connection() as con:
        return stored_universe(con, days, batches)


def universe_run(pool, warehouse, days: list[date], *, log: Log) -> Iterator[UniverseStored]:
    """Fetch and store the universes of `days` (published ones only: RunRefused before any request
    otherwise) a chunk at a time, yielding each chunk as it commits: a year of the whole market is
    over a million rows, never held at once."""
    refuse_unpublished(days)
    with startup_heap_frozen():
        yield from store_fetched_universes(pool, warehouse, days, log)


def store_fetched_universes(pool, warehouse, days: list[date], log: Log) -> Iterator[UniverseStored]:
    """The chunks of `universe_run`, without its checks and its frozen heap: `ingest_run` calls it
    inside its own (`gc.freeze` does not nest: an inner unfreeze would end the run's)."""
    rows = 0
    for chunk in fetch_universe_chunks(pool, days, UNIVERSE_DAYS_PER_WRITE):
        stored = store_universes(warehouse, chunk)
        rows += sum(stored.rows.values())
        yield stored
        log.info(f"universe stored through {max(stored.rows)} ({rows} rows)")


def store_universes(warehouse, chunk: UniverseChunk) -> UniverseStored:
    """Replace each day's stored universe. A day without rows means BaoStock has nothing for it."""
    listed = chunk.rows[DAY_COLUMN]
    days_listed = set(listed.unique())
    empty = [day for day in chunk.days if day.isoformat() not in days_listed]
    if empty:
        raise RunRefused(
            f"BaoStock lists no securities on {empty[0]}: it is not a trading day or not published yet; "
            "pick a published trading day"
        )
    with warehouse.get_connection() as con:
        rows = replace_stock_universes(con, chunk.rows.drop(columns="batch"), chunk.days)
    a_shares = listed[chunk.rows["type"] == STOCK_TYPE].value_counts()
    return UniverseStored(rows, {day: int(a_shares.get(day.isoformat(), 0)) for day in chunk.days})


def progress_line(progress: Progress) -> str:
    """One log line per slice of work."""
    return (
        f"{progress.phase}: symbols {progress.symbols_done}/{progress.symbols_total}, "
        f"days {progress.days_done}/{progress.days_total}, rows {progress.rows}, "
        f"failures {progress.failures}, requests {progress.requests} ({progress.requests_per_s:.0f}/s)"
    )
