"""Freshness checks: every batch of the latest trading day by 18:30, and fresh adjust factors by 19:30.

Dagster's `build_time_partition_freshness_checks` needs a time-partitioned asset;
daily_bars is date x batch, so this is its equivalent on the trading calendar:
after the deadline of a trading day, each of that day's 16 partitions must be
materialized. Both checks run from `freshness_schedule` a minute after each
deadline (and from the UI at any time); a failure is a WARN on the asset page.
"""

from datetime import datetime, time

import dagster as dg

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.defs.market.assets import adjust_factors, daily_bars
from marketdata_pipeline.defs.market.partitions import bars_partition_key
from marketdata_pipeline.market_calendar import (
    FACTORS_PUBLISHED_AT,
    SHANGHAI,
    TIMEZONE,
    latest_published_day,
    shanghai_now,
)

BARS_DEADLINE = time(18, 30)
FACTORS_DEADLINE = time(19, 30)


@dg.asset_check(asset=daily_bars, name="fresh_by_1830", blocking=False)
def daily_bars_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """Every batch is materialized for the latest trading day whose 18:30 Asia/Shanghai deadline passed."""
    day = latest_published_day(shanghai_now(), BARS_DEADLINE)
    # The day's 16 partitions asked one by one: listing every materialized partition grows with
    # the history (~39k for the whole market since 2015); these lookups do not.
    missing = [
        batch
        for batch in BATCHES
        if not _latest_materialization(context.instance, daily_bars.key, str(bars_partition_key(batch, day)))
    ]
    return _result(day, "missing_batches", missing, str(day), "materialized")


@dg.asset_check(asset=adjust_factors, name="fresh_by_1930", blocking=False)
def adjust_factors_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """Every batch's factors were fetched after BaoStock published the latest trading day's (18:00)."""
    day = latest_published_day(shanghai_now(), FACTORS_DEADLINE)
    published = datetime.combine(day, FACTORS_PUBLISHED_AT, tzinfo=SHANGHAI).timestamp()
    stale = []
    for batch in BATCHES:
        latest = _latest_materialization(context.instance, adjust_factors.key, batch)
        if latest is None or latest.timestamp < published:
            stale.append(batch)
    return _result(day, "stale_batches", stale, f"factors of {day}", "fetched since")


def _result(day, late_key: str, late: list[str], about: str, done: str) -> dg.AssetCheckResult:
    """A WARN result, passed when no batch is late, counting those `done` in time."""
    return dg.AssetCheckResult(
        passed=not late,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{about}: {len(BATCHES) - len(late)}/{len(BATCHES)} batches {done}",
        metadata={"expected_day": str(day), late_key: ", ".join(late) or "none"},
    )


def _latest_materialization(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str):
    """The latest materialization record of one partition of `key`, or None."""
    records_filter = dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition])
    return next(iter(instance.fetch_materializations(records_filter, limit=1).records), None)


freshness_checks_job = dg.define_asset_job(
    "freshness_checks_job", selection=dg.AssetSelection.checks(daily_bars_fresh, adjust_factors_fresh)
)

freshness_schedule = dg.ScheduleDefinition(
    name="freshness_schedule",
    cron_schedule=["31 18 * * *", "31 19 * * *"],
    execution_timezone=TIMEZONE,
    job=freshness_checks_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The freshness checks a minute after the bars' (18:30) and factors' (19:30) deadlines.",
)
