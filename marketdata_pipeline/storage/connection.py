"""Opening the warehouse file (with backoff while another process holds its lock), write transactions
and what every statement shares: its named parameters, the UTC timestamp it stores."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from marketdata_pipeline.backoff import ExponentialBackoff

_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


class WarehouseLockedError(RuntimeError):
    """The warehouse file stayed locked by another process for longer than the lock timeout."""

    def __init__(self, path: Path, waited: float, pid: int | None, cause: str) -> None:
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"DuckDB file {path} is locked by {holder} (waited {waited:.1f} s). DuckDB allows one "
            f"writing process per file: stop that process or wait for it to finish (a Dagster run, a "
            f"notebook, the duckdb CLI), or raise lock_timeout. DuckDB said: {cause}"
        )
        self.path = path
        self.pid = pid


class WarehousePathError(RuntimeError):
    """The warehouse file cannot be created or written where it is configured."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"cannot use the warehouse file {path}: {problem}. Set MARKETDATA_DUCKDB_PATH to a file in a "
            f"folder this user may write, or create the folder ({path.parent}) and make it writable"
        )
        self.path = path


class WarehouseDamagedError(RuntimeError):
    """The warehouse file exists but DuckDB cannot read it back: truncated, overwritten, not DuckDB."""

    def __init__(self, path: Path, cause: str) -> None:
        super().__init__(
            f"the warehouse file {path} is damaged and was left untouched: {cause}. Restore it from a "
            f"backup, or delete it (and {path.name}.wal next to it, if any) and re-run to rebuild it "
            f"from BaoStock"
        )
        self.path = path


def is_local_file(path: str | Path) -> bool:
    """Whether `path` names a file on this machine (not :memory:, MotherDuck's md: or a URL)."""
    text = str(path)
    return text != ":memory:" and not text.startswith("md:") and "://" not in text


@contextmanager
def open_warehouse(
    path: str | Path, *, read_only: bool = False, lock_timeout: float = 30.0, config: Mapping | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connect to the DuckDB file at `path` (creating its directory), waiting out another process's lock.

    Retries with jittered exponential backoff while the file is locked; after `lock_timeout` seconds
    raises WarehouseLockedError naming the file and the holder's PID. A folder that cannot be created
    or written raises WarehousePathError, a file DuckDB cannot read WarehouseDamagedError. The
    connection is always closed.
    `config` is DuckDB's connection configuration (e.g. the reader's locked-down settings).
    """
    local = is_local_file(path)
    path = Path(path)
    if lock_timeout < 0:
        raise ValueError(f"lock_timeout must be >= 0 seconds, got {lock_timeout}")
    if local:
        _check_path(path, read_only)
    try:
        con = _connect_with_backoff(path, read_only, lock_timeout, dict(config or {}))
    except duckdb.Error as error:
        if local and path.exists():
            raise WarehouseDamagedError(path, str(error)) from error
        raise
    with con:  # closes it
        yield con


def _check_path(path: Path, read_only: bool) -> None:
    """Refuse, naming the path, a folder that cannot be created or a file that cannot be written."""
    if read_only:
        if not path.exists():
            raise WarehousePathError(path, "there is no such file (run the pipeline first to create it)")
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file in the way, no permission, a read-only file system
        raise WarehousePathError(path, f"its folder cannot be created ({error.strerror or error})") from None
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK):
        raise WarehousePathError(path, f"{target} is not writable by this user")


def _connect_with_backoff(
    path: Path, read_only: bool, lock_timeout: float, config: dict
) -> duckdb.DuckDBPyConnection:
    started = time.monotonic()
    delays = ExponentialBackoff(_FIRST_DELAY, _MAX_DELAY).delays()
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as error:
            if "Could not set lock" not in str(error):
                raise
            waited = time.monotonic() - started
            if waited >= lock_timeout:
                raise WarehouseLockedError(path, waited, _holder_pid(str(error)), str(error)) from error
            time.sleep(min(next(delays), lock_timeout - waited))


def _holder_pid(message: str) -> int | None:
    found = _LOCK_HOLDER.search(message)
    return int(found["pid"]) if found else None


@contextmanager
def write_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN; run the block; COMMIT - or ROLLBACK on any error, so a write lands whole or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def bound(sql: str, values: Mapping[str, object]) -> dict[str, object]:
    """The `values` that `sql` binds by name ($name): DuckDB refuses extra ones."""
    return {name: value for name, value in values.items() if f"${name}" in sql}


def utc_now() -> datetime:
    """UTC wall-clock time without a zone, as TIMESTAMP columns store it."""
    return datetime.now(UTC).replace(tzinfo=None)
