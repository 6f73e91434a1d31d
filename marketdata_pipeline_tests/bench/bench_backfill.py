"""The whole market's history as ONE backfill launched through the webserver, as a user does in the UI.

`dagster dev` (webserver, daemon, code server) on the project's own
dagster.yaml and budget (1 "baostock" slot x the default pool size),
against the simulator in its own process at 0 ms latency,
`BAOSTOCK_MAX_REQUESTS_PER_SECOND=0`, on an empty warehouse: one
`launchPartitionBackfill` of `daily_bars` over all 16 batches x the span's
trading days (the GraphQL call the UI's Materialize dialog makes), then the
wall time until the backfill completes, each run's wall time, the peak
resident memory of every run worker process (sampled from /proc every
0.5 s), and the stored rows against the official `baostock` client's loop
(`login(); for code: query_history_k_data_plus(code, span)`) over the same
codes and days, compared code by code.

The span is `BENCH_BACKFILL_START`..`BENCH_BACKFILL_END` (default: the
simulator's last month, short enough for `make bench`); the whole history is
`BENCH_BACKFILL_START=2015-01-05` (goal <= 15 minutes on this machine):

    BENCH_BACKFILL_START=2015-01-05 .venv/bin/python -m marketdata_pipeline_tests.bench backfill
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.defs.market.partitions import date_partitions
from marketdata_pipeline.ingest.bars import DAILY_FIELDS_CSV
from marketdata_pipeline.storage import open_warehouse
from marketdata_pipeline_tests.ops.dagster_dev import SIMULATOR_TODAY, DagsterDev, running_dagster_dev
from marketdata_pipeline_tests.ops.graphql_ops import (
    BACKFILL_TAG,
    launch_asset_backfill,
    run_windows,
    runs_tagged,
    wait_for_backfill,
)

DEFAULT_START, DEFAULT_END = "2024-12-02", SIMULATOR_TODAY
BACKFILL_TIMEOUT_S = 3600.0
SAMPLE_EVERY_S = 0.5
MEMORY_BUDGET_MB = 1024.0
HISTORY_GOAL_S = 15 * 60.0
RUN_WORKER = "spawn_main"
"""What the command line of a run worker holds: the code server starts each run in a process of
its own with multiprocessing's spawn (`python -c "from multiprocessing.spawn import spawn_main..."`)."""


def span() -> tuple[date, date]:
    first = date.fromisoformat(os.environ.get("BENCH_BACKFILL_START", DEFAULT_START))
    last = date.fromisoformat(os.environ.get("BENCH_BACKFILL_END", DEFAULT_END))
    if first > last:
        raise ValueError(f"BENCH_BACKFILL_START {first} is after BENCH_BACKFILL_END {last}: swap them")
    return first, last


def partition_names(first: date, last: date) -> list[str]:
    """Every `batch|day` partition of the span: 16 batches x its trading days (the UI's selection)."""
    days = [key for key in date_partitions.get_partition_keys() if str(first) <= key <= str(last)]
    return [f"{batch}|{day}" for day in days for batch in BATCHES]


