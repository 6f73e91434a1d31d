"""A server error (10005001) on whole-or-nothing reference data is retried; a lasting one stops after 3 tries.

The proxy answers exactly the next `query_all_stock` itself with 10005001, as
the real server sometimes does: on an empty warehouse, `daily_bars` must fetch
the day's universe first, and that one answer used to fail the whole run.
"""

from __future__ import annotations

from marketdata_pipeline.ingest.calls import REFERENCE_DATA_RETRY
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pipeline.runs import (
    materialize_daily_bars,
    resources_for,
    step_failure_message,
)

PARTITION = "b03|2024-01-02"
SYSTEM_ERROR = "10005001"


def test_one_server_error_on_the_universe_is_retried_and_the_run_succeeds(counting_proxy, tmp_path):
    counting_proxy.fail_next("query_all_stock", SYSTEM_ERROR)
    fds = open_fds()

    result = materialize_daily_bars(resources_for(counting_proxy.address, tmp_path / "w.duckdb"), PARTITION)

    assert result.success, step_failure_message(result)
    assert counting_proxy.pending_failures() == 0, "the error was answered (and the run got past it)"
    assert wait_for_fds(fds) <= fds


def test_a_lasting_server_error_fails_the_run_after_three_tries_naming_it(counting_proxy, tmp_path):
    counting_proxy.fail_next("query_all_stock", SYSTEM_ERROR, times=100)

    result = materialize_daily_bars(resources_for(counting_proxy.address, tmp_path / "w.duckdb"), PARTITION)

    assert not result.success
    assert SYSTEM_ERROR in step_failure_message(result)
    assert counting_proxy.requests_by_method()["query_all_stock"] == REFERENCE_DATA_RETRY.attempts
