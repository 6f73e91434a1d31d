"""Client-side parameter checks: accepted forms and refusals that name the input and the fix."""

from __future__ import annotations

import datetime as dt

import pytest
from baostock.common import contants as cons

from marketdata_pipeline.baostock import BadParameterError, normalize_code
from marketdata_pipeline.baostock import validation as v
from marketdata_pipeline.baostock.fields import DAILY_FIELDS


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("sh.600000", "sh.600000"),
        ("sz.000001", "sz.000001"),
        ("bj.430047", "bj.430047"),
        ("SH.600000", "sh.600000"),
        ("600000.SH", "sh.600000"),
        ("000001.sz", "sz.000001"),
        ("430047.BJ", "bj.430047"),
        (" sh.600000 ", "sh.600000"),
    ],
)
def test_codes_are_normalised(code, expected):
    assert normalize_code(code) == expected


@pytest.mark.parametrize(
    "code",
    ["600000", "sh600000", "sh.60000", "sh.6000000", "hk.00700", "600000.HK", "sh.60000a", "", None, 600000],
)
def test_bad_codes_name_the_input_and_the_forms(code):
    with pytest.raises(BadParameterError, match="sh.600000.*600000.SH") as caught:
        normalize_code(code)
    assert repr(code) in caught.value.message
    assert caught.value.code == cons.BSERR_CODE_INVALIED


@pytest.mark.parametrize(("code", "expected"), [("", ""), (None, ""), ("600000.sh", "sh.600000")])
def test_optional_code_may_be_empty(code, expected):
    assert v.normalize_optional_code(code) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2024-01-02", "2024-01-02"), ("2024-02-29", "2024-02-29"), (dt.date(2024, 1, 2), "2024-01-02")],
)
def test_dates_are_accepted_as_text_or_date(value, expected):
    assert v.normalize_date(value, "day") == expected


@pytest.mark.parametrize(
    "value", ["2023-02-29", "2024-13-01", "2024-1-2", "20240102", "2024/01/02", "today", 20240102]
)
def test_bad_dates_name_the_parameter_and_the_format(value):
    with pytest.raises(BadParameterError, match=r"start_date=.*YYYY-MM-DD"):
        v.normalize_date(value, "start_date")


def test_empty_dates_take_the_official_defaults():
    assert v.date_range(None, None) == (cons.DEFAULT_START_DATE, v.today())
    assert v.date_range("", "2024-01-02") == (cons.DEFAULT_START_DATE, "2024-01-02")
    assert v.normalize_date(None, "day") == v.today()


@pytest.mark.parametrize(("start", "end"), [("2024-01-03", "2024-01-02"), ("2025-01-01", "2024-12-31")])
def test_start_after_end_is_refused(start, end):
    with pytest.raises(BadParameterError, match="after end_date") as caught:
        v.date_range(start, end)
    assert caught.value.code == cons.BSERR_START_BIGTHAN_END


@pytest.mark.parametrize("frequency", ["d", "w", "m", "5", "15", "30", "60"])
def test_known_frequencies_pass(frequency):
    assert v.check_frequency(frequency) == frequency


@pytest.mark.parametrize("frequency", ["D", "1", "120", 5, "", None, "day"])
def test_unknown_frequencies_list_the_choices(frequency):
    with pytest.raises(BadParameterError, match="d, w, m, 5, 15, 30, 60"):
        v.check_frequency(frequency)


@pytest.mark.parametrize("adjustflag", ["1", "2", "3"])
def test_known_adjustflags_pass(adjustflag):
    assert v.check_adjustflag(adjustflag) == adjustflag


@pytest.mark.parametrize("adjustflag", ["0", "4", 3, "", None, "qfq"])
def test_unknown_adjustflags_explain_the_choices(adjustflag):
    with pytest.raises(BadParameterError, match="'1' \\(back\\).*'2' \\(forward\\).*'3'"):
        v.check_adjustflag(adjustflag)


@pytest.mark.parametrize(
    ("fields", "frequency", "expected"),
    [
        ("date,code,close", "d", "date,code,close"),
        ("date, code , peTTM,isST", "d", "date,code,peTTM,isST"),
        (["date", "code", "turn", "pctChg"], "w", "date,code,turn,pctChg"),
        ("date,time,code,close,volume", "5", "date,time,code,close,volume"),
        (",".join(sorted(DAILY_FIELDS)), "d", ",".join(sorted(DAILY_FIELDS))),
    ],
)
def test_known_fields_are_normalised(fields, frequency, expected):
    assert v.normalize_fields(fields, frequency) == expected


@pytest.mark.parametrize(
    ("fields", "frequency", "match"),
    [
        ("", "d", "fields is empty"),
        ([], "d", "fields is empty"),
        ("date,time,close", "d", r"\['time'\] are not known at frequency 'd'"),
        ("date,peTTM", "w", r"\['peTTM'\] are not known at frequency 'w'"),
        ("date,preclose", "60", r"\['preclose'\] are not known at frequency '60'"),
        ("date,close,close", "d", r"\['close'\] are repeated"),
        ("date,,close", "d", r"\[''\] are not known"),
    ],
)
def test_bad_fields_are_refused_with_the_allowed_list(fields, frequency, match):
    with pytest.raises(BadParameterError, match=match):
        v.normalize_fields(fields, frequency)


@pytest.mark.parametrize("per_page", [0, -1, True, 2.5, "10000", None])
def test_per_page_must_be_a_positive_integer(per_page):
    with pytest.raises(BadParameterError, match="per_page"):
        v.check_per_page(per_page)


@pytest.mark.parametrize("value", ["浦发\x01银行", "浦发\n", None])
def test_free_text_may_not_break_the_frame(value):
    with pytest.raises(BadParameterError, match="code_name must be text without .* or a newline"):
        v.plain_text(value, "code_name")


@pytest.mark.parametrize(("user", "password"), [("ali\x01ce", "pw"), ("alice", "pw\n")])
def test_credentials_may_not_break_the_frame(user, password):
    with pytest.raises(BadParameterError, match="separator or a newline") as raised:
        v.check_credentials(user, password)
    assert password not in str(raised.value)
