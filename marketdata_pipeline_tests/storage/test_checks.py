"""Data checks on a written slice: duplicates, OHLC consistency, completeness."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from marketdata_pipeline.storage import (
    check_completeness,
    check_ohlc,
    check_unique_bars,
    replace_daily_bars,
    replace_stock_universe,
    replace_trade_calendar,
)
from marketdata_pipeline_tests.storage.sample_rows import (
    BATCH,
    DAILY_FIELDS,
    UNIVERSE_FIELDS,
    bar,
    bars,
    codes_of,
    frame,
    weekdays,
)

CODES = codes_of(BATCH, 3)
DAYS = weekdays(date(2024, 1, 2), 3)
SLICE = {"batch": BATCH, "start": DAYS[0], "end": DAYS[-1]}


def _write(con, rows):
    replace_daily_bars(con, pd.DataFrame(rows, columns=DAILY_FIELDS, dtype="str"), **SLICE)


def _universe(con, day, codes):
    rows = [[code, "1", f"name {code}", "", "", "1", "1"] for code in codes]
    replace_stock_universe(con, frame(rows, UNIVERSE_FIELDS), day)


def test_unique_passes_on_a_clean_slice(con):
    replace_daily_bars(con, bars(CODES, DAYS), **SLICE)
    result = check_unique_bars(con, **SLICE)
    assert result.passed
    assert result.numbers == {"rows": 9, "duplicate_keys": 0, "extra_rows": 0}
    assert result.examples == ()


def test_unique_finds_duplicates_in_a_table_without_its_key(con):
    """The key makes duplicates impossible, so drop it the way an old or hand-made table would lack it."""
    replace_daily_bars(con, bars(CODES, DAYS), **SLICE)
    con.execute("CREATE TABLE keyless AS SELECT * FROM daily_bars")
    con.execute("DROP VIEW daily_bars_qfq; DROP VIEW daily_bars_hfq; DROP TABLE daily_bars")
    con.execute("ALTER TABLE keyless RENAME TO daily_bars")
    con.execute(
        "INSERT INTO daily_bars SELECT * FROM daily_bars WHERE code = ? AND trade_date <= ?",
        [CODES[1], DAYS[1]],
    )
    con.execute(
        "INSERT INTO daily_bars SELECT * FROM daily_bars WHERE code = ? AND trade_date = ? LIMIT 1",
        [CODES[1], DAYS[0]],
    )
    result = check_unique_bars(con, **SLICE)
    assert not result.passed
    assert result.numbers == {"rows": 9 + 3, "duplicate_keys": 2, "extra_rows": 3}
    assert result.examples == (
        {"code": CODES[1], "trade_date": DAYS[0], "copies": 3},
        {"code": CODES[1], "trade_date": DAYS[1], "copies": 2},
    )


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
    result = check_ohlc(con, **SLICE)
    assert not result.passed
    assert result.numbers == {"rows_checked": 5, "violations": 3}
    assert [(e["trade_date"], e["code"]) for e in result.examples] == [(day, a), (day, b), (DAYS[1], b)]
    assert result.examples[0] == {
        "trade_date": day,
        "code": a,
        "open": 10.0,
        "high": 9.5,
        "low": 9.0,
        "close": 9.2,
    }


def test_ohlc_passes_on_consistent_rows(con):
    replace_daily_bars(con, bars(CODES, DAYS), **SLICE)
    assert check_ohlc(con, **SLICE).passed


def test_completeness_against_the_universe(con):
    other_batch_code = codes_of("b03", 1)[0]
    replace_trade_calendar(
        con,
        frame([[d.isoformat(), "1"] for d in DAYS], ["calendar_date", "is_trading_day"]),
        DAYS[0],
        DAYS[-1],
    )
    _universe(con, DAYS[0], [*CODES, other_batch_code])
    _universe(con, DAYS[1], CODES[:2])
    replace_daily_bars(con, pd.concat([bars(CODES[:2], DAYS[:1]), bars(CODES, DAYS[1:2])]), **SLICE)
    result = check_completeness(con, **SLICE)
    assert not result.passed
    assert result.numbers == {
        "dates_checked": 3, "expected_rows": 5, "actual_rows": 5, "short_dates": 1, "over_dates": 1,
        "dates_without_expectation": 1, "missing_codes": 1, "unexpected_codes": 1,
    }  # fmt: skip
    assert result.examples == (
        {"trade_date": DAYS[0], "code": CODES[2], "problem": "missing"},
        {"trade_date": DAYS[1], "code": CODES[2], "problem": "unexpected"},
    )


def test_completeness_passes_when_every_universe_code_has_its_bar(con):
    for day in DAYS:
        _universe(con, day, CODES)
    replace_daily_bars(con, bars(CODES, DAYS), **SLICE)
    result = check_completeness(con, **SLICE)
    assert result.passed
    assert result.numbers["expected_rows"] == result.numbers["actual_rows"] == 9


def test_completeness_names_codes_beyond_the_universe(con):
    _universe(con, DAYS[0], CODES[:1])
    replace_daily_bars(con, bars(CODES, DAYS[:1]), **SLICE)
    result = check_completeness(con, **SLICE)
    assert not result.passed
    assert [(e["code"], e["problem"]) for e in result.examples] == [(c, "unexpected") for c in CODES[1:]]


def test_completeness_without_a_universe_names_the_dates(con):
    replace_daily_bars(con, bars(CODES, DAYS[:1]), **SLICE)
    result = check_completeness(con, **SLICE)
    assert not result.passed
    assert result.numbers["dates_without_expectation"] == 1
    assert result.examples == ({"trade_date": DAYS[0], "expected": None, "actual": 3},)


def test_completeness_expects_a_shares_unless_told_other_types(con):
    index = codes_of(BATCH, 4)[3]
    rows = [[code, "1", "a share", "", "", "1", "1"] for code in CODES] + [
        [index, "1", "an index", "", "", "2", "1"]
    ]
    replace_stock_universe(con, frame(rows, UNIVERSE_FIELDS), DAYS[0])
    replace_daily_bars(con, bars(CODES, DAYS[:1]), **SLICE)
    assert check_completeness(con, **SLICE).passed
    with_indices = check_completeness(con, **SLICE, types=(1, 2))
    assert not with_indices.passed
    assert with_indices.examples == ({"trade_date": DAYS[0], "code": index, "problem": "missing"},)
    assert not check_completeness(con, **SLICE, types=None).passed


@pytest.mark.parametrize(
    ("expected", "passed", "short", "over"),
    [
        ({DAYS[0]: 3, DAYS[1]: 3, DAYS[2]: 3}, True, 0, 0),
        ({DAYS[0]: 3, DAYS[1]: 4, DAYS[2]: 3}, False, 1, 0),
        ({DAYS[0]: 3, DAYS[1]: 3}, False, 0, 1),
        ({DAYS[0]: 3, DAYS[1]: 3, DAYS[2]: 3, date(2024, 1, 8): 2}, True, 0, 0),  # outside the slice
    ],
)
def test_completeness_against_given_counts(con, expected, passed, short, over):
    replace_daily_bars(con, bars(CODES, DAYS), **SLICE)
    result = check_completeness(con, **SLICE, expected_per_date=expected)
    assert result.passed is passed
    assert (result.numbers["short_dates"], result.numbers["over_dates"]) == (short, over)
