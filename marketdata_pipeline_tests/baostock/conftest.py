"""Shared fixtures of the BaoStock client tests."""

from __future__ import annotations

import pytest

from marketdata_pipeline_tests.fd_count import no_leaked_fds


@pytest.fixture
def fds():
    """Fail the test if it leaves a file descriptor open or lets the garbage collector close one."""
    with no_leaked_fds():
        yield
