"""Readers never block writers: a process holding a `Warehouse` reads throughout a real daily_bars run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from marketdata_pipeline_tests.pipeline.runs import materialize_daily_bars
from marketdata_pipeline_tests.reading.conftest import BATCH, NEXT_DAYS

CHILD = Path(__file__).with_name("reader_child.py")


@pytest.mark.slow
def test_a_reader_held_open_across_a_run_never_blocks_it(loaded, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(loaded[0], db)
    resources = dict(loaded[1], warehouse=type(loaded[1]["warehouse"])(database=str(db), lock_timeout=10.0))
    reader = subprocess.Popen(
        [sys.executable, str(CHILD), str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout.readline().strip() == "ready"
        result = materialize_daily_bars(
            resources, first=f"{BATCH}|{NEXT_DAYS[0]}", last=f"{BATCH}|{NEXT_DAYS[-1]}"
        )
        report, _ = reader.communicate("", timeout=60)
    finally:
        reader.kill()
        reader.wait()
    outcome = json.loads(report.strip().splitlines()[-1])
    assert result.success, f"the writer (lock_timeout 10 s) did not get the file past the reader: {outcome}"
    assert outcome["errors"] == []
    assert outcome["reads"] >= 3
    assert outcome["last_day"] == str(NEXT_DAYS[-1]), "the reader saw the run's new days"
