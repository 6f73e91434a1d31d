"""kill -9 in the middle of replace_daily_bars leaves the old slice or the new one, never a mix.

Calibration: with the transaction removed (DELETE and INSERT auto-committed), about 3 rounds in 8
leave an empty slice, so 6 rounds catch a non-atomic replace ~94% of the time; atomic never fails.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from marketdata_pipeline.storage import ensure_schema, open_warehouse, replace_daily_bars
from marketdata_pipeline_tests.storage.sample_rows import BATCH, bars, codes_of, weekdays

REPO = Path(__file__).resolve().parents[2]
CODES = codes_of(BATCH, 200)
DAYS = weekdays(date(2024, 1, 2), 60)
ROWS = len(CODES) * len(DAYS)

# Writes generation 1, 2, 3... of the same slice in a loop; every row of generation g has volume g.
WRITER = f"""
import sys
from marketdata_pipeline.storage import open_warehouse, replace_daily_bars
from marketdata_pipeline_tests.storage.sample_rows import bars, codes_of, weekdays
import datetime
days = weekdays(datetime.date.fromisoformat({DAYS[0].isoformat()!r}), {len(DAYS)})
rows = bars(codes_of({BATCH!r}, {len(CODES)}), days)
generation = int(sys.argv[2])
with open_warehouse(sys.argv[1]) as con:
    while True:
        generation += 1
        replace_daily_bars(con, rows.assign(volume=str(generation)), batch={BATCH!r},
                           start=days[0], end=days[-1])
        print(generation, flush=True)
"""


def _generations(path):
    with open_warehouse(path, read_only=True) as con:
        return con.execute("SELECT volume, count(*) FROM daily_bars GROUP BY volume").fetchall()


def _kill_mid_write(path, generation, rng):
    """Start the writer, SIGKILL it at a random moment after its first commit; return its last report."""
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(generation)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    ) as writer:
        reported = [writer.stdout.readline()]
        time.sleep(rng.uniform(0.0, 0.5))
        writer.kill()
        reported += writer.stdout.readlines()
        writer.wait()
    return int([line for line in reported if line.strip()][-1])


@pytest.mark.slow
def test_kill_9_mid_write_leaves_one_whole_generation(db_path):
    rng = random.Random()
    with open_warehouse(db_path) as con:
        ensure_schema(con)
        replace_daily_bars(
            con, bars(CODES, DAYS).assign(volume="0"), batch=BATCH, start=DAYS[0], end=DAYS[-1]
        )
    generation = 0
    for _ in range(6):
        reported = _kill_mid_write(db_path, generation, rng)
        (stored,) = _generations(db_path)
        assert stored[1] == ROWS, f"a mix of generations or a partial slice: {stored}"
        # The commit may land just before the kill and before the writer could report it.
        assert stored[0] in (reported, reported + 1)
        generation = stored[0]
    assert generation >= 6
