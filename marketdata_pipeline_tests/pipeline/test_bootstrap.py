"""History bootstrap: one canonical row whichever query fetched it, the universe recorded by the day's
run, and a long range that never sits in memory."""

from __future__ import annotations

import tracemalloc
from datetime import date

import dagster as dg
import pytest

from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.defs.market.assets import stock_universe
from marketdata_pipeline.ingest import (
    a_share_codes,
    fetch_daily_bars,
    fetch_trade_calendar,
    fetch_universe,
    trading_days,
)
from marketdata_pipeline.launch import running_simulator
from marketdata_pipeline.market_calendar import xshg_trading_days
from marketdata_pipeline.storage import BarStage, open_warehouse
from marketdata_pipeline_tests.conftest import SIMULATOR_TODAY
from marketdata_pipeline_tests.pipeline.runs import (
    RANGE_END,
    RANGE_START,
    materialize_daily_bars,
    resources_for,
    run_summary,
)

BATCH = "b03"
# Old days: the whole-market answer's suspended rows are empty or carry a stale volume with amount 0.
SUSPENSIONS = (date(2016, 3, 1), date(2016, 3, 4))
DAY = date(2024, 12, 31)
LONG_RANGE = (date(2024, 1, 2), SIMULATOR_TODAY)  # 242 trading days x ~320 codes: ~78k rows
# Holding the range's rows takes ~85 MB here (124 MB for 116k rows, measured); bounded, ~30 MB.
MEMORY_BOUND = 50 * 2**20


def _stored(db) -> list[tuple]:
    with open_warehouse(db, read_only=True) as con:
        return con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM daily_bars ORDER BY code, trade_date"
        ).fetchall()


def test_a_market_fetch_and_a_symbol_fetch_store_the_same_rows(shared_simulator, tmp_path):
    first, last = (f"{BATCH}|{day}" for day in SUSPENSIONS)
    stored = {}
    for strategy in ("market", "symbol"):
        db = tmp_path / f"{strategy}.duckdb"
        result = materialize_daily_bars(
            resources_for(shared_simulator.address, db), first=first, last=last, config={"strategy": strategy}
        )
        assert result.success and run_summary(result)["strategy"] == strategy
        stored[strategy] = _stored(db)
    assert stored["market"] == stored["symbol"]
    suspended = [row for row in stored["market"] if row[10] == 0]  # trade_status
    assert len(suspended) >= 5
    assert {(row[7], row[8]) for row in suspended} == {(0, 0.0)}  # volume, amount: canonical


def test_a_days_run_materializes_its_stock_universe_and_each_partitions_own_rows(shared_simulator, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_daily_bars(
            resources_for(shared_simulator.address, db),
            first=f"{BATCHES[0]}|{DAY}",
            last=f"{BATCHES[-1]}|{DAY}",
            instance=instance,
        )
        assert result.success
        # What the UI reads: the asset's materialized partitions and each partition's latest event.
        assert instance.get_materialized_partitions(dg.AssetKey("stock_universe")) == {DAY.isoformat()}
        universe_event = instance.get_latest_materialization_event(dg.AssetKey("stock_universe"))
        bar_events = {
            event.partition: event.metadata["dagster/row_count"].value
            for event in result.asset_materializations_for_node("daily_bars")
            if event.asset_key == dg.AssetKey("daily_bars")
        }
    with open_warehouse(db, read_only=True) as con:
        universe_rows = con.execute("SELECT count(*) FROM stock_universe").fetchone()[0]
        per_batch = dict(con.execute("SELECT batch, count(*) FROM daily_bars GROUP BY 1").fetchall())
    assert universe_event.asset_materialization.metadata["dagster/row_count"].value == universe_rows
    assert bar_events == {f"{batch}|{DAY}": per_batch[batch] for batch in BATCHES}
    assert run_summary(result)["rows"] == sum(per_batch.values())


@pytest.mark.slow
def test_a_long_range_fetch_never_holds_the_range_in_memory():
    """The bars path of a daily_bars run (fetch -> stage), traced: a run holding the range fails it.

    The simulator runs in its own process so only this side's allocations count.
    """
    with (
        running_simulator("--today", SIMULATOR_TODAY.isoformat()) as address,
        BaoStockPool([address], max_size=4, request_timeout=30.0) as pool,
    ):
        days = trading_days(fetch_trade_calendar(pool, *LONG_RANGE))
        universe = fetch_universe(pool, LONG_RANGE[1])
        codes = a_share_codes(universe[universe["batch"] == BATCH])
        with BarStage() as stage:
            tracemalloc.start()
            try:
                report = fetch_daily_bars(pool, codes, days, strategy="symbol", sink=stage.add)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            staged = stage.rows
    assert report.failures == [] and report.bars.empty
    assert staged > 70_000
    assert peak < MEMORY_BOUND, f"peak {peak / 2**20:.0f} MB for {staged} rows: the fetch held the range"


@pytest.mark.parametrize("table", ["daily_bars", "stock_universe"])
def test_the_asset_page_describes_every_column_of_the_table(tmp_path, table):
    from marketdata_pipeline.defs.market.assets import daily_bars, stock_universe
    from marketdata_pipeline.storage import ensure_schema

    asset = {"daily_bars": daily_bars, "stock_universe": stock_universe}[table]
    schema = asset.metadata_by_key[asset.key]["dagster/column_schema"]
    with open_warehouse(tmp_path / "warehouse.duckdb") as con:
        ensure_schema(con)
        columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
    assert sorted(column.name for column in schema.columns) == sorted(columns)
    assert all(column.description for column in schema.columns)


def test_a_stock_universe_range_run_records_each_day_with_its_own_rows(shared_simulator, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    days = xshg_trading_days(date(2024, 12, 23), DAY)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [stock_universe],
            resources=resources_for(shared_simulator.address, db),
            tags={RANGE_START: days[0].isoformat(), RANGE_END: days[-1].isoformat()},
            instance=instance,
            raise_on_error=False,
        )
        assert result.success
        recorded = {
            event.partition: event.metadata["dagster/row_count"].value
            for event in result.asset_materializations_for_node("stock_universe")
        }
        assert instance.get_materialized_partitions(dg.AssetKey("stock_universe")) == set(recorded)
    with open_warehouse(db, read_only=True) as con:
        stored = con.execute("SELECT trade_date, count(*) FROM stock_universe GROUP BY 1").fetchall()
    assert recorded == {day.isoformat(): rows for day, rows in stored}
    assert len(recorded) == len(days) > 3
