"""Rows: picking fields by name, keeping only the run's codes and days, one row per (code, date)."""

from datetime import date

import pytest

from marketdata_pipeline.baostock.errors import ProtocolError
from marketdata_pipeline.baostock.results import ResultSet
from marketdata_pipeline.ingest.bars import DAILY_FIELDS, BarCollector, daily_rows
from marketdata_pipeline.ingest.result_fields import pick_columns, pick_fields


def _bar(code: str, day: str, close: str = "10.0000") -> tuple[str, ...]:
    values = dict.fromkeys(DAILY_FIELDS, "")
    values.update(date=day, code=code, close=close, adjustflag="3", tradestatus="1", isST="0")
    return tuple(values[name] for name in DAILY_FIELDS)


def test_pick_fields_reorders_by_name_and_strips_spaces():
    answer = ResultSet("q", ["b", " a"], [["2", "1"], ["4", "3"]])
    assert pick_fields(answer, ["a", "b"], "q") == [("1", "2"), ("3", "4")]


def test_pick_columns_reads_the_same_fields_as_columns():
    answer = ResultSet("q", ["b", " a"], [["2", "1"], ["4", "3"]])
    assert pick_columns(answer, ["a", "b"], "q") == {"a": ["1", "3"], "b": ["2", "4"]}
    assert pick_columns(ResultSet("q", [], []), ["a"], "q") == {"a": []}


@pytest.mark.parametrize("pick", [pick_fields, pick_columns])
def test_picking_names_the_query_when_a_field_is_missing(pick):
    answer = ResultSet("q", ["a"], [["1"]])
    with pytest.raises(ProtocolError, match=r"query_x\(\) answered without fields \['b'\]"):
        pick(answer, ["a", "b"], "query_x()")


def test_an_empty_answer_is_no_rows_whatever_its_fields():
    assert daily_rows(ResultSet("q", [], []), "q") == []


def test_collector_drops_other_codes_days_and_repeats():
    collector = BarCollector(["sh.600000", "sz.000001"], ["2024-01-02", "2024-01-03"])
    added = collector.add(
        [
            _bar("sz.000001", "2024-01-03"),
            _bar("sh.600000", "2024-01-02", close="1.0000"),
            _bar("sh.600000", "2024-01-02", close="2.0000"),  # a repeat: the first row wins
            _bar("sh.600004", "2024-01-02"),  # not requested
            _bar("sh.600000", "2024-01-04"),  # not a day of the run
        ]
    )
    assert added == 2
    frame = collector.to_frame()
    assert list(frame.columns) == list(DAILY_FIELDS)
    assert frame[["code", "date", "close"]].values.tolist() == [
        ["sh.600000", "2024-01-02", "1.0000"],
        ["sz.000001", "2024-01-03", "10.0000"],
    ]
    days = [date(2024, 1, 2), date(2024, 1, 3)]
    assert collector.missing_days("sh.600000", days) == days[1:]
    assert collector.missing_days("sz.000001", days) == days[:1]


def test_a_collector_with_a_sink_hands_rows_on_in_bounded_chunks_and_keeps_none():
    days = [f"2024-01-{day:02d}" for day in range(1, 31)]
    chunks = []
    collector = BarCollector(["sh.600000", "sz.000001"], days, sink=chunks.append, chunk_rows=7)
    for code in ("sh.600000", "sz.000001"):
        collector.add([_bar(code, day) for day in days])
        collector.add([_bar(code, days[0])])  # a repeat after its first row left: still dropped
    assert collector.to_frame().empty
    assert sum(len(chunk) for chunk in chunks) == len(collector) == 60
    assert collector.peak_pending == 30  # one answer's rows, never the run's
    assert all(chunk.column_names == list(DAILY_FIELDS) for chunk in chunks)
    assert collector.missing_days("sh.600000", [date(2024, 1, 2)]) == []


def test_an_empty_collector_still_has_the_daily_columns():
    frame = BarCollector(["sh.600000"], ["2024-01-02"]).to_frame()
    assert list(frame.columns) == list(DAILY_FIELDS)
    assert frame.empty
