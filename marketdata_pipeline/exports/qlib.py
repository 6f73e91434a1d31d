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

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.exports.files import (
    ExportSummary,
    manifest_entry,
    previous_export,
    summary,
    write_file,
    write_manifest,
)
from marketdata_pipeline.storage import open_warehouse

FORMAT = "marketdata-qlib/1"
FIELDS = ("open", "high", "low", "close", "volume", "amount", "factor", "change")
ADJUSTMENTS = ("qfq", "hfq")
_CODE_FACTORS = (
    "SELECT code, bit_xor(hash(f))::VARCHAR FROM adjust_factors AS f "
    "WHERE list_contains(?, code) GROUP BY code"
)


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
    full = (
        previous is None
        or previous["adjust"] != adjust
        or previous["calendar_start"] != calendar[0].isoformat()
        or date.fromisoformat(previous["last_day"]) not in index
    )
    previous = previous if not full else {"instruments": {}, "files": {}, "data_version": 0, "watermark": ""}
    last_exported = index.get(date.fromisoformat(previous["last_day"])) if not full else None
    instruments, files, written = dict(previous["instruments"]), dict(previous["files"]), 0
    for batch in BATCHES:
        written += _export_batch(
            db_path,
            directory,
            batch,
            adjust,
            index,
            last_exported,
            previous,
            instruments,
            files,
            lock_timeout,
        )
    # The calendar last: it publishes the appended values (see the module's docstring).
    for path, text in (
        ("instruments/all.txt", _instruments_text(instruments)),
        ("calendars/day.txt", _days(calendar)),
    ):
        files[path] = write_file(directory / path, text.encode())
    rows = sum(entry["rows"] for entry in instruments.values())
    manifest = {
        "format": FORMAT,
        "adjust": adjust,
        "data_version": previous["data_version"] + 1,
        "calendar_start": calendar[0].isoformat(),
        "last_day": calendar[-1].isoformat(),
        "days": len(calendar),
        "rows": rows,
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


def _export_batch(
    db_path, directory: Path, batch: str, adjust: str, index: dict[date, int], last_exported: int | None,
    previous: dict, instruments: dict, files: dict, lock_timeout: float,
) -> int:  # fmt: skip
    """Write (in full) or append the codes of one batch; returns how many files it wrote or appended to."""
    with open_warehouse(db_path, read_only=True, lock_timeout=lock_timeout) as con:
        codes = [code for (code,) in con.execute(
            "SELECT DISTINCT code FROM daily_bars WHERE batch = ? ORDER BY 1", [batch]
        ).fetchall()]  # fmt: skip
        factors = dict(con.execute(_CODE_FACTORS, [codes]).fetchall())
        revised = _revised_codes(con, batch, previous, instruments)
        # In full: new codes, codes with a revised exported bar, codes whose factors changed.
        whole = [
            code for code in codes
            if code in revised or instruments.get(code, {}).get("factors") != factors.get(code, "0")
        ]  # fmt: skip
        appended = [code for code in codes if code not in set(whole)]
        after = previous.get("last_day") or date.min.isoformat()
        bars = pd.concat(
            [_bars(con, adjust, whole, date.min), _bars(con, adjust, appended, date.fromisoformat(after))]
        ).sort_values(["code", "trade_date"], kind="stable")
    rewritten = set(whole)
    columns = {
        name: bars[name].to_numpy(dtype="float64", na_value=np.nan) for name in (*FIELDS, "trade_status")
    }
    positions = bars["trade_date"].map(index).to_numpy()
    days, codes_column = bars["trade_date"].to_numpy(), bars["code"].to_numpy()
    edges = [0, *(np.flatnonzero(codes_column[1:] != codes_column[:-1]) + 1), len(bars)]
    for begin, end in zip(edges[:-1], edges[1:], strict=False):
        if begin == end:
            continue
        code, rewrite = codes_column[begin], codes_column[begin] in rewritten
        start = positions[begin] if rewrite else instruments[code]["start_index"]
        first = start if rewrite else last_exported + 1
        offsets = positions[begin:end] - first
        rows = {name: column[begin:end] for name, column in columns.items()}
        values = _values(rows, offsets, offsets[-1] + 1)
        folder = directory / "features" / _feature_dir(code)
        folder.mkdir(parents=True, exist_ok=True)
        for field in FIELDS:
            path = folder / f"{field}.day.bin"
            if rewrite:
                entry = write_file(path, np.hstack([[start], values[field]]).astype("<f4").tobytes())
            else:
                entry = _append(path, start, last_exported, values[field])
            files[f"features/{folder.name}/{path.name}"] = entry
        known = instruments.get(code, {})
        instruments[code] = {
            "start_index": int(start),
            "first_day": days[begin].isoformat() if rewrite else known["first_day"],
            "last_day": days[end - 1].isoformat(),
            "rows": int(end - begin) + (0 if rewrite else known["rows"]),
            "factors": factors.get(code, "0"),
        }
    return (len(edges) - 1) * len(FIELDS) if len(bars) else 0


def _revised_codes(con, batch: str, previous: dict, instruments: dict) -> set[str]:
    """Codes of `batch` whose already exported days changed since the last export: a value BaoStock
    revised (bar_revisions), or a row that appeared or went. A re-fetch that changed nothing (the
    daily run's trailing window rewrites five days) is not a change, so those codes only append."""
    watermark, last_day = previous["watermark"] or "epoch", previous.get("last_day") or date.max
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


def _bars(con, adjust: str, codes: Iterable[str], after: date) -> pd.DataFrame:
    """The codes' bars after `after`: adjusted prices, raw volume and amount, the factor, the change."""
    frame = con.execute(
        f"""
        SELECT raw.code, raw.trade_date, adj.open, adj.high, adj.low, adj.close, raw.volume::DOUBLE AS volume,
               raw.amount, adj.close / nullif(raw.close, 0) AS factor, raw.pct_chg / 100 AS change,
               raw.trade_status
        FROM daily_bars AS raw JOIN daily_bars_{adjust} AS adj USING (code, trade_date)
        WHERE list_contains(?, raw.code) AND raw.trade_date > ?
        ORDER BY raw.code, raw.trade_date
        """,
        [list(codes), after],
    ).df()
    frame["trade_date"] = frame["trade_date"].dt.date
    return frame


def _values(rows: dict[str, np.ndarray], offsets: np.ndarray, length: int) -> dict[str, np.ndarray]:
    """One NaN-padded float array per field, a value at each row's calendar offset; suspended days NaN."""
    trading = rows["trade_status"] == 1
    arrays = {}
    for field in FIELDS:
        column = rows[field]
        if field == "volume":
            column = column / rows["factor"]  # qlib's adjusted volume: price x volume stays the traded value
        array = np.full(length, np.nan)
        array[offsets[trading]] = column[trading]
        arrays[field] = array
    return arrays


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
        stream.seek(0)
        data = stream.read()
    return manifest_entry(data)


def _feature_dir(code: str) -> str:
    return code.replace(".", "")


def _instruments_text(instruments: dict) -> str:
    return "".join(
        f"{code.replace('.', '').upper()}\t{entry['first_day']}\t{entry['last_day']}\n"
        for code, entry in sorted(instruments.items())
    )


def _days(calendar: list[date]) -> str:
    return "".join(f"{day.isoformat()}\n" for day in calendar)
