"""Dagster runs against a hostile or absent server: how fast they fail, what they say, what they cost.

Each run is a real `daily_bars` materialization (in process, real DuckDB file)
through a counting proxy; the schedules and sensors are evaluated against the
cool-down the failed run recorded, as a restarted daemon would find it.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from marketdata_pipeline.baostock import BaoStockPool
from marketdata_pipeline.defs.market.checks import pool_health_result
from marketdata_pipeline.defs.market.retries import hold_reason
from marketdata_pipeline.defs.market.schedules import daily_bars_schedule
from marketdata_pipeline.defs.market.sensors import build_publication_sensor
from marketdata_pipeline.defs.sessions.resources import BaoStockPoolResource
from marketdata_pipeline.defs.warehouse.resources import WarehouseResource
from marketdata_pipeline.market_calendar import SHANGHAI
from marketdata_pipeline_tests.faults.test_stop_answers import blacklist
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pipeline.runs import materialize_daily_bars, step_failure_message

PARTITION = "b03|2024-12-31"
TICK = datetime(2024, 12, 31, 17, 45, tzinfo=SHANGHAI)


def resources(address, tmp_path, **options) -> dict:
    """The resources as `from_settings` builds them by default, on `address` and tmp files."""
    host, port = address
    return {
        "baostock": BaoStockPoolResource(
            host=host, port=port, state_dir=str(tmp_path / "baostock"), max_requests_per_day=40_000, **options
        ),
        "warehouse": WarehouseResource(database=str(tmp_path / "warehouse.duckdb"), lock_timeout=10.0),
    }


def resources_for_sensor(address) -> BaoStockPoolResource:
    host, port = address
    return BaoStockPoolResource(host=host, port=port)


@pytest.fixture
def project_env(monkeypatch, tmp_path, counting_proxy):
    """The settings schedules and sensors read, pointed at the proxy and this test's state folder."""
    host, port = counting_proxy.address
    monkeypatch.setenv("BAOSTOCK_HOST", host)
    monkeypatch.setenv("BAOSTOCK_PORT", str(port))
    monkeypatch.setenv("BAOSTOCK_STATE_DIR", str(tmp_path / "baostock"))
    monkeypatch.delenv("MARKETDATA_SOURCE", raising=False)
    monkeypatch.delenv("BAOSTOCK_FALLBACK_ENDPOINTS", raising=False)


def test_a_blacklisted_run_fails_in_seconds_and_pauses_automation(
    faulty_simulator, counting_proxy, tmp_path, project_env
):
    blacklist(faulty_simulator)
    started = time.monotonic()
    result = materialize_daily_bars(resources(counting_proxy.address, tmp_path), PARTITION)
    took = time.monotonic() - started
    assert not result.success
    message = step_failure_message(result)
    assert "blacklisted" in message and "try again" in message and "sensors wait until" in message
    assert "BAOSTOCK_MAX_REQUESTS_PER_SECOND" in message
    assert took < 10  # was 77 s
    assert counting_proxy.requests <= 4  # was 13: the logins in flight, nothing after
    with dg.instance_for_test() as instance:
        tick = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK)
        sensor = build_publication_sensor(clock=lambda: TICK)
        sensor_resources = {"baostock": resources_for_sensor(counting_proxy.address)}
        with dg.build_sensor_context(instance=instance, resources=sensor_resources) as context:
            reasons = [daily_bars_schedule(tick).skip_message, sensor(context).skip_message]
        # Dagster's retry of the failed run: the run launcher asks this before launching it.
        retry = create_run_for_test(
            instance, job_name="daily_bars_job", status=dg.DagsterRunStatus.STARTING,
            tags={"dagster/partition": PARTITION, "dagster/retry_number": "1"},
        )  # fmt: skip
        reasons.append(hold_reason(instance, retry).partition(" not launched: ")[2])
    for reason in reasons:
        assert reason.startswith("paused:") and "blacklisted" in reason and "resumes after" in reason
    assert counting_proxy.requests <= 4  # the sensors did not ask the server either


def test_an_unreachable_server_fails_the_run_within_30_s_naming_it(tmp_path):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        address = placeholder.getsockname()[:2]
        before = open_fds()
        started = time.monotonic()
        result = materialize_daily_bars(resources(address, tmp_path), PARTITION)  # default 60 s pool timeout
        took = time.monotonic() - started
    assert not result.success
    message = step_failure_message(result)
    assert f"127.0.0.1:{address[1]}" in message and "BAOSTOCK_HOST/BAOSTOCK_PORT" in message
    assert took < 30  # was 4 minutes of retries
    assert wait_for_fds(before) <= before


def test_pool_health_says_the_server_refused_the_pings_not_that_data_is_bad(faulty_simulator, counting_proxy):
    with BaoStockPool([counting_proxy.address], max_size=2) as pool:
        with pool.session() as first, pool.session() as second:
            first.ping(), second.ping()
        blacklist(faulty_simulator)
        sent = counting_proxy.requests
        check = pool_health_result(pool)
        assert counting_proxy.requests - sent == 1  # one refused ping; no replacement login, no logout
    assert not check.passed
    problems = check.metadata["problems"].value
    assert "refused the final pings" in problems and "data this run wrote is complete" in problems
