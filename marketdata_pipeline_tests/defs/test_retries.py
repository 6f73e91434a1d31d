"""Retries of daily_bars: Dagster's run retries with the project's settings, the WARN re-run sensor, and
the rules the run launcher applies before any retry launches - over real runs in a test instance."""

import logging
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.test_utils import (
    InProcessCodeLocationOrigin,
    InProcessTestWorkspaceLoadTarget,
    LoadableTargetOrigin,
    WorkspaceProcessContext,
    create_run_for_test,
)
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import (
    consume_new_runs_for_automatic_reexecution,
)

from marketdata_pipeline.baostock.budget import EndpointLedger
from marketdata_pipeline.baostock.errors import BlacklistedError
from marketdata_pipeline.dagster_internals import LaunchRunContext
from marketdata_pipeline.defs.market.retries import daily_bars_rerun_sensor, hold_reason
from marketdata_pipeline_tests.defs import daily_bars_runs
from marketdata_pipeline_tests.defs.daily_bars_runs import JOB, launch, run_daily_bars

DAGSTER_YAML = Path(__file__).resolve().parents[2] / "marketdata_pipeline" / "dagster.yaml"
CRASH = {"ops": {"daily_bars": {"config": {"outcome": "crash"}}}}
RANGE = {
    "dagster/asset_partition_range_start": "b05|2024-10-08",
    "dagster/asset_partition_range_end": "b05|2024-10-10",
}


@pytest.fixture(scope="module")
def instance():
    """A test instance with the project's run retries and run launcher (dagster.yaml), shared by the
    module (each costs seconds): every test uses a partition of its own."""
    project = yaml.safe_load(DAGSTER_YAML.read_text())
    overrides = {key: project[key] for key in ("run_retries", "run_launcher")}
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance


@pytest.fixture(autouse=True)
def own_state(monkeypatch, tmp_path):
    """The cool-down record the rules read: in this test's folder, for a server of its own."""
    monkeypatch.setenv("BAOSTOCK_STATE_DIR", str(tmp_path / "baostock"))
    monkeypatch.setenv("BAOSTOCK_HOST", "127.0.0.1")
    monkeypatch.setenv("BAOSTOCK_PORT", "1")
    monkeypatch.delenv("BAOSTOCK_FALLBACK_ENDPOINTS", raising=False)
    monkeypatch.delenv("MARKETDATA_SIMULATOR", raising=False)
    monkeypatch.delenv("MARKETDATA_SOURCE", raising=False)


@pytest.fixture(scope="module")
def daemon(instance):
    """What Dagster's retry daemon works with: a workspace holding daily_bars_runs' code location."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=daily_bars_runs.__name__, attribute="DEFINITIONS")
    )
    with WorkspaceProcessContext(instance, InProcessTestWorkspaceLoadTarget(origin)) as process:
        yield process


def failed_in_workspace(instance, daemon, partition: str) -> dg.DagsterRun:
    """A daily_bars_job run launched from the code location (as the UI or a schedule launches it)
    that failed."""
    [location] = daemon.create_request_context().get_code_location_entries().values()
    [repository] = location.code_location.get_repositories().values()
    job = repository.get_full_job("daily_bars_job")
    run = create_run_for_test(
        instance, job_name=job.name, status=dg.DagsterRunStatus.STARTED,
        tags={**job.tags, "dagster/partition": partition}, run_config=CRASH,
        remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(),
        job_snapshot=job.job_snapshot,
    )  # fmt: skip
    instance.report_run_failed(run)
    return instance.get_run_by_id(run.run_id)


def retried_by_dagster(instance, daemon, failed: dg.DagsterRun) -> dg.DagsterRun | None:
    """One pass of Dagster's retry daemon over `failed`: the retry it submitted, if any."""
    record = instance.get_run_record_by_id(failed.run_id)
    list(consume_new_runs_for_automatic_reexecution(daemon, [record], logging.getLogger("retries")))
    retry_id = instance.get_run_by_id(failed.run_id).tags.get("dagster/auto_retry_run_id")
    return instance.get_run_by_id(retry_id) if retry_id else None


def test_a_failed_run_is_retried_by_dagster_three_times_then_not(instance, daemon):
    run = failed_in_workspace(instance, daemon, "b03|2024-10-08")
    assert run.tags["dagster/retry_strategy"] == "ALL_STEPS"  # the whole run again
    retries = []
    while (retry := retried_by_dagster(instance, daemon, run)) is not None:
        retries.append(retry)
        assert retry.status == dg.DagsterRunStatus.QUEUED  # submitted to the run queue
        instance.report_run_failed(retry)  # and fails again
        run = instance.get_run_by_id(retry.run_id)

    assert [r.tags["dagster/retry_number"] for r in retries] == ["1", "2", "3"]
    assert {r.tags["dagster/partition"] for r in retries} == {"b03|2024-10-08"}
    assert {r.parent_run_id for r in retries[1:]} == {r.run_id for r in retries[:-1]}
    assert all(r.run_config == CRASH for r in retries)
    assert run.tags["dagster/will_retry"] == "false"


def test_a_crashed_step_fails_the_run_with_a_retry_due(instance):
    run = run_daily_bars(instance, "crash", "b04|2024-10-08")  # a real run of the job's tags

    assert (run.status, run.tags["dagster/max_retries"]) == (dg.DagsterRunStatus.FAILURE, "3")
    assert run.tags["dagster/will_retry"] == "true"


def test_a_blocking_check_failure_is_retried_too(instance):
    run = run_daily_bars(instance, "error", "b01|2024-10-08")  # above error_failure_rate

    assert run.status == dg.DagsterRunStatus.FAILURE
    assert run.tags["dagster/will_retry"] == "true"


