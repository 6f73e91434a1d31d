"""The documented command, in a subprocess, fills exactly one partition of an empty warehouse."""

from __future__ import annotations

import subprocess
from datetime import date

import pytest

from marketdata_pipeline.batching import batch_of
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pipeline import official
from marketdata_pipeline_tests.pipeline.commands import (
    REPO,
    check_evaluations_in,
    dagster_home,
    materialize_command,
    pipeline_env,
)
from marketdata_pipeline_tests.pipeline.stored import row_count, stored_bars

BATCH = "b03"
DAY = date(2024, 1, 2)


@pytest.mark.slow
def test_dagster_asset_materialize_writes_exactly_the_batchs_rows_for_the_day(shared_simulator, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    home = dagster_home(tmp_path)
    before = open_fds()

    done = subprocess.run(
        materialize_command(f"{BATCH}|{DAY}"),
        cwd=REPO,
        env=pipeline_env(shared_simulator.address, db, home),
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    with official.official_client(shared_simulator.address) as client:
        answer = client.query_daily_history_k_AStock(DAY.isoformat())
        market = official.read_all(answer)
    expected = sorted(official.typed(row, answer.fields) for row in market if batch_of(row[1]) == BATCH)
    stored = stored_bars(db, BATCH, date(2015, 1, 1), date(2030, 12, 31))
    assert len(stored) == len(expected) > 300
    assert [row[1] for row in stored] == [row[1] for row in expected]
    assert stored == expected
    assert row_count(db) == len(expected), "rows outside the partition were written"
    assert {name: check.passed for name, check in check_evaluations_in(home).items()} == {
        "pool_health": True,
        "failure_rate": True,
        "ohlc_consistent": True,
        "preclose_chain": True,
        "suspension_rules": True,
        "price_limits": True,
        "volume_units": True,
        "universe_matches_bars": True,
        "bar_revisions": True,
        # Selected with its asset, it runs after the step's output; it judges today's trading day,
        # which the simulator (publishing through 2024-12-31) is not.
        "fresh_by_1830": False,
    }
    assert wait_for_fds(before) <= before, "the simulator kept a connection of the finished command"
