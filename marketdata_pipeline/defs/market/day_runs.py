"""The runs that fill one trading day, shared by the daily schedules and the publication sensor.

One `daily_bars` run covers the whole day: all 16 batches, as the partition
range `b00|<date>`..`b15|<date>` (run key `<date>|daily_bars`), so the day
costs one pool and at most one whole-market request. Both the schedule and the
sensor skip a day that already has such a run queued, running or successful
(or single-batch runs covering every batch), so enabling both never fetches a
day twice.
"""

from __future__ import annotations

from datetime import date, datetime, time

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.defs.market.jobs import daily_bars_job, stock_universe_job
from marketdata_pipeline.defs.market.partitions import DATE_FORMAT, TIMEZONE, is_trading_day
from marketdata_pipeline.defs.market.publication import BARS_PUBLISHED_AT, latest_published_day

# Runs that make a new run of the same partition redundant; a failed or
# canceled run does not (the retry sensor or a person decides about those).
TAKEN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.SUCCESS,
]
DATE_DIMENSION_TAG = f"{PARTITION_NAME_TAG}/date"


def closed_reason(day: date) -> str | None:
    """Why XSHG does not trade on `day`, or None when it does."""
    if is_trading_day(day):
        return None
    why = day.strftime("%A") if day.weekday() >= 5 else "exchange holiday"
    return f"{day} is not an XSHG trading day ({why})"


def unpublished_reason(day: date, now: datetime, published_at: time = BARS_PUBLISHED_AT) -> str | None:
    """Why BaoStock has not published `day` at `now` (a future day, or before `published_at`), or None."""
    latest = latest_published_day(now, published_at)
    if day <= latest:
        return None
    return (
        f"{day} is not published yet: BaoStock publishes a trading day at about {published_at:%H:%M} "
        f"{TIMEZONE} and it is {now:%Y-%m-%d %H:%M} there (latest published day: {latest})"
    )


def daily_bars_key(day: date, batch: str) -> str:
    """The `daily_bars` partition key of one batch on one day (`b03|2024-01-02`)."""
    return str(dg.MultiPartitionKey({"date": day.strftime(DATE_FORMAT), "batch": batch}))


def day_range_tags(day: date) -> dict[str, str]:
    """The tags of a run over every batch of `day` (a 2-D range of the multi-partitions)."""
    return {
        ASSET_PARTITION_RANGE_START_TAG: daily_bars_key(day, BATCHES[0]),
        ASSET_PARTITION_RANGE_END_TAG: daily_bars_key(day, BATCHES[-1]),
    }


def daily_bars_requests(day: date, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    """One run over every batch of `day`, unless the day is already queued, running or done."""
    if day_is_taken(day, instance):
        return []
    tags = day_range_tags(day)
    return [dg.RunRequest(run_key=f"{day}|daily_bars", job_name=daily_bars_job.name, tags=tags)]


def day_is_taken(day: date, instance: dg.DagsterInstance) -> bool:
    """A whole-day run, or single-batch runs of every batch, are queued, running or successful."""
    filters = dg.RunsFilter(job_name=daily_bars_job.name, statuses=TAKEN_STATUSES, tags=day_range_tags(day))
    if instance.get_runs(filters, limit=1):
        return True
    date_tag = {DATE_DIMENSION_TAG: day.strftime(DATE_FORMAT)}
    single = partitions_with_runs(instance, daily_bars_job.name, date_tag)
    return all(daily_bars_key(day, batch) in single for batch in BATCHES)


def stock_universe_requests(day: date, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    """The universe run of `day`, unless one is already queued, running or successful."""
    key = day.strftime(DATE_FORMAT)
    if key in partitions_with_runs(instance, stock_universe_job.name, {PARTITION_NAME_TAG: key}):
        return []
    return [dg.RunRequest(run_key=f"{day}|universe", job_name=stock_universe_job.name, partition_key=key)]


def partitions_with_runs(instance: dg.DagsterInstance, job_name: str, tags: dict[str, str]) -> set[str]:
    """Partition keys of `job_name`'s runs with `tags` that are queued, running or successful."""
    runs = instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=TAKEN_STATUSES, tags=tags))
    return {run.tags[PARTITION_NAME_TAG] for run in runs if PARTITION_NAME_TAG in run.tags}
