"""`make demo`: the main job, offline - simulator, real Dagster runs, checks, exports, a summary.

Starts `marketdata simulator` on a free loopback port as its own process,
points BAOSTOCK_HOST/PORT at it, and runs the project's jobs (RUNS, in order)
on a real Dagster instance under a temporary DAGSTER_HOME, writing the
synthetic warehouse (`data/demo.duckdb` unless MARKETDATA_DUCKDB_PATH is set).
The terminal shows one progress bar per run (plain lines when it is not a
terminal) and the summary table; Dagster's own log goes to
`data/demo-dagster.log`. Request counts are the simulator's own counters, read
before and after each run: true for every asset.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
from tqdm import tqdm

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from marketdata_pipeline.defs.settings import load_settings
from marketdata_pipeline.launch import PROJECT_DAGSTER_YAML, running_simulator, simulator_environment
from marketdata_pipeline.market_calendar import latest_published_days

DAGSTER_LOG = Path("data/demo-dagster.log")
EXPORTS = Path("data/demo-exports")
# Dagster's console logger stays quiet: every event still reaches the instance and the log file.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


# The demo's runs, in order, one line each (e.g. a universe-and-bars job is one more): the job, the
# assets whose numbers its summary line adds up, and its partition range given the trading days.
RUNS = (
    ("trade_calendar_job", ("trade_calendar",), lambda days: None),
    # One run for every batch and day: one pool, one whole-market request per day; it stores and
    # materializes the days' stock_universe too.
    (
        "daily_bars_job",
        ("daily_bars",),
        lambda days: (f"{BATCHES[0]}|{days[0]}", f"{BATCHES[-1]}|{days[-1]}"),
    ),
    ("adjust_factors_job", ("adjust_factors",), lambda days: (BATCHES[0], BATCHES[-1])),
    ("exports_job", ("parquet_export", "qlib_export"), lambda days: None),
)


@dataclass
class RunLine:
    """One row of the summary table."""

    job: str
    partitions: str
    rows: int = 0
    symbols: int = 0
    failures: int = 0
    requests: int = 0
    seconds: float = 0.0
    status: str = ""


def run_demo(days: int = 5) -> int:
    """Run the demo; 0 when every run and blocking check succeeded."""
    # Synthetic data: recorded as the simulator's, in data/demo.duckdb unless the path is set.
    os.environ.update(MARKETDATA_SOURCE="simulator", MARKETDATA_EXPORT_DIR=str(EXPORTS))
    DAGSTER_LOG.parent.mkdir(parents=True, exist_ok=True)
    stats_file = Path(tempfile.mkdtemp(prefix="marketdata-demo-")) / "simulator-stats.json"
    with (
        running_simulator("--stats-file", str(stats_file)) as (host, port),
        temporary_dagster_home(),
        DAGSTER_LOG.open("w", encoding="utf-8") as log,
        contextlib.redirect_stderr(log),  # Dagster's warnings and its Python loggers
    ):
        os.environ.update(simulator_environment(host, port))
        print(f"simulator on {host}:{port}; Dagster's log: {DAGSTER_LOG}", flush=True)
        from marketdata_pipeline.definitions import defs as load_defs

        definitions = load_defs()
        trading = latest_published_days(days)
        with dg.DagsterInstance.get() as instance:
            lines = [_run(definitions, instance, run, trading, stats_file, log) for run in RUNS]
    shutil.rmtree(stats_file.parent, ignore_errors=True)
    _print_summary(lines, trading, Path(load_settings().duckdb_path))
    return 0 if all(line.status == "SUCCESS" for line in lines) else 1


def _run(definitions, instance, run: tuple, trading: list[date], stats_file: Path, log) -> RunLine:
    job, assets, partitions = run
    span = partitions(trading)
    tags = {ASSET_PARTITION_RANGE_START_TAG: span[0], ASSET_PARTITION_RANGE_END_TAG: span[1]} if span else {}
    line = RunLine(job.removesuffix("_job"), f"{span[0]}..{span[1]}" if span else "-")
    requests_before = _server_requests(stats_file, since=0.0)
    run_id = str(uuid.uuid4())
    started = time.perf_counter()
    with _progress(instance, run_id, line.job, log):
        result = definitions.resolve_job_def(job).execute_in_process(
            instance=instance, tags=tags, run_id=run_id, run_config=QUIET, raise_on_error=False
        )
    line.seconds = time.perf_counter() - started
    line.requests = _server_requests(stats_file, since=time.time()) - requests_before
    line.status = "SUCCESS" if result.success else "FAILURE"
    events = result.all_events
    # daily_bars records its run's numbers once, as an observation; the other assets on a materialization.
    observed = [e.asset_observation_data.asset_observation for e in events if e.is_asset_observation]
    for asset in assets:
        summaries = [o for o in observed if o.asset_key.path == [asset]]
        for materialization in summaries or result.asset_materializations_for_node(asset)[:1]:
            metadata = {key: value.value for key, value in materialization.metadata.items()}
            line.rows += int(metadata.get("rows", 0))
            line.symbols += int(metadata.get("symbols", metadata.get("codes", 0)))
            line.failures += int(metadata.get("failed_symbols", metadata.get("failed_codes", 0)))
    return line


@contextmanager
def _progress(instance, run_id: str, label: str, log):
    """A bar for the run (its latest log message beside it), fed by polling the run's event log, which
    is also copied to `log`; when stdout is no terminal, one plain line when the run ends."""
    terminal = sys.stdout.isatty()
    bar = tqdm(desc=f"{label:<15}", unit=" events", file=sys.stdout, disable=not terminal)
    done = threading.Event()
    cursor = None

    def follow() -> None:
        nonlocal cursor
        while True:
            finished = done.is_set()
            if instance.get_run_by_id(run_id) is not None:
                batch = instance.get_records_for_run(run_id, cursor=cursor)
                cursor = batch.cursor
                for record in batch.records:
                    entry = record.event_log_entry
                    step = entry.step_key or "-"
                    log.write(f"{entry.timestamp:.3f} {entry.level} {step} {entry.message}\n")
                    if entry.user_message:
                        bar.set_postfix_str(entry.user_message[:60], refresh=False)
                    bar.update(1)
            if finished:
                return
            done.wait(0.3)

    follower = threading.Thread(target=follow, name=f"demo-progress-{label}", daemon=True)
    follower.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        done.set()
        follower.join(timeout=10)
        bar.close()
        if bar.disable:
            print(f"{label:<15} finished in {time.perf_counter() - started:6.1f} s", flush=True)


def _server_requests(stats_file: Path, since: float) -> int:
    """The simulator's request counter from a snapshot taken after `since` (it rewrites one every 0.1 s)."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            snapshot = json.loads(stats_file.read_text(encoding="utf-8"))
            if snapshot["written_at"] > since:
                return int(snapshot["requests"])
        time.sleep(0.05)
    raise RuntimeError(f"the simulator stopped writing its counters to {stats_file}")


