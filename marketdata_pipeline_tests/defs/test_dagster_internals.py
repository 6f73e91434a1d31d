"""The private Dagster names behind marketdata_pipeline/dagster_internals.py: fails when Dagster moves one."""

import dagster as dg

from marketdata_pipeline import dagster_internals as internals


def test_the_system_tags_keep_their_names():
    # Their values are stored in every run's tags: a rename would orphan the runs already recorded.
    assert {name: getattr(internals, name) for name in internals.__all__ if name.endswith("_TAG")} == {
        "ASSET_PARTITION_RANGE_END_TAG": "dagster/asset_partition_range_end",
        "ASSET_PARTITION_RANGE_START_TAG": "dagster/asset_partition_range_start",
        "MAX_RETRIES_TAG": "dagster/max_retries",
        "PARTITION_NAME_TAG": "dagster/partition",
        "RETRY_NUMBER_TAG": "dagster/retry_number",
        "RETRY_STRATEGY_TAG": "dagster/retry_strategy",
        "WILL_RETRY_TAG": "dagster/will_retry",
    }


def test_the_run_launcher_types_still_fit_together():
    run = dg.DagsterRun(job_name="daily_bars_job")
    context = internals.LaunchRunContext(dagster_run=run, workspace=None)
    health = internals.CheckRunHealthResult(internals.WorkerStatus.FAILED, "gone")

    assert context.dagster_run is run
    assert (health.status, health.msg) == (internals.WorkerStatus.FAILED, "gone")
    assert {status.name for status in internals.WorkerStatus} >= {"RUNNING", "FAILED"}


def test_no_other_module_imports_dagster_internals():
    from pathlib import Path

    package = Path(internals.__file__).parent
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path != Path(internals.__file__) and "dagster._" in path.read_text()
    ]
    assert offenders == []


def test_partitions_metadata_lands_on_each_partitions_materialization():
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b", "c"]))
    def letters(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        internals.add_partitions_metadata(
            context, "letters", {key: {"dagster/row_count": ord(key)} for key in context.partition_keys}
        )
        return dg.MaterializeResult(metadata={"shared": 1})

    tags = {internals.ASSET_PARTITION_RANGE_START_TAG: "a", internals.ASSET_PARTITION_RANGE_END_TAG: "b"}
    result = dg.materialize([letters], tags=tags)
    recorded = {
        event.partition: {key: value.value for key, value in event.metadata.items()}
        for event in result.asset_materializations_for_node("letters")
    }
    assert recorded == {
        "a": {"shared": 1, "dagster/row_count": 97},
        "b": {"shared": 1, "dagster/row_count": 98},
    }


def test_the_sqlite_storage_keeps_what_instance_storage_builds_on():
    # instance_storage.py replaces the event log's _connect and watch, and roots the storage
    # through InstanceRef.config_defaults, as Dagster's own default storage is rooted.
    storage = internals.SqliteEventLogStorage
    names = ("_connect", "_initdb", "conn_string_for_shard", "store_event", "watch", "dispose")
    stores = ("_event_to_row", "_store_asset_event", "_store_asset_event_tags")
    for name in (*names, *stores, "_has_asset_key_index_cols_on_connection"):
        assert callable(getattr(storage, name)), name
    assert "id" in internals.SqlEventLogStorageTable.c
    assert internals.SQLITE_BUSY_TIMEOUT_SECONDS > 0
    assert internals.event_logs_directory("/h").rstrip("/") == "/h/history/runs"
    defaults = internals.InstanceRef.config_defaults("/h")
    assert defaults["storage"].class_name == "DagsterSqliteStorage"
    assert "base_dir: /h" in defaults["storage"].config_yaml
    watchdog = internals.SqliteEventLogStorageWatchdog
    assert callable(watchdog._process_log) and isinstance(watchdog.patterns, property)
    assert dg.DagsterEventType.RUN_SUCCESS in internals.EVENT_TYPE_TO_PIPELINE_RUN_STATUS
    assert internals.ConfigurableClassData("m", "C", "{}\n").module_name == "m"
