"""Faults through the whole pipeline: dropped connections, too many failed symbols, a server that is down.

Each run is an in-process `materialize()` against a simulator with faults set
at run time; every run, good or bad, must leave no socket or DuckDB file open.
"""

from __future__ import annotations

import socket
from datetime import date

import dagster as dg
import pytest

from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.conftest import SIMULATOR_TODAY
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pipeline.runs import (
    check_evaluations,
    materialize_daily_bars,
    resources_for,
    run_summary,
    step_failure_message,
)
from marketdata_pipeline_tests.pipeline.stored import slice_versions, stored_bars

BATCH = "b03"
DAY = date(2024, 1, 2)
PARTITION = f"{BATCH}|{DAY}"
# One range request per symbol: ~322 requests, so a 5% or 10% fault rate hits dozens of them.
PER_SYMBOL = {"strategy": "symbol"}


def test_dropped_connections_are_retried_and_the_run_succeeds(simulator, tmp_path):
    simulator.faults.drop_rate = 0.05
    before = open_fds()
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_daily_bars(
            resources_for(simulator.address, tmp_path / "warehouse.duckdb"),
            PARTITION,
            instance=instance,
            config=PER_SYMBOL,
        )
        log = [entry.user_message for entry in instance.all_logs(result.run_id)]
    dropped = simulator.stats()["dropped"]

    assert result.success
    assert dropped >= 3
    assert check_evaluations(result)["failure_rate"].passed
    summary = run_summary(result)
    symbols, requests = summary["symbols"], summary["requests"]
    assert requests > symbols, "each retry is a request of its own"
    discarded = [line for line in log if "discarded" in line and "ConnectionLostError" in line]
    assert discarded, "a dropped connection's session is discarded (and the query retried) in the run log"
    assert wait_for_fds(before) <= before


@pytest.fixture(scope="module")
def too_many_failures(tmp_path_factory):
    """A run in which ~10% of symbols get a server error (not retried), above a 1% error threshold,
    over a stored slice; shared by the tests that judge it (a run costs seconds)."""
    db = tmp_path_factory.mktemp("too_many_failures") / "warehouse.duckdb"
    with Simulator(seed=0, today=SIMULATOR_TODAY) as simulator:
        resources = resources_for(simulator.address, db)
        assert materialize_daily_bars(resources, PARTITION).success
        old = stored_bars(db, BATCH, DAY, DAY), slice_versions(db, BATCH, DAY, DAY)
        simulator.faults.error_rate = 0.1
        before = open_fds()
        thresholds = {"warn_failure_rate": 0.005, "error_failure_rate": 0.01}
        result = materialize_daily_bars(resources, PARTITION, config={**PER_SYMBOL, **thresholds})
        after = wait_for_fds(before)
    return db, result, old, before, after


def test_above_the_error_rate_the_run_fails_and_the_stored_slice_is_unchanged(too_many_failures):
    db, result, (old_rows, old_versions), before, after = too_many_failures

    assert not result.success
    failure_rate = check_evaluations(result)["failure_rate"]
    assert not failure_rate.passed
    assert failure_rate.severity == dg.AssetCheckSeverity.ERROR
    assert failure_rate.metadata["failure_rate"].value > 0.01
    assert not result.asset_materializations_for_node("daily_bars")
    assert stored_bars(db, BATCH, DAY, DAY) == old_rows
    assert slice_versions(db, BATCH, DAY, DAY) == old_versions
    assert after <= before


def test_above_the_error_rate_the_failure_names_the_failure_rate_check(too_many_failures):
    _, result, *_ = too_many_failures

    message = step_failure_message(result)

    assert "failure_rate" in message
    assert "DagsterStepOutputNotFoundError" not in message


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_server_down_fails_with_a_message_naming_host_and_port(tmp_path):
    address = ("127.0.0.1", free_port())
    before = open_fds()

    result = materialize_daily_bars(
        resources_for(address, tmp_path / "warehouse.duckdb", pool_timeout=2.0), PARTITION
    )

    assert not result.success
    message = step_failure_message(result)
    assert f"127.0.0.1:{address[1]}" in message
    assert "BAOSTOCK_HOST/BAOSTOCK_PORT" in message
    assert wait_for_fds(before) <= before
