"""`marketdata query` and the Python reader can only read the warehouse (issue 13, item 7).

Each statement that would reach outside the warehouse - read a file, write one,
install or load an extension from the network, attach another database, undo
the lock-down - is refused, through `Warehouse.sql` and through the command.
"""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from marketdata_pipeline import Warehouse
from marketdata_pipeline.cli import main

OUTSIDE = {
    "read a file": "SELECT * FROM read_text('/etc/shadow')",
    "read a csv": "SELECT * FROM read_csv('/etc/passwd')",
    "copy to a file": "COPY (SELECT 1) TO '{tmp}/copied.csv'",
    "export the database": "EXPORT DATABASE '{tmp}/exported'",
    "install from the network": "INSTALL httpfs FROM 'http://127.0.0.1:9/extensions'",
    "load an extension": "LOAD httpfs",
    "attach another file": "ATTACH '{tmp}/other.duckdb' AS other",
    "turn external access back on": "SET enable_external_access = true",
    "unlock the configuration": "SET lock_configuration = false",
    "reset external access": "RESET enable_external_access",
    "write to the warehouse": "CREATE TABLE planted AS SELECT 1 AS x",
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("read_only") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE daily_bars AS SELECT DATE '2024-01-02' AS trade_date, 'sh.600000' AS code")
    return path


@pytest.mark.parametrize("statement", OUTSIDE.values(), ids=OUTSIDE.keys())
def test_the_reader_refuses(warehouse, tmp_path, statement):
    with pytest.raises(duckdb.Error):
        Warehouse(warehouse).sql(statement.format(tmp=tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("statement", OUTSIDE.values(), ids=OUTSIDE.keys())
def test_the_query_command_refuses_in_one_line(warehouse, tmp_path, statement, capsys):
    assert main(["query", "--db", str(warehouse), statement.format(tmp=tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_the_real_command_prints_no_traceback_and_exits_1(warehouse):
    done = subprocess.run(
        [sys.executable, "-m", "marketdata_pipeline.cli", "query", "--db", str(warehouse),
         "SELECT * FROM read_text('/etc/shadow')"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "file system operations are disabled" in done.stderr
    assert done.stdout == ""
