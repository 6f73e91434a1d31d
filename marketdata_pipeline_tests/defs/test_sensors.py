"""The publication sensor against the simulator, and the retry sensor over real runs in an instance."""

import contextlib
import gc
import json
import socket
import warnings
from datetime import datetime, timedelta

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from marketdata_pipeline.definitions import defs
from marketdata_pipeline.defs.market.publication import SHANGHAI
from marketdata_pipeline.defs.market.retries import build_retry_sensor, retry_delay
from marketdata_pipeline.defs.market.retry_state import RetryState
from marketdata_pipeline.defs.market.sensors import build_publication_sensor
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.defs.daily_bars_runs import launch, run_daily_bars
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds

BATCHES = [f"b{number:02d}" for number in range(16)]
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return defs().get_repository_def()


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def shanghai(hour: int, minute: int, day: int = 8) -> datetime:
    return datetime(2024, 10, day, hour, minute, tzinfo=SHANGHAI)


def evaluate(sensor, repository, instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=repository)
    return sensor.evaluate_tick(context)


# -- publication sensor ------------------------------------------------------------------------


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


@contextlib.contextmanager
def no_leaked_sockets():
    """Fail when the block leaves a file descriptor open or lets the garbage collector close one."""
    before = open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    assert wait_for_fds(before) <= before
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def publication_sensor_at(at: datetime):
    return build_publication_sensor(clock=lambda: at)


def test_before_publication_the_sensor_skips_without_asking_baostock(baostock, repository, instance):
    data = evaluate(publication_sensor_at(shanghai(17, 20)), repository, instance)

    assert not data.run_requests
    assert "publishes a trading day at about 17:30" in data.skip_message
    assert "2024-10-08 17:20" in data.skip_message
    assert baostock.stats()["logins"] == 0


def test_after_publication_the_sensor_starts_the_day_and_closes_its_session(baostock, repository, instance):
    with no_leaked_sockets():
        data = evaluate(publication_sensor_at(shanghai(17, 50)), repository, instance)

    assert data.skip_message is None
    assert [(r.job_name, r.partition_key, r.run_key) for r in data.run_requests] == [
        ("stock_universe_job", "2024-10-08", "2024-10-08|universe"),
        ("daily_bars_job", None, "2024-10-08|daily_bars"),
    ]
    day_run = data.run_requests[1]
    assert (day_run.tags[RANGE_START], day_run.tags[RANGE_END]) == ("b00|2024-10-08", "b15|2024-10-08")
    assert data.cursor == "2024-10-08"
    stats = baostock.stats()
    assert (stats["logins"], stats["logouts"], stats["active_connections"]) == (1, 1, 0)
    assert set(stats["requests_by_method"]) == {"login", "query_all_stock", "logout"}


def test_a_restarted_sensor_does_not_request_the_day_again(baostock, repository, instance):
    first = evaluate(publication_sensor_at(shanghai(17, 50)), repository, instance)
    restarted = publication_sensor_at(shanghai(17, 55))  # a new process: only the cursor survives

    again = evaluate(restarted, repository, instance, cursor=first.cursor)

    assert len(first.run_requests) == 2
    assert not again.run_requests
    assert again.skip_message.startswith("the runs of 2024-10-08 were started already")
    assert baostock.stats()["logins"] == 1  # the restarted sensor did not ask BaoStock again


def test_the_next_trading_day_is_requested_after_the_cursor(monkeypatch, repository, instance):
    with serving(monkeypatch, datetime(2024, 10, 9, 17, 50)):
        sensor = publication_sensor_at(shanghai(17, 50, day=9))
        data = evaluate(sensor, repository, instance, cursor="2024-10-08")

    assert data.cursor == "2024-10-09"
    assert data.run_requests[1].run_key == "2024-10-09|daily_bars"


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

    with no_leaked_sockets():
        data = evaluate(publication_sensor_at(shanghai(17, 50)), repository, instance)

    assert not data.run_requests
    assert data.skip_message.startswith(
        f"cannot ask BaoStock at 127.0.0.1:{port} whether 2024-10-08 is published"
    )
    assert "Connection refused" in data.skip_message


# -- retry sensor -------------------------------------------------------------------------------


