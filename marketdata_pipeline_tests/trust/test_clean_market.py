"""On a clean simulated market every reconciliation check passes: a month of a batch, several seeds."""

from __future__ import annotations

import pytest

from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.storage.checks import ADJUST_FACTORS_CHECKS, DAILY_BARS_CHECKS
from marketdata_pipeline_tests.trust.market import LAST, every_check, load_month

SEEDS = (0, 1)
"""Seeds of the suite (each costs ~14 s); the README's false-positive count is the scorecard's,
over 20 seeds."""
CHECK_NAMES = [check.name for check in (*DAILY_BARS_CHECKS, *ADJUST_FACTORS_CHECKS)]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_no_check_finds_anything_on_a_clean_market(con, seed):
    with Simulator(seed=seed, today=LAST) as simulator:
        load_month(simulator, con)
    results = {result.name: result for result in every_check(con, run_id="clean")}

    assert list(results) == CHECK_NAMES
    assert {name: result.numbers["findings"] for name, result in results.items()} == dict.fromkeys(
        CHECK_NAMES, 0
    )
    assert all(result.passed and result.examples == () for result in results.values())
    # Every check but the revisions (none: nothing was fetched twice) looked at rows.
    assert all(results[name].numbers["rows_checked"] > 0 for name in CHECK_NAMES if name != "bar_revisions")
    assert con.execute("SELECT count(*) FROM check_findings").fetchone() == (0,)
