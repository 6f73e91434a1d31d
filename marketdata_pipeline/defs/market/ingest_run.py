"""One `daily_bars` run: the universe, ONE fetch for all its batches and days, then per batch
a failure gate, an atomic slice write and the data checks.

A run may cover several batches (a day's run covers all 16, and Dagster cuts a
backfill along whichever dimension is shorter): fetching once per run means a
day's whole market is asked for once, not once per batch.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pandas as pd

from marketdata_pipeline.defs.market import slices
from marketdata_pipeline.defs.market.checks import chain_sessions, refuse_unknown_checks
from marketdata_pipeline.defs.market.partitions import xshg_trading_days
from marketdata_pipeline.ingest import (
    FetchFailure,
    FetchReport,
    a_share_codes,
    fetch_daily_bars,
    fetch_universes,
    listing_windows,
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
    with_trailing_days,
)

UNIVERSE_DAYS_PER_WRITE = 20
"""Universe days fetched and stored at once (5,600 rows each): a run never holds a long range of them."""


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
    context: dg.AssetExecutionContext, pool, warehouse, config, batch_days: dict
) -> Generator[dg.AssetMaterialization, None, RunOutcome]:
    """Fetch every A-share of the run's batches over the run's days at once, then write per batch.

    Yields a materialization for each partition as soon as its write commits (the universe days
    stored, then each batch's days), so a crash later in the run never leaves committed rows
    unrecorded; returns the run's outcome.
    """
    refuse_unknown_checks(config.error_checks)
    batch_days = trailing_window(warehouse, batch_days, config.revision_days)
    days = sorted({day for batch_dates in batch_days.values() for day in batch_dates})
    slices.refuse_unpublished(days)
    universe = yield from run_universe(pool, warehouse, days, list(batch_days))
    codes = a_share_codes(universe, include_indices=config.include_indices)
    context.log.info(
        f"{', '.join(batch_days)}: {len(codes)} codes x {len(days)} trading days ({days[0]}..{days[-1]})"
    )
    with BarStage() as stage:
        report = fetch_daily_bars(
            pool,
            codes,
            days,
            listed=listing_windows(universe),
            strategy=config.strategy,
            max_workers=pool.max_size,
            on_progress=lambda progress: context.log.info(slices.progress_line(progress)),
            sink=stage.add,
        )
        for note in report.notes:
            context.log.warning(note)
        batch_by_code = dict(zip(universe["code"], universe["batch"], strict=True))
        by_batch: dict[str, list[str]] = {batch: [] for batch in batch_days}
        for code in codes:
            by_batch[batch_by_code[code]].append(code)
        outcomes = []
        # One connection for the run's writes; each batch's slice is still its own transaction.
        with warehouse.get_connection() as con, attached(con, stage) as staged:
            for batch in batch_days:
                outcome = write_batch(
                    con, context, config, report, staged, batch, batch_days[batch], by_batch[batch]
                )
                outcomes.append(outcome)
                if outcome.wrote:
                    yield from slices.bar_materializations(outcome.batch, outcome.days, outcome.rows_per_day)
    return RunOutcome(report, outcomes)


def write_batch(
    con, context, config, report: FetchReport, staged: str, batch: str, days: list[date], codes: list[str]
) -> BatchOutcome:
    """Replace the batch's slice with its staged rows, unless too many of its symbols failed."""
    own = set(codes)
    failures = [failure for failure in report.failures if failure.code in own]
    failed = {failure.code for failure in failures}
    rate = len(failed) / len(codes) if codes else 0.0
    record_failures(con, failures, run_id=context.run_id, batch=batch)
    if rate > config.error_failure_rate:
        context.log.error(
            f"{batch}: {len(failed)} of {len(codes)} symbols failed ({rate:.1%} > "
            f"{config.error_failure_rate:.1%}): nothing written, the stored slice is unchanged"
        )
        return BatchOutcome(batch, days, codes, failures, None, [], {})
    ok_codes = [code for code in codes if code not in failed]
    slice_ = {"batch": batch, "start": days[0], "end": days[-1]}
    since = datetime.now(UTC).replace(tzinfo=None)
    written = replace_daily_bars_from_stage(con, staged, **slice_, codes=ok_codes)
    types = (1, 2) if config.include_indices else (1,)
    data_checks = run_daily_bars_checks(
        con, **slice_, since=since, sessions=chain_sessions(days[0], days[-1]), types=types,
        run_id=context.run_id,
    )
    stored = rows_per_day(con, **slice_)
    per_day = {day: stored.get(day, 0) for day in days}
    return BatchOutcome(batch, days, codes, failures, written, data_checks, per_day)


def trailing_window(warehouse, batch_days: dict, revision_days: int) -> dict:
    """The run's days per batch plus up to `revision_days` stored XSHG trading days right before them
    (re-fetched so that bar_revisions records what BaoStock changed since)."""
    if revision_days == 0:
        return batch_days
    before = {}
    for batch, days in batch_days.items():
        first = min(days)
        sessions = xshg_trading_days(
            first - timedelta(days=7 * revision_days + 14), first - timedelta(days=1)
        )
        before[batch] = sessions[-revision_days:]
    with warehouse.get_connection() as con:
        return with_trailing_days(con, batch_days, before)


def run_universe(
    pool, warehouse, days: list[date], batches: list[str]
) -> Generator[dg.AssetMaterialization, None, pd.DataFrame]:
    """The codes of `batches` listed on any of `days`, with their listing facts: from the
    warehouse where the day's universe is stored, else fetched and stored (each stored day is
    yielded as a `stock_universe` materialization). Only the run's batches' codes are kept, and
    missing days are fetched a chunk at a time: memory does not grow with the range."""
    with warehouse.get_connection() as con:
        stored = slices.stored_days(con, days)
        known = slices.stored_universe(con, sorted(stored), batches)
    missing = [day for day in days if day not in stored]
    merged = known
    for fetched, rows in fetch_and_store_universes(pool, warehouse, missing):
        yield from slices.universe_materializations(fetched, rows)
        merged = slices.merge_universes([merged, *fetched.values()], batches)
    return merged


def fetch_and_store_universes(
    pool, warehouse, days: list[date]
) -> Iterator[tuple[dict[date, pd.DataFrame], dict[date, int]]]:
    """Fetch and store the universes of `days` a chunk at a time; yield each chunk and its rows per day."""
    for start in range(0, len(days), UNIVERSE_DAYS_PER_WRITE):
        fetched = fetch_universes(pool, days[start : start + UNIVERSE_DAYS_PER_WRITE])
        yield fetched, store_universes(warehouse, fetched)


def store_universes(warehouse, universes: dict) -> dict[date, int]:
    """Replace each day's stored universe; returns rows per day. An empty one means BaoStock has
    nothing for that day."""
    empty = [day for day, universe in universes.items() if universe.empty]
    if empty:
        raise dg.Failure(
            f"BaoStock lists no securities on {empty[0]}: it is not a trading day or not published yet; "
            "pick a published trading day"
        )
    with warehouse.get_connection() as con:
        return replace_stock_universes(
            con, {day: universe.drop(columns="batch") for day, universe in universes.items()}
        )