def _print_summary(lines: list[RunLine], trading: list[date], warehouse: Path) -> None:
    columns = ("rows", "symbols", "failures", "requests", "seconds")
    header = f"{'run':<15} {'partitions':<33} {'status':<8} " + " ".join(f"{name:>8}" for name in columns)
    print("\n" + header)
    print("-" * len(header))
    for line in lines:
        print(
            f"{line.job:<15} {line.partitions:<33} {line.status:<8} {line.rows:>8} {line.symbols:>8} "
            f"{line.failures:>8} {line.requests:>8} {line.seconds:>8.1f}"
        )
    total = sum(line.seconds for line in lines)
    print(f"\n{len(lines)} runs in {total:.1f} s; trading days {trading[0]} .. {trading[-1]}")
    print(f"warehouse: {warehouse.resolve()}; exports: {EXPORTS.resolve()}")
    print(f"Dagster's log of every run: {DAGSTER_LOG.resolve()}")
    print("read it:")
    print(f"  .venv/bin/marketdata status --db {warehouse}")
    print(
        f'  .venv/bin/marketdata query --db {warehouse} "SELECT trade_date, count(*) AS symbols, '
        'round(avg(pct_chg), 3) AS avg_pct_chg FROM daily_bars GROUP BY ALL ORDER BY 1"'
    )
    print(f"  .venv/bin/python -c \"from marketdata_pipeline import Warehouse; "
          f"print(Warehouse('{warehouse}').bars('600000.SH', adjust='qfq'))\"")  # fmt: skip


@contextmanager
def temporary_dagster_home():
    """A fresh DAGSTER_HOME holding the project's dagster.yaml, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="marketdata-dagster-"))
    previous = os.environ.get("DAGSTER_HOME")
    shutil.copy(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        yield home
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous
        shutil.rmtree(home, ignore_errors=True)
