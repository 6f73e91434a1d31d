"""What the official `baostock` client gets from a simulator, typed as the warehouse stores it.

The reference side of the pipeline's differential tests: BaoStock's own client,
read row by row (its `get_data()` breaks on pandas 2 past one page).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import date

import baostock as bs

from marketdata_pipeline.batching import batch_of
from marketdata_pipeline_tests.conftest import point_official_client_at

DAILY_FIELDS = (
    "date,code,open,high,low,close,preclose,volume,amount,adjustflag,"
    "turn,tradestatus,pctChg,peTTM,psTTM,pcfNcfTTM,pbMRQ,isST"
)
STORED_COLUMNS = (
    "trade_date, code, open, high, low, close, preclose, volume, amount, turn, trade_status, "
    "pct_chg, pe_ttm, ps_ttm, pcf_ncf_ttm, pb_mrq, is_st"
)
PRICE_COLUMNS = ("open", "high", "low", "close", "preclose")
RAW, BACK, FORWARD = "3", "1", "2"


def _nullable(parse: Callable[[str], object]) -> Callable[[str], object]:
    return lambda text: None if text == "" else parse(text)


_number = _nullable(float)

# BaoStock field -> the value DuckDB should hold, in STORED_COLUMNS order; adjustflag is not stored.
_TYPED: dict[str, Callable[[str], object]] = {
    "date": date.fromisoformat,
    "code": str,
    "open": _number,
    "high": _number,
    "low": _number,
    "close": _number,
    "preclose": _number,
    "volume": _nullable(int),
    "amount": _number,
    "turn": _number,
    "tradestatus": int,
    "pctChg": _number,
    "peTTM": _number,
    "psTTM": _number,
    "pcfNcfTTM": _number,
    "pbMRQ": _number,
    "isST": _nullable({"1": True, "0": False}.__getitem__),
}


@contextlib.contextmanager
def official_client(address: tuple[str, int]) -> Iterator[object]:
    """The `baostock` module logged in to the simulator at `address` (its chatter silenced)."""
    with point_official_client_at(*address), contextlib.redirect_stdout(io.StringIO()):
        login = bs.login()
        if login.error_code != "0":
            raise AssertionError(f"official client login failed: {login.error_msg}")
        yield bs


def read_all(result) -> list[list[str]]:
    """Every row of an official ResultSet, asserting it answered without error."""
    if result.error_code != "0":
        raise AssertionError(f"official client error {result.error_code}: {result.error_msg}")
    rows = []
    while result.next():
        rows.append(result.get_row_data())
    return rows


def a_shares_of_batch(client, batch: str, days: Iterable[date]) -> list[str]:
    """Codes that `query_all_stock` lists on any of `days`, of type 1 (A-share), in `batch`."""
    listed = {row[0] for day in days for row in read_all(client.query_all_stock(day.isoformat()))}
    a_shares = {row[0] for row in read_all(client.query_stock_basic()) if row[4] == "1"}
    return sorted(code for code in listed & a_shares if batch_of(code) == batch)


def daily_rows(
    client, codes: Iterable[str], start: date, end: date, adjustflag: str = RAW
) -> list[list[str]]:
    """`query_history_k_data_plus` with the 18 daily fields for each code, in code then date order."""
    rows = []
    for code in sorted(codes):
        rows += read_all(
            client.query_history_k_data_plus(
                code, DAILY_FIELDS, start.isoformat(), end.isoformat(), frequency="d", adjustflag=adjustflag
            )
        )
    return rows


def typed(row: list[str], fields: list[str] | None = None) -> tuple:
    """An official row (in `fields` order; the per-symbol order by default) as the tuple
    `SELECT {STORED_COLUMNS}` returns for it: a suspended day stores volume 0 and amount 0."""
    values = dict(zip(fields or DAILY_FIELDS.split(","), row, strict=True))
    if values["tradestatus"] == "0":
        values.update(volume="0", amount="0")
    return tuple(parse(values[name]) for name, parse in _TYPED.items())


def prices(row: list[str]) -> dict[str, float]:
    """The five prices of an official row, by the warehouse's column names."""
    values = dict(zip(DAILY_FIELDS.split(","), row, strict=True))
    return {name: float(values[name]) for name in PRICE_COLUMNS}
