"""daily_bars_hfq / daily_bars_qfq against factors computed by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from marketdata_pipeline.storage import ensure_schema, replace_adjust_factors, replace_daily_bars
from marketdata_pipeline_tests.storage.sample_rows import BATCH, FACTOR_FIELDS, bar, codes_of, frame, weekdays

SPLIT, PLAIN, FUTURE = codes_of(BATCH, 3)
DAYS = weekdays(date(2024, 1, 2), 6)  # Jan 2, 3, 4, 5, 8, 9
# SPLIT goes ex on Jan 4 (b = 2) and Jan 8 (b = 4); PLAIN never; FUTURE only after the last bar.
FACTORS = [
    [SPLIT, "2024-01-04", "0.5", "2.0", "2.0"],
    [SPLIT, "2024-01-08", "1.0", "4.0", "4.0"],
    [FUTURE, "2024-02-01", "1.0", "8.0", "8.0"],
]
# close = preclose: a chain of bars without an ex-date BaoStock would show (see adjust_factor_gaps).
PRICES = {"open": "10.5", "high": "11.25", "low": "9.75", "close": "10.25", "preclose": "10.25"}


@pytest.fixture
def adjusted(con):
    rows = [bar(day, code, **PRICES) for day in DAYS for code in (SPLIT, PLAIN, FUTURE)]
    replace_daily_bars(con, pd.DataFrame(rows, dtype="str"), batch=BATCH, start=DAYS[0], end=DAYS[-1])
    replace_adjust_factors(con, frame(FACTORS, FACTOR_FIELDS), [SPLIT, PLAIN, FUTURE])
    return con


def _prices(con, view, code):
    return con.execute(
        f"SELECT trade_date, open, high, low, close, preclose, volume FROM {view} "
        "WHERE code = ? ORDER BY trade_date",
        [code],
    ).fetchall()


def _scaled(factor_by_day):
    raw = [float(PRICES[c]) for c in ("open", "high", "low", "close", "preclose")]
    return [(day, *(price * factor_by_day[day] for price in raw), 1_000_000) for day in DAYS]


# Back factor b(t) per bar date, by hand: 1.0 before the first ex-date.
SPLIT_B = dict(zip(DAYS, [1.0, 1.0, 2.0, 2.0, 4.0, 4.0], strict=True))


def test_hfq_multiplies_by_the_back_factor_of_the_latest_ex_date(adjusted):
    assert _prices(adjusted, "daily_bars_hfq", SPLIT) == _scaled(SPLIT_B)
    assert _scaled(SPLIT_B)[0][1:3] == (10.5, 11.25)
    assert _scaled(SPLIT_B)[2][1:3] == (21.0, 22.5)


def test_qfq_divides_by_the_newest_back_factor(adjusted):
    assert _prices(adjusted, "daily_bars_qfq", SPLIT) == _scaled(
        dict(zip(DAYS, [0.25, 0.25, 0.5, 0.5, 1.0, 1.0], strict=True))
    )


def test_the_newest_qfq_bar_equals_the_raw_bar_exactly(adjusted):
    raw = _prices(adjusted, "daily_bars", SPLIT)
    assert _prices(adjusted, "daily_bars_qfq", SPLIT)[-2:] == raw[-2:]


def test_codes_without_factors_are_unadjusted(adjusted):
    raw = _prices(adjusted, "daily_bars", PLAIN)
    assert _prices(adjusted, "daily_bars_hfq", PLAIN) == raw
    assert _prices(adjusted, "daily_bars_qfq", PLAIN) == raw


def test_an_ex_date_after_every_bar_only_moves_qfq(adjusted):
    assert _prices(adjusted, "daily_bars_hfq", FUTURE) == _prices(adjusted, "daily_bars", FUTURE)
    assert _prices(adjusted, "daily_bars_qfq", FUTURE) == _scaled(dict.fromkeys(DAYS, 1 / 8))


def test_views_keep_the_columns_of_daily_bars(adjusted):
    def columns(name):
        return adjusted.execute(f"SELECT * FROM {name} LIMIT 0").description

    assert [c[0] for c in columns("daily_bars_hfq")] == [c[0] for c in columns("daily_bars")]
    assert [c[0] for c in columns("daily_bars_qfq")] == [c[0] for c in columns("daily_bars")]


def test_new_factors_change_adjusted_history_at_read_time(adjusted):
    replace_adjust_factors(adjusted, frame(FACTORS[:1], FACTOR_FIELDS), [SPLIT])
    assert [row[1] for row in _prices(adjusted, "daily_bars_qfq", SPLIT)] == [
        5.25,
        5.25,
        10.5,
        10.5,
        10.5,
        10.5,
    ]


def test_ensure_schema_is_idempotent_and_keeps_data(adjusted):
    before = _prices(adjusted, "daily_bars_qfq", SPLIT)
    ensure_schema(adjusted)
    ensure_schema(adjusted)
    assert _prices(adjusted, "daily_bars_qfq", SPLIT) == before


def _columns(con):
    return con.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE table_name = 'daily_bars' ORDER BY column_index"
    ).fetchall()


def test_a_warehouse_keyed_by_an_earlier_version_is_rebuilt_without_its_keys(adjusted):
    """Files made before the keys were dropped: once rebuilt, same rows, same NOT NULLs, views intact."""
    con = adjusted
    before, qfq, columns = (
        con.execute("FROM daily_bars ORDER BY ALL").fetchall(),
        _prices(con, "daily_bars_qfq", SPLIT),
        _columns(con),
    )
    con.execute("ALTER TABLE daily_bars RENAME TO plain")
    con.execute("CREATE TABLE daily_bars AS FROM plain LIMIT 0")
    con.execute("ALTER TABLE daily_bars ADD PRIMARY KEY (code, trade_date)")
    con.execute("INSERT INTO daily_bars FROM plain")
    con.execute("DROP TABLE plain")
    keys = (
        "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' AND table_name = ?"
    )
    assert con.execute(keys, ["daily_bars"]).fetchone()[0] == 1

    ensure_schema(con)

    assert con.execute(keys, ["daily_bars"]).fetchone()[0] == 0
    assert con.execute("FROM daily_bars ORDER BY ALL").fetchall() == before
    assert _columns(con) == columns
    assert _prices(con, "daily_bars_qfq", SPLIT) == qfq
    assert (
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%keyed'").fetchone()[0] == 0
    )