def test_other_jobs_are_not_retried(instance):
    other = create_run_for_test(instance, job_name="stock_universe_job", status=dg.DagsterRunStatus.STARTED)
    instance.report_run_failed(other)

    assert instance.get_run_by_id(other.run_id).tags["dagster/will_retry"] == "false"


# -- the WARN re-run sensor ---------------------------------------------------------------------


def rerun(instance, run: dg.DagsterRun):
    """The re-run sensor's answer to `run` reaching SUCCESS, as the daemon calls it."""
    [success] = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
    context = dg.build_run_status_sensor_context(
        sensor_name=daily_bars_rerun_sensor.name,
        dagster_event=success.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    )
    return daily_bars_rerun_sensor(context)


def test_a_failed_failure_rate_check_is_re_run_three_times_with_the_same_run_config(instance):
    run = first = run_daily_bars(instance, "warn", "b07|2024-10-08")  # succeeds, the WARN check fails
    requests = []
    for _ in range(3):
        request = rerun(instance, run)
        assert isinstance(request, dg.RunRequest), request
        requests.append(request)
        run = launch(instance, request, "warn")
        assert run.status == dg.DagsterRunStatus.SUCCESS

    gave_up = rerun(instance, run)

    assert [r.tags["marketdata/rerun_attempt"] for r in requests] == ["1", "2", "3"]
    assert {r.tags["marketdata/rerun_of"] for r in requests} == {first.run_id}
    assert [r.run_key for r in requests] == [
        f"rerun|b07|2024-10-08|{n}|{first.run_id[:8]}" for n in (1, 2, 3)
    ]
    assert {r.partition_key for r in requests} == {"b07|2024-10-08"}
    assert requests[0].run_config == {"ops": {"daily_bars": {"config": {"outcome": "warn"}}}}
    assert isinstance(gave_up, dg.SkipReason)
    assert gave_up.skip_message.startswith("gave up on daily_bars b07|2024-10-08 after 3 re-runs: its ")
    assert "failure_rate check failed (2.0% of symbols failed) again" in gave_up.skip_message


def test_a_passing_run_needs_no_re_run(instance):
    run = run_daily_bars(instance, "ok", "b02|2024-10-08")

    assert rerun(instance, run).skip_message == f"daily_bars run {run.run_id} needs no re-run"


def test_a_range_run_is_re_run_as_the_same_range(instance):
    run = run_daily_bars(instance, "warn", tags=RANGE)

    request = rerun(instance, run)

    assert request.partition_key is None
    assert {tag: request.tags[tag] for tag in RANGE} == RANGE
    assert request.run_key.startswith("rerun|b05|2024-10-08...b05|2024-10-10|1|")


def test_a_run_with_a_garbled_attempt_tag_is_reported_not_re_run(instance):
    run = run_daily_bars(instance, "warn", "b08|2024-10-08", tags={"marketdata/rerun_attempt": "two"})

    skipped = rerun(instance, run)

    assert skipped.skip_message.startswith("cannot re-run daily_bars b08|2024-10-08: run ")
    assert "marketdata/rerun_attempt='two', not a number" in skipped.skip_message


# -- what the launcher asks before a retry launches ----------------------------------------------


def queued_retry(instance, partition: str) -> dg.DagsterRun:
    """A retry as the run queue hands it to the launcher (STARTING)."""
    tags = {**JOB.tags, "dagster/partition": partition, "dagster/retry_number": "1"}
    return create_run_for_test(
        instance, job_name="daily_bars_job", tags=tags, status=dg.DagsterRunStatus.STARTING
    )


def test_a_retry_is_dropped_while_another_run_of_the_partition_runs(instance):
    other = create_run_for_test(  # the 17:45 schedule's run of the partition is running meanwhile
        instance, job_name="daily_bars_job", status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": "b06|2024-10-08"},
    )  # fmt: skip
    retry = queued_retry(instance, "b06|2024-10-08")

    reason = hold_reason(instance, retry)

    assert reason == (
        f"retry of daily_bars b06|2024-10-08 dropped: run {other.run_id} of the same partition "
        "is queued or running"
    )
    assert hold_reason(instance, queued_retry(instance, "b06|2024-10-09")) is None


def test_the_launcher_cancels_dagsters_retry_during_a_blacklist_cool_down_naming_it(
    instance, daemon, tmp_path
):
    ledger = EndpointLedger(str(tmp_path / "baostock"), "127.0.0.1:1")
    ledger.record_stop(BlacklistedError("blacklisted", "10001011"), 3600)
    retry = retried_by_dagster(instance, daemon, failed_in_workspace(instance, daemon, "b09|2024-10-08"))
    rerun_of_warn = create_run_for_test(  # what daily_bars_rerun_sensor requested
        instance, job_name="daily_bars_job", status=dg.DagsterRunStatus.STARTING,
        tags={"dagster/partition": "b10|2024-10-08", "marketdata/rerun_attempt": "1"},
    )  # fmt: skip
    by_hand = create_run_for_test(
        instance, job_name="daily_bars_job", tags={"dagster/partition": "b09|2024-10-08"}
    )

    for run in (retry, rerun_of_warn):
        instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        canceled = instance.get_run_by_id(run.run_id)
        assert canceled.status == dg.DagsterRunStatus.CANCELED
        [event] = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_CANCELED).records
        message = event.event_log_entry.dagster_event.message
        assert (
            "not launched: paused:" in message and "blacklisted" in message and "re-run it by hand" in message
        )
    assert hold_reason(instance, by_hand) is None  # a person's run is theirs to decide


def test_the_rerun_sensor_is_registered_stopped(repository):
    sensor = repository.get_sensor_def("daily_bars_rerun_sensor")

    assert sensor.minimum_interval_seconds == 60
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert "at most 3 times" in sensor.description
