"""The retry sensor: re-runs a `daily_bars` partition whose run failed or whose failure_rate check failed.

A failed run, or a successful run whose `failure_rate` check failed (a WARN:
1-5% of symbols missing), schedules a re-run of the same partition (or range)
with the same run config after a growing delay - 5, 15, 45 minutes - at most
MAX_RETRIES times. A later successful run of the partition cancels a pending
retry, and a retry is dropped when another run of the partition is already
queued or running. After the last retry fails, the sensor stops and says so:
a warning in its log and the tick's skip reason name the partition and attempts.
The cursor (see retry_state.py) holds the pending retries per partition.

Each retry run carries `marketdata/retry_attempt` (1, 2, 3) and
`marketdata/retry_of` (the run that failed first) as tags. Its run key is
`retry|<partition>|<attempt>|<first failed run id>`: the run id keeps next
month's retries of a partition from colliding with today's (Dagster drops a
request whose run key the sensor has used before).

STOPPED by default: in `make dev` a person debugging a partition would not
expect runs to start by themselves; turn it on in production.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from marketdata_pipeline.defs.market.finished_runs import (
    FinishedRun,
    finished_runs,
    newest_storage_id,
    partition_of,
)
from marketdata_pipeline.defs.market.jobs import daily_bars_job
from marketdata_pipeline.defs.market.partitions import TIMEZONE
from marketdata_pipeline.defs.market.publication import SHANGHAI, shanghai_now
from marketdata_pipeline.defs.market.retry_state import PendingRetry, RetryState
from marketdata_pipeline.defs.sessions import cooldown

RETRY_ATTEMPT_TAG = "marketdata/retry_attempt"
RETRY_OF_TAG = "marketdata/retry_of"
MAX_RETRIES = 3
FIRST_DELAY = timedelta(minutes=5)
DELAY_GROWTH = 3
CHECK_EVERY_SECONDS = 60
PARTITION_TAGS = (PARTITION_NAME_TAG, ASSET_PARTITION_RANGE_START_TAG, ASSET_PARTITION_RANGE_END_TAG)
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def retry_delay(attempt: int) -> timedelta:
    """How long after a failure retry `attempt` (1-based) starts: 5, 15, 45 minutes."""
    if attempt < 1:
        raise ValueError(f"retry attempt {attempt} must be 1 or more")
    return FIRST_DELAY * DELAY_GROWTH ** (attempt - 1)


def attempt_of(run: dg.DagsterRun) -> int | None:
    """Which retry `run` was: 0 for a run nobody retried, None when its tag is not a number."""
    raw = run.tags.get(RETRY_ATTEMPT_TAG, "0")
    return int(raw) if raw.isdigit() else None


def plan_retry(state: RetryState, finished: FinishedRun, max_retries: int) -> str | None:
    """Record what `finished` means for its partition; a message when a failure will not be retried."""
    partition = partition_of(finished.run.tags)
    if partition is None:
        return None
    if finished.failure is None:
        state.pending.pop(partition, None)
        return None
    previous = attempt_of(finished.run)
    if previous is None:
        state.pending.pop(partition, None)
        return (
            f"cannot retry daily_bars {partition}: run {finished.run.run_id} has tag "
            f"{RETRY_ATTEMPT_TAG}={finished.run.tags[RETRY_ATTEMPT_TAG]!r}, not a number; re-run it by hand"
        )
    attempt = previous + 1
    if attempt > max_retries:
        state.pending.pop(partition, None)
        return (
            f"gave up on daily_bars {partition} after {max_retries} retries: {finished.failure} again "
            f"(attempt {attempt - 1}, run {finished.run.run_id}); fix the cause, then re-run it by hand"
        )
    due = finished.ended_at + retry_delay(attempt).total_seconds()
    state.pending[partition] = PendingRetry(attempt, due, finished.run.run_id)
    return None


def retry_request(failed: dg.DagsterRun, partition: str, attempt: int) -> dg.RunRequest:
    """A re-run of `failed`'s partition or range with its run config, tagged with the attempt."""
    retry_of = failed.tags.get(RETRY_OF_TAG, failed.run_id)
    range_tags = {tag: failed.tags[tag] for tag in PARTITION_TAGS[1:] if tag in failed.tags}
    return dg.RunRequest(
        run_key=f"retry|{partition}|{attempt}|{retry_of[:8]}",
        job_name=daily_bars_job.name,
        run_config=failed.run_config,
        partition_key=failed.tags.get(PARTITION_NAME_TAG),
        tags={RETRY_ATTEMPT_TAG: str(attempt), RETRY_OF_TAG: retry_of, **range_tags},
    )


