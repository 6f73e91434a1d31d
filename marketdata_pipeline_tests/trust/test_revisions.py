"""Bar revisions: a re-fetch of the trailing window records each changed value, and the check names it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from marketdata_pipeline.ingest import fetch_daily_bars
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.storage import replace_daily_bars, with_trailing_days
from marketdata_pipeline.storage.checks import BAR_REVISIONS, run_check
from marketdata_pipeline_tests.trust.market import BATCH, load_month, pool_on

BEFORE, AFTER = date(2024, 6, 27), date(2024, 6, 28)
TRAILING = [date(2024, 6, d) for d in (21, 24, 25, 26, 27)]


def refetch(simulator, con, days, codes) -> datetime:
    """Fetch and replace `days` of the batch as a daily run does; return when the write began."""
    with pool_on(simulator) as pool:
        report = fetch_daily_bars(pool, codes, days)
    since = datetime.now(UTC).replace(tzinfo=None)
    replace_daily_bars(con, report.bars, batch=BATCH, start=days[0], end=days[-1], codes=codes)
    return since


def revisions(con, since) -> set[tuple[str, str, str]]:
    rows = con.execute(
        "SELECT code, strftime(trade_date, '%Y-%m-%d'), \"column\" FROM bar_revisions WHERE seen_at >= ?",
        [since],
    ).fetchall()
    return set(rows)


@pytest.mark.slow
def test_the_next_days_refetch_records_the_revised_values_and_the_check_names_them(con):
    anomalies = ["revision:0.02"]
    with Simulator(seed=0, today=BEFORE, anomalies=anomalies) as first_day:
        codes = load_month(first_day, con, TRAILING[0], BEFORE, factors=False)
    assert with_trailing_days(con, {BATCH: [AFTER]}, {BATCH: TRAILING}) == {BATCH: [*TRAILING, AFTER]}
    assert with_trailing_days(con, {BATCH: [AFTER]}, {}) == {BATCH: [AFTER]}
    # A gap ends the window: the replaced slice must hold only days the run fetches.
    con.execute("DELETE FROM daily_bars WHERE trade_date = ?", [TRAILING[2]])
    assert with_trailing_days(con, {BATCH: [AFTER]}, {BATCH: TRAILING}) == {BATCH: [*TRAILING[3:], AFTER]}

    with Simulator(seed=0, today=AFTER, anomalies=anomalies) as next_day:
        since = refetch(next_day, con, [*TRAILING, AFTER], codes)
        injected = set(next_day.injected("revision", codes, BEFORE, BEFORE))
        # Days already past when first stored were stored revised: only BEFORE changes now.
        assert set(next_day.injected("revision", codes, TRAILING[0], BEFORE)) > injected

    assert injected
    assert {(code, day) for code, day, column in revisions(con, since) if column == "volume"} == injected
    assert {column for *_, column in revisions(con, since)} == {"volume", "amount", "turn"}
    old, new = con.execute(
        "SELECT old, new FROM bar_revisions WHERE \"column\" = 'volume' AND code = ? AND trade_date = ?",
        [min(injected)[0], BEFORE],
    ).fetchone()
    stored = con.execute(
        "SELECT volume FROM daily_bars WHERE code = ? AND trade_date = ?", [min(injected)[0], BEFORE]
    ).fetchone()
    assert new == stored[0] > old

    check = {"batch": BATCH, "start": TRAILING[0], "end": AFTER}
    result = run_check(con, BAR_REVISIONS, **check, since=since, run_id="revised")
    assert not result.passed
    assert result.numbers["findings"] == len(revisions(con, since))
    assert {(e["code"], e["trade_date"].isoformat()) for e in result.examples} <= injected

    with Simulator(seed=0, today=AFTER, anomalies=anomalies) as same_day:
        again = refetch(same_day, con, [*TRAILING, AFTER], codes)
    assert revisions(con, again) == set()
    assert run_check(con, BAR_REVISIONS, **check, since=again).passed
