"""The market assets: trade calendar, daily universe, daily bars (date x batch), adjust factors.

Each asset fetches through the run's BaoStock pool, then opens the warehouse
only to write: a DuckDB file takes one writer at a time, so a connection is
never held across network work.
"""

from datetime import UTC, date, datetime
from typing import Literal

import dagster as dg
from pydantic import Field

from marketdata_pipeline.dagster_internals import add_partitions_metadata
from marketdata_pipeline.defs.market import checks
from marketdata_pipeline.defs.market.metadata import (
    DAILY_BARS,
    DAILY_BARS_SCHEMA,
    STOCK_UNIVERSE,
    STOCK_UNIVERSE_SCHEMA,
    materializations,
    materialized,
    partition_rows,
    run_metadata,
)
from marketdata_pipeline.defs.market.partitions import (
    HISTORY_START,
    batch_partitions,
    batches_and_days,
    daily_bars_partitions,
    date_keys_to_days,
    date_partitions,
)
from marketdata_pipeline.defs.sessions.resources import BaoStockPoolResource
from marketdata_pipeline.defs.warehouse.resources import WarehouseResource
from marketdata_pipeline.ingest import (
    a_share_codes,
    calendar_mismatches,
    fetch_adjust_factors,
    fetch_stock_basic,
    fetch_trade_calendar,
)
from marketdata_pipeline.ingest_run import RunSettings, ingest_run, universe_run
from marketdata_pipeline.market_calendar import chain_sessions, latest_published_day
from marketdata_pipeline.storage import (
    record_failures,
    replace_adjust_factors,
    replace_trade_calendar,
    run_adjust_factors_checks,
)

# The Dagster concurrency pool every BaoStock-reading step claims a slot of
# (see dagster.yaml): slots x BAOSTOCK_POOL_SIZE bounds the logins of all runs.
BAOSTOCK_SLOTS = "baostock"
GROUP = "market"
MARKET_TABLE = {"group_name": GROUP, "kinds": {"duckdb"}, "pool": BAOSTOCK_SLOTS}
# A partitioned market table backfills its range in one run: one pool, one plan for all of it.
HISTORY = {**MARKET_TABLE, "backfill_policy": dg.BackfillPolicy.single_run()}


class DailyBarsConfig(dg.Config):
    """Run settings of `daily_bars`."""

    # A Literal is an enum in the run config: `strategy: bogus` is refused at launch.
    strategy: Literal["auto", "market", "symbol"] = "auto"
    """auto (the planner's choice), market (one request per day) or symbol (one per code)."""
    include_indices: bool = False
    """Also fetch index codes (type 2); off by default: daily_bars holds A-shares."""
    warn_failure_rate: float = Field(default=0.01, ge=0, le=1)
    """failure_rate above this is a WARN."""
    error_failure_rate: float = Field(default=0.05, ge=0, le=1)
    """failure_rate above this fails the run and nothing is written for the partition."""
    revision_days: int = Field(default=5, ge=0)
    """Also re-fetch up to this many stored trading days before the run's first day; changes go to
    bar_revisions (0: none)."""
    error_checks: list[str] = []
    """Data checks whose failure is an ERROR instead of a WARN (e.g. ["universe_matches_bars"])."""


@dg.asset(**MARKET_TABLE)
def trade_calendar(
    context: dg.AssetExecutionContext, baostock: BaoStockPoolResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every calendar day since 2015 with BaoStock's trading-day flag, through the end of this year."""
    start, end = date.fromisoformat(HISTORY_START), date(latest_published_day().year, 12, 31)
    calendar = fetch_trade_calendar(baostock.pool, start, end)
    with warehouse.get_connection() as con:
        rows = replace_trade_calendar(con, calendar, start, end)
    mismatches = calendar_mismatches(calendar)
    if mismatches:
        context.log.warning(f"BaoStock and XSHG disagree on {len(mismatches)} days: {mismatches[:10]}")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "trading_days": int((calendar["is_trading_day"] == "1").sum()),
            "xshg_mismatches": len(mismatches),
        }
    )


@dg.asset(
    **HISTORY,
    partitions_def=date_partitions,
    output_required=False,
    metadata={"dagster/column_schema": STOCK_UNIVERSE_SCHEMA, "dagster/table_name": "stock_universe"},
)
def stock_universe(
    context: dg.AssetExecutionContext, baostock: BaoStockPoolResource, warehouse: WarehouseResource
):
    """One row per security listed on each trading day, with name, type, status and batch.

    A `daily_bars` run stores (and materializes) the universe of its days itself when missing, so
    materialize this asset alone only to refresh stored days or to load the universe's history.
    """
    days = date_keys_to_days(context.partition_keys)
    # The step's result records each day (Dagster stores them in batches); see `materialized`.
    rows: dict[str, dict] = {}
    yield from materialized(universe_run(baostock.pool, warehouse, days, log=context.log), universe_rows=rows)
    add_partitions_metadata(context, STOCK_UNIVERSE, rows)
    yield dg.MaterializeResult()


