"""Runs of `daily_bars_job` per batch over a date range: the bench's shared runner and its child process.

`run_batches` executes one real run per batch (as `make demo` does) on the
instance of DAGSTER_HOME and returns each run's wall and CPU time, events
and metadata. Run as a module, it does that in a process of its own and prints
one JSON line with the runs and its own peak resident memory after each, so
a parent can measure a whole-market backfill without counting itself or the
simulator:

    python -m marketdata_pipeline_tests.bench.pipeline_child 2024-01-02 2024-12-31

Configuration comes from the environment (BAOSTOCK_HOST/PORT, DAGSTER_HOME,
MARKETDATA_DUCKDB_PATH), read when the definitions load.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date

import dagster as dg

from marketdata_pipeline.batching import BATCHES

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class JobRun:
    """One run: what it covered, its outcome, wall and CPU seconds, events stored, plain metadata."""

    job: str
    partitions: str
    success: bool
    seconds: float
    cpu_seconds: float
    events: int
    """Entries the run wrote to the instance's event log (each one a write to its storage)."""
    metadata: dict[str, object] = field(default_factory=dict)
    checks: int = 0
    """Asset check evaluations the run recorded."""

    def number(self, key: str) -> float:
        return float(self.metadata.get(key, 0) or 0)


def run_job(definitions: dg.Definitions, instance, job_name: str, first: str, last: str) -> JobRun:
    """One single-run backfill of `job_name` over partition keys `first`..`last`, console logs quiet."""
    tags = {RANGE_START: first, RANGE_END: last}
    started, cpu_started = time.perf_counter(), time.process_time()
    result = definitions.resolve_job_def(job_name).execute_in_process(
        instance=instance, tags=tags, run_config=QUIET_LOGS, raise_on_error=False
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    # daily_bars records the run's numbers once, as an observation; other assets on a materialization.
    asset = job_name.removesuffix("_job")
    events = result.all_events
    observed = [e.asset_observation_data.asset_observation for e in events if e.is_asset_observation]
    summaries = observed or result.asset_materializations_for_node(asset)[:1]
    metadata = {key: value.value for m in summaries for key, value in m.metadata.items()}
    plain = {key: value for key, value in metadata.items() if isinstance(value, int | float | str)}
    checks = sum(event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION for event in events)
    events = len(instance.all_logs(result.run_id))
    return JobRun(job_name, f"{first}..{last}", result.success, seconds, cpu_seconds, events, plain, checks)


def run_universe(definitions: dg.Definitions, instance, first: date, last: date) -> JobRun:
    """`stock_universe_job` over the days, as `make demo` runs it before the bars."""
    return run_job(definitions, instance, "stock_universe_job", str(first), str(last))


def run_batches(
    definitions: dg.Definitions,
    instance,
    first: date,
    last: date,
    batches: Iterable[str] = BATCHES,
) -> list[JobRun]:
    """One `daily_bars_job` run per batch over the days, sequentially, as `make demo` runs them."""
    return [run_batch(definitions, instance, batch, first, last) for batch in batches]


def run_batch(definitions: dg.Definitions, instance, batch: str, first: date, last: date) -> JobRun:
    """One `daily_bars_job` run of `batch` over the days: a single-run backfill."""
    return run_job(definitions, instance, "daily_bars_job", f"{batch}|{first}", f"{batch}|{last}")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=date.fromisoformat, help="first trading day, YYYY-MM-DD")
    parser.add_argument("last", type=date.fromisoformat, help="last trading day, YYYY-MM-DD")
    args = parser.parse_args(argv)
    from marketdata_pipeline.definitions import defs

    definitions = defs()
    runs = []
    with dg.DagsterInstance.get() as instance:
        for batch in BATCHES:
            run = run_batch(definitions, instance, batch, args.first, args.last)
            runs.append({**asdict(run), "batch": batch, "peak_rss_mb": peak_rss_mb()})
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "runs": runs}), flush=True)
    return 0 if all(run["success"] for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
