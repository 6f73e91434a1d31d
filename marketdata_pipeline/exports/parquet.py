"""`marketdata export parquet`: the bars as a hive-partitioned Parquet dataset (year/month), plus the factors.

Layout under DIR: `daily_bars/year=YYYY/month=MM/data.parquet` (the raw bars of
that month, every warehouse column), `adjust_factors/data.parquet` and
`manifest.json` (data version, last day, rows, SHA-256 of every file). Each
file is written beside its place and renamed over it, so a reader never sees a
half-written file. After the first export only months whose rows changed (row
count or latest `ingested_at`) and changed factors are written again, so the
daily run rewrites the current month only.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from marketdata_pipeline.exports.files import (
    ExportSummary,
    file_entry,
    previous_export,
    replacing,
    summary,
    write_manifest,
)
from marketdata_pipeline.storage import open_warehouse

FORMAT = "marketdata-parquet/1"
FACTORS_FILE = "adjust_factors/data.parquet"
# Order-independent fingerprint of a table's contents, so a revised factor is noticed.
_FACTORS_FINGERPRINT = "SELECT count(*), coalesce(bit_xor(hash(f)), 0)::VARCHAR FROM adjust_factors AS f"


def export_parquet(
    db_path: str | Path, directory: str | Path, *, lock_timeout: float = 60.0
) -> ExportSummary:
    """Bring the Parquet dataset under `directory` up to date with the warehouse at `db_path`."""
    directory = Path(directory)
    previous = previous_export(directory, FORMAT) or {"partitions": {}, "files": {}, "data_version": 0}
    with open_warehouse(db_path, read_only=True, lock_timeout=lock_timeout) as con:
        months = {
            f"{year:04d}-{month:02d}": {"rows": rows, "ingested": str(ingested)}
            for year, month, rows, ingested in con.execute(
                "SELECT year(trade_date), month(trade_date), count(*), max(ingested_at) "
                "FROM daily_bars GROUP BY ALL"
            ).fetchall()
        }
        rows, factors_print = con.execute(_FACTORS_FINGERPRINT).fetchone()
        (last_day,) = con.execute("SELECT max(trade_date) FROM daily_bars").fetchone()
        (days,) = con.execute("SELECT count(DISTINCT trade_date) FROM daily_bars").fetchone()
    files = dict(previous["files"])
    written = 0
    for month, fingerprint in sorted(months.items()):
        if previous["partitions"].get(month) != fingerprint:
            files[_month_file(month)] = _write_month(db_path, directory, month, lock_timeout)
            written += 1
    for month in set(previous["partitions"]) - set(months):
        (directory / _month_file(month)).unlink(missing_ok=True)
        files.pop(_month_file(month), None)
    factors = {"rows": rows, "hash": factors_print}
    if previous.get("factors") != factors or FACTORS_FILE not in files:
        files[FACTORS_FILE] = _write(
            db_path, directory / FACTORS_FILE,
            "SELECT * FROM adjust_factors ORDER BY code, divid_operate_date",
            [], lock_timeout,
        )  # fmt: skip
        written += 1
    manifest = {
        "format": FORMAT,
        "data_version": previous["data_version"] + (1 if written else 0),
        "last_day": last_day.isoformat() if isinstance(last_day, date) else None,
        "rows": sum(month["rows"] for month in months.values()),
        "days": days,
        "partitions": months,
        "factors": factors,
        "files": files,
    }
    if written or manifest != previous:
        write_manifest(directory, manifest)
    return summary(directory, manifest, written)


def _month_file(month: str) -> str:
    year, number = month.split("-")
    return f"daily_bars/year={year}/month={number}/data.parquet"


def _write_month(db_path, directory: Path, month: str, lock_timeout: float) -> dict:
    year, number = (int(part) for part in month.split("-"))
    return _write(
        db_path, directory / _month_file(month),
        "SELECT * FROM daily_bars WHERE year(trade_date) = ? AND month(trade_date) = ? "
        "ORDER BY trade_date, code",
        [year, number], lock_timeout,
    )  # fmt: skip


def _write(db_path, path: Path, query: str, parameters: list, lock_timeout: float) -> dict:
    """COPY `query` to `path` atomically, on its own short read-only connection (writers wait one file)."""
    reading = open_warehouse(db_path, read_only=True, lock_timeout=lock_timeout)
    with replacing(path) as temporary, reading as con:
        (rows,) = con.execute(
            f"COPY ({query}) TO '{_quoted(temporary)}' (FORMAT parquet, COMPRESSION zstd)", parameters
        ).fetchone()
    return {"rows": rows, **file_entry(path)}


def _quoted(path: Path) -> str:
    # COPY takes its target as a literal, not a parameter: escape the quote character.
    return str(path).replace("'", "''")
