"""Concurrent runs writing the one DuckDB file: none fails on the file lock, every row lands.

A backfill of 4 batches x 5 days is split by Dagster into one run per batch
(it groups a multi-partition range by the dimension with fewer keys). The
queue takes all four (max_concurrent_runs 4) and the "baostock" pool lets two
of their steps work at once (2 slots), so writes of different runs interleave:
each run opens the warehouse several times (universe, failures, bars, checks)
and must wait out the other's lock.
"""

from __future__ import annotations

from datetime import date

import pytest

from marketdata_pipeline.defs.market.partitions import trading_days
from marketdata_pipeline_tests.ops.graphql_ops import (
    BACKFILL_TAG,
    launch_asset_backfill,
    most_at_once,
    run_windows,
    runs_tagged,
    wait_for_backfill,
)
from marketdata_pipeline_tests.ops.row_counts import simulator_rows, stored_rows

BATCHES = ("b00", "b01", "b02", "b03")
DAYS = trading_days(date(2024, 12, 2), date(2024, 12, 6))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_four_concurrent_runs_all_write_the_warehouse(dagster_dev):
    keys = [f"{batch}|{day}" for batch in BATCHES for day in DAYS]
    backfill_id = launch_asset_backfill(dagster_dev, "daily_bars", keys)

    status = wait_for_backfill(dagster_dev, backfill_id, timeout=400)
    runs = runs_tagged(dagster_dev, BACKFILL_TAG, backfill_id)
    assert status["status"] == "COMPLETED_SUCCESS", (status, dagster_dev.log_tail())
    assert sorted(run.partition_range for run in runs) == [
        (f"{batch}|{DAYS[0]}", f"{batch}|{DAYS[-1]}") for batch in BATCHES
    ]
    assert {run.status for run in runs} == {"SUCCESS"}
    windows = run_windows(dagster_dev, [run.run_id for run in runs])
    assert most_at_once(windows) >= 2, f"the runs never overlapped: {windows}"

    expected = simulator_rows(dagster_dev.simulator, DAYS, BATCHES)
    assert len(expected) == len(DAYS) * len(BATCHES)
    assert stored_rows(dagster_dev.duckdb_path, DAYS, BATCHES) == expected
