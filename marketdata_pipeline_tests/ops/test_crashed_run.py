"""kill -9 of a day's run under `dagster dev`: its step dies with it, and the day is free again.

A day's `daily_bars_job` run (all 16 batches, the tags the schedule gives it,
one request per symbol) is started from the command line on the `dagster dev`
instance; mid-fetch, the `dagster` process is killed with SIGKILL. Before:
the step worker went on alone (orphaned), and the run stayed STARTED for
ever, so the schedule and sensors saw the day as taken and Dagster's run
retries never saw a failure. Now the step worker dies with its parent, and run
monitoring (the daemon of `dagster dev`; every 15 s in dagster.yaml, every 3 s
in the test instance) fails the run within a poll interval, naming the dead
process, and marks it for a retry (dagster.yaml `run_retries`); the day is
then requested again.

It shares the ops suite's `dagster dev` (starting one costs about a minute);
the fault suite (marketdata_pipeline_tests/faults/) holds the other faults.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from datetime import date

import dagster as dg
import pytest

from marketdata_pipeline.defs.market.schedules import day_is_taken, day_range_tags, day_request
from marketdata_pipeline.run_launcher import worker_alive
from marketdata_pipeline_tests.ops.dagster_dev import MONITORING_POLL_S, POOL_SIZE
from marketdata_pipeline_tests.pipeline.commands import BIN, REPO, pipeline_env

DAY = date(2024, 12, 2)
MID_FETCH_S = 1.0  # after the step started: one request per symbol of 5,000 takes far longer
GIVE_UP_S = 120.0


def wait_for(what: str, condition, timeout: float = GIVE_UP_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")


def first_event(instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType):
    records = instance.get_records_for_run(run_id, of_type=event_type, limit=1).records
    return records[0].event_log_entry if records else None


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_kill_9_of_a_days_run_frees_the_day_and_leaves_no_orphan(dagster_dev, tmp_path):
    dev = dagster_dev
    run_config = tmp_path / "run_config.yaml"
    run_config.write_text(json.dumps({"ops": {"daily_bars": {"config": {"strategy": "symbol"}}}}))
    command = [
        str(BIN / "dagster"), "job", "execute", "-m", "marketdata_pipeline.definitions",
        "-j", "daily_bars_job", "-c", str(run_config), "--tags", json.dumps(day_range_tags(DAY)),
    ]  # fmt: skip
    env = pipeline_env(dev.simulator, dev.duckdb_path, dev.dagster_home, BAOSTOCK_POOL_SIZE=str(POOL_SIZE))
    log = (tmp_path / "cli-run.log").open("wb")
    cli = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        with dg.DagsterInstance.from_config(str(dev.dagster_home)) as instance:
            run = wait_for(
                "the run to start", lambda: instance.get_runs(dg.RunsFilter(tags=day_range_tags(DAY)))
            )[0]
            step = wait_for(
                "the step to start",
                lambda: first_event(instance, run.run_id, dg.DagsterEventType.STEP_START),
            )
            # In process (defs/__init__.py) the step runs in the CLI's own process; a multiprocess
            # executor would run it in a child that must die with its parent (orphans.py).
            step_pid, started = step.dagster_event.pid, step.timestamp
            assert day_is_taken(DAY, instance), "a running day run takes the day"
            time.sleep(MID_FETCH_S)
            assert worker_alive(step_pid, started), "the run ended before the kill: nothing was tested"

            os.kill(cli.pid, signal.SIGKILL)
            killed = time.monotonic()
            cli.wait()

            wait_for("the orphaned step worker to die", lambda: not worker_alive(step_pid, started), 5.0)
            failed = wait_for(
                "run monitoring to fail the dead run",
                lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE,
                4 * MONITORING_POLL_S + 30,
            )
            blocked_s = time.monotonic() - killed
            reason = first_event(instance, run.run_id, dg.DagsterEventType.RUN_FAILURE)

            assert failed
            assert "is gone" in (reason.message or ""), reason.message
            assert not day_is_taken(DAY, instance)
            # Dagster's run retries see the dead run fail (a run started from the CLI has no code
            # location to re-execute it from, so its retry stops there; a UI or schedule run's goes on).
            # Dagster tags the run just after storing its failure: wait for the tag, not the status.
            assert wait_for(
                "Dagster's retry decision",
                lambda: instance.get_run_by_id(run.run_id).tags.get("dagster/will_retry") == "true",
                10.0,
            )
            assert day_request(DAY, instance), "the schedule and sensors request the day again"
            print(f"\nday {DAY} blocked for {blocked_s:.1f} s after kill -9 (poll {MONITORING_POLL_S} s)")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cli.pid, signal.SIGKILL)
        cli.wait()
        log.close()
