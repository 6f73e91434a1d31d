"""The plain run's commits as Dagster materializations, and its refusals as Dagster failures."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from marketdata_pipeline.defs.market.metadata import materialized, partition_rows
from marketdata_pipeline.ingest_run import BatchOutcome, RunRefused, UniverseStored
from marketdata_pipeline_tests.ingest.test_ingest_run import drain

DAY = date(2024, 12, 31)


BATCH = BatchOutcome("b09", [DAY], ["sh.600000"], [], 1, [], {DAY: 1})
PARTITION = dg.MultiPartitionKey({"batch": "b09", "date": str(DAY)})


def test_the_universe_is_recorded_as_it_commits_and_the_bars_left_to_the_steps_result():
    def run():
        yield UniverseStored({DAY: 2}, {DAY: 1})
        yield BATCH
        return "the outcome"

    events, outcome = drain(materialized(run(), [PARTITION]))
    assert outcome == "the outcome"
    assert [(event.asset_key.path, str(event.partition)) for event in events] == [
        (["stock_universe"], "2024-12-31")
    ]
    assert events[0].metadata["dagster/row_count"].value == 2 and events[0].metadata["a_shares"].value == 1


def test_a_run_raising_after_a_batch_committed_records_that_batchs_own_partitions():
    trailing = date(2024, 12, 30)  # re-fetched for revisions: not a partition of the run
    batch = BatchOutcome("b09", [trailing, DAY], ["sh.600000"], [], 2, [], {trailing: 1, DAY: 1})

    def run():
        yield batch
        raise OSError("disk full")

    events = []
    with pytest.raises(OSError, match="disk full"):
        for event in materialized(run(), [PARTITION]):
            events.append(event)
    assert [(str(event.partition), event.metadata["dagster/row_count"].value) for event in events] == [
        ("b09|2024-12-31", 1)
    ]


def test_the_universes_own_step_collects_each_days_rows_and_records_them_itself_only_on_an_error():
    second = date(2025, 1, 2)

    def run(fail: bool):
        yield UniverseStored({DAY: 2}, {DAY: 1})
        yield UniverseStored({second: 1}, {second: 1})
        if fail:
            raise OSError("disk full")

    rows: dict[str, dict] = {}
    events, _ = drain(materialized(run(fail=False), universe_rows=rows))
    assert events == []  # left to the step's result
    assert rows == {
        "2024-12-31": {"dagster/row_count": 2, "a_shares": 1},
        "2025-01-02": {"dagster/row_count": 1, "a_shares": 1},
    }
    events = []
    with pytest.raises(OSError, match="disk full"):
        for event in materialized(run(fail=True), universe_rows={}):
            events.append(event)
    assert [(str(event.partition), event.metadata["dagster/row_count"].value) for event in events] == [
        ("2024-12-31", 2),
        ("2025-01-02", 1),
    ]


def test_partition_rows_keeps_only_the_runs_partitions():
    other_day = date(2024, 12, 30)
    batch = BatchOutcome("b09", [other_day, DAY], ["sh.600000"], [], 3, [], {other_day: 1, DAY: 2})
    assert partition_rows([batch], [PARTITION]) == {PARTITION: {"dagster/row_count": 2}}


def test_a_refused_run_is_a_dagster_failure_naming_the_fix():
    def run():
        raise RunRefused("2030-01-02 is not published yet. Materialize it after that.")
        yield

    with pytest.raises(dg.Failure, match="2030-01-02 is not published yet. Materialize it after that"):
        drain(materialized(run()))
