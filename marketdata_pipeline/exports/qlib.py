"""`marketdata export qlib`: the bars in qlib's provider layout, appended to after each day.

Layout (qlib's `FileStorage`): `calendars/day.txt` (one trading day a line),
`instruments/all.txt` (`SH600000<TAB>first day<TAB>last day`) and
`features/sh600000/<field>.day.bin`: little-endian float32, the first value the
index of the code's first day in the calendar, then one value per calendar day.
Fields open, high, low, close (adjusted), volume (shares / factor), amount
(yuan), factor (adjusted / raw price, so `$close / $factor` is the raw close)
and change (pct_chg / 100); suspended days and days without a bar are NaN.

After the first export a day costs one append per file. A code is written
again in full only when its factors or an already exported bar changed. The
calendar is replaced last: qlib reads a feature by calendar index, so the
values appended before it are invisible until the new calendar lands; a crash
mid-append leaves values past the old calendar that the next export cuts off.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.exports.files import (
    ExportSummary,
    file_entry,
    previous_export,
    summary,
    write_file,
    write_manifest,
)
from marketdata_pipeline.storage import open_warehouse

FORMAT = "marketdata-qlib/1"
_FACTOR = "adj.close / nullif(raw.close, 0)"
# Each field as SQL over a bar (raw) and its adjusted prices (adj); NULL, so NaN, on a suspended day.
_FIELDS = {
    "open": "adj.open",
    "high": "adj.high",
    "low": "adj.low",
    "close": "adj.close",
    "volume": f"raw.volume::DOUBLE / ({_FACTOR})",  # qlib's adjusted volume: price x volume stays the value
    "amount": "raw.amount",
    "factor": _FACTOR,
    "change": "raw.pct_chg / 100",
}
FIELDS = tuple(_FIELDS)
ADJUSTMENTS = ("qfq", "hfq")
_CODE_FACTORS = (
    "SELECT code, bit_xor(hash(f))::VARCHAR FROM adjust_factors AS f "
    "WHERE list_contains(?, code) GROUP BY code"
)
_FIRST_EXPORT = {"instruments": {}, "files": {}, "data_version": 0, "watermark": "", "last_day": None}


def export_qlib(
    db_path: str | Path, directory: str | Path, *, adjust: str = "hfq", lock_timeout: float = 60.0
) -> ExportSummary:
    """Bring the qlib data under `directory` up to date with the warehouse at `db_path`.

    `adjust`: "hfq" (the default: past values never change, so each day is a pure append) or
    "qfq" (the latest day is raw; every ex-date rewrites that code's history).
    """
    if adjust not in ADJUSTMENTS:
        raise ValueError(f"adjust={adjust!r} is not 'qfq' or 'hfq'")
    directory = Path(directory)
    previous = previous_export(directory, FORMAT)
    with open_warehouse(db_path, read_only=True, lock_timeout=lock_timeout) as con:
        calendar = _calendar(con)
        watermark = str(con.execute("SELECT max(ingested_at) FROM daily_bars").fetchone()[0])
    if not calendar:
        raise ValueError(f"the warehouse at {db_path} holds no daily_bars: materialize daily_bars first")
    index = {day: position for position, day in enumerate(calendar)}
    layout = {"adjust": adjust, "calendar_start": calendar[0].isoformat()}
    same_layout = previous is not None and all(previous[key] == value for key, value in layout.items())
    last_exported = index.get(date.fromisoformat(previous["last_day"])) if same_layout else None
    if last_exported is None:  # nothing exported yet, or in another layout: everything in full
        previous = _FIRST_EXPORT
    instruments, files, written = dict(previous["instruments"]), dict(previous["files"]), 0
    for batch in BATCHES:
        with open_warehouse(db_path, read_only=True, lock_timeout=lock_timeout) as con:
            bars, whole, factors = _batch_bars(con, batch, adjust, previous, instruments)
        bars["position"] = bars["trade_date"].map(index)
        for code, rows in bars.groupby("code", sort=False):
            known = None if code in whole else instruments[code]
            instruments[code] = _instrument(rows, known, factors[code])
            after = None if known is None else last_exported
            files |= _write_features(directory, code, rows, instruments[code]["start_index"], after)
            written += len(FIELDS)
    # The calendar last: it publishes the appended values (see the module's docstring).
    for path, text in (
        ("instruments/all.txt", _instruments_text(instruments)),
        ("calendars/day.txt", "".join(f"{day.isoformat()}\n" for day in calendar)),
    ):
        files[path] = write_file(directory / path, text.encode())
    manifest = {
        "format": FORMAT,
        **layout,
        "data_version": previous["data_version"] + 1,
        "last_day": calendar[-1].isoformat(),
        "days": len(calendar),
        "rows": sum(entry["rows"] for entry in instruments.values()),
        "watermark": watermark,
        "instruments": instruments,
        "files": files,
    }
    write_manifest(directory, manifest)
    return summary(directory, manifest, written)


def _calendar(con) -> list[date]:
    """The stored trading days from the first bar to the last (the bars' own days without a calendar)."""
    first, last = con.execute("SELECT min(trade_date), max(trade_date) FROM daily_bars").fetchone()
    if first is None:
        return []
    days = con.execute(
        "SELECT calendar_date FROM trade_calendar WHERE is_trading_day AND calendar_date BETWEEN ? AND ? "
        "UNION SELECT DISTINCT trade_date FROM daily_bars ORDER BY 1",
        [first, last],
    ).fetchall()
    return [day for (day,) in days]


def _revised_codes(con, batch: str, previous: dict, instruments: dict) -> set[str]:
    """Codes of `batch` whose already exported days changed since the last export: a value BaoStock
    revised (bar_revisions), or a row that appeared or went. A re-fetch that changed nothing (the
    daily run's trailing window rewrites five days) is not a change, so those codes only append."""
    watermark, last_day = previous["watermark"] or "epoch", previous["last_day"] or date.max
    revised = {code for (code,) in con.execute(
        "SELECT DISTINCT code FROM bar_revisions "
        "WHERE batch = ? AND seen_at > ?::TIMESTAMP AND trade_date <= ?",
        [batch, watermark, last_day],
    ).fetchall()}  # fmt: skip
    counts = con.execute(
        "SELECT code, count(*) FROM daily_bars WHERE batch = ? AND trade_date <= ? GROUP BY code",
        [batch, last_day],
    ).fetchall()
    recounted = {code for code, rows in counts if code in instruments and instruments[code]["rows"] != rows}
    return revised | recounted


def _batch_bars(
    con, batch: str, adjust: str, previous: dict, instruments: dict
) -> tuple[pd.DataFrame, set[str], dict[str, str]]:
    """The batch's bars to export (by code, then day), the codes written in full, each code's factors.

    In full: new codes, codes with a revised exported bar, codes whose factors changed; of the
    others, the bars after the last exported day (appended).
    """
    codes = [code for (code,) in con.execute(
        "SELECT DISTINCT code FROM daily_bars WHERE batch = ? ORDER BY 1", [batch]
    ).fetchall()]  # fmt: skip
    found = dict(con.execute(_CODE_FACTORS, [codes]).fetchall())
    factors = {code: found.get(code, "0") for code in codes}
    revised = _revised_codes(con, batch, previous, instruments)
    whole = {
        code for code in codes if code in revised or instruments.get(code, {}).get("factors") != factors[code]
    }
    fields = ", ".join(
        f"CASE WHEN raw.trade_status = 1 THEN {sql} END AS {name}" for name, sql in _FIELDS.items()
    )
    bars = con.execute(
        f"""
        SELECT raw.code, raw.trade_date, {fields}
        FROM daily_bars AS raw JOIN daily_bars_{adjust} AS adj USING (code, trade_date)
        WHERE list_contains($codes, raw.code) AND (list_contains($whole, raw.code) OR raw.trade_date > $after)
        ORDER BY raw.code, raw.trade_date
        """,
        {"codes": codes, "whole": sorted(whole), "after": previous["last_day"] or date.min},
    ).df()
    bars["trade_date"] = bars["trade_date"].dt.date
    return bars, whole, factors


def _instrument(bars: pd.DataFrame, known: dict | None, factors: str) -> dict:
    """The manifest's record of a code once its `bars` are written: in full, or appended to `known`."""
    days = bars["trade_date"]
    if known is None:
        known = {"start_index": int(bars["position"].iat[0]), "first_day": days.iat[0].isoformat(), "rows": 0}
    rows = known["rows"] + len(bars)
    return {**known, "last_day": days.iat[-1].isoformat(), "rows": rows, "factors": factors}


def _write_features(directory: Path, code: str, bars: pd.DataFrame, start: int, after: int | None) -> dict:
    """Write one code's field files in full from calendar index `start`, or append its bars after
    calendar index `after`; their manifest entries."""
    offsets = bars["position"].to_numpy() - (start if after is None else after + 1)
    folder = directory / "features" / code.replace(".", "")
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for field in FIELDS:
        values = np.full(offsets[-1] + 1, np.nan)
        values[offsets] = bars[field].to_numpy(dtype="float64", na_value=np.nan)
        path = folder / f"{field}.day.bin"
        if after is None:
            entry = write_file(path, np.hstack([[start], values]).astype("<f4").tobytes())
        else:
            entry = _append(path, start, after, values)
        entries[f"features/{folder.name}/{path.name}"] = entry
    return entries


def _append(path: Path, start: int, last_exported: int, values: np.ndarray) -> dict:
    """Append the values after calendar index `last_exported`, NaN-padding a code that had no bar since."""
    exported = last_exported - start + 2  # the start index, then one value per day through last_exported
    with path.open("r+b") as stream:
        stored = stream.seek(0, 2) // 4
        # Values past the last exported day are a crashed export's: cut them off, then pad the gap.
        stream.truncate(min(stored, exported) * 4)
        padding = np.full(exported - min(stored, exported), np.nan)
        stream.seek(0, 2)
        stream.write(np.hstack([padding, values]).astype("<f4").tobytes())
    return file_entry(path)


def _instruments_text(instruments: dict) -> str:
    return "".join(
        f"{code.replace('.', '').upper()}\t{entry['first_day']}\t{entry['last_day']}\n"
        for code, entry in sorted(instruments.items())
    )
