"""kill -9 of a run while it writes a big slice leaves the old slice or the new one, never a mix.

The run is a separate process configured by environment, as a deployment runs
it. Each round waits for the fetch's last progress line, then kills the
process at a moment of the write: when DuckDB's WAL appears (the write
connection opened), when it has grown by the slice's rows (the commit is being
written), or once it stopped growing (committed, not yet checkpointed). The
rounds must see both outcomes, so the kills straddle the commit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from marketdata_pipeline_tests.pipeline.commands import REPO, dagster_home, pipeline_env
from marketdata_pipeline_tests.pipeline.runs import materialize_daily_bars, resources_for
from marketdata_pipeline_tests.pipeline.stored import slice_versions

BATCH = "b03"
FIRST, LAST = date(2024, 1, 2), date(2024, 1, 15)  # 10 trading days: ~3,200 rows
FETCH_DONE = "done: symbols"  # the fetch's last progress line: the writes come next
COMMIT_BYTES = 64 * 1024  # the slice's rows in the WAL weigh a few hundred KB
SETTLED_S = 0.05  # a WAL that has not grown for this long holds a finished commit
MOMENTS = ("wal", "commit", "committed")
GIVE_UP_S = 60.0

RANGE_RUN = """
import sys
from marketdata_pipeline.definitions import defs
job = defs().resolve_job_def("daily_bars_job")
tags = {"dagster/asset_partition_range_start": sys.argv[1], "dagster/asset_partition_range_end": sys.argv[2]}
sys.exit(0 if job.execute_in_process(tags=tags, raise_on_error=False).success else 1)
"""


def wal_size(db: Path) -> int:
    wal = db.with_name(db.name + ".wal")
    return wal.stat().st_size if wal.exists() else 0


def wait_for_line(process: subprocess.Popen, text: str) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    for line in process.stderr:
        if text in line:
            return
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"the run never logged {text!r}")


def wait_for_wal(process: subprocess.Popen, db: Path, start: int, grown: int) -> None:
    """Poll until the WAL has grown by `grown` bytes since `start` (or the process ended)."""
    deadline = time.monotonic() + GIVE_UP_S
    while wal_size(db) - start < grown and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)


def wait_for_settled_wal(process: subprocess.Popen, db: Path) -> None:
    """Poll until the WAL has not grown for SETTLED_S (or the process ended)."""
    size, since = wal_size(db), time.monotonic()
    while time.monotonic() - since < SETTLED_S and process.poll() is None:
        time.sleep(0.001)
        if wal_size(db) != size:
            size, since = wal_size(db), time.monotonic()


def kill_during_write(process: subprocess.Popen, db: Path, moment: str) -> None:
    """SIGKILL `process` at `moment` (one of MOMENTS) of its write."""
    wait_for_line(process, FETCH_DONE)
    wait_for_wal(process, db, wal_size(db), 1 if moment == "wal" else COMMIT_BYTES)
    if moment == "committed":
        wait_for_settled_wal(process, db)
    process.send_signal(signal.SIGKILL)


@pytest.mark.slow
def test_kill_9_mid_write_leaves_the_old_slice_or_the_new_one(simulator, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    first, last = f"{BATCH}|{FIRST}", f"{BATCH}|{LAST}"
    assert materialize_daily_bars(resources_for(simulator.address, db), first=first, last=last).success
    ((version, rows),) = slice_versions(db, BATCH, FIRST, LAST)
    env = pipeline_env(simulator.address, db, dagster_home(tmp_path))
    outcomes = []

    for moment in MOMENTS:
        with subprocess.Popen(
            [sys.executable, "-c", RANGE_RUN, first, last],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            kill_during_write(process, db, moment)
            process.communicate()
        versions = slice_versions(db, BATCH, FIRST, LAST)
        assert len(versions) == 1 and versions[0][1] == rows, f"kill at {moment}: a mixed slice {versions}"
        outcomes.append((moment, process.returncode, "new" if versions[0][0] > version else "old"))
        version = versions[0][0]

    # A committed run may get to exit by itself before its kill; the two earlier moments may not.
    killed = {moment for moment, code, _ in outcomes if code == -signal.SIGKILL}
    assert killed >= {"wal", "commit"}, f"a run ended before its kill: {outcomes}"
    assert {found for *_, found in outcomes} == {"old", "new"}, f"kills missed the commit: {outcomes}"
