"""`make demo`: the main job, offline - simulator, real Dagster runs, checks, a summary.

Starts `marketdata simulator` on a free loopback port as its own process,
points BAOSTOCK_HOST/PORT at it, and runs the project's jobs on a real
Dagster instance under a temporary DAGSTER_HOME (runs, events and check
results are stored as for any run): the calendar, the universe and the
daily bars of the latest trading days for every batch (one run), then the
adjust factors. Prints one line per run and where the DuckDB file is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.defs.market.publication import latest_published_days
from marketdata_pipeline.defs.settings import setting
from marketdata_pipeline.launch import PROJECT_DAGSTER_YAML, running_simulator

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


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
    with running_simulator() as (host, port), temporary_dagster_home():
        # Synthetic data: recorded as the simulator's, in data/demo.duckdb unless the path is set.
        os.environ.update(BAOSTOCK_HOST=host, BAOSTOCK_PORT=str(port), MARKETDATA_SOURCE="simulator")
        print(f"simulator listening on {host}:{port}; DAGSTER_HOME={os.environ['DAGSTER_HOME']}", flush=True)
        from marketdata_pipeline.definitions import defs as load_defs

        definitions = load_defs()
        trading = latest_published_days(days)
        with dg.DagsterInstance.get() as instance:
            lines = [_run(definitions, instance, "trade_calendar_job", None, None)]
            lines.append(_run(definitions, instance, "stock_universe_job", str(trading[0]), str(trading[-1])))
            # One run for every batch and day: one pool, one whole-market request per day.
            first, last = f"{BATCHES[0]}|{trading[0]}", f"{BATCHES[-1]}|{trading[-1]}"
            lines.append(_run(definitions, instance, "daily_bars_job", first, last))
            lines.append(_run(definitions, instance, "adjust_factors_job", BATCHES[0], BATCHES[-1]))
    _print_summary(lines, trading)
    return 0 if all(line.status == "SUCCESS" for line in lines) else 1


def _run(
    definitions: dg.Definitions, instance, job_name: str, first: str | None, last: str | None
) -> RunLine:
    tags = {RANGE_START: first, RANGE_END: last} if first else {}
    line = RunLine(job_name.removesuffix("_job"), f"{first}..{last}" if first else "-")
    started = time.perf_counter()
    result = definitions.resolve_job_def(job_name).execute_in_process(
        instance=instance, tags=tags, raise_on_error=False
    )
    line.seconds = time.perf_counter() - started
    line.status = "SUCCESS" if result.success else "FAILURE"
    # A range run stores one materialization per partition, all with the run's metadata: read one.
    for materialization in result.asset_materializations_for_node(job_name.removesuffix("_job"))[:1]:
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        line.rows += int(metadata.get("rows", 0))
        line.symbols += int(metadata.get("symbols", metadata.get("codes", 0)))
        line.failures += int(metadata.get("failed_symbols", metadata.get("failed_codes", 0)))
        line.requests += int(metadata.get("requests", 0))
    print(
        f"{line.job:<15} {line.partitions:<33} {line.status:<8} rows={line.rows:<7} "
        f"failures={line.failures:<3} {line.seconds:6.1f} s",
        flush=True,
    )
    return line


def _print_summary(lines: list[RunLine], trading: list[date]) -> None:
    database = Path(setting("MARKETDATA_DUCKDB_PATH")).resolve()
    columns = ("rows", "symbols", "failures", "requests", "seconds")
    header = f"{'asset':<15} {'partitions':<33} " + " ".join(f"{name:>8}" for name in columns)
    print("\n" + header)
    print("-" * len(header))
    for line in lines:
        print(
            f"{line.job:<15} {line.partitions:<33} {line.rows:>8} {line.symbols:>8} "
            f"{line.failures:>8} {line.requests:>8} {line.seconds:>8.1f}"
        )
    total = sum(line.seconds for line in lines)
    print(f"\n{len(lines)} runs, {sum(line.rows for line in lines)} rows written in {total:.1f} s")
    print(f"trading days: {trading[0]} .. {trading[-1]}")
    print(f"warehouse: {database}")
    print("example query:")
    print(
        '  MARKETDATA_SOURCE=simulator .venv/bin/marketdata query "SELECT trade_date, count(*) AS symbols, '
        'round(avg(pct_chg), 3) AS avg_pct_chg FROM daily_bars GROUP BY ALL ORDER BY 1"'
    )


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
