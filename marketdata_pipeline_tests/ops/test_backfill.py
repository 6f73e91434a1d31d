"""A backfill of 6 trading days x all 16 batches of daily_bars through the webserver's GraphQL API.

One backfill, three promises. It is split into single-run ranges and stores
exactly the simulator's bars. Its runs, however the queue and the "baostock"
pool interleave them, never hold more BaoStock sessions than the budget: the
simulator refuses a login beyond 8 (10001005), which the run's pool would
count in its `pool_health` check as a login failure. And with 4 slots, up to 4
runs write the one DuckDB file at once without failing on its lock (how many
overlap depends on how fast the daemon launches them against how long each
runs: 3 or 4 on this machine since steps run in process).

Dagster splits a multi-partition selection into ranges along whichever
dimension has fewer distinct keys: 6 days < 16 batches gives one run per
day covering b00..b15 (with more days than batches it is one run per batch).
Six runs over 4 slots: four start together and two wait in the queue, then
run beside the last of the first four (each run also re-fetches the days
before its first, which its neighbours write at the same time) - every
interleaving the test stands for, at six runs' cost instead of ten.
"""

from __future__ import annotations

from datetime import date

import pytest

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.market_calendar import xshg_trading_days
from marketdata_pipeline_tests.ops.dagster_dev import POOL_SIZE, SESSION_BUDGET, SLOTS
from marketdata_pipeline_tests.ops.graphql_ops import (
    BACKFILL_TAG,
    check_evaluations,
    launch_asset_backfill,
    most_at_once,
    run_windows,
    runs_tagged,
    wait_for_backfill,
)
from marketdata_pipeline_tests.ops.row_counts import simulator_rows, stored_rows

DAYS = xshg_trading_days(date(2024, 12, 20), date(2024, 12, 27))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_six_day_backfill_of_every_batch_stores_the_simulators_bars_within_the_session_budget(
    dagster_dev,
):
    assert len(DAYS) == 6
    backfill_id = launch_asset_backfill(
        dagster_dev, "daily_bars", [f"{batch}|{day}" for batch in BATCHES for day in DAYS]
    )

    status = wait_for_backfill(dagster_dev, backfill_id, timeout=720)
    runs = runs_tagged(dagster_dev, BACKFILL_TAG, backfill_id)
    assert status["status"] == "COMPLETED_SUCCESS", (status, dagster_dev.log_tail())
    assert sorted(run.partition_range for run in runs) == [
        (f"{BATCHES[0]}|{day}", f"{BATCHES[-1]}|{day}") for day in DAYS
    ]
    assert {run.status for run in runs} == {"SUCCESS"}
    windows = run_windows(dagster_dev, [run.run_id for run in runs])
    assert 2 <= most_at_once(windows) <= SLOTS, f"expected 2..{SLOTS} runs writing at once: {windows}"

    health = check_evaluations(dagster_dev, "daily_bars", "pool_health")
    for run in runs:
        pool = health[run.run_id]
        assert pool["success"] is True, pool
        assert pool["login_failures"] == 0, f"a login beyond the budget of {SESSION_BUDGET}: {pool}"
        assert 1 <= pool["logins"] <= POOL_SIZE, pool

    expected = simulator_rows(dagster_dev.simulator, DAYS, BATCHES)
    assert len(expected) == len(DAYS) * len(BATCHES)
    assert stored_rows(dagster_dev.duckdb_path, DAYS, BATCHES) == expected
