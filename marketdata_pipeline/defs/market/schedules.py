"""The evening schedules (bars 17:45, adjust factors 18:30, Asia/Shanghai) and the day's run request.

BaoStock publishes a trading day's bars at about 17:30 and its adjust factors
at about 18:00. The schedules tick every day so that each non-trading day
shows in the tick history with the reason it was skipped.

`daily_bars_schedule` launches one run for the whole day: the partition range
`b00|<date>`..`b15|<date>` (Dagster reads a range of multi-partitions as the
rectangle between its corners), so the day costs one pool of at most
BAOSTOCK_POOL_SIZE sessions and, by the planner, one whole-market request,
instead of 16 runs asking for the same answer; the run stores the day's
universe itself. The publication sensor requests the same run
(`day_request`), and both skip a day that already has such a run queued,
running or successful (or single-batch runs covering every batch), so
turning both on never fetches a day twice.

A tick never requests a day BaoStock has not published: the day is the tick's
date, checked against the earlier of the tick time and the wall clock (the UI
can evaluate future ticks). All schedules start STOPPED: the code location
points at the real BaoStock server by default, and an operator turns them on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time

import dagster as dg

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from marketdata_pipeline.defs.market.jobs import adjust_factors_job, daily_bars_job
from marketdata_pipeline.defs.market.partitions import DATE_FORMAT
from marketdata_pipeline.defs.market.retries import IN_PROGRESS
from marketdata_pipeline.defs.sessions import cooldown
from marketdata_pipeline.market_calendar import (
    BARS_PUBLISHED_AT,
    FACTORS_PUBLISHED_AT,
    SHANGHAI,
    TIMEZONE,
    closed_reason,
    shanghai_now,
    unpublished_reason,
)

# Runs that make a new run of the day redundant; a failed or canceled run does not
# (Dagster's run retries or a person decide about those).
TAKEN_STATUSES = [*IN_PROGRESS, dg.DagsterRunStatus.SUCCESS]
DATE_DIMENSION_TAG = f"{PARTITION_NAME_TAG}/date"


def day_range_tags(day: date) -> dict[str, str]:
    """The tags of a run over every batch of `day` (a 2-D range of the multi-partitions)."""
    key = day.strftime(DATE_FORMAT)
    return {
        ASSET_PARTITION_RANGE_START_TAG: f"{BATCHES[0]}|{key}",
        ASSET_PARTITION_RANGE_END_TAG: f"{BATCHES[-1]}|{key}",
    }


def day_is_taken(day: date, instance: dg.DagsterInstance) -> bool:
    """A whole-day run, or single-batch runs of every batch, are queued, running or successful."""
    filters = dg.RunsFilter(job_name=daily_bars_job.name, statuses=TAKEN_STATUSES, tags=day_range_tags(day))
    if instance.get_run_ids(filters, limit=1):
        return True
    key = day.strftime(DATE_FORMAT)
    batch_runs = instance.get_runs(
        dg.RunsFilter(job_name=daily_bars_job.name, statuses=TAKEN_STATUSES, tags={DATE_DIMENSION_TAG: key})
    )
    covered = {run.tags.get(PARTITION_NAME_TAG) for run in batch_runs}
    return all(f"{batch}|{key}" in covered for batch in BATCHES)


def day_request(day: date, instance: dg.DagsterInstance) -> dg.RunRequest | None:
    """The run over every batch of `day`, or None when the day is already queued, running or done."""
    if day_is_taken(day, instance):
        return None
    return dg.RunRequest(run_key=f"{day}|daily_bars", job_name=daily_bars_job.name, tags=day_range_tags(day))


def evening_schedule(cron: str, job, published_at: time, description: str):
    """A STOPPED daily schedule on Shanghai time, named after the decorated function, which gives the
    request of the tick's Shanghai date. A day closed, not published yet by the earlier of the tick
    time and the wall clock, or within a blacklist's cool-down is skipped with the reason first."""

    def build(request: Callable[[date, dg.DagsterInstance], dg.RunRequest | dg.SkipReason]):
        @dg.schedule(
            name=request.__name__,
            cron_schedule=cron,
            execution_timezone=TIMEZONE,
            job=job,
            default_status=dg.DefaultScheduleStatus.STOPPED,
            description=description,
        )
        def schedule(context: dg.ScheduleEvaluationContext):
            scheduled = (context.scheduled_execution_time or shanghai_now()).astimezone(SHANGHAI)
            day, now = scheduled.date(), min(scheduled, shanghai_now())
            reason = (
                closed_reason(day) or unpublished_reason(day, now, published_at) or cooldown.paused_reason()
            )
            return dg.SkipReason(reason) if reason else request(day, context.instance)

        return schedule

    return build


@evening_schedule(
    "45 17 * * *",
    daily_bars_job,
    BARS_PUBLISHED_AT,
    "The day's daily_bars (and its universe), all batches in one run, after BaoStock publishes (17:30).",
)
def daily_bars_schedule(day: date, instance: dg.DagsterInstance):
    return day_request(day, instance) or dg.SkipReason(
        f"daily_bars {day} already has a queued, running or successful run"
    )


@evening_schedule(
    "30 18 * * *",
    adjust_factors_job,
    FACTORS_PUBLISHED_AT,
    "adjust_factors of every batch in one run, after BaoStock publishes factors (18:00), "
    "so the adjusted views are right after each ex-date.",
)
def adjust_factors_schedule(day: date, instance: dg.DagsterInstance):
    # adjust_factors has a single-run backfill policy: one run over the whole batch range.
    return dg.RunRequest(
        run_key=f"{day}|{BATCHES[0]}..{BATCHES[-1]}",
        tags={ASSET_PARTITION_RANGE_START_TAG: BATCHES[0], ASSET_PARTITION_RANGE_END_TAG: BATCHES[-1]},
    )
