"""The warehouse file's integrity check before a run fetches anything.

The file reads back whole, it is this project's, and it holds data of the run's
source (the simulator or the real BaoStock server), which it records.

DuckDB checksums every block and verifies a block when it reads it, so a
scan of every column of every table finds a truncated, zeroed or overwritten
file; the scan runs read-only, so a damaged file is never written to. Only
then is the file opened to write: the schema, the source record, a
checkpoint (a crash's WAL is folded into the file now, not mid-run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from marketdata_pipeline.storage.connection import (
    WarehouseDamagedError,
    is_local_file,
    open_warehouse,
    write_transaction,
)
from marketdata_pipeline.storage.schema import TABLES, ensure_schema

_SOURCE_TABLE = """
CREATE TABLE IF NOT EXISTS warehouse_source (
    source VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL
)
"""


class WarehouseSourceError(RuntimeError):
    """The warehouse holds data of another source than the run's (simulator data in a real warehouse)."""

    def __init__(self, path: str | Path, recorded: str, source: str) -> None:
        super().__init__(
            f"the warehouse {path} holds {recorded} data and this run reads {source}: synthetic and "
            f"real bars never share a file. Point MARKETDATA_DUCKDB_PATH at a warehouse of {source} "
            f"(unset, it is data/marketdata.duckdb for baostock, data/demo.duckdb for the simulator), "
            f"or set MARKETDATA_SOURCE={recorded} if this file is the one you meant"
        )
        self.recorded = recorded


@dataclass(frozen=True)
class WarehouseCheck:
    """What the check found: the file's recorded source, rows read back, and the time it took."""

    source: str
    rows: int
    seconds: float
    created: bool
    adopted: bool
    """The file held data but no source record (it predates them): it is recorded as the run's now."""


def check_warehouse(path: str | Path, source: str, *, lock_timeout: float = 30.0) -> WarehouseCheck:
    """Verify the warehouse at `path` before a run of `source` (baostock or simulator, as the
    resource's setting allows) uses it, then make it ready to write.

    Raises WarehouseDamagedError (the file does not read back, or is another program's DuckDB
    file), WarehouseSourceError (it holds the other source's data) or WarehousePathError (its
    folder cannot be written); in each case the file is not written.
    """
    started = time.monotonic()
    local = is_local_file(path)
    existed = not local or Path(path).exists()
    # A shared warehouse (MotherDuck) checks its own storage: scanning it would download it.
    rows, recorded = _read_back(path, lock_timeout, scan=local) if existed else (0, None)
    if recorded is not None and recorded != source:
        raise WarehouseSourceError(path, recorded, source)
    with open_warehouse(path, lock_timeout=lock_timeout) as con:
        ensure_schema(con)
        con.execute(_SOURCE_TABLE)
        with write_transaction(con):
            if con.execute("SELECT count(*) FROM warehouse_source").fetchone()[0] == 0:
                con.execute("INSERT INTO warehouse_source VALUES (?, now())", [source])
        con.execute("CHECKPOINT")
    return WarehouseCheck(
        recorded or source,
        rows,
        time.monotonic() - started,
        created=not existed,
        adopted=existed and recorded is None and rows > 0,
    )


def _read_back(path: str | Path, lock_timeout: float, *, scan: bool) -> tuple[int, str | None]:
    """Rows read back from every table (every block checksummed) and the recorded source, read-only."""
    with open_warehouse(path, read_only=True, lock_timeout=lock_timeout) as con:
        con.execute("SET enable_progress_bar = false")  # a long scan would draw one into the run's stdout
        try:
            tables = [name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
            if tables and not set(tables) & set(TABLES):
                raise WarehouseDamagedError(
                    Path(path), f"it is a DuckDB file of another program (tables {sorted(tables)[:5]})"
                )
            rows = sum(_scan(con, table) for table in tables) if scan else 0
            recorded = None
            if "warehouse_source" in tables:
                found = con.execute("SELECT min(source), max(source) FROM warehouse_source").fetchone()
                if found[0] != found[1]:
                    raise WarehouseDamagedError(
                        Path(path), f"it records two sources, {found[0]} and {found[1]}"
                    )
                recorded = found[0]
        except duckdb.Error as error:
            raise WarehouseDamagedError(Path(path), str(error)) from error
    return rows, recorded


def _scan(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Read every column of `table` (a hash of each value, so no column is skipped); its row count."""
    return con.execute(f'SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM "{table}"').fetchone()[0]
