"""Adjust factors, stock universe, trade calendar, ingest failures: replace semantics, verbatim values."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pandas as pd
import pytest

from marketdata_pipeline.batching import batch_of
from marketdata_pipeline.storage import (
    MalformedRowsError,
    record_failures,
    replace_adjust_factors,
    replace_stock_universe,
    replace_stock_universes,
    replace_trade_calendar,
)
from marketdata_pipeline_tests.storage.sample_rows import FACTOR_FIELDS, UNIVERSE_FIELDS, frame

HOSTILE = 'x\'); DROP TABLE daily_bars; -- "q" ; \\ 浦发银行'
DAY = date(2024, 1, 2)


def _universe(*rows):
    return frame([list(row) for row in rows], UNIVERSE_FIELDS)


def test_universe_stores_names_verbatim_and_each_codes_batch(con):
    rows = _universe(
        ("sh.600000", "1", HOSTILE, "1999-11-10", "", "1", "1"),
        ("sz.000001", "0", "平安银行", "1991-04-03", "", "1", "1"),
        ("sh.000001", "1", "上证综合指数", "", "", "", ""),
    )
    assert replace_stock_universe(con, rows, DAY) == 3
    stored = con.execute("SELECT * FROM stock_universe ORDER BY code").fetchall()
    assert stored == [
        (DAY, "sh.000001", "上证综合指数", 1, None, None, None, None, batch_of("sh.000001")),
        (DAY, "sh.600000", HOSTILE, 1, 1, 1, date(1999, 11, 10), None, batch_of("sh.600000")),
        (DAY, "sz.000001", "平安银行", 0, 1, 1, date(1991, 4, 3), None, batch_of("sz.000001")),
    ]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'daily_bars'").fetchall() == [
        (1,)
    ]


def test_universe_replaces_only_its_date(con):
    replace_stock_universe(con, _universe(("sh.600000", "1", "a", "", "", "1", "1")), DAY)
    replace_stock_universe(con, _universe(("sh.600004", "1", "b", "", "", "1", "1")), date(2024, 1, 3))
    replace_stock_universe(con, _universe(("sh.600000", "0", "c", "", "", "1", "1")), DAY)
    assert con.execute("SELECT trade_date, code, code_name FROM stock_universe ORDER BY ALL").fetchall() == [
        (DAY, "sh.600000", "c"),
        (date(2024, 1, 3), "sh.600004", "b"),
    ]


def test_universe_rows_of_a_day_not_being_replaced_are_refused(con):
    """Jan 3 lies between the two days replaced but is not one of them: nothing would delete its
    stored rows first, so its row would be a second copy."""
    replace_stock_universe(con, _universe(("sh.600000", "1", "a", "", "", "1", "1")), date(2024, 1, 3))
    days = [DAY, date(2024, 1, 4)]
    rows = pd.concat(
        [_universe(("sh.600000", "1", "b", "", "", "1", "1")).assign(trade_date=day.isoformat())
         for day in (DAY, date(2024, 1, 3), date(2024, 1, 4))],
        ignore_index=True,
    )  # fmt: skip
    outside = r"1 row\(s\) fall outside the days replaced \(2024-01-02\.\.2024-01-04\)"
    first = r"first for code sh\.600000 on 2024-01-03 \(row 1\)"
    with pytest.raises(MalformedRowsError, match=f"{outside}, {first}"):
        replace_stock_universes(con, rows, days)
    stored = con.execute("SELECT trade_date, code_name FROM stock_universe").fetchall()
    assert stored == [(date(2024, 1, 3), "a")]


def test_universe_names_the_bad_value(con):
    with pytest.raises(
        MalformedRowsError,
        match=r"column 'ipoDate' is '1999/11/10' for code sh\.600000 on 2024-01-02 \(row 0\)",
    ):
        replace_stock_universe(con, _universe(("sh.600000", "1", "a", "1999/11/10", "", "1", "1")), DAY)


def test_adjust_factors_replace_only_the_given_codes(con):
    factors = frame(
        [
            ["sh.600000", "2023-07-21", "0.936211", "11.949786", "11.949786"],
            ["sh.600000", "2024-07-22", "1.000000", "12.763456", "12.763456"],
            ["sz.000001", "2023-06-14", "0.9", "10.5", "10.5"],
        ],
        FACTOR_FIELDS,
    )
    assert replace_adjust_factors(con, factors, ["sh.600000", "sz.000001"]) == 3
    assert replace_adjust_factors(con, factors.iloc[:1], ["sh.600000"]) == 1
    stored = con.execute("SELECT * FROM adjust_factors ORDER BY ALL").fetchall()
    assert stored == [
        ("sh.600000", date(2023, 7, 21), 0.936211, 11.949786, 11.949786),
        ("sz.000001", date(2023, 6, 14), 0.9, 10.5, 10.5),
    ]


def test_adjust_factors_refuse_rows_of_other_codes(con):
    factors = frame([["sz.000001", "2023-06-14", "0.9", "10.5", "10.5"]], FACTOR_FIELDS)
    with pytest.raises(ValueError, match="not among the codes being replaced"):
        replace_adjust_factors(con, factors, ["sh.600000"])


def test_adjust_factors_require_the_back_factor(con):
    factors = frame([["sz.000001", "2023-06-14", "0.9", "", "10.5"]], FACTOR_FIELDS)
    with pytest.raises(
        MalformedRowsError, match="'backAdjustFactor' is ''.*expected a finite decimal number\\."
    ):
        replace_adjust_factors(con, factors, ["sz.000001"])


def _calendar(first: int, last: int, trading=(2, 3)):
    rows = [[f"2024-01-{day:02d}", "1" if day in trading else "0"] for day in range(first, last + 1)]
    return frame(rows, ["calendar_date", "is_trading_day"])


def test_calendar_replaces_its_range(con):
    assert replace_trade_calendar(con, _calendar(1, 7), date(2024, 1, 1), date(2024, 1, 7)) == 7
    assert replace_trade_calendar(con, _calendar(3, 4, trading=(4,)), date(2024, 1, 3), date(2024, 1, 4)) == 2
    trading = con.execute(
        "SELECT calendar_date FROM trade_calendar WHERE is_trading_day ORDER BY 1"
    ).fetchall()
    assert trading == [(date(2024, 1, 2),), (date(2024, 1, 4),)]
    assert con.execute("SELECT count(*) FROM trade_calendar").fetchall() == [(7,)]


def test_calendar_refuses_a_gap(con):
    with pytest.raises(
        ValueError, match="1 date.* of 2024-01-01..2024-01-08 are not listed, first 2024-01-08"
    ):
        replace_trade_calendar(con, _calendar(1, 7), date(2024, 1, 1), date(2024, 1, 8))


def test_failures_are_appended_with_their_run(con):
    failures = [
        SimpleNamespace(code="sh.600000", start_date=date(2024, 1, 2), end_date="2024-01-05",
                        error_type="ServerError", message=HOSTILE),
        SimpleNamespace(code=None, start_date=None, end_date=None,
                        error_type="ConnectError", message="refused"),
    ]  # fmt: skip
    assert record_failures(con, failures, run_id="run-1", batch="b09") == 2
    assert record_failures(con, failures[:1], run_id="run-2", batch="b09") == 1
    assert record_failures(con, [], run_id="run-3", batch="b09") == 0
    stored = con.execute(
        "SELECT run_id, batch, code, start_date, end_date, error_type, message "
        "FROM ingest_failures ORDER BY ALL"
    ).fetchall()
    assert stored == [
        ("run-1", "b09", "sh.600000", date(2024, 1, 2), date(2024, 1, 5), "ServerError", HOSTILE),
        ("run-1", "b09", None, None, None, "ConnectError", "refused"),
        ("run-2", "b09", "sh.600000", date(2024, 1, 2), date(2024, 1, 5), "ServerError", HOSTILE),
    ]


@pytest.mark.parametrize(
    ("failure", "error", "message"),
    [
        ({"code": "sh.600000"}, TypeError, "failure #0 .* has no start_date, end_date, error_type, message"),
        ({"code": "x", "start_date": "2024-13-01", "end_date": None, "error_type": "E", "message": ""},
         ValueError, "failure #0: start_date must be a date"),
    ],
)  # fmt: skip
def test_malformed_failures_are_refused_whole(con, failure, error, message):
    good = SimpleNamespace(code="sh.600000", start_date=None, end_date=None, error_type="E", message="m")
    with pytest.raises(error, match=message):
        record_failures(con, [SimpleNamespace(**failure), good], run_id="r", batch=None)
    assert con.execute("SELECT count(*) FROM ingest_failures").fetchall() == [(0,)]
