"""Rows as BaoStock sends them (DataFrames of strings), for the warehouse tests."""

from __future__ import annotations

import zlib
from datetime import date, timedelta

import pandas as pd

from marketdata_pipeline.batching import batch_of

DAILY_FIELDS = [
    "date", "code", "open", "high", "low", "close", "preclose", "volume", "amount", "adjustflag",
    "turn", "tradestatus", "pctChg", "peTTM", "psTTM", "pcfNcfTTM", "pbMRQ", "isST",
]  # fmt: skip
FACTOR_FIELDS = ["code", "dividOperateDate", "foreAdjustFactor", "backAdjustFactor", "adjustFactor"]
UNIVERSE_FIELDS = ["code", "tradeStatus", "code_name", "ipoDate", "outDate", "type", "status"]

BATCH = "b09"


def codes_of(batch: str, count: int) -> list[str]:
    """The first `count` sh.6xxxxx codes that fall in `batch`."""
    found = []
    number = 600000
    while len(found) < count:
        code = f"sh.{number}"
        if batch_of(code) == batch:
            found.append(code)
        number += 1
    return found


def weekdays(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def bar(trade_date: date, code: str, seed: int = 0, **fields: str) -> dict[str, str]:
    """One unadjusted daily bar with 4-decimal prices (BaoStock's format); `fields` override."""
    base = 10 + zlib.crc32(f"{code}{trade_date}".encode()) % 1000 / 100 + seed
    row = {
        "date": trade_date.isoformat(),
        "code": code,
        "open": f"{base:.4f}",
        "high": f"{base + 0.31:.4f}",
        "low": f"{base - 0.27:.4f}",
        "close": f"{base + 0.05:.4f}",
        "preclose": f"{base - 0.02:.4f}",
        "volume": str(1_000_000 + seed),
        "amount": f"{base * 1_000_000:.4f}",
        "adjustflag": "3",
        "turn": "0.752000",
        "tradestatus": "1",
        "pctChg": "-0.302100",
        "peTTM": "5.123456",
        "psTTM": "1.234567",
        "pcfNcfTTM": "-3.210000",
        "pbMRQ": "0.456789",
        "isST": "0",
    }
    row.update(fields)
    return row


def bars(codes: list[str], dates: list[date], seed: int = 0) -> pd.DataFrame:
    rows = [bar(day, code, seed) for day in dates for code in codes]
    return pd.DataFrame(rows, columns=DAILY_FIELDS, dtype="str")


def frame(rows: list[list[str]], fields: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=fields, dtype="str")
