"""The daily schedules, evaluated as the daemon does (`evaluate_tick`) on chosen days and times."""

from datetime import date, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from marketdata_pipeline.defs.market.partitions import daily_bars_partitions
from marketdata_pipeline.market_calendar import SHANGHAI, is_trading_day, shanghai_now
from marketdata_pipeline_tests.defs.daily_bars_runs import run_daily_bars

BATCHES = [f"b{number:02d}" for number in range(16)]
SCHEDULES = ("daily_bars_schedule", "adjust_factors_schedule")
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def ranged_keys(request: dg.RunRequest) -> list[str]:
    """The partitions a range request's run covers, as Dagster resolves the range."""
    key_range = dg.PartitionKeyRange(request.tags[RANGE_START], request.tags[RANGE_END])
    return sorted(daily_bars_partitions.get_partition_keys_in_range(key_range))


@pytest.fixture(scope="module")
def instance():
    """One persistent test instance for the module (schedule contexts need one; each costs seconds).
    Tests that add runs use a day no other test evaluates."""
    with dg.instance_for_test() as instance:
        yield instance


def tick(repository, instance, name: str, at: datetime):
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=repository
    )
    return repository.get_schedule_def(name).evaluate_tick(context)


def shanghai(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "day",
    [
        date(2024, 10, 8),  # first trading day after the National Day holiday (Oct 1-7)
        date(2024, 2, 19),  # the Monday after the Spring Festival holiday (Feb 9-18)
    ],
)
def test_trading_day_after_a_holiday_requests_every_batch_of_that_day(repository, instance, day):
    data = tick(repository, instance, "daily_bars_schedule", shanghai(day, 17, 45))

    assert data.skip_message is None
    [request] = data.run_requests  # one run for the whole day, not one per batch
    assert (request.job_name, request.run_key) == ("daily_bars_job", f"{day}|daily_bars")
    assert request.partition_key is None
    assert request.tags[RANGE_START] == f"b00|{day}" and request.tags[RANGE_END] == f"b15|{day}"
    # The range's rectangle is exactly the 16 batches of that day.
    assert ranged_keys(request) == [f"{batch}|{day}" for batch in BATCHES]


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2024, 10, 5), "Saturday"),
        (date(2024, 10, 6), "Sunday"),
        (date(2024, 10, 7), "exchange holiday"),  # a Monday of the National Day holiday
    ],
)
@pytest.mark.parametrize("name", SCHEDULES)
def test_non_trading_day_is_skipped_with_the_reason(repository, instance, name, day, why):
    data = tick(repository, instance, name, shanghai(day, 18, 30))

    assert not data.run_requests
    assert data.skip_message == f"{day} is not an XSHG trading day ({why})"


def next_trading_day_after(day: date) -> date:
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize("name", SCHEDULES)
def test_a_future_tick_requests_nothing(repository, instance, name):
    """The UI can evaluate upcoming ticks: a day BaoStock has not published is never requested."""
    day = next_trading_day_after(shanghai_now().date())

    data = tick(repository, instance, name, shanghai(day, 18, 30))

    assert not data.run_requests
    assert data.skip_message.startswith(f"{day} is not published yet")


def test_a_tick_before_publication_requests_nothing(repository, instance):
    data = tick(repository, instance, "daily_bars_schedule", shanghai(date(2024, 10, 8), 17, 20))

    assert not data.run_requests
    assert "publishes a trading day at about 17:30" in data.skip_message
    assert "2024-10-08 17:20" in data.skip_message


def test_factors_before_their_publication_are_not_requested(repository, instance):
    data = tick(repository, instance, "adjust_factors_schedule", shanghai(date(2024, 10, 8), 17, 45))

    assert not data.run_requests
    assert "about 18:00" in data.skip_message


def batch_run(instance, batch: str, status: dg.DagsterRunStatus) -> None:
    """A single-batch run of 2024-10-09 as the instance records it (the schedule reads status and tags)."""
    key = f"{batch}|2024-10-09"
    tags = {"dagster/partition": key, "dagster/partition/date": "2024-10-09"}
    tags["dagster/partition/batch"] = batch
    create_run_for_test(instance, job_name="daily_bars_job", status=status, tags=tags)


def test_a_day_whose_batches_all_ran_is_not_requested_again(repository, instance):
    for batch in BATCHES[:-1]:
        batch_run(instance, batch, dg.DagsterRunStatus.SUCCESS)
    batch_run(instance, "b15", dg.DagsterRunStatus.FAILURE)  # failed: the day is not done yet

    data = tick(repository, instance, "daily_bars_schedule", shanghai(date(2024, 10, 9), 17, 45))
    [request] = data.run_requests
    assert request.run_key == "2024-10-09|daily_bars"

    batch_run(instance, "b15", dg.DagsterRunStatus.STARTED)
    again = tick(repository, instance, "daily_bars_schedule", shanghai(date(2024, 10, 9), 17, 45))
    assert not again.run_requests and "already has a queued, running or successful run" in again.skip_message


def test_a_single_batch_run_gets_the_partition_tags_the_schedule_reads(instance):
    """What `batch_run` stands for: a real run of one batch carries these tags."""
    run = run_daily_bars(instance, "ok", "b00|2024-10-10")
    assert {tag: run.tags[tag] for tag in ("dagster/partition/date", "dagster/partition/batch")} == {
        "dagster/partition/date": "2024-10-10", "dagster/partition/batch": "b00"
    }


def test_the_universe_has_no_schedule_of_its_own(repository):
    """The day's daily_bars run stores the day's universe: a 17:40 universe run would fetch it twice."""
    assert {schedule.job_name for schedule in repository.schedule_defs} == {
        "daily_bars_job", "adjust_factors_job", "exports_job", "freshness_checks_job"
    }


def test_factors_refresh_is_one_run_over_every_batch(repository, instance):
    data = tick(repository, instance, "adjust_factors_schedule", shanghai(date(2024, 10, 8), 18, 30))

    [request] = data.run_requests
    assert request.partition_key is None
    assert request.run_key == "2024-10-08|b00..b15"
    assert request.tags["dagster/asset_partition_range_start"] == "b00"
    assert request.tags["dagster/asset_partition_range_end"] == "b15"
    job = repository.get_job("adjust_factors_job")
    assert job.partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange("b00", "b15")) == BATCHES


@pytest.mark.parametrize(
    ("name", "cron"),
    [
        ("daily_bars_schedule", "45 17 * * *"),
        ("adjust_factors_schedule", "30 18 * * *"),
    ],
)
def test_schedules_are_registered_stopped_on_shanghai_time(repository, name, cron):
    schedule = repository.get_schedule_def(name)

    assert schedule.cron_schedule == cron
    assert schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
