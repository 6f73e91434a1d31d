"""A server that accepts but never answers: the real command fails within its timeouts, writing nothing."""

from __future__ import annotations

import subprocess
import time
from datetime import date

import dagster as dg
import pytest

from marketdata_pipeline_tests.faults.proxy import CountingProxy
from marketdata_pipeline_tests.pipeline.commands import (
    REPO,
    check_evaluations_in,
    dagster_home,
    materialize_command,
    pipeline_env,
)
from marketdata_pipeline_tests.pipeline.runs import materialize_daily_bars, resources_for
from marketdata_pipeline_tests.pipeline.stored import slice_versions, stored_bars

BATCH = "b03"
DAY = date(2024, 1, 2)
REQUEST_TIMEOUT_S = 0.5
# A dead server must cost the run a few timed-out logins per session, counted at the socket (17
# measured for 4 sessions), not three requests per symbol of the batch (~322 x 3; the run took
# 165 s before the breaker).
HANG_REQUEST_BOUND = 32
# Only a guard against a run that never ends: start-up alone takes 10-40 s on a loaded 2-core machine.
HANG_BOUND_S = 150.0


@pytest.mark.slow
def test_hanging_server_fails_the_run_within_its_timeouts_and_keeps_the_old_slice(simulator, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    assert materialize_daily_bars(resources_for(simulator.address, db), f"{BATCH}|{DAY}").success
    old = stored_bars(db, BATCH, DAY, DAY), slice_versions(db, BATCH, DAY, DAY)
    home = dagster_home(tmp_path)
    simulator.faults.hang_rate = 1.0
    proxy = CountingProxy(simulator.address)
    env = pipeline_env(
        proxy.address,
        db,
        home,
        BAOSTOCK_REQUEST_TIMEOUT=str(REQUEST_TIMEOUT_S),
        BAOSTOCK_POOL_TIMEOUT="1",
    )

    started = time.monotonic()
    try:
        done = subprocess.run(
            materialize_command(f"{BATCH}|{DAY}"),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=HANG_BOUND_S,
        )
    except subprocess.TimeoutExpired:
        done = None
    finally:
        proxy.close()
    elapsed = time.monotonic() - started

    assert (stored_bars(db, BATCH, DAY, DAY), slice_versions(db, BATCH, DAY, DAY)) == old
    assert done is not None, f"the run was still going after {elapsed:.0f} s (bound {HANG_BOUND_S:.0f} s)"
    assert proxy.requests <= HANG_REQUEST_BOUND, proxy.requests_by_method()
    assert done.returncode != 0
    failure_rate = check_evaluations_in(home)["failure_rate"]
    assert not failure_rate.passed
    assert failure_rate.severity == dg.AssetCheckSeverity.ERROR
