"""The pipeline end to end through real Dagster runs: a market day vs the official client, a year, memory.

Everything runs on a real instance under a temporary DAGSTER_HOME (the
project's dagster.yaml) with a temporary DuckDB warehouse, against the
simulator in its own process, as `make demo` does:

1. One trading day of the whole market, 20 ms injected latency, pool size 4,
   on a warehouse holding the week before: the day's one `daily_bars_job`
   run over b00..b15 (as the schedule and `make demo` launch it), which
   fetches and stores the day's universe, the bars, and evaluates every
   check of the run (target <= 1.5 s; median of three fresh days), then one
   run per batch (16, sequential, universe stored), against the official
   `baostock` client's one whole-market call (`query_daily_history_k_AStock`)
   and its sequential `login(); for code: query_history_k_data_plus(code)`
   loop over the same A-shares, timed over a fixed random sample and scaled
   linearly to all codes. Both official answers' rows must equal the
   warehouse's. Also timed: an empty one-op job, the floor of any Dagster run.
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
from marketdata_pipeline.ingest import a_share_codes, fetch_universe
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
STORED_DAYS = (date(2024, 5, 27), date(2024, 5, 31))  # the week before, stored by one run
FRESH_DAYS = [date(2024, 6, 3), date(2024, 6, 4), date(2024, 6, 5)]  # each its own day's run
DAY = FRESH_DAYS[0]
YEAR = (date(2024, 1, 2), date(2024, 12, 31))
YEAR_BATCH = "b03"
POOL_SIZE = SETTINGS["BAOSTOCK_POOL_SIZE"].default
OFFICIAL_SAMPLE = 400
SAMPLE_SEED = 20240603
TARGET_DAY_S = 1.5
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
    whole_market_s: float
    whole_market_rows: int
    empty_run_s: float
    fresh: list[JobRun]
    per_batch: list[JobRun]


def day_codes(warehouse: Path, day: date) -> list[str]:
    """The A-shares (type 1) of the day's stored universe: the codes the bars runs must cover."""
    with open_warehouse(warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT code FROM stock_universe WHERE trade_date = ? AND type = 1 ORDER BY code", [day]
        ).fetchall()
    return [code for (code,) in rows]


def stored_rows(warehouse: Path, day: date, codes: list[str] | None = None) -> int:
    """Bars stored for the day, among `codes` if given."""
    with open_warehouse(warehouse, read_only=True) as con:
        query = (
            "SELECT count(*) FROM daily_bars WHERE trade_date = ? AND (? IS NULL OR list_contains(?, code))"
        )
        return con.execute(query, [day, codes, codes]).fetchone()[0]


def stored_universe_days(warehouse: Path, days: list[date]) -> int:
    with open_warehouse(warehouse, read_only=True) as con:
        query = "SELECT count(DISTINCT trade_date) FROM stock_universe WHERE list_contains(?, trade_date)"
        return con.execute(query, [days]).fetchone()[0]


def warm_simulator(address: tuple[str, int], days: list[date], codes: list[str]) -> None:
    """The simulator builds a day's market and a symbol's history on first use: build both up front."""
    with BaoStockSession(*address) as session:
        for day in days:
            session.query_all_stock(day.isoformat())
            session.query_daily_history_k_AStock(day.isoformat())
    with BaoStockPool([address], max_size=8) as pool:

        def fetch(code: str) -> None:
            with pool.session() as session:
                session.query_history_k_data_plus(code, DAILY_FIELDS_CSV, str(DAY), str(DAY))

        with ThreadPoolExecutor(max_workers=8) as workers:
            list(workers.map(fetch, codes))


@contextlib.contextmanager
def official_client(address: tuple[str, int]) -> Iterator[object]:
    """The official `baostock` module, logged in to the simulator, its prints swallowed."""
    import baostock as bs

    from marketdata_pipeline_tests.conftest import point_official_client_at

    with point_official_client_at(*address), contextlib.redirect_stdout(io.StringIO()):
        bs.login()
        try:
            yield bs
        finally:
            bs.logout()


