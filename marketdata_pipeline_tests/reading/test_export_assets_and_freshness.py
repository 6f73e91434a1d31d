"""The export assets' metadata, and the freshness checks failing on a day nothing was materialized for."""

from __future__ import annotations

import shutil

import dagster as dg

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.defs.exports.assets import parquet_export, qlib_export
from marketdata_pipeline.defs.market.assets import adjust_factors, daily_bars, stock_universe
from marketdata_pipeline.defs.market.freshness import (
    BARS_DEADLINE,
    adjust_factors_fresh,
    daily_bars_fresh,
    freshness_checks_job,
)
from marketdata_pipeline.market_calendar import latest_published_day, shanghai_now
from marketdata_pipeline_tests.reading.conftest import FIRST_DAYS


def test_export_assets_report_rows_days_bytes_and_last_day(loaded, tmp_path, monkeypatch):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(loaded[0], db)
    monkeypatch.setenv("MARKETDATA_EXPORT_DIR", str(tmp_path / "exports"))
    resources = dict(loaded[1], warehouse=type(loaded[1]["warehouse"])(database=str(db), lock_timeout=10.0))
    result = dg.materialize([daily_bars, adjust_factors, stock_universe, parquet_export, qlib_export],
                            selection=[parquet_export.key, qlib_export.key], resources=resources)  # fmt: skip
    assert result.success
    for asset in ("parquet_export", "qlib_export"):
        (materialization,) = result.asset_materializations_for_node(asset)
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        assert metadata["last_day"] == str(FIRST_DAYS[-1]) and metadata["days"] == 5
        assert metadata["rows"] > 1000 and metadata["bytes"] > 10_000
    assert (tmp_path / "exports" / "qlib" / "calendars" / "day.txt").is_file()


def test_freshness_checks_warn_when_the_latest_day_is_missing(loaded):
    definitions = dg.Definitions(
        assets=[daily_bars, adjust_factors, stock_universe],
        asset_checks=[daily_bars_fresh, adjust_factors_fresh],
        jobs=[freshness_checks_job],
        resources=loaded[1],
    )
    with dg.instance_for_test() as instance:
        result = definitions.resolve_job_def("freshness_checks_job").execute_in_process(instance=instance)
    evaluations = {
        event.asset_check_evaluation_data.check_name: event.asset_check_evaluation_data
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    assert set(evaluations) == {"fresh_by_1830", "fresh_by_1930"}
    bars = evaluations["fresh_by_1830"]
    assert not bars.passed and bars.severity == dg.AssetCheckSeverity.WARN
    assert bars.metadata["missing_batches"].value == ", ".join(BATCHES)
    assert evaluations["fresh_by_1930"].metadata["stale_batches"].value == ", ".join(BATCHES)


def test_freshness_checks_pass_once_every_batch_is_materialized(loaded):
    definitions = dg.Definitions(
        assets=[daily_bars, adjust_factors, stock_universe],
        asset_checks=[daily_bars_fresh, adjust_factors_fresh],
        jobs=[freshness_checks_job],
        resources=loaded[1],
    )
    due = latest_published_day(shanghai_now(), BARS_DEADLINE)
    with dg.instance_for_test() as instance:
        for batch in BATCHES:
            key = dg.MultiPartitionKey({"batch": batch, "date": str(due)})
            instance.report_runless_asset_event(dg.AssetMaterialization("daily_bars", partition=key))
            instance.report_runless_asset_event(dg.AssetMaterialization("adjust_factors", partition=batch))
        result = definitions.resolve_job_def("freshness_checks_job").execute_in_process(instance=instance)
    passed = {
        event.asset_check_evaluation_data.check_name: event.asset_check_evaluation_data.passed
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    assert passed == {"fresh_by_1830": True, "fresh_by_1930": True}
