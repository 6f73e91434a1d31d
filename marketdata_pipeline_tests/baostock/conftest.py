"""Shared fixtures of the BaoStock client tests."""

from __future__ import annotations

import gc
import warnings

import pytest

from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds


@pytest.fixture
def fds():
    """Fail the test if it leaves a file descriptor open or lets the garbage collector close one.

    Counting alone misses a socket dropped without close(): CPython closes it
    when the last reference goes, with a ResourceWarning, so those count too.
    """
    before = open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    assert wait_for_fds(before) <= before
    unclosed = [str(warning.message) for warning in caught if issubclass(warning.category, ResourceWarning)]
    assert not unclosed, unclosed
