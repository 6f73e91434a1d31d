"""The few private Dagster names this project relies on, in one place (pinned by test_dagster_internals.py).

Dagster does not export its system run tags, its run launcher's context and health result,
or its SQLite storage classes and instance defaults (instance_storage.py subclasses them)
from `dagster`; importing them from `dagster._core` in one module means a
Dagster upgrade that renames or moves one breaks this module and its test,
not five modules at once.
"""

from collections.abc import Mapping

import dagster as dg
from dagster._core.events import ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.execution.context.metadata_logging import AssetMetadataHandle, OutputMetadataAccumulator
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._core.storage.sqlite_storage import _event_logs_directory as event_logs_directory
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    MAX_RETRIES_TAG,
    PARTITION_NAME_TAG,
    RETRY_NUMBER_TAG,
    RETRY_STRATEGY_TAG,
    WILL_RETRY_TAG,
)
from dagster._serdes import ConfigurableClassData

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "MAX_RETRIES_TAG",
    "PARTITION_NAME_TAG",
    "RETRY_NUMBER_TAG",
    "RETRY_STRATEGY_TAG",
    "WILL_RETRY_TAG",
    "CheckRunHealthResult",
    "LaunchRunContext",
    "WorkerStatus",
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "ConfigurableClassData",
    "ASSET_EVENTS",
    "EVENT_TYPE_TO_PIPELINE_RUN_STATUS",
    "DagsterSqliteStorage",
    "InstanceRef",
    "SqliteEventLogStorage",
    "SqliteEventLogStorageWatchdog",
    "SqlEventLogStorageTable",
    "event_logs_directory",
]


def add_partitions_metadata(
    context: dg.AssetExecutionContext, asset_key: str, by_partition: Mapping[str, Mapping[str, object]]
) -> None:
    """`context.add_asset_metadata(metadata, partition_key=key)` for many partitions in one pass, so
    that the step's result records each partition with its own metadata. Dagster's public call lists
    the step's whole partition range on every call: quadratic, ~5 minutes for the 2,893 partitions of
    one batch's history, where this is linear. The caller passes only partitions the step targets."""
    step = context.op_execution_context._step_execution_context
    accumulated = step._metadata_accumulator
    key = dg.AssetKey.from_coercible(asset_key)
    added = {
        AssetMetadataHandle(asset_key=key, partition_key=partition): {
            **accumulated.get_asset_metadata(key, partition),
            **metadata,
        }
        for partition, metadata in by_partition.items()
    }
    step._metadata_accumulator = OutputMetadataAccumulator(
        per_output_metadata={**accumulated.per_output_metadata, **added}
    )
