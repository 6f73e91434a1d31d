"""The commands that read the warehouse: `marketdata query`, `status` and `export`.

Each says what it waits for (a writer holding the file) and turns DuckDB's and
the reader's errors into one line on stderr and exit status 1, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from marketdata_pipeline.reader import reading_connection
from marketdata_pipeline.storage import WarehouseLockedError
from marketdata_pipeline.storage.connection import WarehouseDamagedError, WarehousePathError

SHOWN_ROWS = 50


def run(args: argparse.Namespace) -> int:
    """Run `query`, `status` or `export`; 0 on success, 1 with a one-line error otherwise."""
    from marketdata_pipeline.defs.settings import load_settings

    path = args.db or Path(load_settings().duckdb_path)
    try:
        if args.command == "query":
            return _query(path, args)
        if args.command == "status":
            return _status(path, args.lock_timeout)
        return _export(path, args)
    except duckdb.Error as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
    # A missing warehouse (WarehouseMissingError) is an OSError.
    except (WarehouseLockedError, WarehouseDamagedError, WarehousePathError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
    return 1


def one_line(error: duckdb.Error) -> str:
    """DuckDB's message without the echoed statement: its first line, and its hint if it has one."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    hints = [line for line in lines[1:] if line.startswith(("Did you mean", "HINT", "Candidate"))]
    return " ".join(lines[:1] + hints)


def announce_writer(path: Path, lock_timeout: float) -> None:
    """If a writer holds the warehouse now, say so on stderr before waiting for it (never silently)."""
    try:
        with reading_connection(path, lock_timeout=0.0):
            return
    except WarehouseLockedError as error:
        holder = f"process {error.pid}" if error.pid else "another process"
        print(
            f"waiting up to {lock_timeout:.0f} s for {holder}, which is writing to {path} ...",
            file=sys.stderr, flush=True,
        )  # fmt: skip


def waiting_connection(path: Path, lock_timeout: float):
    """A locked-down read-only connection, announcing the wait when a writer holds the file."""
    announce_writer(path, lock_timeout)
    return reading_connection(path, lock_timeout=lock_timeout)


def _query(path: Path, args: argparse.Namespace) -> int:
    if args.format == "parquet" and args.out is None:
        raise ValueError("--format parquet needs --out FILE")
    with waiting_connection(path, args.lock_timeout) as con:
        relation = con.sql(args.sql)
        if relation is None:
            return 0  # a statement without a result (SET, PRAGMA ...)
        if args.format == "table" and args.out is None:
            relation.show(max_rows=sys.maxsize if args.all else SHOWN_ROWS, max_width=sys.maxsize)
            return 0
        result = relation.df()
    _write_result(result, args.format if args.format != "table" else "csv", args.out)
    return 0


def _write_result(result, file_format: str, out: Path | None) -> None:
    """Write the result with a private in-memory DuckDB: the query's own connection cannot write files."""
    if out is None:
        result.to_csv(sys.stdout, index=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as writer:
        writer.register("result", result)
        target = str(out).replace("'", "''")
        writer.execute(f"COPY result TO '{target}' (FORMAT {file_format})")
    print(f"{len(result)} rows written to {out}", file=sys.stderr)


def _status(path: Path, lock_timeout: float) -> int:
    from marketdata_pipeline.market_calendar import latest_published_day
    from marketdata_pipeline.status import status_lines

    print(f"warehouse: {path.resolve()}")
    with waiting_connection(path, lock_timeout) as con:
        lines = status_lines(con, latest_published_day())
    print("\n".join(lines))
    return 0


def _export(path: Path, args: argparse.Namespace) -> int:
    from marketdata_pipeline.exports import export_parquet, export_qlib

    announce_writer(path, args.lock_timeout)
    if args.format == "parquet":
        summary = export_parquet(path, args.to, lock_timeout=args.lock_timeout)
    else:
        summary = export_qlib(path, args.to, adjust=args.adjust, lock_timeout=args.lock_timeout)
    print(
        f"{args.format} export in {summary.directory}: {summary.rows} rows, {summary.days} days through "
        f"{summary.last_day}, {summary.bytes / 1e6:.1f} MB, {summary.files_written} files written, "
        f"data version {summary.data_version}"
    )
    return 0