def due_requests(instance: dg.DagsterInstance, state: RetryState, now: float) -> list[dg.RunRequest]:
    """Run requests for the retries due at `now`, taken out of `state`."""
    requests = []
    for partition, retry in sorted(state.pending.items()):
        if retry.due > now:
            continue
        del state.pending[partition]
        failed = instance.get_run_by_id(retry.failed_run_id)
        if failed is not None and not partition_busy(instance, failed):
            requests.append(retry_request(failed, partition, retry.attempt))
    return requests


def partition_busy(instance: dg.DagsterInstance, failed: dg.DagsterRun) -> bool:
    """Whether another run of `failed`'s partition (or range) is queued or running now."""
    tags = {tag: failed.tags[tag] for tag in PARTITION_TAGS if tag in failed.tags}
    filters = dg.RunsFilter(job_name=daily_bars_job.name, statuses=IN_PROGRESS, tags=tags)
    return bool(instance.get_run_ids(filters, limit=1))


def waiting_summary(state: RetryState) -> str:
    """The skip reason of a tick that requests nothing."""
    if not state.pending:
        return "no daily_bars partition waits for a retry"
    waiting = ", ".join(
        f"retry {retry.attempt} of {partition} at {_shanghai(retry.due)}"
        for partition, retry in sorted(state.pending.items())
    )
    return f"waiting ({TIMEZONE}): {waiting}"


def _minutes(max_retries: int) -> str:
    return ", ".join(
        str(int(retry_delay(attempt).total_seconds() // 60)) for attempt in range(1, max_retries + 1)
    )


def _shanghai(timestamp: float) -> str:
    return f"{datetime.fromtimestamp(timestamp, SHANGHAI):%Y-%m-%d %H:%M}"


def build_retry_sensor(
    name: str = "daily_bars_retry_sensor",
    clock: Callable[[], datetime] = shanghai_now,
    max_retries: int = MAX_RETRIES,
) -> dg.SensorDefinition:
    """The sensor, reading the time from `clock` (tests pass their own)."""

    @dg.sensor(
        name=name,
        job=daily_bars_job,
        minimum_interval_seconds=CHECK_EVERY_SECONDS,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Re-runs a daily_bars partition whose run or failure_rate check failed, at most "
        f"{max_retries} times, after {_minutes(max_retries)} minutes.",
    )
    def retry_sensor(context: dg.SensorEvaluationContext):
        state = RetryState.from_cursor(context.cursor)
        if state.after_storage_id is None:
            state.after_storage_id = newest_storage_id(context.instance)
            started = "watching daily_bars runs that end from now on"
            return dg.SensorResult(skip_reason=started, cursor=state.to_cursor())
        ended, state.after_storage_id = finished_runs(context.instance, state.after_storage_id)
        gave_up = [message for run in ended if (message := plan_retry(state, run, max_retries))]
        for message in gave_up:
            context.log.warning(message)
        paused = cooldown.paused_reason()  # never re-run into a server that blacklisted us
        if paused:
            return dg.SensorResult(skip_reason=paused, cursor=state.to_cursor())
        requests = due_requests(context.instance, state, clock().timestamp())
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=state.to_cursor())
        reason = "; ".join(gave_up) or waiting_summary(state)
        return dg.SensorResult(skip_reason=reason, cursor=state.to_cursor())

    return retry_sensor


daily_bars_retry_sensor = build_retry_sensor()
