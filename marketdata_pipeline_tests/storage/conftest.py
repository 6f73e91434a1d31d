"""Shared fixtures of the warehouse tests: an fd-leak guard and a fresh warehouse file."""

from __future__ import annotations

import pytest

from marketdata_pipeline.storage import ensure_schema, open_warehouse
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds


@pytest.fixture(autouse=True)
def fds():
    """Fail the test if it leaves a file descriptor (a DuckDB file, its WAL, a pipe) open.

    No gc.collect() first, on purpose: a connection only the garbage collector would close counts as a leak.
    """
    before = open_fds()
    yield
    # <=, not ==: an fd an earlier test's server thread still held may close meanwhile.
    assert wait_for_fds(before) <= before


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "warehouse" / "marketdata.duckdb"


@pytest.fixture
def con(db_path):
    """A connection to a fresh warehouse with its schema."""
    with open_warehouse(db_path) as connection:
        ensure_schema(connection)
        yield connection
