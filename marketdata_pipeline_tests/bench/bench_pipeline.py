"""The pipeline end to end through real Dagster runs: a market day vs the official client, a year, memory.

Everything runs on a real instance under a temporary DAGSTER_HOME (the
project's dagster.yaml) with a temporary DuckDB warehouse, against the
simulator in its own process, as `make demo` does:

1. One trading day of the whole market, 20 ms injected latency: the
   `stock_universe` run, then `daily_bars_job` as one run per batch (16,
   sequential) and as one run over all 16 batches (the range
   b00|day..b15|day, as `make demo` and the schedule run it), pool size 4,
   against the official `baostock` client's sequential `login(); for code:
   query_history_k_data_plus(code)` loop over the same A-shares. The official
   loop is timed over a fixed random sample and scaled linearly to all codes;
   its rows must equal the warehouse's for the sample. Also timed: an empty
   one-op job, the floor of any Dagster run.
2. One year of one batch as a single-run backfill, 20 ms latency, after the
   year's `stock_universe` run: requests, rows, rows/s, the planner's choice.
3. Peak resident memory of a one-year whole-market backfill (16 batch runs x
   2024, no injected latency) in a child process (`pipeline_child`), against
   the 1 GB budget; the year's universes are already stored by part 2.

The machine is small and shared: ratios measured side by side, CPU seconds
next to wall seconds, and the load average printed with the results.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from marketdata_pipeline.baostock import BaoStockSession
from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.defs.settings import SETTINGS
from marketdata_pipeline.demo import temporary_dagster_home
from marketdata_pipeline.ingest.bars import DAILY_FIELDS_CSV
from marketdata_pipeline.launch import running_simulator
from marketdata_pipeline.storage import open_warehouse
from marketdata_pipeline_tests.bench.pipeline_child import (
    QUIET_LOGS,
    JobRun,
    run_batches,
    run_job,
    run_universe,
)

LATENCY_MS = 20
TODAY = "2024-12-31"  # the simulator publishes through this day
DAY = date(2024, 6, 3)
YEAR = (date(2024, 1, 2), date(2024, 12, 31))
YEAR_BATCH = "b03"
POOL_SIZE = SETTINGS["BAOSTOCK_POOL_SIZE"].default
OFFICIAL_SAMPLE = 400
SAMPLE_SEED = 20240603
TARGET_SPEEDUP = 50.0
MEMORY_BUDGET_MB = 1024.0
EMPTY_RUNS = 3
CHILD_TIMEOUT_S = 1800.0


@dg.op
def _nothing() -> None:
    """Does nothing: the run around it is what gets timed."""


@dg.job
def empty_job() -> None:
    _nothing()


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block, restoring the previous values after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def pipeline_environment(home: Path, address: tuple[str, int]) -> Iterator[Path]:
    """Point the definitions at the simulator and at a warehouse file in `home`; yield the file."""
    warehouse = home / "warehouse.duckdb"
    host, port = address
    settings = {
        "BAOSTOCK_HOST": host,
        "BAOSTOCK_PORT": str(port),
        "BAOSTOCK_POOL_SIZE": "",  # empty: the default size, as `make demo` runs
        "BAOSTOCK_MAX_REQUESTS_PER_SECOND": "0",  # as `make demo` runs: no cap on the simulator
        "MARKETDATA_DUCKDB_PATH": str(warehouse),
    }
    with _environment(**settings):
        yield warehouse


def timed(work: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result) of `work()`."""
    started, cpu_started = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - started, time.process_time() - cpu_started, result


# --- 1. one market day --------------------------------------------------------------------------


@dataclass
class MarketDay:
    codes: int
    sample: int
    official_s: float
    official_cpu_s: float
    empty_run_s: float
    universe: JobRun
    per_batch: list[JobRun]
    one_run: JobRun


def day_codes(warehouse: Path) -> list[str]:
    """The A-shares (type 1) of DAY's stored universe: the codes the bars runs must cover."""
    with open_warehouse(warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT code FROM stock_universe WHERE trade_date = ? AND type = 1 ORDER BY code", [DAY]
        ).fetchall()
    return [code for (code,) in rows]


def stored_rows(warehouse: Path, codes: list[str]) -> int:
    """Bars stored for DAY among `codes`."""
    with open_warehouse(warehouse, read_only=True) as con:
        query = "SELECT count(*) FROM daily_bars WHERE trade_date = ? AND list_contains(?, code)"
        return con.execute(query, [DAY, codes]).fetchone()[0]


def warm_simulator(address: tuple[str, int], codes: list[str]) -> None:
    """The simulator builds a day's market and a symbol's history on first use: build both up front."""
    with BaoStockSession(*address) as session:
        session.query_daily_history_k_AStock(DAY.isoformat())
    with BaoStockPool([address], max_size=8) as pool:

        def fetch(code: str) -> None:
            with pool.session() as session:
                session.query_history_k_data_plus(code, DAILY_FIELDS_CSV, str(DAY), str(DAY))

        with ThreadPoolExecutor(max_workers=8) as workers:
            list(workers.map(fetch, codes))


