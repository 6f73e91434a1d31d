"""`Warehouse`: code and date forms, clear errors, adjusted prices equal BaoStock's adjusted answers."""

from __future__ import annotations

import shutil
import warnings
from datetime import date

import pandas as pd
import pytest

from marketdata_pipeline import Warehouse
from marketdata_pipeline.reader import StaleFactorsWarning, WarehouseMissingError, normalize_code
from marketdata_pipeline.storage import open_warehouse
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pipeline import official
from marketdata_pipeline_tests.reading.conftest import FIRST_DAYS

RELATIVE_TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def client(shared_simulator):
    with official.official_client(shared_simulator.address) as client:
        yield client


@pytest.fixture(scope="module")
def codes(loaded):
    db, _ = loaded
    query = "SELECT DISTINCT code FROM daily_bars SEMI JOIN adjust_factors USING (code) ORDER BY 1 LIMIT 8"
    return Warehouse(db).sql(query)["code"].tolist()


@pytest.mark.parametrize("form", ["sh.600000", "600000.SH", "600000.sh", " SH.600000 "])
def test_both_code_forms_mean_the_same_code(form):
    assert normalize_code(form) == "sh.600000"


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda wh: wh.bars("600000", "2024-07-01", "2024-07-05"), "'600000'"),
        (lambda wh: wh.bars("sh.600000", "2024-07-32", "2024-08-01"), "start='2024-07-32'"),
        (lambda wh: wh.bars("sh.600000", "2024-07-05", "2024-07-01"), "start=2024-07-05 is after end"),
        (lambda wh: wh.bars("sh.600000", adjust="forward"), "adjust='forward'"),
        (lambda wh: wh.bars("sh.600000", fields=["close", "vwap"]), "['vwap']"),
        (lambda wh: wh.bars([], "2024-07-01"), "codes is empty"),
        (lambda wh: wh.universe("2024-07-06"), "day=2024-07-06 has no stored universe"),
        (lambda wh: wh.calendar("july", "2024-08-01"), "start='july'"),
    ],
)
def test_bad_input_raises_a_value_error_naming_it(loaded, call, named):
    with pytest.raises(ValueError, match=None) as raised:
        call(Warehouse(loaded[0]))
    assert named in str(raised.value)


def test_a_missing_file_names_the_setting(tmp_path):
    with pytest.raises(WarehouseMissingError, match="MARKETDATA_DUCKDB_PATH"):
        Warehouse(tmp_path / "none.duckdb").bars("sh.600000")


def test_bars_are_typed_and_ordered_and_leave_no_fd(loaded, codes):
    wh = Warehouse(loaded[0])
    before = open_fds()
    suffixed = [f"{code[3:]}.{code[:2].upper()}" for code in codes]  # 600055.SH
    frame = wh.bars(suffixed, date(2024, 7, 1), "2024-07-05", fields=["close", "volume", "is_st"])
    assert wait_for_fds(before) <= before
    assert list(frame.columns) == ["trade_date", "code", "close", "volume", "is_st"]
    assert str(frame["volume"].dtype) == "Int64" and str(frame["is_st"].dtype) == "boolean"
    assert frame["trade_date"].dtype.kind == "M"
    assert frame.sort_values(["code", "trade_date"]).index.tolist() == frame.index.tolist()
    assert set(frame["code"]) == set(codes)


def test_calendar_and_universe(loaded):
    wh = Warehouse(loaded[0])
    days = wh.calendar("2024-06-28", "2024-07-08")
    assert [day.date() for day in days] == [
        date(2024, 6, 28),
        *pd.bdate_range("2024-07-01", "2024-07-08").date,
    ]
    universe = wh.universe("2024-07-02")
    assert {"code", "code_name", "type", "batch"} <= set(universe.columns)
    assert len(universe) > 5000


@pytest.mark.parametrize(("adjust", "adjustflag"), [("hfq", "1"), ("qfq", "2")])
def test_adjusted_bars_equal_the_simulators_adjusted_answers(loaded, client, codes, adjust, adjustflag):
    expected = {
        (row[1], row[0]): official.prices(row)
        for row in official.daily_rows(client, codes, *FIRST_DAYS, adjustflag=adjustflag)
    }
    frame = Warehouse(loaded[0]).bars(codes, *FIRST_DAYS, adjust=adjust)
    stored = {(row.code, f"{row.trade_date:%Y-%m-%d}"): row for row in frame.itertuples()}
    assert stored.keys() == expected.keys()
    worst = max(
        abs(getattr(stored[key], column) - value) / abs(value)
        for key, row in expected.items()
        for column, value in row.items()
    )
    assert worst < RELATIVE_TOLERANCE


def test_missing_factors_give_nan_and_a_warning_never_raw_prices(loaded, codes, tmp_path):
    db = tmp_path / "stale.duckdb"
    shutil.copy(loaded[0], db)
    wh = Warehouse(db)
    with open_warehouse(db) as con:
        ex_dates = con.execute(
            "SELECT code FROM adjust_factors WHERE divid_operate_date BETWEEN ? AND ? ORDER BY 1 LIMIT 1",
            list(FIRST_DAYS),
        ).fetchall()
        assert ex_dates, "pick days with an ex-date"
        (stale,) = ex_dates[0]
        con.execute("DELETE FROM adjust_factors WHERE code = ?", [stale])
    for adjust in ("qfq", "hfq"):
        with pytest.warns(StaleFactorsWarning, match=stale):
            frame = wh.bars(stale, *FIRST_DAYS, adjust=adjust)
        assert frame["close"].isna().any(), adjust
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh = [code for code in codes if code != stale]
        assert not wh.bars(fresh, *FIRST_DAYS, adjust="qfq")["close"].isna().any()
    assert Warehouse(db).sql("SELECT count(*) AS n FROM daily_bars_qfq WHERE code = ? AND close IS NOT NULL",
                             [stale])["n"][0] == 0  # fmt: skip


def test_adjusted_bars_without_any_factors_refuse(loaded, tmp_path):
    db = tmp_path / "no_factors.duckdb"
    shutil.copy(loaded[0], db)
    with open_warehouse(db) as con:
        con.execute("DELETE FROM adjust_factors")
    with pytest.raises(ValueError, match="materialize adjust_factors"):
        Warehouse(db).bars("sh.600000", adjust="hfq")
