"""Reference data over real sockets: universe with listing facts and batch, trade calendar, adjust factors."""

from __future__ import annotations

import threading
from datetime import date

import exchange_calendars
import pandas as pd
import pytest
from pandas.api.types import infer_dtype

from marketdata_pipeline.baostock.session import BaoStockSession
from marketdata_pipeline.batching import batch_of
from marketdata_pipeline.ingest import (
    a_share_codes,
    fetch_adjust_factors,
    fetch_stock_basic,
    fetch_trade_calendar,
    fetch_universe,
    fetch_universes,
    listing_windows,
    trading_days,
)
from marketdata_pipeline.ingest import universe as universe_module
from marketdata_pipeline.ingest.adjust_factors import ADJUST_FACTOR_FIELDS
from marketdata_pipeline.ingest.universe import UNIVERSE_COLUMNS
from marketdata_pipeline_tests.ingest.conftest import LAST_DAY


def test_the_universe_joins_listing_facts_and_batches(shared_simulator, universe):
    with BaoStockSession(*shared_simulator.address) as session:
        trading = session.query_all_stock(LAST_DAY.isoformat()).rows
    assert list(universe.columns) == list(UNIVERSE_COLUMNS)
    assert universe["code"].tolist() == sorted(code for code, _, _ in trading)
    assert (universe["batch"] == universe["code"].map(batch_of)).all()
    assert set(universe["type"]) == {"1", "2"}
    assert (universe["ipoDate"] != "").all()  # every trading code has a basic row
    assert all(infer_dtype(universe[column]) == "string" for column in UNIVERSE_COLUMNS)


def test_a_session_gives_the_same_universe_as_the_pool(shared_simulator, universe):
    with BaoStockSession(*shared_simulator.address) as session:
        pd.testing.assert_frame_equal(fetch_universe(session, LAST_DAY), universe)


def test_the_universe_of_a_day_without_trading_is_empty(shared_pool):
    sunday = fetch_universe(shared_pool, date(2024, 12, 29))
    assert sunday.empty
    assert list(sunday.columns) == list(UNIVERSE_COLUMNS)


def test_universes_of_several_days_match_one_by_one(shared_pool, last_days):
    days = last_days[-2:]
    universes = fetch_universes(shared_pool, [days[1].isoformat(), days[0]])
    assert list(universes) == days
    for day in days:
        pd.testing.assert_frame_equal(universes[day], fetch_universe(shared_pool, day))


def test_the_stock_basics_are_asked_beside_the_days_not_before_them(shared_pool, universe, monkeypatch):
    """The basics wait here until a day is asked: fetched first, on their own, they would time out."""
    day_asked = threading.Event()
    all_stock_table, stock_basic_rows = universe_module._all_stock_table, universe_module._stock_basic_rows

    def table(session, day):
        day_asked.set()
        return all_stock_table(session, day)

    def basic_rows(session):
        assert day_asked.wait(timeout=10), "the stock basics were asked before any day"
        return stock_basic_rows(session)

    monkeypatch.setattr(universe_module, "_all_stock_table", table)
    monkeypatch.setattr(universe_module, "_stock_basic_rows", basic_rows)
    pd.testing.assert_frame_equal(fetch_universes(shared_pool, [LAST_DAY])[LAST_DAY], universe)


def test_a_share_codes_and_listing_windows(universe):
    shares = a_share_codes(universe)
    with_indices = a_share_codes(universe, include_indices=True)
    assert len(shares) == (universe["type"] == "1").sum()
    assert len(with_indices) == len(universe)
    assert "sh.000001" in with_indices and "sh.000001" not in shares
    windows = listing_windows(universe)
    ipo, out = windows["sh.600000"]
    assert isinstance(ipo, date) and ipo < LAST_DAY
    assert out is None or out > LAST_DAY


def test_stock_basics_include_delisted_codes_with_their_batch(shared_pool, universe):
    basic = fetch_stock_basic(shared_pool)
    assert len(basic) > len(universe)
    delisted = basic[(basic["outDate"] != "") & (basic["outDate"] <= LAST_DAY.isoformat())]
    assert not delisted.empty and set(delisted["status"]) == {"0"}
    assert (basic["batch"] == basic["code"].map(batch_of)).all()


def test_the_trade_calendar_matches_the_exchange(shared_pool):
    calendar = fetch_trade_calendar(shared_pool, "2024-12-01", "2024-12-31")
    assert list(calendar.columns) == ["calendar_date", "is_trading_day"]
    assert len(calendar) == 31
    sessions = exchange_calendars.get_calendar("XSHG").sessions_in_range("2024-12-01", "2024-12-31")
    assert trading_days(calendar) == [session.date() for session in sessions]


def test_a_backwards_range_is_refused(shared_pool):
    with pytest.raises(ValueError, match="start=2024-12-31 is after end=2024-12-01"):
        fetch_trade_calendar(shared_pool, "2024-12-31", "2024-12-01")
    with pytest.raises(ValueError, match="start=2024-12-31 is after end=2024-12-01"):
        fetch_adjust_factors(shared_pool, ["sh.600000"], "2024-12-31", "2024-12-01")


def test_adjust_factors_per_code_with_a_bad_code_failing_alone(shared_simulator, shared_pool, universe):
    codes = a_share_codes(universe)[:8]
    factors, failures = fetch_adjust_factors(shared_pool, [*codes, "sh.699999"], "2015-01-01", LAST_DAY)
    assert [(f.code, f.error_type) for f in failures] == [("sh.699999", "BadParameterError")]
    assert list(factors.columns) == list(ADJUST_FACTOR_FIELDS)
    with BaoStockSession(*shared_simulator.address) as session:
        expected = [
            row
            for code in codes
            for row in session.query_adjust_factor(code, "2015-01-01", LAST_DAY.isoformat()).rows
        ]
    assert len(expected) > 0
    assert factors.values.tolist() == sorted(expected)
