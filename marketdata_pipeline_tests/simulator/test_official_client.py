"""The official baostock 0.9.4 client, pointed at the simulator, gets correct answers to every query."""

from __future__ import annotations

import contextlib
import io
import random
from datetime import date

import baostock as bs
import exchange_calendars
import pytest

from marketdata_pipeline_tests.conftest import point_official_client_at

DAILY = "date,code,open,high,low,close,preclose,volume,amount,adjustflag,turn,tradestatus,pctChg,isST"
ALL_DAILY = DAILY.replace("isST", "peTTM,psTTM,pcfNcfTTM,pbMRQ,isST")


@pytest.fixture(scope="module")
def official(shared_simulator):
    with point_official_client_at(*shared_simulator.address), contextlib.redirect_stdout(io.StringIO()):
        assert bs.login().error_code == "0"
        yield bs


def read_all(rs) -> list[list[str]]:
    assert rs.error_code == "0", rs.error_msg
    rows = []
    while rs.next():
        rows.append(rs.get_row_data())
    assert rs.error_code == "0", rs.error_msg
    return rows


def xshg_sessions(start: str, end: str) -> list[str]:
    calendar = exchange_calendars.get_calendar("XSHG", start="2010-01-04", end="2026-12-31")
    return [ts.date().isoformat() for ts in calendar.sessions_in_range(start, end)]


def test_ten_years_of_daily_bars_read_row_by_row_across_pages(official):
    rs = official.query_history_k_data_plus("sh.600000", DAILY, "2015-01-01", "2024-12-31")
    rows = read_all(rs)
    assert rs.fields == DAILY.split(",")
    assert len(rows) > 2000
    assert [r[0] for r in rows] == xshg_sessions("2015-01-01", "2024-12-31")
    assert {r[1] for r in rows} == {"sh.600000"}
    assert all(len(r[2].split(".")[1]) == 4 and r[7].isdigit() and r[9] == "3" for r in rows)


def test_five_minute_bars_of_two_months_add_up_to_the_daily_bars(official):
    fields = "date,time,code,open,high,low,close,volume,amount,adjustflag"
    minutes = read_all(
        official.query_history_k_data_plus("sz.000001", fields, "2024-03-01", "2024-05-15", "5")
    )
    days = read_all(official.query_history_k_data_plus("sz.000001", DAILY, "2024-03-01", "2024-05-15"))
    trading = [d for d in days if d[11] == "1"]
    assert len(minutes) == 48 * len(trading) > 2000
    assert minutes[0][1] == trading[0][0].replace("-", "") + "093500000"
    assert minutes[47][1].endswith("150000000")
    for k, day in enumerate(trading):
        bars = minutes[48 * k : 48 * (k + 1)]
        assert {b[0] for b in bars} == {day[0]}
        assert bars[0][3] == day[2] and bars[-1][6] == day[5]
        assert max(float(b[4]) for b in bars) == float(day[3])
        assert min(float(b[5]) for b in bars) == float(day[4])
        assert sum(int(b[7]) for b in bars) == int(day[7])


@pytest.mark.parametrize("frequency, per_day", [("15", 16), ("30", 8), ("60", 4)])
def test_minute_frequencies_have_their_bar_count(official, frequency, per_day):
    fields = "date,time,code,close"
    rows = read_all(
        official.query_history_k_data_plus("sh.600519", fields, "2024-01-02", "2024-01-05", frequency)
    )
    assert len(rows) == per_day * 4
    assert rows[per_day - 1][1] == "20240102150000000"


def test_weekly_and_monthly_bars_end_on_the_periods_last_session(official):
    fields = "date,code,open,high,low,close,volume,amount,adjustflag,turn,pctChg"
    weeks = read_all(official.query_history_k_data_plus("sh.600000", fields, "2024-01-01", "2024-03-31", "w"))
    months = read_all(
        official.query_history_k_data_plus("sh.600000", fields, "2024-01-01", "2024-03-31", "m")
    )
    assert [m[0] for m in months] == ["2024-01-31", "2024-02-29", "2024-03-29"]
    assert weeks[0][0] == "2024-01-05" and weeks[-1][0] == "2024-03-29"
    days = read_all(official.query_history_k_data_plus("sh.600000", DAILY, "2024-01-01", "2024-01-31"))
    assert months[0][2] == days[0][2] and months[0][5] == days[-1][5]
    assert int(months[0][6]) == sum(int(d[7]) for d in days)
    back = read_all(
        official.query_history_k_data_plus("sh.600000", fields, "2024-01-01", "2024-03-31", "w", "1")
    )
    assert [w[10] for w in back] == [w[10] for w in weeks], "pctChg is the period's return whatever the flag"


def test_adjusted_prices_are_raw_prices_times_the_published_factor(official):
    code, start, end = "sh.600000", "2015-01-01", "2024-12-31"
    factors = read_all(official.query_adjust_factor(code, "2000-01-01", end))
    assert factors, "sh.600000 should have ex-dates in ten years"
    raw = read_all(official.query_history_k_data_plus(code, DAILY, start, end, adjustflag="3"))
    back = read_all(official.query_history_k_data_plus(code, DAILY, start, end, adjustflag="1"))
    forward = read_all(official.query_history_k_data_plus(code, DAILY, start, end, adjustflag="2"))
    assert float(factors[-1][2]) == 1.0
    for r, b, f in zip(raw, back, forward, strict=True):
        applying = [row for row in factors if row[1] <= r[0]]
        back_factor = float(applying[-1][3]) if applying else 1.0
        fore_factor = float(applying[-1][2]) if applying else float(factors[0][2]) / float(factors[0][3])
        for col in (2, 3, 4, 5, 6):
            assert len(b[col].split(".")[1]) == 10
            assert float(b[col]) == pytest.approx(float(r[col]) * back_factor, rel=1e-6)
            assert float(f[col]) == pytest.approx(float(r[col]) * fore_factor, rel=1e-6)