def read_rows(result, what: str) -> int:
    """Every row of an official client's answer read, as a user's loop would; their count."""
    if result.error_code != "0":
        raise RuntimeError(f"official client: {what}: {result.error_code} {result.error_msg}")
    rows = 0
    while result.next():
        result.get_row_data()
        rows += 1
    return rows


def official_client_rows(address: tuple[str, int], codes: list[str]) -> int:
    """The official client's sequential loop: login, one query per code, every row read."""
    day = DAY.isoformat()
    with official_client(address) as bs:
        return sum(
            read_rows(
                bs.query_history_k_data_plus(code, DAILY_FIELDS_CSV, start_date=day, end_date=day), code
            )
            for code in codes
        )


def official_whole_market_rows(address: tuple[str, int]) -> int:
    """The official client's one whole-market call for the day: login, one query, every row read."""
    with official_client(address) as bs:
        return read_rows(bs.query_daily_history_k_AStock(DAY.isoformat()), "query_daily_history_k_AStock")


def empty_run_seconds(instance) -> float:
    """Median wall seconds of an empty one-op job on `instance`: what any run costs."""
    seconds = []
    for _ in range(EMPTY_RUNS):
        started = time.perf_counter()
        empty_job.execute_in_process(instance=instance, run_config=QUIET_LOGS)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def day_run(definitions, instance, day: date) -> JobRun:
    """`daily_bars_job` over b00..b15 of the day: the one run the schedule launches."""
    return run_job(definitions, instance, "daily_bars_job", f"{BATCHES[0]}|{day}", f"{BATCHES[-1]}|{day}")


def measure_market_day(definitions, instance, address, warehouse: Path) -> MarketDay:
    empty_s = empty_run_seconds(instance)
    # The days before, as the evening run finds them: their bars and universes stored.
    first, last = STORED_DAYS
    stored = run_job(
        definitions, instance, "daily_bars_job", f"{BATCHES[0]}|{first}", f"{BATCHES[-1]}|{last}"
    )
    if not stored.success or stored_universe_days(warehouse, FRESH_DAYS):
        raise RuntimeError(f"the stored days' run failed ({stored.partitions}) or a fresh day is not fresh")
    universe = fetch_day_universe(address, DAY)
    codes = sorted(universe)
    sample = sorted(random.Random(SAMPLE_SEED).sample(codes, min(OFFICIAL_SAMPLE, len(codes))))
    warm_simulator(address, FRESH_DAYS, sample)
    fresh = [day_run(definitions, instance, day) for day in FRESH_DAYS]
    per_batch = run_batches(definitions, instance, DAY, DAY)
    failed = [run.partitions for run in (*fresh, *per_batch) if not run.success]
    if failed:
        raise RuntimeError(f"pipeline runs failed: {failed}; run `make demo` to see their logs")
    if day_codes(warehouse, DAY) != codes:
        raise RuntimeError("the run stored another universe than the simulator's")
    official_s, official_cpu_s, official_rows = timed(lambda: official_client_rows(address, sample))
    expected = stored_rows(warehouse, DAY, sample)
    if official_rows != expected:
        raise RuntimeError(f"official client read {official_rows} sample rows, the warehouse {expected}")
    market_s, _, market_rows = timed(lambda: official_whole_market_rows(address))
    if market_rows != stored_rows(warehouse, DAY):
        raise RuntimeError(f"official whole-market call read {market_rows} rows, the warehouse "
                           f"{stored_rows(warehouse, DAY)}")  # fmt: skip
    return MarketDay(
        len(codes), len(sample), official_s, official_cpu_s, market_s, market_rows, empty_s, fresh, per_batch
    )


def fetch_day_universe(address: tuple[str, int], day: date) -> list[str]:
    """The A-share codes BaoStock lists on the day (type 1), asked once up front."""
    with BaoStockPool([address], max_size=1) as pool:
        return a_share_codes(fetch_universe(pool, day))


