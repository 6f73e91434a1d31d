"""The UI test's false positive, reproduced: a backfill that ends two sessions before the next run.

The ten-day backfill stored 2024-12-16..27; the UI test then ran 2024-12-31 on the same warehouse.
2024-12-30 was never stored, and the trailing window stops there, so the run's slice is the 31st
alone. preclose_chain took the batch's previous *stored* day (the 27th) for the previous session and
compared the 27th's close with the 31st's preclose (the 30th's close): every code that rose on the
30th was a "break". The chain now follows the XSHG sessions: the 31st has no stored predecessor.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.pipeline.runs import check_evaluations, materialize_daily_bars, resources_for

BATCH = "b07"
BACKFILL_END = "2024-12-27"
NEXT_RUN = "2024-12-31"


@pytest.mark.slow
def test_a_run_two_sessions_after_the_stored_days_finds_no_chain_break(tmp_path):
    db = tmp_path / "marketdata.duckdb"
    with Simulator(seed=0, today=date.fromisoformat(NEXT_RUN)) as simulator:
        resources = resources_for(simulator.address, db)
        assert materialize_daily_bars(resources, f"{BATCH}|{BACKFILL_END}").success
        result = materialize_daily_bars(resources, f"{BATCH}|{NEXT_RUN}")
    assert result.success
    evaluations = check_evaluations(result)
    with duckdb.connect(str(db), read_only=True) as con:
        findings = con.execute("SELECT check_name, count(*) FROM check_findings GROUP BY ALL").fetchall()
        # The gap is real: nothing of the 30th is stored, so the 31st's chain has no predecessor.
        (unstored,) = con.execute(
            "SELECT count(*) FROM daily_bars WHERE trade_date = '2024-12-30'"
        ).fetchone()
    assert unstored == 0
    assert findings == []
    assert {name: e.passed for name, e in evaluations.items()} == dict.fromkeys(evaluations, True)
    assert evaluations["preclose_chain"].metadata["rows_checked"].value == 0
