"""The webserver GraphQL calls the ops tests make: launch a backfill, follow it, read its runs and checks."""

from __future__ import annotations

import time
from dataclasses import dataclass

from marketdata_pipeline_tests.ops.dagster_dev import DagsterDev

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
BACKFILL_TAG = "dagster/backfill"
FINISHED_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

_LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
  }
}
"""

_BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions error { message } }
    ... on PythonError { message }
    ... on BackfillNotFoundError { message }
  }
}
"""

_RUNS = """
query Runs($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) {
    __typename
    ... on Runs { results { runId status tags { key value } } }
    ... on PythonError { message }
  }
}
"""

_RUN = """
query Run($id: ID!) {
  runOrError(runId: $id) { __typename ... on Run { status } ... on PythonError { message } }
}
"""

_RUN_WINDOWS = """
query Windows($ids: [String!]) {
  runsOrError(filter: {runIds: $ids}) {
    __typename
    ... on Runs { results { runId startTime endTime } }
    ... on PythonError { message }
  }
}
"""

_CHECK_EXECUTIONS = """
query Checks($path: [String!]!, $check: String!, $limit: Int!) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $check, limit: $limit) {
    runId status
    evaluation { success metadataEntries {
      label
      ... on IntMetadataEntry { intValue }
      ... on FloatMetadataEntry { floatValue }
      ... on TextMetadataEntry { text }
    } }
  }
}
"""


@dataclass(frozen=True)
class RunInfo:
    """One run as the webserver lists it."""

    run_id: str
    status: str
    tags: dict[str, str]

    @property
    def partition_range(self) -> tuple[str | None, str | None]:
        return self.tags.get(RANGE_START), self.tags.get(RANGE_END)


def launch_asset_backfill(dev: DagsterDev, asset: str, partition_names: list[str]) -> str:
    """`launchPartitionBackfill` of `partition_names` of `asset`; the backfill id."""
    params = {"assetSelection": [{"path": [asset]}], "partitionNames": partition_names}
    answer = dev.graphql(_LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise AssertionError(f"launchPartitionBackfill refused: {answer}")
    return answer["backfillId"]


def backfill_status(dev: DagsterDev, backfill_id: str) -> dict:
    """The backfill's status, partition count and error."""
    answer = dev.graphql(_BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
    if answer["__typename"] != "PartitionBackfill":
        raise AssertionError(f"backfill {backfill_id}: {answer}")
    return answer


def wait_for_backfill(dev: DagsterDev, backfill_id: str, timeout: float) -> dict:
    """Poll until the backfill has finished; its last status, or AssertionError with the log's tail."""
    deadline = time.monotonic() + timeout
    status = backfill_status(dev, backfill_id)
    while status["status"] not in FINISHED_BACKFILL:
        if time.monotonic() > deadline:
            runs = runs_tagged(dev, BACKFILL_TAG, backfill_id)
            raise AssertionError(
                f"backfill {backfill_id} still {status['status']} after {timeout:.0f} s; runs: "
                f"{[(run.status, run.partition_range) for run in runs]}\n{dev.log_tail()}"
            )
        time.sleep(2.0)
        status = backfill_status(dev, backfill_id)
    return status


def runs_tagged(dev: DagsterDev, key: str, value: str) -> list[RunInfo]:
    """Every run carrying the tag key=value."""
    answer = dev.graphql(_RUNS, {"tags": [{"key": key, "value": value}]})["runsOrError"]
    if answer["__typename"] != "Runs":
        raise AssertionError(f"runsOrError: {answer}")
    return [
        RunInfo(run["runId"], run["status"], {tag["key"]: tag["value"] for tag in run["tags"]})
        for run in answer["results"]
    ]


def wait_for_runs(dev: DagsterDev, key: str, value: str, count: int, timeout: float) -> list[RunInfo]:
    """Poll until `count` runs tagged key=value exist and all have finished."""
    deadline = time.monotonic() + timeout
    runs = runs_tagged(dev, key, value)
    while len(runs) < count or any(run.status not in FINISHED_RUN for run in runs):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"runs tagged {key}={value} not finished after {timeout:.0f} s: "
                f"{[(run.status, run.partition_range) for run in runs]}\n{dev.log_tail()}"
            )
        time.sleep(2.0)
        runs = runs_tagged(dev, key, value)
    return runs


def run_status(dev: DagsterDev, run_id: str) -> str:
    """The run's status (QUEUED, STARTED, SUCCESS, FAILURE, ...)."""
    answer = dev.graphql(_RUN, {"id": run_id})["runOrError"]
    if answer["__typename"] != "Run":
        raise AssertionError(f"run {run_id}: {answer}")
    return answer["status"]


def run_windows(dev: DagsterDev, run_ids: list[str]) -> list[tuple[float, float]]:
    """(start, end) epoch seconds of each finished run."""
    answer = dev.graphql(_RUN_WINDOWS, {"ids": run_ids})["runsOrError"]
    if answer["__typename"] != "Runs":
        raise AssertionError(f"runsOrError: {answer}")
    return [(run["startTime"], run["endTime"]) for run in answer["results"]]


def check_evaluations(dev: DagsterDev, asset: str, check: str, limit: int = 100) -> dict[str, dict]:
    """run id -> {"success": bool, label: value, ...} of the latest executions of one asset check."""
    executions = dev.graphql(_CHECK_EXECUTIONS, {"path": [asset], "check": check, "limit": limit})
    by_run = {}
    for execution in executions["assetCheckExecutions"]:
        evaluation = execution["evaluation"] or {}
        values = {"status": execution["status"], "success": evaluation.get("success")}
        for entry in evaluation.get("metadataEntries", []):
            values[entry["label"]] = entry.get("intValue", entry.get("floatValue", entry.get("text")))
        by_run[execution["runId"]] = values
    return by_run


def most_at_once(windows: list[tuple[float, float]]) -> int:
    """The largest number of (start, end) windows open at one instant (touching ones do not overlap)."""
    edges = sorted([(start, 1) for start, _ in windows] + [(end, -1) for _, end in windows])
    open_now = most = 0
    for _, step in edges:
        open_now += step
        most = max(most, open_now)
    return most
