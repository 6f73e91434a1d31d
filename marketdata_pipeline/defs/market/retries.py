"""Retries of `daily_bars`: the re-run Dagster cannot make (a WARN failure_rate), the rules every retry obeys.

A failed `daily_bars_job` run is retried by Dagster's run retries
(`run_retries` in dagster.yaml, the job's `dagster/max_retries` tag): the
whole run again, with the same partition (or range), tags and run config, at
most MAX_RETRIES times, counted over the run's re-execution group. Dagster
launches a retry as soon as its daemon sees the failure: it has no delay
between attempts.

What Dagster cannot do is here:
- a *successful* run whose WARN `failure_rate` check failed (1-5% of symbols
  missing) is re-run by `daily_bars_rerun_sensor`, at most MAX_RETRIES times
  (tags `marketdata/rerun_attempt`, `marketdata/rerun_of`);
- before any retry or re-run launches, `hold_reason` is asked (by the run
  launcher, run_launcher.py): during a blacklist cool-down it is not sent to
  BaoStock, and while another run of its partition is queued or running it
  is dropped; either way the run is canceled with the reason in its log.
"""

from __future__ import annotations

import dagster as dg

from marketdata_pipeline.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    RETRY_NUMBER_TAG,
)
from marketdata_pipeline.defs.market.jobs import MAX_RETRIES, daily_bars_job
from marketdata_pipeline.defs.sessions import cooldown

RERUN_ATTEMPT_TAG = "marketdata/rerun_attempt"
RERUN_OF_TAG = "marketdata/rerun_of"
PARTITION_TAGS = (PARTITION_NAME_TAG, ASSET_PARTITION_RANGE_START_TAG, ASSET_PARTITION_RANGE_END_TAG)
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def partition_of(tags: dict[str, str]) -> str | None:
    """The run's partition key, `start...end` for a range run, None for an unpartitioned run."""
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        return f"{tags[ASSET_PARTITION_RANGE_START_TAG]}...{tags[ASSET_PARTITION_RANGE_END_TAG]}"
    return None


def failed_check_reason(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """'its failure_rate check failed (...)' when the run's failure_rate check did not pass."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.check_name == "failure_rate" and not evaluation.passed:
            rate = evaluation.metadata.get("failure_rate")
            shown = f" ({rate.value:.1%} of symbols failed)" if rate is not None else ""
            return f"its failure_rate check failed{shown}"
    return None


def hold_reason(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """Why a retry or re-run must not launch now, or None (always None for other runs)."""
    if run.job_name != daily_bars_job.name or not ({RETRY_NUMBER_TAG, RERUN_ATTEMPT_TAG} & run.tags.keys()):
        return None
    paused = cooldown.paused_reason()  # never re-run into a server that blacklisted us
    if paused:
        return f"retry of daily_bars {partition_of(run.tags)} not launched: {paused}; re-run it by hand after"
    tags = {tag: run.tags[tag] for tag in PARTITION_TAGS if tag in run.tags}
    filters = dg.RunsFilter(job_name=daily_bars_job.name, statuses=IN_PROGRESS, tags=tags)
    busy = [run_id for run_id in instance.get_run_ids(filters, limit=2) if run_id != run.run_id]
    if busy:
        return (
            f"retry of daily_bars {partition_of(run.tags)} dropped: run {busy[0]} of the same partition "
            "is queued or running"
        )
    return None


@dg.run_status_sensor(
    name="daily_bars_rerun_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_bars_job],
    request_job=daily_bars_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=f"Re-runs a successful daily_bars run whose failure_rate check failed (WARN), at most "
    f"{MAX_RETRIES} times; failed runs are retried by Dagster's run retries.",
)
def daily_bars_rerun_sensor(context: dg.RunStatusSensorContext):
    """A re-run of the successful run whose failure_rate check failed; a skip when it needs none.

    STOPPED by default: in `make dev` a person debugging a partition would not expect runs to
    start by themselves; turn it on in production."""
    run = context.dagster_run
    partition = partition_of(run.tags)
    failed = failed_check_reason(context.instance, run.run_id)
    if partition is None or failed is None:
        return dg.SkipReason(f"daily_bars run {run.run_id} needs no re-run")
    raw = run.tags.get(RERUN_ATTEMPT_TAG, "0")
    attempt = int(raw) + 1 if raw.isdigit() else None
    if attempt is None or attempt > MAX_RETRIES:
        message = (
            f"cannot re-run daily_bars {partition}: run {run.run_id} has tag "
            f"{RERUN_ATTEMPT_TAG}={raw!r}, not a number; re-run it by hand"
            if attempt is None
            else f"gave up on daily_bars {partition} after {MAX_RETRIES} re-runs: {failed} again "
            f"(run {run.run_id}); fix the cause, then re-run it by hand"
        )
        context.log.warning(message)
        return dg.SkipReason(message)
    first = run.tags.get(RERUN_OF_TAG, run.run_id)
    kept = {tag: run.tags[tag] for tag in PARTITION_TAGS[1:] if tag in run.tags}
    return dg.RunRequest(
        # The first run's id keeps next month's re-runs of a partition from colliding with today's.
        run_key=f"rerun|{partition}|{attempt}|{first[:8]}",
        run_config=run.run_config,
        partition_key=run.tags.get(PARTITION_NAME_TAG),
        tags={RERUN_ATTEMPT_TAG: str(attempt), RERUN_OF_TAG: first, **kept},
    )
