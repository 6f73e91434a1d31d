"""Materializing the market assets in this process against a simulator, with explicit resources."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from marketdata_pipeline.defs.market.assets import adjust_factors, daily_bars, stock_universe
from marketdata_pipeline.defs.sessions.resources import BaoStockPoolResource
from marketdata_pipeline.defs.warehouse.resources import WarehouseResource

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def resources_for(
    address: tuple[str, int], db_path: Path, *, request_timeout: float = 10.0, pool_timeout: float = 10.0
) -> dict[str, dg.ConfigurableResource]:
    """The two resources the assets need, on the simulator at `address` and the DuckDB file `db_path`."""
    host, port = address
    return {
        "baostock": BaoStockPoolResource(
            host=host, port=port, request_timeout=request_timeout, pool_timeout=pool_timeout,
            max_requests_per_second=0,  # a local simulator needs no politeness
        ),
        "warehouse": WarehouseResource(database=str(db_path), lock_timeout=10.0),
    }


def materialize_daily_bars(
    resources: dict,
    partition: str | None = None,
    *,
    first: str | None = None,
    last: str | None = None,
    instance: dg.DagsterInstance | None = None,
    config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of `daily_bars` for `partition`, or for the range `first`..`last` (a single run),
    with `config` (DailyBarsConfig fields) as its run config."""
    if (partition is None) == (first is None or last is None):
        raise ValueError("give either partition or both first and last")
    tags = {} if partition else {RANGE_START: first, RANGE_END: last}
    return dg.materialize(
        [stock_universe, daily_bars],
        selection=[daily_bars.key],
        run_config={"ops": {"daily_bars": {"config": config or {}}}},
        resources=resources,
        partition_key=partition,
        tags=tags,
        instance=instance,
        raise_on_error=False,
    )


def materialize_adjust_factors(resources: dict, batch: str) -> dg.ExecuteInProcessResult:
    """One run of `adjust_factors` for `batch` (every ex-date since 2015 of its A-shares)."""
    return dg.materialize([adjust_factors], resources=resources, partition_key=batch, raise_on_error=False)


def run_summary(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """The run's own numbers (plan, requests, rows...) that daily_bars records once per run."""
    (summary,) = [
        event.asset_observation_data.asset_observation
        for event in result.all_events
        if event.is_asset_observation and event.asset_key == dg.AssetKey("daily_bars")
    ]
    return {key: value.value for key, value in summary.metadata.items()}


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """The run's asset check evaluations by check name."""
    return {
        evaluation.check_name: evaluation
        for evaluation in (
            event.asset_check_evaluation_data
            for event in result.all_events
            if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
    }


def step_failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The error that failed the step (or its resources): its message and every cause's, one per line."""
    failed = (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RESOURCE_INIT_FAILURE)
    failures = [event for event in result.all_events if event.event_type in failed]
    if not failures:
        raise AssertionError("the run has no step or resource failure")
    lines, error = [], failures[0].event_specific_data.error
    while error is not None:
        lines.append(error.message.strip())
        error = error.cause
    return "\n".join(lines)