class Clock:
    """The sensor's clock: the real time (runs record real end times) plus an offset tests move."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(SHANGHAI) + self.offset

    def at(self, after: timedelta) -> "Clock":
        self.offset = after
        return self


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def watching(repository, instance, clock):
    """The retry sensor after its first tick, and a function that ticks it once more at a given offset."""
    sensor = build_retry_sensor(clock=clock)
    cursor = [evaluate(sensor, repository, instance).cursor]

    def tick(after: timedelta):
        clock.at(after)
        data = evaluate(sensor, repository, instance, cursor=cursor[0])
        cursor[0] = data.cursor
        return data

    return tick


def test_retry_delays_grow():
    assert [retry_delay(attempt) for attempt in (1, 2, 3)] == [5 * MINUTE, 15 * MINUTE, 45 * MINUTE]
    with pytest.raises(ValueError, match="retry attempt 0"):
        retry_delay(0)


def test_failures_before_the_first_tick_are_not_retried(repository, instance, clock):
    run_daily_bars(instance, "crash", "b03|2024-10-08")
    sensor = build_retry_sensor(clock=clock)

    first = evaluate(sensor, repository, instance)
    later = evaluate(sensor, repository, instance, cursor=first.cursor)

    assert first.skip_message == "watching daily_bars runs that end from now on"
    assert not later.run_requests
    assert later.skip_message == "no daily_bars partition waits for a retry"


def test_a_failed_partition_is_retried_with_growing_delays_then_given_up(watching, instance):
    run = run_daily_bars(instance, "crash", "b03|2024-10-08")
    seen = []
    for attempt, delay in ((1, 5 * MINUTE), (2, 15 * MINUTE), (3, 45 * MINUTE)):
        early = watching(delay - MINUTE)
        assert not early.run_requests
        assert f"retry {attempt} of b03|2024-10-08 at " in early.skip_message
        due = watching(delay + MINUTE)
        [request] = due.run_requests
        assert request.partition_key == "b03|2024-10-08"
        assert request.tags["marketdata/retry_attempt"] == str(attempt)
        assert request.tags["marketdata/retry_of"] == run.run_id
        assert request.run_key == f"retry|b03|2024-10-08|{attempt}|{run.run_id[:8]}"
        seen.append(launch(instance, request, "crash").status)

    third = watching(timedelta(hours=12))

    assert seen == [dg.DagsterRunStatus.FAILURE] * 3
    assert not third.run_requests
    assert third.skip_message.startswith(
        "gave up on daily_bars b03|2024-10-08 after 3 retries: the run failed again (attempt 3, run "
    )
    assert not watching(timedelta(days=2)).run_requests


def test_a_failed_failure_rate_check_is_retried_with_the_same_run_config(watching, instance):
    run = run_daily_bars(instance, "warn", "b07|2024-10-08")  # the run succeeds, the check fails (WARN)
    assert run.status == dg.DagsterRunStatus.SUCCESS

    [request] = watching(6 * MINUTE).run_requests

    assert request.partition_key == "b07|2024-10-08"
    assert request.run_config == {"ops": {"daily_bars": {"config": {"outcome": "warn"}}}}


def test_a_retry_that_passes_ends_the_retries(watching, instance):
    run_daily_bars(instance, "error", "b01|2024-10-08")  # the blocking check fails the run
    [request] = watching(6 * MINUTE).run_requests
    launch(instance, request, "ok")

    data = watching(timedelta(hours=2))

    assert not data.run_requests
    assert json.loads(data.cursor)["pending"] == {}


def test_a_success_before_the_retry_is_due_cancels_it(watching, instance):
    run_daily_bars(instance, "crash", "b02|2024-10-08")
    run_daily_bars(instance, "ok", "b02|2024-10-08")  # someone re-ran it by hand

    assert not watching(timedelta(hours=1)).run_requests


def test_a_failed_range_run_is_retried_as_the_same_range(watching, instance):
    tags = {
        "dagster/asset_partition_range_start": "b05|2024-10-08",
        "dagster/asset_partition_range_end": "b05|2024-10-10",
    }
    run_daily_bars(instance, "crash", tags=tags)

    [request] = watching(6 * MINUTE).run_requests

    assert request.partition_key is None
    assert {tag: request.tags[tag] for tag in tags} == tags
    assert request.run_key.startswith("retry|b05|2024-10-08...b05|2024-10-10|1|")


def test_a_due_retry_is_dropped_while_the_partition_runs_again(watching, instance):
    run_daily_bars(instance, "crash", "b06|2024-10-08")
    create_run_for_test(  # the 17:45 schedule's run of the partition is running meanwhile
        instance, job_name="daily_bars_job", status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": "b06|2024-10-08"},
    )  # fmt: skip

    data = watching(6 * MINUTE)

    assert not data.run_requests
    assert json.loads(data.cursor)["pending"] == {}


def test_failures_of_other_jobs_are_not_retried(watching, instance):
    other = create_run_for_test(
        instance, job_name="stock_universe_job", tags={"dagster/partition": "2024-10-08"}
    )
    instance.report_run_failed(other)

    data = watching(timedelta(hours=1))

    assert not data.run_requests
    assert data.skip_message == "no daily_bars partition waits for a retry"


def test_a_run_with_a_garbled_attempt_tag_is_reported_not_retried(watching, instance):
    run_daily_bars(instance, "crash", "b08|2024-10-08", tags={"marketdata/retry_attempt": "two"})

    data = watching(timedelta(hours=1))

    assert not data.run_requests
    assert data.skip_message.startswith("cannot retry daily_bars b08|2024-10-08: run ")
    assert "marketdata/retry_attempt='two', not a number" in data.skip_message


def test_a_cursor_the_sensor_did_not_write_is_refused_clearly():
    with pytest.raises(ValueError, match="clear the cursor in the UI"):
        RetryState.from_cursor("2024-10-08")


def test_sensors_are_registered_stopped(repository):
    for name, interval in (("daily_bars_publication_sensor", 300), ("daily_bars_retry_sensor", 60)):
        sensor = repository.get_sensor_def(name)
        assert sensor.minimum_interval_seconds == interval
        assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert (
        "at most 3 times, after 5, 15, 45 minutes"
        in repository.get_sensor_def("daily_bars_retry_sensor").description
    )
