"""Sanity of the synthetic market over ten years: OHLC order, limits, preclose chain, factors."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest

from marketdata_pipeline.boards import board_of
from marketdata_pipeline.simulator import kdata
from marketdata_pipeline.simulator.market import Market, market_for_seed
from marketdata_pipeline.simulator.prices import round2, round6

START, END = date(2015, 1, 1), date(2024, 12, 31)
CHUNK = 400
EPS = 1e-9


@pytest.fixture(scope="module")
def market():
    return market_for_seed(0)


def span(market) -> tuple[int, int]:
    tl = market.timeline
    return tl.index_on_or_after(START), tl.index_on_or_before(END)


def check_symbols(market, syms: np.ndarray) -> int:
    """Assert every invariant on the listed days of `syms`; returns how many bars were checked."""
    lo, hi = span(market)
    p, tl = market.profiles, market.timeline
    bars = market.model.daily(syms, lo, hi)
    listed = bars.listed
    o, h, low, c, pre = bars.open, bars.high, bars.low, bars.close, bars.preclose
    assert np.all((h >= np.maximum(o, c)) | ~listed)
    assert np.all((low <= np.minimum(o, c)) | ~listed)
    assert np.all((low > 0) | ~listed)
    year = tl.year_of[bars.days]
    ex_day = p.ex_day[syms][:, year]
    on_ex = ex_day == bars.days
    expected_pre = np.where(on_ex[:, 1:], round2(c[:, :-1] * p.ex_q[syms][:, year][:, 1:]), c[:, :-1])
    assert np.array_equal(pre[:, 1:], expected_pre)
    assert np.all(~on_ex | listed) and not np.any(on_ex & bars.suspended)
    limit = expected_limits(market, syms, bars)
    assert np.array_equal(bars.limit, limit)
    for price in (o, h, low, c):
        assert np.all((np.abs(price / pre - 1) <= limit + EPS) | ~listed)
    susp = bars.suspended & listed
    for price in (o, h, low, c):
        assert np.array_equal(price[susp], pre[susp])
    assert np.all(bars.volume[susp] == 0) and np.all(bars.amount[susp] == 0)
    assert np.all(bars.volume >= 0) and np.all(bars.amount >= 0) and np.all(bars.volume % 100 == 0)
    assert np.all((bars.volume > 0) | susp | ~listed)
    return int(listed.sum())


def expected_limits(market, syms, bars) -> np.ndarray:
    """The (symbols, days) limits the boards' table gives, rule by rule: the oracle of bars.limit."""
    ordinals = market.timeline.days[bars.days]
    limit = np.empty(bars.close.shape)
    for row, sym in enumerate(syms):
        rules = board_of(market.universe.codes[sym]).rules
        since = np.array([rule.since.toordinal() for rule in rules])
        in_force = np.maximum(np.searchsorted(since, ordinals, side="right") - 1, 0)
        plain, st = (
            np.array([getattr(rule, name) for rule in rules])[in_force] for name in ("limit", "st_limit")
        )
        limit[row] = np.where(bars.is_st[row], st, plain) / 100
    return limit


def check_factor_tables(market, syms) -> None:
    """On an ex-date the back factor moves by exactly previous close / preclose (at 6 decimals)."""
    for sym in syms:
        table = market.factor_table(int(sym))
        if not len(table.ex_days):
            continue
        lo, hi = int(table.ex_days[0]), int(table.ex_days[-1])
        bars = market.model.daily(np.array([sym]), lo, hi)
        at = table.ex_days - lo
        prev_close = np.array(
            [market.model.daily(np.array([sym]), d - 1, d - 1).close[0, 0] for d in table.ex_days]
        )
        preclose = bars.preclose[0, at]
        running = 1.0
        for k in range(len(at)):
            running = float(round6(running * prev_close[k] / preclose[k]))
            assert table.back[k] == running
            assert abs(table.back[k] / (table.back[k - 1] if k else 1.0) - prev_close[k] / preclose[k]) < 2e-6


def test_invariants_hold_for_a_sample_of_symbols(market):
    syms = np.array(sorted(random.Random(1).sample(range(len(market.universe.codes)), 300)))
    assert check_symbols(market, syms) > 300 * 1000
    check_factor_tables(market, syms[:40])


@pytest.mark.slow
def test_invariants_hold_for_the_whole_universe_over_ten_years(market):
    total = sum(
        check_symbols(market, np.arange(a, min(a + CHUNK, len(market.universe.codes))))
        for a in range(0, len(market.universe.codes), CHUNK)
    )
    assert total > 5000 * 1000


def test_the_market_has_suspensions_st_spells_ipos_delistings_and_ex_dates(market):
    p = market.profiles
    lo, hi = span(market)
    stocks = ~p.is_index
    assert np.any((p.susp_start >= lo) & (p.susp_start <= hi))
    assert np.any((p.st_start >= 0) & stocks)
    assert np.any(p.out_ordinal > 0) and not np.any(p.out_ordinal[p.is_index] > 0)
    ipo_years = np.array([date.fromordinal(int(o)).year for o in p.ipo_ordinal[stocks]])
    assert np.mean(ipo_years < 2015) > 0.4 and np.any(ipo_years >= 2020)
    assert np.mean((p.ex_day >= 0).sum(axis=1)[stocks] > 0) > 0.9


def test_adjusted_rows_are_raw_rows_times_their_factor(market):
    lo, hi = span(market)
    fields = ["date", "open", "high", "low", "close", "preclose"]
    for sym in random.Random(2).sample(range(len(market.universe.codes)), 15):
        raw = kdata.kdata_rows(market, sym, lo, hi, "d", "3", fields, market.timeline.size)
        for flag in ("1", "2"):
            adjusted = kdata.kdata_rows(market, sym, lo, hi, "d", flag, fields, market.timeline.size)
            days = np.array([market.timeline.index_of(date.fromisoformat(r[0])) for r in raw])
            factor = kdata.factor_series(market, sym, days, flag, market.timeline.size)
            got = np.array([[float(v) for v in r[1:]] for r in adjusted])
            want = np.array([[float(v) for v in r[1:]] for r in raw]) * factor[:, None]
            assert np.all(np.abs(got / want - 1) < 1e-6)


def test_same_seed_same_market_other_seed_other_market(market):
    lo, hi = span(market)
    syms = np.arange(0, 5638, 97)
    again = Market(0).model.daily(syms, lo, lo + 30)
    assert np.array_equal(again.close, market.model.daily(syms, lo, lo + 30).close)
    other = market_for_seed(1).model.daily(syms, lo, lo + 30)
    assert not np.array_equal(again.close, other.close)


def test_whole_market_day_equals_each_symbols_own_range(market):
    lo, hi = span(market)
    day = lo + 1234
    whole = market.whole_market_day(day)
    for pos in range(0, len(market.stock_positions), 173):
        sym = int(market.stock_positions[pos])
        own = market.daily(sym, day - 20, day + 5)
        assert whole.close[pos, 0] == own.close[0, 20] and whole.high[pos, 0] == own.high[0, 20]
        assert whole.volume[pos, 0] == own.volume[0, 20] and whole.preclose[pos, 0] == own.preclose[0, 20]
