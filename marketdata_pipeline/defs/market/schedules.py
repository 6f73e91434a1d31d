"""The daily schedules: the universe at 17:40, the bars at 17:45, the adjust factors at 18:30 (Asia/Shanghai).

BaoStock publishes a trading day's bars at about 17:30 and its adjust factors
at about 18:00. The schedules tick every day so that each non-trading day
shows in the tick history with the reason it was skipped.

`daily_bars_schedule` launches one run for the whole day: the partition range
`b00|<date>`..`b15|<date>` (Dagster reads a range of multi-partitions as the
rectangle between its corners), so the day costs one pool of at most
BAOSTOCK_POOL_SIZE sessions and, by the planner, one whole-market request,
instead of 16 runs asking for the same answer. The universe runs five minutes
earlier so that the bars run finds the day's universe stored.

A tick never requests a day BaoStock has not published: the day is the tick's
date, checked against the earlier of the tick time and the wall clock (the UI
can evaluate future ticks). All schedules start STOPPED: the code location
points at the real BaoStock server by default, and an operator chooses the
schedules or the publication sensor (either skips partitions the other started).
"""

from __future__ import annotations

from datetime import date, time

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.defs.market import day_runs
from marketdata_pipeline.defs.market.jobs import adjust_factors_job, daily_bars_job, stock_universe_job
from marketdata_pipeline.defs.market.partitions import TIMEZONE
from marketdata_pipeline.defs.market.publication import (
    BARS_PUBLISHED_AT,
    FACTORS_PUBLISHED_AT,
    SHANGHAI,
    shanghai_now,
)
from marketdata_pipeline.defs.sessions import cooldown

STOPPED = dg.DefaultScheduleStatus.STOPPED


def tick_day(context: dg.ScheduleEvaluationContext, published_at: time) -> tuple[date, str | None]:
    """The tick's Shanghai date, and why it must be skipped (closed, not published yet, or BaoStock
    blacklisted us within the cool-down), if it must."""
    scheduled = (context.scheduled_execution_time or shanghai_now()).astimezone(SHANGHAI)
    day = scheduled.date()
    now = min(scheduled, shanghai_now())
    return day, (
        day_runs.closed_reason(day)
        or day_runs.unpublished_reason(day, now, published_at)
        or cooldown.paused_reason()
    )


@dg.schedule(
    cron_schedule="40 17 * * *",
    execution_timezone=TIMEZONE,
    job=stock_universe_job,
    default_status=STOPPED,
    description="The day's stock_universe after BaoStock publishes (17:30), before the bars at 17:45.",
)
def stock_universe_schedule(context: dg.ScheduleEvaluationContext):
    day, reason = tick_day(context, BARS_PUBLISHED_AT)
    if reason:
        return dg.SkipReason(reason)
    return day_runs.stock_universe_requests(day, context.instance) or dg.SkipReason(
        f"stock_universe {day} already has a queued, running or successful run"
    )


@dg.schedule(
    cron_schedule="45 17 * * *",
    execution_timezone=TIMEZONE,
    job=daily_bars_job,
    default_status=STOPPED,
    description="The day's daily_bars, all batches in one run, after BaoStock publishes (17:30).",
)
def daily_bars_schedule(context: dg.ScheduleEvaluationContext):
    day, reason = tick_day(context, BARS_PUBLISHED_AT)
    if reason:
        return dg.SkipReason(reason)
    return day_runs.daily_bars_requests(day, context.instance) or dg.SkipReason(
        f"daily_bars {day} already has a queued, running or successful run"
    )


@dg.schedule(
    cron_schedule="30 18 * * *",
    execution_timezone=TIMEZONE,
    job=adjust_factors_job,
    default_status=STOPPED,
    description="adjust_factors of every batch in one run, after BaoStock publishes factors (18:00), "
    "so the adjusted views are right after each ex-date.",
)
def adjust_factors_schedule(context: dg.ScheduleEvaluationContext):
    day, reason = tick_day(context, FACTORS_PUBLISHED_AT)
    if reason:
        return dg.SkipReason(reason)
    # adjust_factors has a single-run backfill policy: one run over the whole batch range.
    return dg.RunRequest(
        run_key=f"{day}|{BATCHES[0]}..{BATCHES[-1]}",
        tags={ASSET_PARTITION_RANGE_START_TAG: BATCHES[0], ASSET_PARTITION_RANGE_END_TAG: BATCHES[-1]},
    )