def official_client_rows(address: tuple[str, int], codes: list[str]) -> int:
    """The official client's sequential loop: login, one query per code, every row read."""
    import baostock as bs

    from marketdata_pipeline_tests.conftest import point_official_client_at

    rows = 0
    with point_official_client_at(*address), contextlib.redirect_stdout(io.StringIO()):
        bs.login()
        for code in codes:
            day = DAY.isoformat()
            result = bs.query_history_k_data_plus(code, DAILY_FIELDS_CSV, start_date=day, end_date=day)
            if result.error_code != "0":
                raise RuntimeError(f"official client: {code}: {result.error_code} {result.error_msg}")
            while result.next():
                result.get_row_data()
                rows += 1
        bs.logout()
    return rows


def empty_run_seconds(instance) -> float:
    """Median wall seconds of an empty one-op job on `instance`: what any run costs."""
    seconds = []
    for _ in range(EMPTY_RUNS):
        started = time.perf_counter()
        empty_job.execute_in_process(instance=instance, run_config=QUIET_LOGS)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def measure_market_day(definitions, instance, address, warehouse: Path) -> MarketDay:
    empty_s = empty_run_seconds(instance)
    universe = run_universe(definitions, instance, DAY, DAY)
    codes = day_codes(warehouse)
    sample = sorted(random.Random(SAMPLE_SEED).sample(codes, min(OFFICIAL_SAMPLE, len(codes))))
    warm_simulator(address, sample)
    per_batch = run_batches(definitions, instance, DAY, DAY)
    first, last = f"{BATCHES[0]}|{DAY}", f"{BATCHES[-1]}|{DAY}"
    one_run = run_job(definitions, instance, "daily_bars_job", first, last)
    failed = [run.partitions for run in (universe, *per_batch, one_run) if not run.success]
    if failed:
        raise RuntimeError(f"pipeline runs failed: {failed}; run `make demo` to see their logs")
    official_s, official_cpu_s, official_rows = timed(lambda: official_client_rows(address, sample))
    expected = stored_rows(warehouse, sample)
    if official_rows != expected:
        raise RuntimeError(f"official client read {official_rows} sample rows, the warehouse {expected}")
    return MarketDay(
        len(codes), len(sample), official_s, official_cpu_s, empty_s, universe, per_batch, one_run
    )


def print_market_day(day: MarketDay) -> None:
    scale = day.codes / day.sample
    official = day.official_s * scale
    print(f"one trading day ({DAY}), whole market: {day.codes:,} A-shares, {LATENCY_MS} ms injected latency, "
          f"pool size {POOL_SIZE}, simulator in its own process")  # fmt: skip
    print(f"official client: sequential loop timed over {day.sample} codes sampled at random (seed "
          f"{SAMPLE_SEED}), scaled x{scale:.2f} to {day.codes:,} codes; rows = warehouse")  # fmt: skip
    header = ("case", "runs", "wall s", "cpu s", "fetch s", "requests", "rows", "events", "vs official")
    print(f"{header[0]:<44}{header[1]:>5}{header[2]:>9}{header[3]:>8}{header[4]:>9}{header[5]:>10}"
          f"{header[6]:>7}{header[7]:>8}{header[8]:>13}")  # fmt: skip
    print(f"{'official client loop (scaled)':<44}{'-':>5}{official:>9.1f}{day.official_cpu_s * scale:>8.1f}"
          f"{official:>9.1f}{day.codes:>10}{day.codes:>7}{'-':>8}{1.0:>12.2f}x")  # fmt: skip
    cases = (
        ("stock_universe run", [day.universe]),
        ("stock_universe + 16 runs, one per batch", [day.universe, *day.per_batch]),
        ("stock_universe + 1 run over b00..b15 (demo)", [day.universe, day.one_run]),
    )
    for label, runs in cases:
        wall, cpu = sum(run.seconds for run in runs), sum(run.cpu_seconds for run in runs)
        fetch = sum(run.number("duration_s") for run in runs)
        requests = sum(int(run.number("requests")) for run in runs)
        rows = sum(int(run.number("rows")) for run in runs if run.job == "daily_bars_job")
        events = sum(run.events for run in runs)
        print(f"{label:<44}{len(runs):>5}{wall:>9.1f}{cpu:>8.1f}{fetch:>9.1f}{requests:>10}{rows:>7}"
              f"{events:>8}{official / wall:>12.2f}x")  # fmt: skip
    demo = official / (day.universe.seconds + day.one_run.seconds)
    verdict = "meets" if demo >= TARGET_SPEEDUP else "MISSES"
    print(f"target >= {TARGET_SPEEDUP:.0f}x (one run, all batches, as the demo): {demo:.1f}x, {verdict} it")
    wall = statistics.mean(run.seconds for run in day.per_batch)
    fetch = statistics.mean(run.number("duration_s") for run in day.per_batch)
    print(f"per daily_bars run: {wall:.2f} s wall = {fetch:.2f} s fetching + {wall - fetch:.2f} s outside "
          f"the fetch; an empty one-op Dagster run on this instance: {day.empty_run_s:.2f} s "
          f"(median of {EMPTY_RUNS})")  # fmt: skip
    print(f"planner, one run per batch: {day.per_batch[0].metadata.get('plan', '')}")
    print(f"planner, one run over all batches: {day.one_run.metadata.get('plan', '')}")