def print_market_day(day: MarketDay) -> None:
    scale = day.codes / day.sample
    official = day.official_s * scale
    market = day.whole_market_s
    fresh = statistics.median(run.seconds for run in day.fresh)
    print(f"one trading day of the whole market: {day.codes:,} A-shares, {LATENCY_MS} ms injected latency, "
          f"pool size {POOL_SIZE}, simulator in its own process; the warehouse holds {STORED_DAYS[0]}.."
          f"{STORED_DAYS[1]} (bars and universes)")  # fmt: skip
    print(f"official client loop: timed over {day.sample} codes sampled at random (seed {SAMPLE_SEED}), "
          f"scaled x{scale:.2f} to {day.codes:,} codes; rows = warehouse. Whole-market call: "
          f"query_daily_history_k_AStock({DAY}), {day.whole_market_rows:,} rows = warehouse")  # fmt: skip
    header = ("case", "runs", "wall s", "cpu s", "fetch s", "requests", "rows", "events", "checks")
    header += ("vs loop", "vs 1 call")
    print(f"{header[0]:<52}{header[1]:>5}{header[2]:>8}{header[3]:>7}{header[4]:>8}{header[5]:>9}"
          f"{header[6]:>7}{header[7]:>7}{header[8]:>7}{header[9]:>9}{header[10]:>10}")  # fmt: skip
    print(f"{'official client loop (scaled)':<52}{'-':>5}{official:>8.2f}{day.official_cpu_s * scale:>7.2f}"
          f"{official:>8.2f}{day.codes:>9}{day.codes:>7}{'-':>7}{'-':>7}{1.0:>8.2f}x"
          f"{market / official:>9.2f}x")  # fmt: skip
    print(f"{'official client, one whole-market call':<52}{'-':>5}{market:>8.2f}{'-':>7}{market:>8.2f}"
          f"{1:>9}{day.whole_market_rows:>7}{'-':>7}{'-':>7}{official / market:>8.1f}x"
          f"{1.0:>9.2f}x")  # fmt: skip
    cases = [(f"1 run b00..b15, fresh day {fresh_day} (+ universe)", [run]) for fresh_day, run in
             zip(FRESH_DAYS, day.fresh, strict=True)]  # fmt: skip
    cases.append(("16 runs, one per batch (universe stored)", day.per_batch))
    for label, runs in cases:
        wall, cpu = sum(run.seconds for run in runs), sum(run.cpu_seconds for run in runs)
        fetch = sum(run.number("duration_s") for run in runs)
        requests = sum(int(run.number("requests")) for run in runs)
        rows = sum(int(run.number("rows")) for run in runs)
        events, checks = sum(run.events for run in runs), sum(run.checks for run in runs)
        print(f"{label:<52}{len(runs):>5}{wall:>8.2f}{cpu:>7.2f}{fetch:>8.2f}{requests:>9}{rows:>7}"
              f"{events:>7}{checks:>7}{official / wall:>8.1f}x{market / wall:>9.2f}x")  # fmt: skip
    verdict = "meets" if fresh <= TARGET_DAY_S else "MISSES"
    print(f"target <= {TARGET_DAY_S} s for the day's one run (universe + bars + checks): median "
          f"{fresh:.2f} s of {len(day.fresh)} fresh days, {verdict} it; {official / fresh:.1f}x the official "
          f"loop, {market / fresh:.2f}x its one whole-market call")  # fmt: skip
    outside = statistics.median(run.seconds - run.number("duration_s") for run in day.fresh)
    print(f"of the day's run, {outside:.2f} s is outside the fetch (Dagster's run and events, writes, "
          f"checks); an empty one-op Dagster run on this instance: {day.empty_run_s:.2f} s "
          f"(median of {EMPTY_RUNS})")  # fmt: skip
    print(f"planner, the day's one run: {day.fresh[0].metadata.get('plan', '')}")


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
