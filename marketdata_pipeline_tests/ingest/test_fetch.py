"""fetch_daily_bars over real sockets on the shared simulator: exact bars, fallback, isolation, progress."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from marketdata_pipeline.baostock.session import BaoStockSession
from marketdata_pipeline.ingest import (
    DAILY_FIELDS,
    a_share_codes,
    fetch_daily_bars,
    fetch_trade_calendar,
    listing_windows,
    trading_days,
)
from marketdata_pipeline.ingest.bars import DAILY_FIELDS_CSV

BATCH = "b03"


def per_symbol_answers(simulator, codes, first, last) -> pd.DataFrame:
    """The bars as one plain session answers them, symbol by symbol: the reference to compare with."""
    rows = []
    with BaoStockSession(*simulator.address, request_timeout=30) as session:
        for code in codes:
            answer = session.query_history_k_data_plus(
                code, DAILY_FIELDS_CSV, first.isoformat(), last.isoformat()
            )
            rows.extend(answer.rows)
    frame = pd.DataFrame(rows, columns=list(DAILY_FIELDS), dtype=str)
    return frame.sort_values(["code", "date"], ignore_index=True)


def assert_well_formed(bars: pd.DataFrame) -> None:
    assert list(bars.columns) == list(DAILY_FIELDS)
    assert all(str(dtype) == "str" for dtype in bars.dtypes)
    assert not bars.duplicated(["code", "date"]).any()
    assert bars[["code", "date"]].equals(
        bars[["code", "date"]].sort_values(["code", "date"], ignore_index=True)
    )


def test_a_five_day_batch_equals_the_per_symbol_answers_value_for_value(
    shared_simulator, shared_pool, universe, last_days
):
    batch = universe[universe["batch"] == BATCH]
    codes, days = a_share_codes(batch), last_days[-5:]
    report = fetch_daily_bars(shared_pool, codes, days, listed=listing_windows(batch))
    assert report.strategy == "market"  # 5 whole-market requests beat ~320 range requests
    assert report.failures == []
    assert report.requests == 5
    assert report.symbols_ok == report.symbols_requested == len(codes) > 250
    assert_well_formed(report.bars)
    expected = per_symbol_answers(shared_simulator, codes, days[0], days[-1])
    pd.testing.assert_frame_equal(report.bars, expected)


def test_market_and_symbol_strategies_give_identical_bars(shared_pool, universe, last_days):
    batch = universe[universe["batch"] == "b07"]
    codes, days = a_share_codes(batch)[:60], last_days[-3:]
    by_market = fetch_daily_bars(shared_pool, codes, days, strategy="market")
    by_symbol = fetch_daily_bars(shared_pool, codes, days, strategy="symbol")
    assert (by_market.strategy, by_symbol.strategy) == ("market", "symbol")
    assert "forced by caller" in by_market.plan_reason
    assert (by_market.requests, by_symbol.requests) == (3, 60)
    assert len(by_market.bars) == 60 * 3
    pd.testing.assert_frame_equal(by_market.bars, by_symbol.bars)


def test_a_code_missing_from_the_whole_market_answer_is_fetched_per_symbol(shared_pool, universe, last_days):
    # The whole-market answer lists A-shares only: an index is never in it.
    codes = [*a_share_codes(universe)[:5], "sh.000001"]
    days = last_days[-4:]
    report = fetch_daily_bars(shared_pool, codes, days, strategy="market", listed=listing_windows(universe))
    assert report.failures == []
    assert report.fallback_symbols == 1
    assert report.requests == len(days) + 1
    index_bars = report.bars[report.bars["code"] == "sh.000001"]
    assert index_bars["date"].tolist() == [day.isoformat() for day in days]


def test_rows_outside_the_requested_codes_and_days_are_dropped(shared_pool, universe, last_days):
    codes = a_share_codes(universe)[100:103]
    days = [last_days[0], last_days[5]]  # not adjacent: a symbol's range covers the days between
    for strategy in ("market", "symbol"):
        report = fetch_daily_bars(shared_pool, codes, days, strategy=strategy)
        assert sorted(set(report.bars["code"])) == codes
        assert sorted(set(report.bars["date"])) == [day.isoformat() for day in days]
        assert report.rows == 6


@pytest.mark.parametrize("strategy", ["market", "symbol"])
def test_one_bad_code_fails_alone_and_is_not_retried(shared_pool, universe, last_days, strategy):
    good = a_share_codes(universe)[200:203]
    report = fetch_daily_bars(shared_pool, [*good, "sh.699999"], last_days[-2:], strategy=strategy)
    assert [(f.code, f.error_type, f.error_code) for f in report.failures] == [
        ("sh.699999", "BadParameterError", "10004011")
    ]
    assert "not a known security" in report.failures[0].message
    assert report.symbols_ok == 3
    assert sorted(set(report.bars["code"])) == good
    per_strategy_requests = {"market": 2 + 1, "symbol": 4}  # the bad code asked once: no retry
    assert report.requests == per_strategy_requests[strategy]


def test_an_unreadable_code_fails_alone_before_anything_is_sent(shared_pool, universe, last_days):
    good = a_share_codes(universe)[:2]
    report = fetch_daily_bars(shared_pool, [*good, "600000-SH"], last_days[-1:], strategy="symbol")
    assert [(f.code, f.error_type) for f in report.failures] == [("600000-SH", "BadParameterError")]
    assert report.requests == 2
    assert report.rows == 2


def test_a_symbol_short_of_its_listed_days_is_incomplete(shared_pool, universe, last_days):
    good = a_share_codes(universe)[300]
    delisted, _, _ = _first_listing(shared_pool, lambda ipo, out: "2024-01-01" < out < "2024-12-01")
    days = last_days[-3:]
    # Claim the delisted code is still listed: the whole market lacks it, and so does its own range.
    listed = {good: (None, None), delisted: ("1990-01-01", "")}
    report = fetch_daily_bars(shared_pool, [good, delisted], days, listed=listed, strategy="market")
    assert [(f.code, f.error_type, f.message) for f in report.failures] == [
        (delisted, "Incomplete", "incomplete: 0 of 3 days")
    ]
    assert (report.failures[0].start_date, report.failures[0].end_date) == (days[0], days[-1])
    assert report.fallback_symbols == 1
    assert report.symbols_ok == 1


def test_a_symbol_listed_within_the_range_is_complete_with_fewer_days(shared_pool):
    days = trading_days(fetch_trade_calendar(shared_pool, "2023-12-01", "2023-12-31"))
    code, ipo, _ = _first_listing(
        shared_pool, lambda ipo, out: days[2].isoformat() <= ipo <= days[-3].isoformat()
    )
    report = fetch_daily_bars(shared_pool, [code], days, listed={code: (ipo, None)}, strategy="symbol")
    assert report.failures == []
    assert report.bars["date"].tolist() == [day.isoformat() for day in days if day.isoformat() >= ipo]
    # The days before the IPO are not expected: the same run taking the code as always listed fails.
    unlisted = fetch_daily_bars(shared_pool, [code], days, listed={code: (None, None)}, strategy="symbol")
    assert unlisted.failures[0].message == f"incomplete: {unlisted.rows} of {len(days)} days"


def test_a_symbol_delisted_within_the_range_needs_no_fallback(shared_pool, last_days):
    days = last_days[-6:]
    code, ipo, out = _first_listing(
        shared_pool, lambda ipo, out: days[2].isoformat() < out <= days[-2].isoformat()
    )
    report = fetch_daily_bars(shared_pool, [code], days, listed={code: (ipo, out)}, strategy="market")
    assert report.failures == []
    assert report.fallback_symbols == 0  # absent from the market after delisting, as expected
    assert report.bars["date"].tolist() == [day.isoformat() for day in days if day.isoformat() < out]


def test_progress_counts_up_to_the_total(shared_pool, universe, last_days):
    codes = a_share_codes(universe)[400:412]
    seen = []
    report = fetch_daily_bars(
        shared_pool, codes, last_days[-2:], strategy="symbol", on_progress=seen.append, progress_every=5
    )
    assert [(p.phase, p.symbols_done) for p in seen] == [
        ("symbol", 5),
        ("symbol", 10),
        ("symbol", 12),
        ("done", 12),
    ]
    assert all(p.symbols_total == 12 and p.days_total == 2 for p in seen)
    assert [p.rows for p in seen] == sorted(p.rows for p in seen)
    assert seen[-1].rows == report.rows == 24
    assert seen[-1].requests == report.requests == 12
    assert seen[-1].requests_per_s > 0


def test_market_progress_reports_each_day(shared_pool, universe, last_days):
    codes = a_share_codes(universe)[:40]
    seen = []
    fetch_daily_bars(shared_pool, codes, last_days[-3:], strategy="market", on_progress=seen.append)
    assert [(p.phase, p.days_done, p.symbols_done) for p in seen] == [
        ("market", 1, 0),
        ("market", 2, 0),
        ("market", 3, 0),
        ("done", 3, 40),
    ]


def test_the_summary_holds_numbers_as_numbers(shared_pool, universe, last_days):
    report = fetch_daily_bars(shared_pool, a_share_codes(universe)[:3], last_days[-1:])
    summary = report.summary()
    assert summary["rows"] == 3 and summary["symbols_ok"] == 3 and summary["failure_rate"] == 0.0
    numbers = {key: value for key, value in summary.items() if key not in ("strategy", "plan_reason")}
    assert all(isinstance(value, int | float) for value in numbers.values())


def test_nothing_to_fetch_is_an_empty_report(shared_pool, last_days):
    report = fetch_daily_bars(shared_pool, [], last_days)
    assert report.rows == 0 and report.requests == 0 and report.failures == []
    assert list(report.bars.columns) == list(DAILY_FIELDS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"codes": "sh.600000"}, "is one string"),
        ({"trading_days": ["2024-12-31", "2024-12-30"]}, "sorted ascending"),
        ({"strategy": "fast"}, "strategy='fast' is not one of"),
        ({"max_workers": 0}, "max_workers=0 must be a positive int"),
        ({"progress_every": 0}, "progress_every=0 must be a positive int"),
        ({"listed": {"sh.600000": ("someday", "")}}, "is not a date"),
    ],
)
def test_bad_arguments_are_refused_with_the_fix(shared_pool, kwargs, message):
    arguments = {"codes": ["sh.600000"], "trading_days": ["2024-12-31"]} | kwargs
    with pytest.raises(ValueError, match=message):
        fetch_daily_bars(shared_pool, arguments.pop("codes"), arguments.pop("trading_days"), **arguments)


def test_a_session_instead_of_a_pool_is_refused(shared_simulator):
    refused = pytest.raises(TypeError, match="is not a session pool: pass a BaoStockPool")
    with BaoStockSession(*shared_simulator.address) as session, refused:
        fetch_daily_bars(session, ["sh.600000"], [date(2024, 12, 31)])


def _first_listing(pool, wanted) -> tuple[str, str, str]:
    """(code, ipoDate, outDate) of the first A-share whose dates (ISO strings) satisfy `wanted`."""
    with pool.session() as session:
        basic = session.query_stock_basic().rows
    return next((code, ipo, out) for code, _, ipo, out, kind, _ in basic if kind == "1" and wanted(ipo, out))


def test_an_empty_whole_market_day_is_recorded_and_its_symbols_asked_one_by_one(shared_pool, universe):
    codes = a_share_codes(universe)[:3]
    days = [date(2024, 12, 27), date(2024, 12, 28)]  # a Friday and a Saturday, passed as trading days
    report = fetch_daily_bars(shared_pool, codes, days, strategy="market", listed=listing_windows(universe))
    assert [(f.code, f.start_date, f.error_type) for f in report.market_failures] == [
        ("*", date(2024, 12, 28), "EmptyAnswer")
    ]
    assert report.fallback_symbols == 3
    assert report.requests == 2 + 3
    assert [f.message for f in report.failures] == ["incomplete: 1 of 2 days"] * 3


def test_a_progress_callback_that_raises_stops_the_run_and_returns_every_session(
    shared_pool, universe, last_days
):
    def give_up(progress):
        raise KeyboardInterrupt("stop")

    codes = a_share_codes(universe)[500:540]
    with pytest.raises(KeyboardInterrupt):
        fetch_daily_bars(
            shared_pool, codes, last_days[-2:], strategy="symbol", progress_every=5, on_progress=give_up
        )
    stats = shared_pool.stats()
    assert stats["in_use"] == 0 and stats["waiting"] == 0
