"""Completeness: listed days from IPO to the day before delisting; inputs named when wrong."""

from datetime import date, datetime

import pytest

from marketdata_pipeline.ingest.completeness import (
    incomplete_reason,
    listed_days,
    normalize_listed,
)
from marketdata_pipeline.ingest.inputs import as_date, check_codes, check_days

DAYS = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5), date(2024, 1, 8)]


def test_listed_days_run_from_ipo_to_the_day_before_delisting():
    assert listed_days(DAYS, (None, None)) == DAYS
    assert listed_days(DAYS, (date(2024, 1, 4), None)) == DAYS[2:]
    assert listed_days(DAYS, (None, date(2024, 1, 4))) == DAYS[:2]
    assert listed_days(DAYS, (date(2024, 1, 3), date(2024, 1, 5))) == DAYS[1:3]
    assert listed_days(DAYS, (date(2025, 1, 1), None)) == []



def test_incomplete_reason_reads_n_of_m_days():
    assert incomplete_reason(3, 5) == "incomplete: 3 of 5 days"


def test_normalize_listed_accepts_dates_strings_and_blanks():
    windows = normalize_listed({"sh.600000": ("1999-11-10", ""), "sz.000001": (date(1991, 4, 3), None)})
    assert windows == {"sh.600000": (date(1999, 11, 10), None), "sz.000001": (date(1991, 4, 3), None)}
    assert normalize_listed(None) == {}


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ({"sh.600000": "1999-11-10"}, r"listed\['sh.600000'\]='1999-11-10' must be a pair"),
        ({"sh.600000": ("1999/11/10", "")}, r"listed\['sh.600000'\] ipo='1999/11/10' is not a date"),
    ],
)
def test_normalize_listed_names_the_bad_entry(listed, message):
    with pytest.raises(ValueError, match=message):
        normalize_listed(listed)


def test_as_date_takes_datetimes_as_their_day():
    assert as_date(datetime(2024, 1, 2, 15, 0), "day") == date(2024, 1, 2)
    assert as_date("2024-01-02", "day") == date(2024, 1, 2)


def test_check_days_refuses_unsorted_or_repeated_days():
    assert check_days(["2024-01-02", date(2024, 1, 3)]) == DAYS[:2]
    with pytest.raises(ValueError, match="sorted ascending without duplicates"):
        check_days([DAYS[1], DAYS[0]])
    with pytest.raises(ValueError, match="sorted ascending without duplicates"):
        check_days([DAYS[0], DAYS[0]])


def test_check_codes_normalizes_dedupes_and_refuses_a_bare_string():
    assert check_codes(["sh.600000", "sz.000001", "600000.SH"]) == ["sh.600000", "sz.000001"]
    assert check_codes(["sh.600000", "bad"]) == ["sh.600000", "bad"]  # fails alone, at fetch time
    with pytest.raises(ValueError, match="is one string"):
        check_codes("sh.600000")
    with pytest.raises(ValueError, match="non-empty string"):
        check_codes(["sh.600000", ""])