class WorkerMemory:
    """The peak resident memory (VmHWM) of every run worker of a process group, sampled in a thread."""

    def __init__(self, group: int):
        self.group = group
        self.peaks_mb: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="worker-memory", daemon=True)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            for pid, peak in self._workers():
                self.peaks_mb[pid] = max(peak, self.peaks_mb.get(pid, 0.0))

    def _workers(self):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            # A worker may exit between listing and reading: skip it, its last sample stands.
            with contextlib.suppress(OSError, ValueError):
                if os.getpgid(int(entry.name)) != self.group:
                    continue
                if RUN_WORKER not in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    continue
                status = (entry / "status").read_text()
                (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
                yield int(entry.name), int(line.split()[1]) / 1024


def stored_rows_per_code(warehouse: Path, first: date, last: date) -> Counter:
    with open_warehouse(warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT code, count(*) FROM daily_bars WHERE trade_date BETWEEN ? AND ? GROUP BY code",
            [first, last],
        ).fetchall()
    return Counter(dict(rows))


def span_codes(warehouse: Path, first: date, last: date) -> list[str]:
    """The A-shares listed on any day of the span, as the runs stored the universe."""
    with open_warehouse(warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT code FROM stock_universe WHERE type = 1 AND trade_date BETWEEN ? AND ? "
            "ORDER BY code",
            [first, last],
        ).fetchall()
    return [code for (code,) in rows]


def official_rows_per_code(address: tuple[str, int], codes: list[str], first: date, last: date) -> Counter:
    """The official client's loop over the codes and the span: rows per code, every row read."""
    import baostock as bs

    from marketdata_pipeline_tests.conftest import point_official_client_at

    counts: Counter = Counter()
    with point_official_client_at(*address), contextlib.redirect_stdout(io.StringIO()):
        bs.login()
        try:
            for code in codes:
                result = bs.query_history_k_data_plus(code, DAILY_FIELDS_CSV, str(first), str(last))
                if result.error_code != "0":
                    raise RuntimeError(f"official client: {code}: {result.error_code} {result.error_msg}")
                while result.next():
                    result.get_row_data()
                    counts[code] += 1
        finally:
            bs.logout()
    return counts


def backfill(dev: DagsterDev, names: list[str]) -> tuple[float, dict, list]:
    """Launch the backfill and wait for it; (wall seconds, its final status, its runs)."""
    started = time.perf_counter()
    backfill_id = launch_asset_backfill(dev, "daily_bars", names)
    status = wait_for_backfill(dev, backfill_id, BACKFILL_TIMEOUT_S)
    seconds = time.perf_counter() - started
    return seconds, status, runs_tagged(dev, BACKFILL_TAG, backfill_id)


def run() -> None:
    load_before = os.getloadavg()[0]
    first, last = span()
    names = partition_names(first, last)
    with (
        tempfile.TemporaryDirectory(prefix="bench-backfill-") as workdir,
        running_dagster_dev(Path(workdir), default_budget=True) as dev,
    ):
        with WorkerMemory(dev.process_group) as memory:
            seconds, status, runs = backfill(dev, names)
        windows = run_windows(dev, [run.run_id for run in runs])
        codes = span_codes(dev.duckdb_path, first, last)
        stored = stored_rows_per_code(dev.duckdb_path, first, last)
        official_s, official = timed_official(dev.simulator, codes, first, last)
    days = len(names) // len(BATCHES)
    peaks = sorted(memory.peaks_mb.values())
    ok = sum(run.status == "SUCCESS" for run in runs)
    print(f"daily_bars backfill, {len(BATCHES)} batches x {days} trading days ({first}..{last}) = "
          f"{len(names):,} partitions, ONE launchPartitionBackfill through the webserver, daemon running, "
          f"the project's dagster.yaml budget, simulator at 0 ms, BAOSTOCK_MAX_REQUESTS_PER_SECOND=0, "
          f"empty warehouse")  # fmt: skip
    run_seconds = [end - start for start, end in windows if start and end]
    print(f"backfill {status['status']}: {ok}/{len(runs)} runs succeeded; wall {seconds:.1f} s from launch "
          f"to completion; runs took {min(run_seconds, default=0):.1f}..{max(run_seconds, default=0):.1f} s "
          f"each, {sum(run_seconds):.1f} s in all")  # fmt: skip
    verdict = "meets" if peaks and peaks[-1] <= MEMORY_BUDGET_MB else "MISSES"
    print(f"peak RSS of each of the {len(peaks)} run workers seen (MB): "
          f"{', '.join(f'{mb:.0f}' for mb in peaks)}; max {peaks[-1] if peaks else 0:.0f} MB, "
          f"{verdict} the {MEMORY_BUDGET_MB:.0f} MB budget")  # fmt: skip
    same = stored == official
    print(f"rows: warehouse {sum(stored.values()):,} over {len(stored):,} codes; official client loop "
          f"{sum(official.values()):,} over {len(official):,} codes ({len(codes):,} requests, "
          f"{official_s:.1f} s); code by code {'EQUAL' if same else 'DIFFERENT'}")  # fmt: skip
    if first.isoformat() <= "2015-01-05":
        verdict = "meets" if seconds <= HISTORY_GOAL_S else "MISSES"
        print(f"whole history: {seconds / 60:.1f} min, {verdict} the {HISTORY_GOAL_S / 60:.0f} min goal")
    print(f"load average (1 min) on {os.cpu_count()} cores: {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")  # fmt: skip
    if not same or ok != len(runs):
        differing = sorted(code for code in stored.keys() | official.keys() if stored[code] != official[code])
        raise RuntimeError(f"backfill {status['status']}, {ok}/{len(runs)} runs ok; codes whose rows "
                           f"differ: {differing[:10]}")  # fmt: skip


def timed_official(address, codes, first, last) -> tuple[float, Counter]:
    started = time.perf_counter()
    counts = official_rows_per_code(address, codes, first, last)
    return time.perf_counter() - started, counts
