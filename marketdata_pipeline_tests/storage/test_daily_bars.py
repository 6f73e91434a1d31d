"""replace_daily_bars: typing, exact round-trip, slice semantics, validation before any write."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, date, datetime

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from marketdata_pipeline.storage import MalformedRowsError, ensure_schema, open_warehouse, replace_daily_bars
from marketdata_pipeline_tests.storage.sample_rows import (
    BATCH,
    DAILY_FIELDS,
    bar,
    bars,
    codes_of,
    weekdays,
)
from marketdata_pipeline_tests.threads import run_together

PRICES = ("open", "high", "low", "close", "preclose")
REVISED_DOUBLES = (*PRICES, "amount", "turn", "pct_chg", "pe_ttm", "ps_ttm", "pcf_ncf_ttm", "pb_mrq")
CODES = codes_of(BATCH, 4)
DAYS = weekdays(date(2024, 1, 2), 5)
START, END = DAYS[0], DAYS[-1]


def _slice(con, batch=BATCH):
    return con.execute(
        "SELECT * EXCLUDE (ingested_at) FROM daily_bars WHERE batch = ? ORDER BY code, trade_date", [batch]
    ).fetchall()


def _replace(con, rows, **kwargs):
    return replace_daily_bars(con, rows, **{"batch": BATCH, "start": START, "end": END, **kwargs})


def test_columns_have_the_warehouse_types(con):
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'daily_bars'"
        ).fetchall()
    )
    assert types == {
        "trade_date": "DATE", "code": "VARCHAR", "open": "DOUBLE", "high": "DOUBLE", "low": "DOUBLE",
        "close": "DOUBLE", "preclose": "DOUBLE", "volume": "BIGINT", "amount": "DOUBLE", "turn": "DOUBLE",
        "trade_status": "SMALLINT", "pct_chg": "DOUBLE", "pe_ttm": "DOUBLE", "ps_ttm": "DOUBLE",
        "pcf_ncf_ttm": "DOUBLE", "pb_mrq": "DOUBLE", "is_st": "BOOLEAN", "batch": "VARCHAR",
        "ingested_at": "TIMESTAMP",
    }  # fmt: skip


def test_values_round_trip_exactly(con):
    rows = bars(CODES, DAYS)
    assert _replace(con, rows) == len(rows)
    stored = con.execute(
        "SELECT trade_date, code, open, high, low, close, preclose, volume, amount, turn, trade_status, "
        "pct_chg, pe_ttm, ps_ttm, pcf_ncf_ttm, pb_mrq, is_st FROM daily_bars ORDER BY trade_date, code"
    ).fetchall()
    expected = [
        (
            date.fromisoformat(r["date"]), r["code"], *(float(r[c]) for c in PRICES),
            int(r["volume"]), float(r["amount"]), float(r["turn"]), int(r["tradestatus"]),
            *(float(r[c]) for c in ("pctChg", "peTTM", "psTTM", "pcfNcfTTM", "pbMRQ")), r["isST"] == "1",
        )
        for r in rows.sort_values(["date", "code"]).to_dict("records")
    ]  # fmt: skip
    assert stored == expected


def test_an_arrow_table_of_the_same_strings_stores_the_same_rows(con):
    """The ingest edge hands Arrow tables; a frame and a table of the same strings are one input."""
    rows = bars(CODES, DAYS)
    _replace(con, rows)
    from_frame = _slice(con)
    _replace(con, bars([], []))
    assert _replace(con, pa.Table.from_pandas(rows.astype("str"), preserve_index=False)) == len(rows)
    assert _slice(con) == from_frame


def test_an_arrow_table_must_hold_strings_and_the_answers_columns(con):
    table = pa.Table.from_pandas(bars(CODES, DAYS).astype("str"), preserve_index=False)
    floats = table.set_column(table.column_names.index("open"), "open", pa.array([1.5] * table.num_rows))
    with pytest.raises(MalformedRowsError, match=r"column 'open' must hold strings .*DoubleScalar: 1.5"):
        _replace(con, floats)
    with pytest.raises(MalformedRowsError, match=r"missing \['isST'\]"):
        _replace(con, table.drop_columns(["isST"]))
    empty = table.slice(0, 0)
    no_floats = empty.set_column(empty.column_names.index("open"), "open", pa.array([], pa.float64()))
    with pytest.raises(MalformedRowsError, match=r"column 'open' must hold strings .*e\.g\. None"):
        _replace(con, no_floats)
    assert _slice(con) == []


def test_an_arrow_column_of_nulls_is_missing_values_as_in_a_frame(con):
    rows = bars(CODES, DAYS).astype("str")
    table = pa.Table.from_pandas(rows, preserve_index=False)
    turn = table.column_names.index("turn")
    assert _replace(con, table.set_column(turn, "turn", pa.nulls(len(rows)))) == len(rows)
    assert con.execute("SELECT count(turn) FROM daily_bars").fetchone() == (0,)


@pytest.mark.parametrize(
    "text",
    ["0.1", "6.2070789300", "146066303.7200", "-0.302100", "123456789012.3456", "1.7976931348623157e308"],
)
def test_decimals_are_parsed_to_the_nearest_double_like_python(con, text):
    _replace(
        con, pd.DataFrame([bar(START, CODES[0], amount=text, volume="9223372036854775807")], dtype="str")
    )
    assert con.execute("SELECT amount, volume FROM daily_bars").fetchall() == [(float(text), 2**63 - 1)]


def test_empty_strings_are_stored_as_null(con):
    blank = bar(DAYS[0], CODES[0], volume="", amount="", turn="", tradestatus="1", pctChg="",
                peTTM="", psTTM="", pcfNcfTTM="", pbMRQ="", isST="")  # fmt: skip
    _replace(con, pd.DataFrame([blank], columns=DAILY_FIELDS, dtype="str"))
    row = con.execute(
        "SELECT volume, amount, turn, trade_status, pct_chg, pe_ttm, ps_ttm, pcf_ncf_ttm, pb_mrq, is_st "
        "FROM daily_bars"
    ).fetchall()
    assert row == [(None, None, None, 1, None, None, None, None, None, None)]


@pytest.mark.parametrize(
    ("volume", "amount"),
    [("0", "0.0000"), ("", ""), ("12345", "0")],
    ids=["per-symbol answer", "whole-market answer", "whole-market stale volume"],
)
def test_a_suspended_day_is_stored_in_one_canonical_form(con, volume, amount):
    suspended = bar(DAYS[0], CODES[0], volume=volume, amount=amount, turn="", tradestatus="0")
    _replace(con, pd.DataFrame([suspended], columns=DAILY_FIELDS, dtype="str"))
    assert con.execute("SELECT volume, amount, trade_status FROM daily_bars").fetchall() == [(0, 0.0, 0)]


def test_missing_values_as_none_are_null_too(con):
    rows = bars(CODES[:1], DAYS[:1]).astype(object)
    rows.loc[0, "volume"] = None
    _replace(con, rows)
    assert con.execute("SELECT volume FROM daily_bars").fetchall() == [(None,)]


def test_replace_is_idempotent(con):
    rows = bars(CODES, DAYS)
    _replace(con, rows)
    first = _slice(con)
    assert _replace(con, rows) == len(rows)
    assert _slice(con) == first


def test_replace_swaps_the_whole_slice_and_nothing_else(con):
    other_batch = "b03"
    other_codes = codes_of(other_batch, 2)
    replace_daily_bars(con, bars(other_codes, DAYS), batch=other_batch, start=START, end=END)
    before_start = weekdays(date(2023, 12, 1), 3)
    replace_daily_bars(
        con, bars(CODES, before_start), batch=BATCH, start=before_start[0], end=before_start[-1]
    )
    _replace(con, bars(CODES, DAYS))
    untouched = con.execute(
        "SELECT * FROM daily_bars WHERE batch <> ? OR trade_date < ?", [BATCH, START]
    ).fetchall()

    # The new slice lacks a code and a date: both must disappear from the slice.
    assert _replace(con, bars(CODES[1:], DAYS[1:], seed=7)) == 3 * 4
    in_slice = con.execute(
        "SELECT DISTINCT code, volume FROM daily_bars WHERE batch = ? AND trade_date >= ? ORDER BY code",
        [BATCH, START],
    ).fetchall()
    assert in_slice == [(code, 1_000_007) for code in CODES[1:]]
    assert con.execute(
        "SELECT min(trade_date) FROM daily_bars WHERE batch = ? AND trade_date >= ?", [BATCH, START]
    ).fetchall() == [(DAYS[1],)]
    assert (
        con.execute("SELECT * FROM daily_bars WHERE batch <> ? OR trade_date < ?", [BATCH, START]).fetchall()
        == untouched
    )


def test_codes_limit_the_replace_to_those_codes(con):
    _replace(con, bars(CODES, DAYS))
    _replace(con, bars(CODES[:1], DAYS, seed=5), codes=CODES[:1])
    volumes = dict(con.execute("SELECT code, max(volume) FROM daily_bars GROUP BY code").fetchall())
    assert volumes == {CODES[0]: 1_000_005, **{code: 1_000_000 for code in CODES[1:]}}


def test_ingested_at_is_the_write_time_in_utc(con):
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    _replace(con, bars(CODES[:1], DAYS[:1]))
    ((stamp,),) = con.execute("SELECT ingested_at FROM daily_bars").fetchall()
    assert before <= stamp <= datetime.now(UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("open", "abc"), ("close", "1,5"), ("amount", "nan"), ("high", "inf"), ("low", " 6.2"),
        ("volume", "12.5"), ("volume", "1e3"), ("volume", "99999999999999999999"),
        ("date", "2024-1-2"), ("date", "2024-02-30"), ("code", "600000"), ("code", ""),
        ("tradestatus", "2"), ("tradestatus", ""), ("isST", "yes"), ("adjustflag", "2"),
    ],
)  # fmt: skip
def test_a_malformed_value_names_column_code_and_date_and_writes_nothing(con, column, value):
    _replace(con, bars(CODES, DAYS))
    before = _slice(con)
    rows = bars(CODES, DAYS, seed=1)
    rows.loc[13, column] = value
    with pytest.raises(MalformedRowsError) as raised:
        _replace(con, rows)
    message = str(raised.value)
    assert f"column {column!r} is {value!r}" in message
    assert "(row 13)" in message
    if column not in ("code", "date"):
        assert f"for code {rows.loc[13, 'code']} on {rows.loc[13, 'date']}" in message
    assert _slice(con) == before


def test_rows_outside_the_dates_are_refused_before_writing(con):
    _replace(con, bars(CODES, DAYS))
    before = _slice(con)
    with pytest.raises(
        ValueError, match=r"outside the slice 2024-01-02\.\.2024-01-05, first for code .* on 2024-01-08"
    ):
        _replace(con, bars(CODES, DAYS, seed=1), end=DAYS[-2])
    assert _slice(con) == before


def test_rows_of_another_batch_are_refused_before_writing(con):
    _replace(con, bars(CODES, DAYS))
    before = _slice(con)
    stray = codes_of("b03", 1)
    with pytest.raises(ValueError, match=rf"codes \['{stray[0]}'\] belong to batch b03, not {BATCH}"):
        _replace(con, bars([*CODES, *stray], DAYS, seed=1))
    assert _slice(con) == before


def test_rows_of_codes_not_being_replaced_are_refused(con):
    with pytest.raises(ValueError, match=rf"codes \['{CODES[1]}'\] are not among the codes being replaced"):
        _replace(con, bars(CODES[:2], DAYS), codes=CODES[:1])
    assert _slice(con) == []


def test_repeated_keys_are_refused(con):
    rows = bars(CODES[:1], DAYS[:2])
    with pytest.raises(ValueError, match=rf"repeat the key \(code, date\): {CODES[0]}, 2024-01-02 x2"):
        _replace(con, pd.concat([rows, rows.iloc[:1]], ignore_index=True))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows.drop(columns=["isST"]), r"missing \['isST'\], unexpected \[\]"),
        (lambda rows: rows.assign(extra="1"), r"missing \[\], unexpected \['extra'\]"),
        (lambda rows: rows.assign(open=rows["open"].astype(float)), "column 'open' must hold strings"),
    ],
)
def test_frames_not_shaped_like_the_answer_are_refused(con, change, message):
    with pytest.raises(ValueError, match=message):
        _replace(con, change(bars(CODES, DAYS)))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch": "b16"}, ValueError, "batch 'b16' is not one of b00..b15"),
        ({"start": END, "end": START}, ValueError, "slice start 2024-01-08 is after its end 2024-01-02"),
        ({"start": "2024-01-02"}, TypeError, "datetime.date"),
        ({"codes": "sh.600000"}, TypeError, "not the string"),
        ({"codes": codes_of("b03", 1)}, ValueError, r"not in batch b09"),
    ],
)
def test_bad_arguments_are_refused(con, kwargs, error, message):
    with pytest.raises(error, match=message):
        _replace(con, bars(CODES, DAYS), **kwargs)


def test_an_empty_frame_empties_the_slice(con):
    _replace(con, bars(CODES, DAYS))
    assert _replace(con, bars([], [])) == 0
    assert _slice(con) == []


class _FailingInsert:
    """A connection whose INSERT into daily_bars fails (a full disk, say): after the slice's DELETE ran."""

    def __init__(self, con):
        self._con = con

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, sql, *args):
        if sql.startswith("INSERT INTO daily_bars"):
            raise duckdb.IOException("No space left on device (injected)")
        return self._con.execute(sql, *args)


