"""Trust fixtures: an fd-leak guard and a fresh warehouse file per test."""

from __future__ import annotations

import pytest

from marketdata_pipeline.storage import ensure_schema, open_warehouse
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds


@pytest.fixture(autouse=True)
def fds():
    """Fail the test if it leaves a socket or a DuckDB file open."""
    before = open_fds()
    yield
    assert wait_for_fds(before) <= before


@pytest.fixture
def con(tmp_path):
    with open_warehouse(tmp_path / "marketdata.duckdb") as connection:
        ensure_schema(connection)
        yield connection
