"""A run selecting daily_bars and a downstream asset runs both, and records each of its partitions
once, with that partition's own rows."""

from __future__ import annotations

from collections import Counter
from datetime import date

import dagster as dg

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.defs.exports.assets import parquet_export
from marketdata_pipeline.defs.market.assets import adjust_factors, daily_bars, stock_universe
from marketdata_pipeline.storage import open_warehouse
from marketdata_pipeline_tests.pipeline.runs import RANGE_END, RANGE_START, resources_for

DAYS = (date(2024, 12, 30), date(2024, 12, 31))


def _day_and_export(resources: dict, day: date, instance) -> dg.ExecuteInProcessResult:
    """One run of the day's 16 partitions and `parquet_export` after them, as a user selects both."""
    return dg.materialize(
        [stock_universe, daily_bars, adjust_factors, parquet_export],
        selection=[daily_bars.key, parquet_export.key],
        resources=resources,
        tags={RANGE_START: f"{BATCHES[0]}|{day}", RANGE_END: f"{BATCHES[-1]}|{day}"},
        instance=instance,
        raise_on_error=False,
    )


def test_a_downstream_asset_runs_in_the_days_run_and_each_partition_is_recorded_once(
    shared_simulator, tmp_path, monkeypatch
):
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("MARKETDATA_EXPORT_DIR", str(tmp_path / "exports"))
    resources = resources_for(shared_simulator.address, db)
    with dg.DagsterInstance.ephemeral() as instance:
        # The second day's run also re-fetches the first (revision_days): that day is not its partition.
        results = [_day_and_export(resources, day, instance) for day in DAYS]
        records = instance.fetch_materializations(dg.AssetKey("daily_bars"), limit=1000).records
    assert [result.success for result in results] == [True, True]
    with open_warehouse(db, read_only=True) as con:
        stored = {
            f"{batch}|{day}": rows
            for batch, day, rows in con.execute(
                "SELECT batch, trade_date, count(*) FROM daily_bars GROUP BY ALL"
            ).fetchall()
        }
    assert len(stored) == len(BATCHES) * len(DAYS)
    # What the UI lists: one materialization per partition, carrying that partition's rows.
    assert Counter(record.partition_key for record in records) == dict.fromkeys(stored, 1)
    assert {
        record.partition_key: record.asset_materialization.metadata["dagster/row_count"].value
        for record in records
    } == stored
    assert max(stored.values()) < sum(stored.values()) / len(DAYS)
    # The export ran after each day's bars, in the same run, and saw them.
    exported = [result.asset_materializations_for_node("parquet_export") for result in results]
    assert [len(events) for events in exported] == [1, 1]
    assert exported[-1][0].metadata["rows"].value == sum(stored.values())
    assert exported[-1][0].metadata["last_day"].value == str(DAYS[-1])
