"""The daily_bars run as plain Python, without Dagster: a logger and a run id in, committed slices out."""

from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta

import pytest

from marketdata_pipeline import ingest_run as ingest_run_module
from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.batching import batch_of
from marketdata_pipeline.ingest_run import (
    BatchOutcome,
    RunRefused,
    RunSettings,
    UniverseStored,
    ingest_run,
    universe_run,
)
from marketdata_pipeline.market_calendar import shanghai_now, xshg_trading_days
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.storage import ensure_schema, open_warehouse
from marketdata_pipeline.storage.checks import DAILY_BARS_CHECKS
from marketdata_pipeline_tests.conftest import SIMULATOR_TODAY
from marketdata_pipeline_tests.faults.proxy import CountingProxy
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.ingest.conftest import pool_on

SETTINGS = RunSettings(strategy="auto", include_indices=False, error_failure_rate=0.05, revision_days=0)
DAYS = [date(2024, 12, 30), date(2024, 12, 31)]
BATCHES = ("b04", "b09")  # sz.000001, sh.600000


class Warehouse:
    """The one thing the run asks of a warehouse: a connection with the schema, closed after."""

    def __init__(self, path):
        self.path = path

    @contextmanager
    def get_connection(self):
        with open_warehouse(self.path) as con:
            ensure_schema(con)
            yield con

    def rows(self, sql: str, *params):
        with self.get_connection() as con:
            return con.execute(sql, list(params)).fetchall()


