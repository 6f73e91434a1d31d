"""The adjust_factors checks on a simulated month: an ex-date without its factor row is named, and a
factor fetch before 18:00 Shanghai of an ex-date is stale; both pass once the factors are fresh."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from marketdata_pipeline.ingest import fetch_adjust_factors
from marketdata_pipeline.market_calendar import chain_sessions
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.storage import replace_adjust_factors, run_adjust_factors_checks
from marketdata_pipeline_tests.trust.market import (
    BATCH,
    FIRST,
    HISTORY_START,
    LAST,
    findings_of,
    load_month,
    pool_on,
)

SLICE = {"batch": BATCH, "start": FIRST, "end": LAST, "sessions": chain_sessions(FIRST, LAST)}


def _at_shanghai(day: date, hour: int, minute: int) -> datetime:
    """`day` at hour:minute Shanghai, as the UTC the checks take."""
    return datetime(day.year, day.month, day.day, hour - 8, minute)


@pytest.mark.slow
def test_ex_dates_need_their_factor_rows_fetched_after_18_shanghai(con):
    with Simulator(seed=0, today=LAST) as simulator:
        codes = load_month(simulator, con, factors=False)
        with pool_on(simulator) as pool:
            factors, failures = fetch_adjust_factors(pool, codes, HISTORY_START, LAST)
    assert failures == []
    in_month = factors[factors["dividOperateDate"].between(FIRST.isoformat(), LAST.isoformat())]
    ex_dates = set(zip(in_month["code"], in_month["dividOperateDate"], strict=True))
    # The chain sees an ex-date from the month's second day on (the first has no stored previous close).
    visible = {(code, day) for code, day in ex_dates if day != FIRST.isoformat()}
    assert len(visible) >= 10
    fresh = _at_shanghai(LAST, 18, 30)

    missing, _ = run_adjust_factors_checks(con, **SLICE, refreshed_at=fresh, run_id="no-factors")
    assert not missing.passed and missing.name == "factors_cover_ex_dates"
    assert findings_of(con, "no-factors", "factors_cover_ex_dates") == visible

    replace_adjust_factors(con, factors, codes)
    covered, fresh_result = run_adjust_factors_checks(con, **SLICE, refreshed_at=fresh)
    assert covered.passed and fresh_result.passed

    last_ex = max(day for _, day in ex_dates)
    stale = _at_shanghai(date.fromisoformat(last_ex), 17, 50)
    _, late = run_adjust_factors_checks(con, **SLICE, refreshed_at=stale, run_id="stale")
    assert not late.passed
    assert findings_of(con, "stale", "factors_fresh") == {(c, d) for c, d in ex_dates if d == last_ex}
    _, never = run_adjust_factors_checks(con, **SLICE, refreshed_at=None, run_id="never")
    assert findings_of(con, "never", "factors_fresh") == ex_dates
