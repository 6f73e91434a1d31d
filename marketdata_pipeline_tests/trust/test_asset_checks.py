"""The checks as Dagster reports them: WARN by default, offending rows in metadata and in check_findings,
revisions from the trailing window of the next day's run, bad run config refused."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pytest

from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.pipeline.runs import (
    check_evaluations,
    materialize_daily_bars,
    resources_for,
    step_failure_message,
)

BATCH = "b05"
FIRST, BEFORE, AFTER = date(2024, 6, 24), date(2024, 6, 27), date(2024, 6, 28)
ANOMALIES = ["price_limits:0.02", "revision:0.02"]


@pytest.fixture(scope="module")
def next_day_run(tmp_path_factory):
    """Four days stored by one run on the 27th, then the 28th's run (price_limits as an ERROR)."""
    db = tmp_path_factory.mktemp("asset_checks") / "marketdata.duckdb"
    with Simulator(seed=0, today=BEFORE, anomalies=ANOMALIES) as simulator:
        resources = resources_for(simulator.address, db)
        assert materialize_daily_bars(resources, first=f"{BATCH}|{FIRST}", last=f"{BATCH}|{BEFORE}").success
    with Simulator(seed=0, today=AFTER, anomalies=ANOMALIES) as simulator:
        resources = resources_for(simulator.address, db)
        result = materialize_daily_bars(
            resources, f"{BATCH}|{AFTER}", config={"error_checks": ["price_limits"]}
        )
        revised = simulator.injected("revision", _codes(db), BEFORE, BEFORE)
        bad = materialize_daily_bars(resources, f"{BATCH}|{AFTER}", config={"error_checks": ["unique_bars"]})
    return db, result, revised, bad


def _codes(db) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [code for (code,) in con.execute("SELECT DISTINCT code FROM daily_bars ORDER BY 1").fetchall()]


@pytest.mark.slow
def test_failed_checks_warn_unless_made_errors_and_the_run_succeeds(next_day_run):
    _, result, *_ = next_day_run
    evaluations = check_evaluations(result)
    assert result.success
    failed = {name: e.severity for name, e in evaluations.items() if not e.passed}
    assert failed == {
        "price_limits": dg.AssetCheckSeverity.ERROR,
        "bar_revisions": dg.AssetCheckSeverity.WARN,
    }


@pytest.mark.slow
def test_the_trailing_window_records_the_revised_day_and_the_check_names_its_rows(next_day_run):
    db, result, revised, _ = next_day_run
    evaluation = check_evaluations(result)["bar_revisions"]
    shown = {(row["code"], row["trade_date"]) for row in evaluation.metadata["offending_rows"].data}
    with duckdb.connect(str(db), read_only=True) as con:
        volume = con.execute(
            "SELECT code, strftime(trade_date, '%Y-%m-%d') FROM bar_revisions WHERE \"column\" = 'volume'"
        ).fetchall()
        findings = con.execute(
            "SELECT count(*) FROM check_findings WHERE run_id = ? AND check_name = 'bar_revisions'",
            [result.run_id],
        ).fetchone()
    assert set(volume) == set(revised) and revised
    assert shown and shown <= set(revised)
    assert findings == (evaluation.metadata["findings"].value,)
    assert result.run_id in evaluation.metadata["all_findings"].value


@pytest.mark.slow
def test_an_unknown_check_name_in_run_config_is_refused_by_name(next_day_run):
    *_, bad = next_day_run
    assert not bad.success
    message = step_failure_message(bad)
    assert "['unique_bars']" in message and "universe_matches_bars" in message