def test_a_failure_inside_the_transaction_leaves_the_old_slice(con):
    codes = codes_of(BATCH, 100)
    _replace(con, bars(codes, DAYS))
    before = _slice(con)
    with pytest.raises(duckdb.IOException, match="injected"):
        _replace(_FailingInsert(con), bars(codes, DAYS, seed=1))
    assert _slice(con) == before
    assert _replace(con, bars(codes, DAYS, seed=2)) == 500


def test_batches_replaced_in_parallel_threads_do_not_conflict(con):
    """Dagster may run several batches' steps in one process: one cursor per thread, one transaction each."""
    batches = ("b01", "b02", "b03")
    errors = []

    def write(batch):
        with con.cursor() as cursor:
            try:
                for seed in range(3):
                    rows = bars(codes_of(batch, 20), DAYS, seed=seed)
                    replace_daily_bars(cursor, rows, batch=batch, start=START, end=END)
            except Exception as error:  # reported by the assertion below, not lost in the thread
                errors.append(error)

    threads = [threading.Thread(target=write, args=(batch,)) for batch in batches]
    run_together(threads, timeout=60)
    assert errors == []
    per_batch = con.execute(
        "SELECT batch, count(*), min(volume) FROM daily_bars GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert per_batch == [(batch, 20 * len(DAYS), 1_000_002) for batch in batches]


# A child's peak memory over one small replace of BATCH, beside a large slice of another batch.
_REPLACE_IN_CHILD = """
import re, sys
from datetime import date
from pathlib import Path
from marketdata_pipeline.storage import open_warehouse, replace_daily_bars
from marketdata_pipeline_tests.storage.sample_rows import BATCH, bars, codes_of, weekdays
def peak_mb():  # this process image's own high-water mark (ru_maxrss keeps the forking parent's)
    return int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) // 1024
codes, days = codes_of(BATCH, 4), weekdays(date(2024, 1, 2), 5)
with open_warehouse(sys.argv[1]) as con:
    before = peak_mb()
    for seed in range(2):  # the second replace finds the first's rows: revisions are looked for
        replace_daily_bars(con, bars(codes, days, seed=seed), batch=BATCH, start=days[0], end=days[-1])
print(peak_mb() - before)
"""


@pytest.mark.slow  # builds a 100 MB warehouse, then a child process imports the package
def test_a_replace_reads_its_own_slice_not_the_whole_table(db_path):
    # 1M bars of b01 on the same days, codes on both sides of BATCH's: no row group can be skipped
    # by its code or date range, so only a filter on the replaced slice keeps them out of memory.
    with open_warehouse(db_path) as con:
        ensure_schema(con)
        con.execute(f"""
            INSERT INTO daily_bars BY NAME SELECT
                DATE '2024-01-01' + CAST(i % 10 AS INTEGER) AS trade_date,
                if(i % 2 = 0, 'sa.', 'sz.') || lpad(CAST(i // 10 AS VARCHAR), 6, '0') AS code,
                {", ".join(f"random() AS {column}" for column in REVISED_DOUBLES)},
                CAST(random() * 1e9 AS BIGINT) AS volume, 1 AS trade_status, 0 AS is_st,
                'b01' AS batch, now() AS ingested_at
            FROM range(1000000) AS t(i)
        """)  # fmt: skip
        con.execute("CHECKPOINT")
    other_mb = db_path.stat().st_size / 2**20
    code = [sys.executable, "-c", _REPLACE_IN_CHILD, str(db_path)]
    grown_mb = int(subprocess.run(code, capture_output=True, text=True, check=True, timeout=120).stdout)
    assert other_mb > 80 and grown_mb < other_mb / 2, (grown_mb, other_mb)
