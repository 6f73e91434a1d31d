"""open_warehouse (directory, backoff on another process's lock, always closed) and write_transaction."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import pytest

from marketdata_pipeline.storage import WarehouseLockedError, open_warehouse, write_transaction
from marketdata_pipeline.storage.connection import WarehouseDamagedError, WarehousePathError
from marketdata_pipeline_tests.fd_count import files_open_under

HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
print("released", flush=True)
time.sleep(60)
"""


def _lock_holder(path, seconds):
    """A process that holds a write connection on `path` for `seconds`; returns once it holds it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline() == "locked\n"
    return holder


@pytest.fixture
def created(db_path):
    with open_warehouse(db_path) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    return db_path


def test_creates_the_directory_and_closes_the_file(db_path):
    with open_warehouse(db_path) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        assert files_open_under(str(db_path))
    assert files_open_under(str(db_path)) == []  # `con` is still referenced: only close() released it
    assert db_path.is_file()


def test_closes_the_file_when_the_block_raises(created):
    with pytest.raises(ZeroDivisionError), open_warehouse(created) as con:
        assert files_open_under(str(created))
        1 / 0  # noqa: B018
    assert files_open_under(str(created)) == []
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")


def test_read_only_sees_data_and_cannot_write(created):
    with open_warehouse(created, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            con.execute("INSERT INTO t VALUES (1)")


def test_other_errors_are_not_retried(tmp_path):
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("not a database")
    started = time.monotonic()
    with pytest.raises(WarehouseDamagedError, match="delete it"), open_warehouse(not_duckdb):
        pass
    assert time.monotonic() - started < 5.0  # a retried error would wait the 30 s lock_timeout
    assert not_duckdb.read_text() == "not a database"


def test_a_missing_file_opened_read_only_names_the_variable(tmp_path):
    missing = tmp_path / "missing.duckdb"
    with pytest.raises(WarehousePathError, match="no such file.*MARKETDATA_DUCKDB_PATH"):
        open_warehouse(missing, read_only=True).__enter__()


def test_a_held_lock_fails_after_the_timeout_naming_file_and_pid(created):
    with _lock_holder(created, 60) as holder:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as raised, open_warehouse(created, lock_timeout=1.0):
            pass
        waited = time.monotonic() - started
        holder.kill()
    assert 1.0 <= waited < 15.0
    message = str(raised.value)
    assert str(created) in message and f"locked by process {holder.pid}" in message
    assert "stop that process" in message and "raise lock_timeout" in message
    assert raised.value.pid == holder.pid


def test_waits_with_backoff_until_the_lock_is_released(created):
    with _lock_holder(created, 0.8) as holder:
        started = time.monotonic()
        with open_warehouse(created, lock_timeout=60.0) as con:
            waited = time.monotonic() - started
            assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
        assert holder.stdout.readline() == "released\n"
        holder.kill()
    assert 0.5 <= waited < 30.0


def test_a_negative_lock_timeout_is_refused(db_path):
    with (
        pytest.raises(ValueError, match="lock_timeout must be >= 0"),
        open_warehouse(db_path, lock_timeout=-1),
    ):
        pass


def test_write_transaction_commits(created):
    with open_warehouse(created) as con:
        with write_transaction(con):
            con.execute("INSERT INTO t VALUES (1), (2)")
        assert con.execute("SELECT sum(x) FROM t").fetchall() == [(3,)]


def test_write_transaction_rolls_back_on_any_error(created):
    with open_warehouse(created) as con:
        with pytest.raises(KeyboardInterrupt), write_transaction(con):
            con.execute("INSERT INTO t VALUES (1)")
            raise KeyboardInterrupt
        with pytest.raises(duckdb.ConversionException), write_transaction(con):
            con.execute("INSERT INTO t VALUES (2)")
            con.execute("INSERT INTO t VALUES ('x')")
        assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
        with write_transaction(con):  # the connection is usable again: no transaction left open
            con.execute("INSERT INTO t VALUES (3)")
    with open_warehouse(created, read_only=True) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [(3,)]
