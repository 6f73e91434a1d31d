"""Which `daily_bars_job` runs ended since a cursor, and whether each needs a retry.

Read from the instance's run-status events (RUN_FAILURE, RUN_SUCCESS), in
storage order, so a tick never misses or repeats a run. Canceled runs are not
read: a person stopped them.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from marketdata_pipeline.defs.market.jobs import daily_bars_job

EVENTS_PER_TICK = 200
FINISHED = (dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_SUCCESS)


@dataclass(frozen=True)
class FinishedRun:
    """A `daily_bars_job` run that ended, read from its run-status event."""

    storage_id: int
    ended_at: float
    run: dg.DagsterRun
    failure: str | None
    """Why it needs a retry, or None when it succeeded with a passing failure_rate check."""


def partition_of(tags: dict[str, str]) -> str | None:
    """The run's partition key, `start...end` for a range run, None for an unpartitioned run."""
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        return f"{tags[ASSET_PARTITION_RANGE_START_TAG]}...{tags[ASSET_PARTITION_RANGE_END_TAG]}"
    return None


def failed_check_reason(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """'failure_rate check failed (...)' when the run's failure_rate check did not pass."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.check_name == "failure_rate" and not evaluation.passed:
            rate = evaluation.metadata.get("failure_rate")
            shown = f" ({rate.value:.1%} of symbols failed)" if rate is not None else ""
            return f"its failure_rate check failed{shown}"
    return None


def finished_runs(instance: dg.DagsterInstance, after: int) -> tuple[list[FinishedRun], int]:
    """`daily_bars_job` runs that ended after event `after`, oldest first, and the event read up to."""
    batches = [
        instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(event_type, after_storage_id=after),
            EVENTS_PER_TICK,
            ascending=True,
        )
        for event_type in FINISHED
    ]
    # Each event type is paged on its own: read only up to the first page end so none is skipped.
    cut = min((batch.records[-1].storage_id for batch in batches if batch.has_more), default=None)
    records = sorted(
        (r for batch in batches for r in batch.records if cut is None or r.storage_id <= cut),
        key=lambda record: record.storage_id,
    )
    runs = [
        _finished(instance, record)
        for record in records
        if record.event_log_entry.job_name == daily_bars_job.name
    ]
    read_up_to = cut if cut is not None else max((r.storage_id for r in records), default=after)
    return [run for run in runs if run is not None], read_up_to


def _finished(instance: dg.DagsterInstance, record) -> FinishedRun | None:
    run = instance.get_run_by_id(record.run_id)
    if run is None:  # deleted since
        return None
    failed = record.event_log_entry.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
    failure = "the run failed" if failed else failed_check_reason(instance, run.run_id)
    return FinishedRun(record.storage_id, record.timestamp, run, failure)


def newest_storage_id(instance: dg.DagsterInstance) -> int:
    """The newest run-status event: a sensor turned on for the first time starts after it."""
    newest = [
        instance.fetch_run_status_changes(event_type, 1, ascending=False).records for event_type in FINISHED
    ]
    return max((records[0].storage_id for records in newest if records), default=0)
