"""The few private Dagster names this project relies on, in one place (pinned by test_dagster_internals.py).

Dagster does not export its system run tags or its run launcher's context and health result
from `dagster`; importing them from `dagster._core` in one module means a
Dagster upgrade that renames or moves one breaks this module and its test,
not five modules at once.
"""

from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    MAX_RETRIES_TAG,
    PARTITION_NAME_TAG,
    RETRY_NUMBER_TAG,
    RETRY_STRATEGY_TAG,
    WILL_RETRY_TAG,
)

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
]