@dg.asset(
    **HISTORY,
    partitions_def=daily_bars_partitions,
    output_required=False,
    check_specs=checks.DAILY_BARS_CHECKS,
    deps=[
        dg.AssetDep(
            stock_universe,
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="date"),
        )
    ],
    metadata={"dagster/column_schema": DAILY_BARS_SCHEMA, "dagster/table_name": "daily_bars"},
)
def daily_bars(
    context: dg.AssetExecutionContext,
    config: DailyBarsConfig,
    baostock: BaoStockPoolResource,
    warehouse: WarehouseResource,
):
    """Unadjusted daily bars of every A-share of a batch, for each trading day of the run.

    A date-range run fetches the whole range at once (per symbol or per day,
    whichever the planner finds cheaper), streams it through a typed stage and
    replaces each batch's slice in one transaction, recording each partition
    (with its own `dagster/row_count`) as its batch commits. The day's
    `stock_universe` is stored and materialized by the same run when missing.
    Above `error_failure_rate` nothing is written and the blocking
    `failure_rate` check fails the run.
    """
    pool = baostock.pool
    checks.refuse_unknown_checks(config.error_checks)
    batch_days = batches_and_days(context.partition_keys, context.partition_key_range)
    settings = RunSettings(
        config.strategy, config.include_indices, config.error_failure_rate, config.revision_days
    )
    run_id = context.run.run_id
    partition_keys = context.partition_keys
    run = yield from materialized(
        ingest_run(pool, warehouse, settings, batch_days, run_id=run_id, log=context.log), partition_keys
    )
    written = [outcome for outcome in run.batches if outcome.wrote]
    stopped = [outcome for outcome in run.batches if not outcome.wrote]
    # The run's own numbers once per run; each partition's materialization carries its own rows.
    yield dg.AssetObservation(asset_key="daily_bars", metadata=run_metadata(run, pool.stats()))
    if stopped:
        # Dagster's result would record every partition of the run: record only those written.
        yield from materializations(DAILY_BARS, partition_rows(written, partition_keys))
    else:
        # The step's result: one materialization per partition, each with its own row count, and
        # the output that lets a downstream step selected in the same run (exports, checks) run.
        add_partitions_metadata(context, DAILY_BARS, partition_rows(run.batches, partition_keys))
        yield dg.MaterializeResult()
        yield from checks.merged_results(
            [(o.batch, o.data_checks) for o in written], run_id, config.error_checks
        )
    yield checks.failure_rate_result(run.batches, config.warn_failure_rate, config.error_failure_rate)
    yield checks.pool_health_result(pool)
    if stopped:
        # The data checks would judge a slice this run did not write: none are emitted.
        raise dg.Failure(checks.stopped_message(stopped, config.error_failure_rate))


@dg.asset(**HISTORY, partitions_def=batch_partitions, check_specs=checks.ADJUST_FACTORS_CHECK_SPECS)
def adjust_factors(
    context: dg.AssetExecutionContext, baostock: BaoStockPoolResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every ex-date's forward and back adjust factors for the A-shares of each batch, since 2015.

    The adjusted views (`daily_bars_qfq`, `daily_bars_hfq`) read this table
    at query time, so refreshing it after an ex-date corrects all history.
    """
    basic = fetch_stock_basic(baostock.pool)
    start, end = date.fromisoformat(HISTORY_START), latest_published_day()
    rows = failed = codes_total = 0
    batch_checks = []
    for batch in context.partition_keys:
        codes = a_share_codes(basic[basic["batch"] == batch])
        fetched_at = datetime.now(UTC).replace(tzinfo=None)
        factors, failures = fetch_adjust_factors(baostock.pool, codes, start, end)
        ok_codes = sorted(set(codes) - {failure.code for failure in failures})
        with warehouse.get_connection() as con:
            record_failures(con, failures, run_id=context.run.run_id, batch=batch)
            rows += replace_adjust_factors(con, factors[factors["code"].isin(ok_codes)], ok_codes)
            batch_checks.append((batch, run_adjust_factors_checks(
                con, batch=batch, start=start, end=end, refreshed_at=fetched_at,
                sessions=chain_sessions(start, end), run_id=context.run.run_id,
            )))  # fmt: skip
        failed, codes_total = failed + len(failures), codes_total + len(codes)
        context.log.info(f"{batch}: factors of {len(ok_codes)}/{len(codes)} codes")
    if failed:
        context.log.warning(
            f"adjust factors failed for {failed} of {codes_total} codes (see ingest_failures)"
        )
    return dg.MaterializeResult(
        metadata={"rows": rows, "codes": codes_total, "failed_codes": failed},
        check_results=checks.merged_results(batch_checks, context.run.run_id),
    )
