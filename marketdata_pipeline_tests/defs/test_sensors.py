"""The publication sensor against the simulator through the `baostock` resource, as the daemon ticks it."""

import contextlib
import socket
from datetime import datetime

import dagster as dg
import pytest

from marketdata_pipeline.defs.market.sensors import build_publication_sensor
from marketdata_pipeline.defs.sessions.resources import BaoStockPoolResource
from marketdata_pipeline.defs.settings import load_settings
from marketdata_pipeline.market_calendar import SHANGHAI
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.defs.daily_bars_runs import run_daily_bars
from marketdata_pipeline_tests.fd_count import no_leaked_fds

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def shanghai(hour: int, minute: int, day: int = 8) -> datetime:
    return datetime(2024, 10, day, hour, minute, tzinfo=SHANGHAI)


def evaluate(sensor, repository, instance, cursor=None):
    """One tick as the daemon runs it: the `baostock` resource built from the environment now, torn
    down after the tick."""
    resources = {"baostock": BaoStockPoolResource.from_settings(load_settings())}
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, repository_def=repository, resources=resources
    ) as context:
        return sensor.evaluate_tick(context)


@pytest.fixture(autouse=True)
def own_request_ledger(monkeypatch, tmp_path):
    """The probe charges its requests to the day's ledger: keep it in this test's folder."""
    monkeypatch.setenv("BAOSTOCK_STATE_DIR", str(tmp_path / "baostock"))


@contextlib.contextmanager
def serving(monkeypatch, now: datetime):
    """A simulator whose clock reads `now` (Shanghai), set as BAOSTOCK_HOST/PORT."""
    with Simulator(seed=0, today=now) as sim:
        host, port = sim.address
        monkeypatch.setenv("BAOSTOCK_HOST", host)
        monkeypatch.setenv("BAOSTOCK_PORT", str(port))
        yield sim


@pytest.fixture
def baostock(monkeypatch):
    """BaoStock at 17:50 on 2024-10-08: that day is published."""
    with serving(monkeypatch, datetime(2024, 10, 8, 17, 50)) as sim:
        yield sim


def publication_sensor_at(at: datetime):
    return build_publication_sensor(clock=lambda: at)


def test_before_publication_the_sensor_skips_without_asking_baostock(baostock, repository, instance):
    data = evaluate(publication_sensor_at(shanghai(17, 20)), repository, instance)

    assert not data.run_requests
    assert "publishes a trading day at about 17:30" in data.skip_message
    assert "2024-10-08 17:20" in data.skip_message
    assert baostock.stats()["logins"] == 0


def test_after_publication_the_sensor_starts_the_day_and_closes_its_session(baostock, repository, instance):
    with no_leaked_fds():
        data = evaluate(publication_sensor_at(shanghai(17, 50)), repository, instance)

    assert data.skip_message is None
    # One run for the day: it stores the day's universe itself.
    [day_run] = data.run_requests
    assert (day_run.job_name, day_run.partition_key, day_run.run_key) == (
        "daily_bars_job", None, "2024-10-08|daily_bars"
    )
    assert (day_run.tags[RANGE_START], day_run.tags[RANGE_END]) == ("b00|2024-10-08", "b15|2024-10-08")
    assert data.cursor == "2024-10-08"
    stats = baostock.stats()
    assert (stats["logins"], stats["logouts"], stats["active_connections"]) == (1, 1, 0)
    assert set(stats["requests_by_method"]) == {"login", "query_all_stock", "logout"}


def test_a_restarted_sensor_does_not_request_the_day_again(baostock, repository, instance):
    first = evaluate(publication_sensor_at(shanghai(17, 50)), repository, instance)
    restarted = publication_sensor_at(shanghai(17, 55))  # a new process: only the cursor survives

    again = evaluate(restarted, repository, instance, cursor=first.cursor)

    assert len(first.run_requests) == 1
    assert not again.run_requests
    assert again.skip_message.startswith("the run of 2024-10-08 was started already")
    assert baostock.stats()["logins"] == 1  # the restarted sensor did not ask BaoStock again


def test_the_next_trading_day_is_requested_after_the_cursor(monkeypatch, repository, instance):
    with serving(monkeypatch, datetime(2024, 10, 9, 17, 50)):
        sensor = publication_sensor_at(shanghai(17, 50, day=9))
        data = evaluate(sensor, repository, instance, cursor="2024-10-08")

    assert data.cursor == "2024-10-09"
    assert [r.run_key for r in data.run_requests] == ["2024-10-09|daily_bars"]


def test_a_day_baostock_has_not_published_yet_is_not_requested(monkeypatch, repository, instance):
    with serving(monkeypatch, datetime(2024, 10, 8, 17, 25)) as late:  # BaoStock is late today
        data = evaluate(publication_sensor_at(shanghai(17, 50)), repository, instance)
        host, port = late.address

    assert not data.run_requests
    assert data.cursor is None
    assert data.skip_message == (
        f"BaoStock at {host}:{port} has not published 2024-10-08 yet (query_all_stock is empty)"
    )


def test_on_a_saturday_the_sensor_skips_without_asking_baostock(baostock, repository, instance):
    data = evaluate(publication_sensor_at(shanghai(18, 0, day=5)), repository, instance)

    assert data.skip_message == "2024-10-05 is not an XSHG trading day (Saturday)"
    assert baostock.stats()["logins"] == 0


def test_an_unreachable_server_is_a_skip_naming_host_and_port(monkeypatch, repository, instance):
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("BAOSTOCK_HOST", "127.0.0.1")
    monkeypatch.setenv("BAOSTOCK_PORT", str(port))

    with no_leaked_fds():
        data = evaluate(publication_sensor_at(shanghai(17, 50)), repository, instance)

    assert not data.run_requests
    assert data.skip_message.startswith(
        f"cannot ask BaoStock at 127.0.0.1:{port} whether 2024-10-08 is published"
    )
    assert "Connection refused" in data.skip_message


def test_a_day_the_schedule_started_is_not_requested_again(baostock, repository, instance):
    """Both the 17:45 schedule and the sensor on: the day is fetched once."""
    run_daily_bars(instance, "ok", tags={RANGE_START: "b00|2024-10-08", RANGE_END: "b15|2024-10-08"})

    data = evaluate(publication_sensor_at(shanghai(17, 50)), repository, instance)

    assert not data.run_requests
    assert data.cursor == "2024-10-08"


def test_the_probe_fails_over_to_a_fallback_endpoint(monkeypatch, baostock, repository, instance):
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
    host, port = baostock.address
    monkeypatch.setenv("BAOSTOCK_PORT", str(dead_port))
    monkeypatch.setenv("BAOSTOCK_FALLBACK_ENDPOINTS", f"{host}:{port}")

    with no_leaked_fds():
        data = evaluate(publication_sensor_at(shanghai(17, 50)), repository, instance)

    assert [r.run_key for r in data.run_requests] == ["2024-10-08|daily_bars"]
    assert baostock.stats()["logins"] == 1


def test_the_publication_sensor_is_registered_stopped(repository):
    sensor = repository.get_sensor_def("daily_bars_publication_sensor")
    assert sensor.minimum_interval_seconds == 300
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert set(sensor.required_resource_keys) == {"baostock"}