class Recorded(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[tuple[int, str]] = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


@pytest.fixture
def log():
    logger, handler = logging.getLogger(f"test_ingest_run.{id(object())}"), Recorded()
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, handler.lines
    logger.removeHandler(handler)


def drain(run):
    """What a run yields, and what it returns."""
    yielded = []
    while True:
        try:
            yielded.append(next(run))
        except StopIteration as done:
            return yielded, done.value


class RefusingPool:
    """A pool that fails the test if asked for anything."""

    max_size = 1

    def __getattr__(self, name):
        raise AssertionError(f"the run used the pool ({name}) before refusing")


def test_a_run_yields_each_commit_and_logs_to_any_logger(shared_simulator, tmp_path, log):
    logger, lines = log
    warehouse = Warehouse(tmp_path / "run.duckdb")
    before = open_fds()
    batch_days = {batch: DAYS for batch in BATCHES}
    with pool_on(shared_simulator) as pool:
        yielded, outcome = drain(ingest_run(pool, warehouse, SETTINGS, batch_days, run_id="r1", log=logger))
    # Every socket and DuckDB connection of the run is closed.
    assert wait_for_fds(before) == before

    # The universe of both days commits first, then each batch as its slice commits, in order.
    assert isinstance(yielded[0], UniverseStored) and sorted(yielded[0].rows) == DAYS
    with warehouse.get_connection() as con:
        stored = con.execute(
            "SELECT trade_date, count(*), count_if(type = 1) FROM stock_universe GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert stored == [(day, yielded[0].rows[day], yielded[0].a_shares[day]) for day in DAYS]
    assert all(yielded[0].rows[day] > yielded[0].a_shares[day] > 5000 for day in DAYS)
    assert [item.batch for item in yielded[1:]] == list(BATCHES)
    assert all(isinstance(item, BatchOutcome) and item.wrote for item in yielded[1:])
    # The data checks come after the last write, once over all batches: the outcome carries them.
    assert [replace(batch, data_checks=[]) for batch in outcome.batches] == yielded[1:]
    assert all(item.data_checks == [] for item in yielded[1:])
    assert all(
        [check.name for check in batch.data_checks] == [check.name for check in DAILY_BARS_CHECKS]
        for batch in outcome.batches
    )
    for batch_outcome in outcome.batches:
        stored = warehouse.rows(
            "SELECT trade_date, count(*) FROM daily_bars WHERE batch = ? GROUP BY 1 ORDER BY 1",
            batch_outcome.batch,
        )
        assert dict(stored) == batch_outcome.rows_per_day and all(count > 0 for _, count in stored)
        assert {batch_of(code) for code in batch_outcome.codes} == {batch_outcome.batch}
    assert any("codes x 2 trading days" in message for _, message in lines)
    assert any(": symbols " in message and ", requests " in message for _, message in lines)  # progress


def test_the_failure_gate_writes_nothing_and_records_failures_under_the_run_id(tmp_path, log):
    logger, lines = log
    warehouse = Warehouse(tmp_path / "gate.duckdb")
    with Simulator(seed=0, today=SIMULATOR_TODAY) as simulator, pool_on(simulator) as pool:
        drain(universe_run(pool, warehouse, DAYS, log=logger))  # stored: the run asks only for bars
        simulator.faults.error_rate = 1.0  # every bar request answers 10005001
        _, outcome = drain(ingest_run(pool, warehouse, SETTINGS, {"b09": DAYS}, run_id="r-gate", log=logger))
    (stopped,) = outcome.batches
    assert not stopped.wrote and stopped.failure_rate > SETTINGS.error_failure_rate
    assert warehouse.rows("SELECT count(*) FROM daily_bars") == [(0,)]
    recorded = warehouse.rows("SELECT DISTINCT run_id, batch FROM ingest_failures")
    assert recorded == [("r-gate", "b09")]
    assert any(level == logging.ERROR and "nothing written" in message for level, message in lines)


def test_a_day_not_published_yet_is_refused_before_any_request(tmp_path, log):
    logger, _ = log
    tomorrow = shanghai_now().date() + timedelta(days=1)
    warehouse = Warehouse(tmp_path / "future.duckdb")
    with pytest.raises(RunRefused, match=rf"{tomorrow} is not published yet.*Materialize it after that"):
        drain(ingest_run(RefusingPool(), warehouse, SETTINGS, {"b09": [tomorrow]}, run_id="r", log=logger))
    with pytest.raises(RunRefused, match=f"{tomorrow} is not published yet"):
        drain(universe_run(RefusingPool(), warehouse, [tomorrow], log=logger))
    assert not (tmp_path / "future.duckdb").exists()


def test_a_day_baostock_lists_nothing_for_stores_no_universe(shared_pool, tmp_path, log):
    logger, _ = log
    warehouse = Warehouse(tmp_path / "sunday.duckdb")
    sunday = date(2024, 12, 29)
    with pytest.raises(RunRefused, match=f"BaoStock lists no securities on {sunday}.*pick a published"):
        drain(universe_run(shared_pool, warehouse, [DAYS[0], sunday], log=logger))
    assert warehouse.rows("SELECT count(*) FROM stock_universe") == [(0,)]


def test_a_long_range_of_universes_is_fetched_and_stored_a_chunk_at_a_time(
    shared_simulator, tmp_path, log, monkeypatch
):
    """When the first chunk commits, the range's later days are not asked yet (requests run one
    chunk ahead, no more), and no commit holds more than one chunk: the range is never held."""
    logger, _ = log
    chunk = 4
    monkeypatch.setattr(ingest_run_module, "UNIVERSE_DAYS_PER_WRITE", chunk)
    days = xshg_trading_days(date(2024, 10, 8), date(2024, 12, 31))[: 6 * chunk + 1]
    with (
        CountingProxy(shared_simulator.address) as proxy,
        BaoStockPool([proxy.address], max_size=4, request_timeout=30.0) as pool,
    ):
        run = universe_run(pool, Warehouse(tmp_path / "long.duckdb"), days, log=logger)
        first = next(run)
        asked_by_then = proxy.requests_by_method()["query_all_stock"]
        rest = list(run)
        pages_per_day = proxy.requests_by_method()["query_all_stock"] / len(days)
    assert len(first.rows) == chunk and set(first.rows) < set(days)
    assert asked_by_then <= pages_per_day * (2 * chunk + pool.max_size) < pages_per_day * len(days)
    assert [len(stored.rows) for stored in rest] == [chunk] * 5 + [1]


def test_a_run_keeps_its_startup_heap_out_of_the_collectors_scans_until_it_ends(shared_pool, tmp_path, log):
    # A full collection rescanned every object alive at the start (Dagster, pandas, the definitions)
    # while the run allocated a list per row: frozen during the run, handed back after, error or not.
    logger, _ = log
    assert gc.get_freeze_count() == 0
    run = universe_run(shared_pool, Warehouse(tmp_path / "frozen.duckdb"), DAYS, log=logger)
    first = next(run)
    assert isinstance(first, UniverseStored)
    assert gc.get_freeze_count() > 10_000  # inside the run: the test process's heap, frozen
    drain(run)
    assert gc.get_freeze_count() == 0
    # A bars run that fetches its universe first stays frozen through its bars (an inner
    # unfreeze at the universe's end would hand the heap back before the fetch that needs it).
    bars = ingest_run(
        shared_pool, Warehouse(tmp_path / "bars.duckdb"), SETTINGS, {"b09": DAYS}, run_id="r", log=logger
    )
    assert isinstance(next(bars), UniverseStored)
    assert isinstance(next(bars), BatchOutcome)
    assert gc.get_freeze_count() > 10_000
    drain(bars)
    assert gc.get_freeze_count() == 0
    tomorrow = shanghai_now().date() + timedelta(days=1)
    with pytest.raises(RunRefused):
        refused = Warehouse(tmp_path / "refused.duckdb")
        drain(ingest_run(RefusingPool(), refused, SETTINGS, {"b09": [tomorrow]}, run_id="r", log=logger))
    assert gc.get_freeze_count() == 0