# --- 2. one year of one batch -------------------------------------------------------------------


def measure_year_batch(definitions, instance) -> tuple[JobRun, JobRun]:
    first, last = YEAR
    universe = run_universe(definitions, instance, first, last)
    bars = run_job(definitions, instance, "daily_bars_job", f"{YEAR_BATCH}|{first}", f"{YEAR_BATCH}|{last}")
    failed = [run.partitions for run in (universe, bars) if not run.success]
    if failed:
        raise RuntimeError(f"pipeline runs failed: {failed}")
    return universe, bars


def print_year_batch(universe: JobRun, bars: JobRun) -> None:
    first, last = YEAR
    days = int(bars.number("days"))
    print(f"\none year of {YEAR_BATCH} ({first}..{last}, {days} trading days) as one run (single-run "
          f"backfill), {LATENCY_MS} ms injected latency, pool size {POOL_SIZE}")  # fmt: skip
    header = ("run", "wall s", "cpu s", "fetch s", "requests", "rows", "events")
    header += ("rows/s fetch", "rows/s wall")
    print(f"{header[0]:<28}{header[1]:>8}{header[2]:>8}{header[3]:>9}{header[4]:>10}{header[5]:>10}"
          f"{header[6]:>8}{header[7]:>14}{header[8]:>13}")  # fmt: skip
    print(f"{'stock_universe (the year)':<28}{universe.seconds:>8.1f}{universe.cpu_seconds:>8.1f}{'-':>9}"
          f"{'-':>10}{int(universe.number('rows')):>10}{universe.events:>8}{'-':>14}{'-':>13}")  # fmt: skip
    rows = int(bars.number("rows"))
    print(f"{'daily_bars ' + YEAR_BATCH:<28}{bars.seconds:>8.1f}{bars.cpu_seconds:>8.1f}"
          f"{bars.number('duration_s'):>9.1f}{int(bars.number('requests')):>10}{rows:>10}{bars.events:>8}"
          f"{bars.number('rows_per_s'):>14,.0f}{rows / bars.seconds:>13,.0f}")  # fmt: skip
    print(f"strategy: {bars.metadata.get('strategy')}; {bars.metadata.get('symbols')} symbols; "
          f"plan: {bars.metadata.get('plan')}")  # fmt: skip


# --- 3. backfill memory -------------------------------------------------------------------------


def run_child(first: date, last: date) -> dict:
    """Run `pipeline_child` over the range with this environment; its JSON summary."""
    command = [sys.executable, "-m", "marketdata_pipeline_tests.bench.pipeline_child", str(first), str(last)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    lines = out.strip().splitlines()
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"pipeline_child exited with {process.returncode}: {err[-2000:]}")
    return json.loads(lines[-1])


def print_backfill_memory(summary: dict, seconds: float) -> None:
    runs = summary["runs"]
    peaks = [run["peak_rss_mb"] for run in runs]
    peak = summary["peak_rss_mb"]
    rows = sum(int(run["metadata"].get("rows", 0)) for run in runs)
    print(f"\npeak memory of a one-year whole-market backfill: {len(runs)} daily_bars runs x "
          f"{YEAR[0]}..{YEAR[1]}, no injected latency, in a child process (the simulator in another; "
          f"the year's universes stored by part 2)")  # fmt: skip
    header = ("runs ok", "rows", "wall s", "peak RSS MB", "budget MB", "peak/budget")
    print(f"{header[0]:>8}{header[1]:>11}{header[2]:>9}{header[3]:>13}{header[4]:>11}{header[5]:>13}")
    ok = sum(run["success"] for run in runs)
    print(f"{ok:>5}/{len(runs):<2}{rows:>11,}{seconds:>9.1f}{peak:>13.0f}{MEMORY_BUDGET_MB:>11.0f}"
          f"{peak / MEMORY_BUDGET_MB:>12.2f}x")  # fmt: skip
    growth = ", ".join(f"{run['batch']}:{mb:.0f}" for run, mb in zip(runs, peaks, strict=True))
    print(f"peak RSS (MB) after each run: {growth}")


# --- the bench ----------------------------------------------------------------------------------


def run() -> None:
    load_before = os.getloadavg()[0]
    with temporary_dagster_home() as home:
        latency = ("--latency-ms", str(LATENCY_MS), "--today", TODAY)
        with running_simulator(*latency) as address, pipeline_environment(home, address) as warehouse:
            from marketdata_pipeline.definitions import defs

            definitions = defs()
            with dg.DagsterInstance.get() as instance:
                print_market_day(measure_market_day(definitions, instance, address, warehouse))
                print_year_batch(*measure_year_batch(definitions, instance))
        with running_simulator("--today", TODAY) as address, pipeline_environment(home, address):
            seconds, _, summary = timed(lambda: run_child(*YEAR))
            print_backfill_memory(summary, seconds)
    print(f"\nload average (1 min) on {os.cpu_count()} cores: {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")  # fmt: skip