def test_all_stock_lists_the_universe_and_nothing_on_closed_or_unpublished_days(official):
    rows = read_all(official.query_all_stock("2024-01-02"))
    assert len(rows) == 5638
    assert rows[0] == ["sh.000001", "1", "上证综合指数"]
    assert not read_all(official.query_all_stock("2024-01-01"))
    assert not read_all(official.query_all_stock("2025-01-02"))


def test_trade_dates_follow_the_xshg_calendar(official):
    rs = official.query_trade_dates("2024-01-01", "2024-12-31")
    rows = read_all(rs)
    assert rs.fields == ["calendar_date", "is_trading_day"]
    assert len(rows) == 366
    assert [d for d, flag in rows if flag == "1"] == xshg_sessions("2024-01-01", "2024-12-31")


def test_stock_basic_describes_one_code_or_all(official):
    one = read_all(official.query_stock_basic("sh.600000"))
    assert len(one) == 1 and one[0][:2] == ["sh.600000", "浦发银行"] and one[0][4:] == ["1", "1"]
    everything = read_all(official.query_stock_basic())
    assert len(everything) == 5638
    kinds = {row[4] for row in everything}
    assert kinds == {"1", "2"}
    assert sum(row[4] == "2" for row in everything) == 541
    assert any(row[2] < "2015-01-01" for row in everything) and any(
        row[2] > "2019-01-01" for row in everything
    )


WHOLE_MARKET_ORDER = (
    "date,code,open,high,low,close,preclose,volume,amount,adjustflag,turn,tradestatus,pctChg,"
    "peTTM,pbMRQ,psTTM,pcfNcfTTM,isST"
)


def test_whole_market_day_has_every_listed_a_share_equal_to_its_own_answer(official):
    day = "2024-01-25"  # a day with suspended A-shares
    rs = official.query_daily_history_k_AStock(day)
    rows = read_all(rs)
    assert rs.fields == WHOLE_MARKET_ORDER.split(",")  # the real server's order, not the per-symbol one
    basics = read_all(official.query_stock_basic())
    listed = {b[0] for b in basics if b[4] == "1" and b[2] <= day and (not b[3] or b[3] > day)}
    assert {r[1] for r in rows} == listed
    by_code = {r[1]: dict(zip(rs.fields, r, strict=True)) for r in rows}
    suspended = [code for code, r in by_code.items() if r["tradestatus"] == "0"]
    assert suspended
    sample = random.Random(7).sample(sorted(listed), 15) + suspended[:3]
    for code in sample:
        (own,) = read_all(official.query_history_k_data_plus(code, ALL_DAILY, day, day))
        own = dict(zip(ALL_DAILY.split(","), own, strict=True))
        if code in suspended:
            # The real shapes: per symbol 0 and 0, whole market empty volume and amount.
            assert (own["volume"], own["amount"]) == ("0", "0.0000")
            assert (by_code[code]["volume"], by_code[code]["amount"]) == ("", "")
            own.update(volume="", amount="")
        assert own == by_code[code]


def test_old_whole_market_days_may_carry_a_stale_volume_on_suspended_rows(official):
    rs = official.query_daily_history_k_AStock("2016-03-01")
    rows = [dict(zip(rs.fields, r, strict=True)) for r in read_all(rs)]
    suspended = [r for r in rows if r["tradestatus"] == "0"]
    stale = [r for r in suspended if r["volume"] not in ("", "0")]
    assert stale and all(r["amount"] == "0" for r in stale)
    assert any(r["volume"] == "" and r["amount"] == "" for r in suspended)


def test_daily_adjust_factor_lists_that_days_ex_dates(official):
    day = "2024-06-20"
    rows = read_all(official.query_daily_adjust_factor(day))
    assert rows and {r[1] for r in rows} == {day}
    for row in rows[:5]:
        assert row in read_all(official.query_adjust_factor(row[0], day, day))


def test_bad_field_and_bad_code_are_refused_with_baostocks_codes(official):
    assert official.query_history_k_data_plus(
        "sh.600000", "date,nope", "2024-01-01", "2024-01-31"
    ).error_code == ("10004012")
    assert official.query_history_k_data_plus("sh.999999", "date", "2024-01-01", "2024-01-31").error_code == (
        "10004011"
    )


def test_index_codes_get_bars(official):
    rows = read_all(official.query_history_k_data_plus("sh.000001", DAILY, "2024-01-01", "2024-01-31"))
    assert len(rows) == 22 and all(float(r[5]) > 100 for r in rows)


def test_logout_then_login_again(shared_simulator):
    with point_official_client_at(*shared_simulator.address), contextlib.redirect_stdout(io.StringIO()):
        assert bs.login().error_code == "0"
        assert bs.logout().error_code == "0"
        assert bs.login().error_code == "0"
        assert date.fromisoformat(read_all(bs.query_trade_dates("2024-01-02", "2024-01-02"))[0][0])
