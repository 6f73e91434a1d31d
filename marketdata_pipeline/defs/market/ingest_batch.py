"""One batch's slice of `daily_bars`: universe, fetch, failure gate, atomic write, data checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from marketdata_pipeline.defs.market import slices
from marketdata_pipeline.ingest import (
    FetchReport,
    a_share_codes,
    fetch_daily_bars,
    fetch_universes,
    listing_windows,
)
from marketdata_pipeline.storage import (
    CheckResult,
    check_completeness,
    check_ohlc,
    check_unique_bars,
    record_failures,
    replace_daily_bars,
    replace_stock_universe,
)


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch's ingest did: its fetch report, whether it wrote, and the data checks."""

    batch: str
    days: list[date]
    codes: list[str]
    report: FetchReport
    written: int | None
    """Rows written, or None when the failure rate stopped the write."""
    data_checks: list[CheckResult]

    @property
    def wrote(self) -> bool:
        return self.written is not None


def ingest_batch(context: dg.AssetExecutionContext, pool, warehouse, config, batch: str, days: list[date]):
    """Fetch `batch`'s A-shares for `days` and replace their slice, unless too many failed."""
    slices.refuse_unpublished(days)
    universes = universes_for(pool, warehouse, days)
    batch_universe = slices.batch_universe(universes, batch)
    codes = a_share_codes(batch_universe, include_indices=config.include_indices)
    context.log.info(f"{batch}: {len(codes)} codes x {len(days)} trading days ({days[0]}..{days[-1]})")
    report = fetch_daily_bars(
        pool,
        codes,
        days,
        listed=listing_windows(batch_universe),
        strategy=config.strategy,
        max_workers=pool.max_size,
        on_progress=lambda progress: context.log.info(slices.progress_line(batch, progress)),
    )
    failed = {failure.code for failure in report.failures}
    allowed = report.failure_rate <= config.error_failure_rate
    with warehouse.get_connection() as con:
        record_failures(con, report.failures, run_id=context.run_id, batch=batch)
        written, data_checks = None, []
        if allowed:
            ok_codes = [code for code in codes if code not in failed]
            bars = report.bars[report.bars["code"].isin(ok_codes)]
            written = replace_daily_bars(con, bars, batch=batch, start=days[0], end=days[-1], codes=ok_codes)
            slice_ = {"batch": batch, "start": days[0], "end": days[-1]}
            types = (1, 2) if config.include_indices else (1,)
            data_checks = [
                check_unique_bars(con, **slice_),
                check_ohlc(con, **slice_),
                check_completeness(con, **slice_, types=types),
            ]
    if not allowed:
        context.log.error(
            f"{batch}: {len(failed)} of {len(codes)} symbols failed ({report.failure_rate:.1%} > "
            f"{config.error_failure_rate:.1%}): nothing written, the stored slice is unchanged"
        )
    return BatchOutcome(batch, days, codes, report, written, data_checks)


def universes_for(pool, warehouse, days: list[date]) -> dict:
    """Each day's universe: from the warehouse when stored, else fetched once and stored."""
    with warehouse.get_connection() as con:
        universes = slices.stored_universes(con, days)
    missing = [day for day in days if day not in universes]
    if missing:
        fetched = fetch_universes(pool, missing)
        store_universes(warehouse, fetched)
        universes.update(fetched)
    return universes


def store_universes(warehouse, universes: dict) -> int:
    """Replace each day's stored universe; an empty one means BaoStock has nothing for that day."""
    empty = [day for day, universe in universes.items() if universe.empty]
    if empty:
        raise dg.Failure(
            f"BaoStock lists no securities on {empty[0]}: it is not a trading day or not published yet; "
            "pick a published trading day"
        )
    with warehouse.get_connection() as con:
        return sum(
            replace_stock_universe(con, universe.drop(columns="batch"), day)
            for day, universe in universes.items()
        )
