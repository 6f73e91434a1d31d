"""`materialize()` of daily_bars against the simulator stores exactly what the official client gets.

Value for value and typed (DATE, DOUBLE, BIGINT, BOOLEAN, SMALLINT; NULL where
BaoStock sends ""), for one partition and for a 5-day range run as one run;
the adjusted views equal the simulator's adjustflag 1 and 2 answers.
"""

from __future__ import annotations

from datetime import date

import pytest

from marketdata_pipeline.batching import batch_of
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pipeline import official
from marketdata_pipeline_tests.pipeline.runs import (
    check_evaluations,
    materialize_adjust_factors,
    materialize_daily_bars,
    resources_for,
    run_summary,
)
from marketdata_pipeline_tests.pipeline.stored import (
    column_types,
    duplicate_keys,
    rows_per_stored_day,
    slice_versions,
    stored_bars,
    stored_prices,
)

BATCH = "b03"
# A day with suspended A-shares in b03: their rows carry empty fields, stored as NULL.
DAY = date(2024, 1, 25)
# Five trading days inside the simulator's ex-date season.
RANGE = (date(2024, 7, 1), date(2024, 7, 5))
RANGE_DAYS = 5
RELATIVE_TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def one_day(shared_simulator, tmp_path_factory):
    """b03|2024-01-02 materialized into a fresh warehouse, with the fd count before and after."""
    db = tmp_path_factory.mktemp("one_day") / "warehouse.duckdb"
    before = open_fds()
    result = materialize_daily_bars(resources_for(shared_simulator.address, db), f"{BATCH}|{DAY}")
    return db, result, before, wait_for_fds(before)


@pytest.fixture(scope="module")
def five_days(shared_simulator, tmp_path_factory):
    """b03 over RANGE in one run, then adjust_factors of b03, into a fresh warehouse."""
    db = tmp_path_factory.mktemp("five_days") / "warehouse.duckdb"
    resources = resources_for(shared_simulator.address, db)
    first, last = (f"{BATCH}|{day}" for day in RANGE)
    bars = materialize_daily_bars(resources, first=first, last=last)
    factors = materialize_adjust_factors(resources, BATCH)
    return db, bars, factors


@pytest.fixture(scope="module")
def client(shared_simulator):
    with official.official_client(shared_simulator.address) as client:
        yield client


def official_typed(client, days: list[date]) -> list[tuple]:
    codes = official.a_shares_of_batch(client, BATCH, days)
    return [official.typed(row) for row in official.daily_rows(client, codes, days[0], days[-1])]


def test_column_types_are_the_documented_ones(one_day):
    db, result, *_ = one_day
    assert result.success
    types = column_types(db)
    assert {name: types[name] for name in ("trade_date", "volume", "is_st", "trade_status")} == {
        "trade_date": "DATE",
        "volume": "BIGINT",
        "is_st": "BOOLEAN",
        "trade_status": "SMALLINT",
    }
    assert {types[name] for name in ("open", "close", "amount", "turn", "pct_chg", "pe_ttm")} == {"DOUBLE"}


def test_one_partition_equals_the_official_client_value_for_value(one_day, client):
    db, result, *_ = one_day
    assert result.success

    expected = official_typed(client, [DAY])
    stored = stored_bars(db, BATCH, DAY, DAY)

    assert len(expected) > 300
    assert any(None in row for row in expected), "the day should hold suspended codes (empty fields)"
    assert stored == expected


def test_one_partition_run_passes_every_check(one_day):
    _, result, *_ = one_day
    evaluations = check_evaluations(result)
    assert set(evaluations) == {
        "pool_health",
        "failure_rate",
        "ohlc_consistent",
        "preclose_chain",
        "suspension_rules",
        "price_limits",
        "volume_units",
        "universe_matches_bars",
        "bar_revisions",
    }
    assert {name: evaluation.passed for name, evaluation in evaluations.items()} == dict.fromkeys(
        evaluations, True
    )


def test_no_socket_or_duckdb_file_left_open_after_a_successful_run(one_day):
    _, result, before, after = one_day
    assert result.success
    assert after <= before


def test_rerunning_a_partition_is_idempotent(one_day, shared_simulator):
    db, *_ = one_day
    rows_before = stored_bars(db, BATCH, DAY, DAY)
    (version_before,) = slice_versions(db, BATCH, DAY, DAY)

    again = materialize_daily_bars(resources_for(shared_simulator.address, db), f"{BATCH}|{DAY}")

    assert again.success
    assert stored_bars(db, BATCH, DAY, DAY) == rows_before
    (version_after,) = slice_versions(db, BATCH, DAY, DAY)
    assert version_after[0] > version_before[0], "the slice was not rewritten"
    assert version_after[1] == version_before[1] == len(rows_before)
    assert duplicate_keys(db) == 0


def test_range_is_one_run_that_fetches_all_days_at_once(five_days):
    db, bars, _ = five_days
    assert bars.success
    materializations = [
        m for m in bars.asset_materializations_for_node("daily_bars") if m.asset_key.path == ["daily_bars"]
    ]
    assert sorted(m.partition for m in materializations) == [f"{BATCH}|2024-07-0{day}" for day in range(1, 6)]
    # Each partition carries its own rows, not the run's.
    stored = {f"{BATCH}|{day}": rows for day, rows in rows_per_stored_day(db, BATCH, *RANGE)}
    assert {m.partition: m.metadata["dagster/row_count"].value for m in materializations} == stored
    assert max(stored.values()) < sum(stored.values())
    summary = run_summary(bars)
    assert summary["days"] == RANGE_DAYS
    assert summary["rows"] == sum(stored.values())


def test_range_equals_the_official_client_value_for_value(five_days, client):
    db, bars, _ = five_days
    assert bars.success
    days = sorted({row[0] for row in stored_bars(db, BATCH, *RANGE)})

    expected = official_typed(client, days)
    stored = stored_bars(db, BATCH, *RANGE)

    assert len(days) == RANGE_DAYS
    assert stored == expected


def codes_with_ex_dates(client, start: date, end: date) -> list[str]:
    codes = set()
    for day in range((end - start).days + 1):
        when = date.fromordinal(start.toordinal() + day).isoformat()
        codes |= {row[0] for row in official.read_all(client.query_daily_adjust_factor(when))}
    return sorted(code for code in codes if batch_of(code) == BATCH)


@pytest.mark.parametrize(("view", "adjustflag"), [("daily_bars_hfq", "1"), ("daily_bars_qfq", "2")])
def test_adjusted_views_equal_the_simulators_adjusted_answers(five_days, client, view, adjustflag):
    db, bars, factors = five_days
    assert bars.success and factors.success
    codes = codes_with_ex_dates(client, *RANGE)
    assert len(codes) >= 5, "pick a range with ex-dates in the batch"

    expected = {
        (row[1], row[0]): official.prices(row)
        for row in official.daily_rows(client, codes, *RANGE, adjustflag=adjustflag)
    }
    stored = stored_prices(db, view, codes, *RANGE)

    assert stored.keys() == expected.keys()
    worst = max(
        (abs(stored[key][column] - value) / abs(value), key, column)
        for key, row in expected.items()
        for column, value in row.items()
    )
    assert worst[0] < RELATIVE_TOLERANCE, f"largest relative error {worst}"
    raw = stored_prices(db, "daily_bars", codes, *RANGE)
    assert any(stored[key] != raw[key] for key in raw), "the codes' bars before their ex-dates are adjusted"
