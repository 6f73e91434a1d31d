"""History bootstrap under faults: a shallow whole-market history, a crash after a commit, a bad range."""

from __future__ import annotations

from collections import Counter
from datetime import date

import dagster as dg

import marketdata_pipeline.ingest_run as ingest_run_module
from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.ingest import (
    a_share_codes,
    fetch_daily_bars,
    fetch_trade_calendar,
    fetch_universe,
    listing_windows,
    trading_days,
)
from marketdata_pipeline_tests.conftest import SIMULATOR_TODAY
from marketdata_pipeline_tests.pipeline.runs import (
    materialize_daily_bars,
    resources_for,
    step_failure_message,
)
from marketdata_pipeline_tests.pipeline.stored import rows_per_stored_day

BATCH = "b03"
DAYS, DEPTH = 10, 3
WHOLE_MARKET, RANGE = "98", "95"  # request message types
CRASH_DAYS = (date(2024, 12, 30), date(2024, 12, 31))


def test_days_beyond_the_whole_market_depth_become_one_range_request_per_symbol(
    faulty_simulator, counting_proxy
):
    faulty_simulator.market_depth_days = DEPTH
    options = {"max_size": 4, "request_timeout": 30.0, "acquire_timeout": 30.0}
    with BaoStockPool([counting_proxy.address], **options) as pool:
        days = trading_days(fetch_trade_calendar(pool, "2024-12-01", SIMULATOR_TODAY))[-DAYS:]
        universe = fetch_universe(pool, days[-1])
        codes = a_share_codes(universe[universe["batch"] == BATCH])
        sent_before = Counter(counting_proxy.requests_by_type())
        report = fetch_daily_bars(pool, codes, days, listed=listing_windows(universe), strategy="market")
        sent = Counter(counting_proxy.requests_by_type()) - sent_before

    assert sent[WHOLE_MARKET] == DAYS
    # Not one request per symbol and day (7 x 320): one range per symbol over all the empty days.
    assert sent[RANGE] == len(codes)
    assert report.failures == []
    assert sorted(f.start_date for f in report.market_failures) == days[: DAYS - DEPTH]
    (note,) = report.notes
    assert f"{DAYS - DEPTH} whole-market day(s)" in note and f"{len(codes)} per-symbol range requests" in note
    assert report.rows >= len(codes) * (DAYS - 1)


def test_the_run_log_says_how_days_beyond_the_depth_are_fetched(simulator, tmp_path):
    simulator.market_depth_days = DEPTH
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_daily_bars(
            resources_for(simulator.address, tmp_path / "warehouse.duckdb"),
            first=f"{BATCH}|2024-12-24",
            last=f"{BATCH}|2024-12-31",
            instance=instance,
            config={"strategy": "market"},
        )
        log = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert result.success
    planned = [line for line in log if "whole-market day(s) failed or answered empty" in line]
    assert planned and "planned as" in planned[0]


def test_a_batch_committed_before_a_crash_keeps_its_materializations(simulator, tmp_path, monkeypatch):
    real_write = ingest_run_module.replace_daily_bars_from_stage
    written: list[str] = []

    def crash_after_the_first_batch(con, staged, **slice_):
        if written:
            raise OSError("No space left on device (injected after the first batch committed)")
        written.append(slice_["batch"])
        return real_write(con, staged, **slice_)

    monkeypatch.setattr(ingest_run_module, "replace_daily_bars_from_stage", crash_after_the_first_batch)
    db = tmp_path / "warehouse.duckdb"
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_daily_bars(
            resources_for(simulator.address, db),
            first="b00|2024-12-30",
            last="b01|2024-12-31",
            instance=instance,
        )
        bars = instance.get_materialized_partitions(dg.AssetKey("daily_bars"))
        universe = instance.get_materialized_partitions(dg.AssetKey("stock_universe"))

    assert not result.success and "No space left on device" in step_failure_message(result)
    # What committed is recorded; what did not is not.
    assert bars == {"b00|2024-12-30", "b00|2024-12-31"}
    assert universe == {"2024-12-30", "2024-12-31"}
    assert [day for day, rows in rows_per_stored_day(db, "b00", *CRASH_DAYS) if rows] == list(CRASH_DAYS)
    assert rows_per_stored_day(db, "b01", *CRASH_DAYS) == []


def test_a_reversed_partition_range_says_what_is_wrong(shared_simulator, tmp_path):
    result = materialize_daily_bars(
        resources_for(shared_simulator.address, tmp_path / "warehouse.duckdb"),
        first=f"{BATCH}|2024-07-05",
        last=f"{BATCH}|2024-07-01",
    )
    assert not result.success
    message = step_failure_message(result)
    assert "IndexError" not in message
    assert "its start is after its end in date" in message
    assert f"{BATCH}|2024-07-01...{BATCH}|2024-07-05" in message
