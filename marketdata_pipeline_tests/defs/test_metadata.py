"""The plain run's commits as Dagster materializations, and its refusals as Dagster failures."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from marketdata_pipeline.defs.market.metadata import materialized
from marketdata_pipeline.ingest_run import BatchOutcome, RunRefused, UniverseStored
from marketdata_pipeline_tests.ingest.test_ingest_run import drain

DAY = date(2024, 12, 31)


def test_each_commit_is_recorded_as_it_comes_and_the_outcome_returned():
    universe = pd.DataFrame({"code": ["sh.600000", "sh.000001"], "type": ["1", "2"], "batch": ["b09", "b09"]})
    batch = BatchOutcome("b09", [DAY], ["sh.600000"], [], 1, [], {DAY: 1})

    def run():
        yield UniverseStored({DAY: universe}, {DAY: 2})
        yield batch
        return "the outcome"

    events, outcome = drain(materialized(run()))
    assert outcome == "the outcome"
    assert [(event.asset_key.path, str(event.partition)) for event in events] == [
        (["stock_universe"], "2024-12-31"),
        (["daily_bars"], "b09|2024-12-31"),
    ]
    assert events[0].metadata["dagster/row_count"].value == 2 and events[0].metadata["a_shares"].value == 1
    assert events[1].metadata["dagster/row_count"].value == 1


def test_a_refused_run_is_a_dagster_failure_naming_the_fix():
    def run():
        raise RunRefused("2030-01-02 is not published yet. Materialize it after that.")
        yield

    with pytest.raises(dg.Failure, match="2030-01-02 is not published yet. Materialize it after that"):
        drain(materialized(run()))
