"""Each reconciliation check on hand-made rows: what it flags, what it lets pass, where findings go."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from marketdata_pipeline.batching import batch_of
from marketdata_pipeline.storage import replace_adjust_factors, replace_daily_bars, replace_stock_universe
from marketdata_pipeline.storage.checks import (
    DAILY_BARS_CHECKS,
    FACTORS_COVER_EX_DATES,
    FACTORS_FRESH,
    OHLC_CONSISTENT,
    PRECLOSE_CHAIN,
    PRICE_LIMITS,
    SUSPENSION_RULES,
    UNIVERSE_MATCHES_BARS,
    VOLUME_UNITS,
    run_check,
    run_daily_bars_checks,
)
from marketdata_pipeline_tests.storage.sample_rows import (
    BATCH,
    DAILY_FIELDS,
    FACTOR_FIELDS,
    UNIVERSE_FIELDS,
    bar,
    codes_of,
    frame,
    weekdays,
)

CODES = codes_of(BATCH, 3)
DAYS = weekdays(date(2024, 1, 2), 4)
SLICE = {"batch": BATCH, "start": DAYS[0], "end": DAYS[-1], "sessions": DAYS}
A_SHARES = {"types": [1]}


def _write(con, rows, start=DAYS[0], end=DAYS[-1]):
    frame_ = pd.DataFrame(rows, columns=DAILY_FIELDS, dtype="str")
    replace_daily_bars(con, frame_, batch=BATCH, start=start, end=end)


def _universe(con, day, codes, status="1", ipo="2010-01-04"):
    rows = [[code, status, f"name {code}", ipo, "", "1", "1"] for code in codes]
    replace_stock_universe(con, frame(rows, UNIVERSE_FIELDS), day)


def _flagged(result) -> list[tuple]:
    return [(e["trade_date"], e["code"]) for e in result.examples]


def _chain(code, closes, **preclose):
    """Bars of `code` on DAYS with these closes, each preclose the previous close unless given."""
    rows, prev = [], closes[0]
    for k, (day, close) in enumerate(zip(DAYS, closes, strict=False)):
        pre = preclose.get(f"d{k}", prev)
        prices = {"open": close, "high": close + 0.1, "low": pre - 0.1, "close": close, "preclose": pre}
        fields = {name: f"{value:.4f}" for name, value in prices.items()}
        rows.append(bar(day, code, **fields, pctChg=f"{(close / pre - 1) * 100:.6f}"))
        prev = close
    return rows


def _factors(con, code, rows):
    replace_adjust_factors(con, frame([[code, d, "1.0", b, b] for d, b in rows], FACTOR_FIELDS), [code])


def test_preclose_chain_holds_through_an_ex_date_with_its_factor(con):
    a = CODES[0]
    _write(con, _chain(a, [10.0, 9.8, 9.9, 10.1], d2=8.82))  # ex-date on day 2
    _factors(con, a, [(DAYS[2].isoformat(), f"{9.8 / 8.82:.6f}")])
    assert run_check(con, PRECLOSE_CHAIN, **SLICE).passed
    assert run_check(con, FACTORS_COVER_EX_DATES, **SLICE).passed


def test_a_preclose_off_the_previous_close_breaks_the_chain(con):
    a, b = CODES[:2]
    _write(con, _chain(a, [10.0, 9.8, 9.9, 10.1], d1=10.2) + _chain(b, [5.0, 5.1, 5.2, 5.3]))
    result = run_check(con, PRECLOSE_CHAIN, **SLICE, run_id="r1")
    assert not result.passed
    assert result.numbers == {"rows_checked": 6, "findings": 1}
    assert _flagged(result) == [(DAYS[1], a)]
    assert result.examples[0]["prev_close"] == 10.0 and result.examples[0]["preclose"] == 10.2
    stored = con.execute("SELECT check_name, batch, trade_date, code, run_id FROM check_findings").fetchall()
    assert stored == [("preclose_chain", BATCH, DAYS[1], a, "r1")]


def test_a_drop_without_its_factor_row_is_a_missing_factor_not_a_chain_break(con):
    a = CODES[0]
    _write(con, _chain(a, [10.0, 9.8, 9.9, 10.1], d2=8.82))
    assert run_check(con, PRECLOSE_CHAIN, **SLICE).passed
    missing = run_check(con, FACTORS_COVER_EX_DATES, **SLICE)
    assert not missing.passed
    assert _flagged(missing) == [(DAYS[2], a)]


def test_a_wrong_factor_breaks_the_chain(con):
    a = CODES[0]
    _write(con, _chain(a, [10.0, 9.8, 9.9, 10.1], d2=8.82))
    _factors(con, a, [(DAYS[2].isoformat(), "1.250000")])
    result = run_check(con, PRECLOSE_CHAIN, **SLICE)
    assert _flagged(result) == [(DAYS[2], a)]
    assert result.examples[0]["factor_row_on_day"] is True


def test_the_chain_reaches_back_to_the_stored_day_before_the_slice_and_skips_gaps(con):
    a, b = CODES[:2]
    _write(con, _chain(a, [10.0, 9.8, 9.9, 10.1], d2=10.2) + _chain(b, [5.0, 5.1, 5.2, 5.3]))
    # b misses day 1: its day-2 bar has no comparable predecessor (the universe check reports the gap)
    con.execute("DELETE FROM daily_bars WHERE code = ? AND trade_date = ?", [b, DAYS[1]])
    later = {"batch": BATCH, "start": DAYS[2], "end": DAYS[3], "sessions": DAYS}
    assert _flagged(run_check(con, PRECLOSE_CHAIN, **later)) == [(DAYS[2], a)]


def test_the_chain_follows_the_sessions_not_the_stored_days(con):
    a = CODES[0]
    _write(con, _chain(a, [10.0, 9.8, 10.5, 10.1]))
    # Day 2 was never stored (a backfill that ended a session early): day 3's preclose is day 2's
    # close, so comparing it with day 1's close would be a false break.
    con.execute("DELETE FROM daily_bars WHERE trade_date = ?", [DAYS[2]])
    later = {"batch": BATCH, "start": DAYS[3], "end": DAYS[3], "sessions": DAYS}
    result = run_check(con, PRECLOSE_CHAIN, **later)
    assert result.passed and result.numbers == {"rows_checked": 0, "findings": 0}
    assert run_check(con, FACTORS_COVER_EX_DATES, **later).passed


FLAT = dict.fromkeys(("open", "high", "low", "close", "preclose"), "9")


def test_suspension_rules(con):
    a, b, c = CODES
    _write(con, [
        bar(DAYS[0], a, tradestatus="0", **FLAT, volume="0", amount="0"),
        bar(DAYS[0], b, tradestatus="0", **FLAT),  # volume on a suspended day: stored canonically as 0
        bar(DAYS[0], c, tradestatus="1", volume="0", amount="0"),
        bar(DAYS[1], a, tradestatus="0", open="9.1", high="9", low="9", close="9", preclose="9",
            volume="0", amount="0"),
        bar(DAYS[1], b),
    ])  # fmt: skip
    result = run_check(con, SUSPENSION_RULES, **SLICE)
    assert result.numbers == {"rows_checked": 5, "findings": 2}
    assert _flagged(result) == [(DAYS[0], c), (DAYS[1], a)]
    assert result.examples[0]["problem"] == "trading row without volume"
    stored = con.execute("SELECT volume, amount FROM daily_bars WHERE code = ? AND trade_date = ?",
                         [b, DAYS[0]])
    assert stored.fetchall() == [(0, 0.0)]


@pytest.mark.parametrize(
    ("code", "day", "is_st", "pct", "flagged"),
    [
        ("sh.600000", date(2024, 1, 2), "0", "10.040000", False),  # main board: 10% plus a tick
        ("sh.600000", date(2024, 1, 2), "0", "10.500000", True),
        ("sh.600000", date(2024, 1, 2), "1", "5.000000", False),  # ST: 5%
        ("sh.600000", date(2024, 1, 2), "1", "-6.000000", True),
        ("sh.600000", date(2025, 7, 8), "1", "9.900000", False),  # main-board ST: 10% from 2025-07-07
        ("sz.300001", date(2020, 8, 21), "0", "15.000000", True),  # ChiNext before its reform: 10%
        ("sz.300001", date(2020, 8, 24), "0", "19.990000", False),  # and 20% after
        ("sh.600000", date(2025, 7, 4), "1", "6.000000", True),  # main-board ST: 5% until 2025-07-04
        ("sh.600000", date(2025, 7, 7), "1", "-9.990000", False),
        ("sz.300001", date(2020, 8, 21), "0", "10.040000", False),
        ("sz.300001", date(2020, 8, 24), "1", "19.990000", False),  # ChiNext ST: 20% too
        ("sz.300001", date(2020, 8, 24), "0", "-20.500000", True),
        ("sh.688001", date(2019, 8, 1), "0", "-19.990000", False),  # STAR: 20%
        ("sh.688001", date(2019, 8, 1), "1", "-20.500000", True),
        ("bj.830799", date(2024, 1, 2), "0", "29.990000", False),  # Beijing: 30%
        ("bj.830799", date(2024, 1, 2), "1", "-30.500000", True),
    ],
)
def test_price_limits_by_board_and_day(con, code, day, is_st, pct, flagged):
    row = bar(day, code, isST=is_st, pctChg=pct, preclose="10.0000")
    span = {"batch": batch_of(code), "start": day, "end": day}
    replace_daily_bars(con, pd.DataFrame([row], columns=DAILY_FIELDS, dtype="str"), **span)
    _universe(con, day, [code])
    result = run_check(con, PRICE_LIMITS, **span)
    assert result.numbers["rows_checked"] == 1
    assert (not result.passed) is flagged


def test_price_limits_spare_an_ipos_first_five_days(con):
    a = CODES[0]
    days = weekdays(date(2024, 1, 2), 7)
    _write(con, [bar(day, a, pctChg="44.000000") for day in days], days[0], days[-1])
    for day in days:
        _universe(con, day, [a], ipo=days[0].isoformat())
    result = run_check(con, PRICE_LIMITS, batch=BATCH, start=days[0], end=days[-1])
    assert _flagged(result) == [(days[5], a), (days[6], a)]


def test_price_limits_count_an_ipos_sessions_from_its_listing_not_from_the_slice(con):
    """Sessions are the code's stored bars from its IPO date on, wherever the slice starts; bars
    dated before the IPO date (a code listed again) are not sessions of this listing."""
    a = CODES[0]
    days = weekdays(date(2024, 1, 2), 9)
    ipo = days[2]
    _write(con, [bar(day, a, pctChg="44.000000") for day in days], days[0], days[-1])
    for day in days:
        _universe(con, day, [a], ipo=ipo.isoformat())
    result = run_check(con, PRICE_LIMITS, batch=BATCH, start=days[4], end=days[-1])
    # days[2..6] are sessions 1-5, free; days[7] and days[8] are sessions 6 and 7.
    assert _flagged(result) == [(days[7], a), (days[8], a)]
    assert [example["session"] for example in result.examples] == [6, 7]


@pytest.mark.parametrize(
    ("code", "ipo", "first_days", "flagged_sessions"),
    [
        # Approval era (main board before 2023-04-10, ChiNext before its reform): the first day within
        # +44%/-36% of the IPO price, the board's limit from the second.
        ("sh.600000", date(2022, 3, 1), ("44.000000", "10.000000", "10.500000"), [3]),
        ("sh.600000", date(2022, 3, 1), ("-36.500000", "-10.000000"), [1]),
        ("sz.300001", date(2019, 3, 1), ("45.000000", "11.000000"), [1, 2]),
        # Registration: ChiNext from 2020-08-24, STAR: no limit for 5 sessions, then 20%.
        ("sz.300001", date(2020, 8, 24), ("300.0", "-40.0", "60.0", "25.0", "21.0", "21.0"), [6]),
        ("sh.688001", date(2019, 7, 22), ("140.0", "-30.0", "30.0", "25.0", "-25.0", "19.0"), []),
        # Beijing: the first day only.
        ("bj.830799", date(2024, 1, 2), ("300.0", "31.0"), [2]),
    ],
)
def test_price_limits_on_an_ipos_first_days(con, code, ipo, first_days, flagged_sessions):
    days = weekdays(ipo, len(first_days))
    span = {"batch": batch_of(code), "start": days[0], "end": days[-1]}
    rows = [bar(day, code, pctChg=pct, preclose="10.0000") for day, pct in zip(days, first_days, strict=True)]
    replace_daily_bars(con, pd.DataFrame(rows, columns=DAILY_FIELDS, dtype="str"), **span)
    for day in days:
        _universe(con, day, [code], ipo=ipo.isoformat())
    result = run_check(con, PRICE_LIMITS, **span)
    assert [example["session"] for example in result.examples] == flagged_sessions


def test_volume_units_flag_an_average_price_outside_the_days_range(con):
    a, b, c = CODES
    _write(con, [
        bar(DAYS[0], a, volume="10000", amount="100500.0000", low="10.0000", high="11.0000"),
        bar(DAYS[0], b, volume="100", amount="100500.0000", low="10.0000", high="11.0000"),  # lots
        bar(DAYS[0], c, volume="10000", amount="100.5000", low="10.0000", high="11.0000"),  # thousands
    ])  # fmt: skip
    _universe(con, DAYS[0], CODES)
    result = run_check(con, VOLUME_UNITS, **SLICE)
    assert _flagged(result) == [(DAYS[0], b), (DAYS[0], c)]
    assert result.examples[0]["average_price"] == 1005.0


def test_universe_matches_bars_names_missing_unexpected_and_status_mismatches(con):
    a, b, c = CODES
    _write(con, [bar(DAYS[0], a), bar(DAYS[0], b, tradestatus="0"), bar(DAYS[1], c)])
    _universe(con, DAYS[0], [a, b, c])  # c has no bar; b is listed as trading
    _universe(con, DAYS[1], [a])  # c's bar is not in the universe, a has none
    result = run_check(con, UNIVERSE_MATCHES_BARS, **SLICE | {"end": DAYS[1]}, **A_SHARES)
    problems = {(e["trade_date"], e["code"]): e["problem"] for e in result.examples}
    assert problems == {
        (DAYS[0], b): "trade status differs from the universe",
        (DAYS[0], c): "no bar for a listed code",
        (DAYS[1], a): "no bar for a listed code",
        (DAYS[1], c): "bar of a code not in the universe",
    }


def test_universe_matches_bars_names_a_day_without_a_universe(con):
    _write(con, [bar(DAYS[0], CODES[0])])
    result = run_check(con, UNIVERSE_MATCHES_BARS, **SLICE, **A_SHARES)
    assert [(e["trade_date"], e["code"]) for e in result.examples] == [(DAYS[0], None)]


def test_universe_matches_bars_passes_when_bars_and_universe_agree(con):
    _write(con, [bar(day, code) for day in DAYS for code in CODES])
    for day in DAYS:
        _universe(con, day, CODES)
    result = run_check(con, UNIVERSE_MATCHES_BARS, **SLICE, **A_SHARES)
    assert result.passed and result.numbers["rows_checked"] == 12


def test_universe_matches_bars_names_a_key_stored_twice(con):
    """The tables declare no key (DuckDB's index cost most of each write): a row copied by hand shows."""
    _write(con, [bar(day, code) for day in DAYS[:2] for code in CODES])
    for day in DAYS[:2]:
        _universe(con, day, CODES)
    copy = "INSERT INTO {0} SELECT * FROM {0} WHERE code = ? AND trade_date = ?"
    con.execute(copy.format("daily_bars"), [CODES[0], DAYS[0]])
    con.execute(copy.format("stock_universe"), [CODES[1], DAYS[1]])
    result = run_check(con, UNIVERSE_MATCHES_BARS, **SLICE | {"end": DAYS[1]}, **A_SHARES)
    problems = {(e["trade_date"], e["code"]): e["problem"] for e in result.examples}
    assert problems == {
        (DAYS[0], CODES[0]): "stored twice in daily_bars",
        (DAYS[1], CODES[1]): "stored twice in stock_universe",
    }


def test_factors_fresh_needs_a_fetch_after_18_shanghai_of_each_ex_date(con):
    a = CODES[0]
    _write(con, _chain(a, [10.0, 9.8, 9.9, 10.1], d2=8.82))
    _factors(con, a, [(DAYS[2].isoformat(), f"{9.8 / 8.82:.6f}")])
    ex = DAYS[2]
    fresh = datetime(ex.year, ex.month, ex.day, 10, 30)  # 18:30 Shanghai
    stale = datetime(ex.year, ex.month, ex.day, 9, 50)  # 17:50 Shanghai
    assert run_check(con, FACTORS_FRESH, **SLICE, refreshed_at=fresh).passed
    result = run_check(con, FACTORS_FRESH, **SLICE, refreshed_at=stale)
    assert _flagged(result) == [(ex, a)]
    assert not run_check(con, FACTORS_FRESH, **SLICE, refreshed_at=None).passed


def test_ohlc_flags_inconsistent_trading_rows_only(con):
    day, a, b, c = DAYS[0], *CODES
    _write(con, [
        bar(day, a, open="10", high="9.5", low="9", close="9.2"),                    # high < open
        bar(day, b, open="10", high="11", low="10.5", close="10.8"),                 # low > open
        bar(day, c, open="10", high="11", low="9", close="10.5"),                    # fine
        bar(DAYS[1], a, open="10", high="9", low="12", close="10", tradestatus="0"),  # suspended: skipped
        bar(DAYS[1], b, open="", high="11", low="9", close="10"),                    # trading, no open
        bar(DAYS[2], c, open="10", high="10", low="10", close="10"),                 # flat: fine
    ])  # fmt: skip
    result = run_check(con, OHLC_CONSISTENT, **SLICE)
    assert result.numbers == {"rows_checked": 5, "findings": 3}
    assert _flagged(result) == [(day, a), (day, b), (DAYS[1], b)]


def test_one_evaluation_over_several_batches_gives_each_batch_what_it_alone_gives(con):
    """A day's run evaluates each check once over its 16 batches: each batch's result and recorded
    findings must be what a run of that batch alone gets, whatever the other batches hold."""
    batches = ["b04", "b09", "b12"]
    codes = {batch: codes_of(batch, 3) for batch in batches}
    broken = {
        "b04": {"high": "9.0000"},  # high below open and close: ohlc_consistent
        "b09": {"pctChg": "15.000000"},  # past the 10% main-board limit: price_limits
        "b12": {},  # clean, but its universe lists a code without bars: universe_matches_bars
    }
    for batch in batches:
        rows = [bar(day, code, seed=k) for k, code in enumerate(codes[batch]) for day in DAYS]
        rows[0] = {**rows[0], **broken[batch]}
        if batch == "b12":
            rows = [row for row in rows if row["code"] != codes[batch][2]]
        replace_daily_bars(con, pd.DataFrame(rows, columns=DAILY_FIELDS, dtype="str"),
                           batch=batch, start=DAYS[0], end=DAYS[-1])  # fmt: skip
    for day in DAYS:
        _universe(con, day, [code for batch in batches for code in codes[batch]])
    since = datetime(2000, 1, 1)
    together = run_daily_bars_checks(
        con, batches=batches, start=DAYS[0], end=DAYS[-1], since=since, sessions=DAYS, run_id="together"
    )
    for batch in batches:
        alone = [
            run_check(con, check, batch=batch, start=DAYS[0], end=DAYS[-1], since=since, sessions=DAYS,
                      types=[1], run_id=f"alone-{batch}")  # fmt: skip
            for check in DAILY_BARS_CHECKS
        ]
        assert together[batch] == alone
    failing = {
        name: [batch for batch in batches if any(r.name == name and not r.passed for r in together[batch])]
        for name in ("ohlc_consistent", "price_limits", "universe_matches_bars")
    }
    assert failing == {"ohlc_consistent": ["b04"], "price_limits": ["b09"], "universe_matches_bars": ["b12"]}
    recorded = con.execute(
        "SELECT run_id, batch, check_name, count(*), list(detail ORDER BY detail) FROM check_findings "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    by_run = {}
    for run_id, batch, check_name, count, details in recorded:
        by_run.setdefault(run_id.split("-")[0], set()).add((batch, check_name, count, tuple(details)))
    assert by_run["together"] == by_run["alone"]
