"""Failback faults: a preferred endpoint that accepts TCP but does not serve, and one that says stop.

Logins are counted at the socket (the counting proxy in front of the backup endpoint).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from marketdata_pipeline.baostock import BlacklistedError
from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.baostock_pool.conftest import fetch_day
from marketdata_pipeline_tests.conftest import SIMULATOR_TODAY
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.threads import run_together

TIMINGS = {"failback_probe_s": 0.1, "page_timeout": 0.3, "connect_timeout": 0.5, "request_timeout": 1.0}


@pytest.fixture
def silent_endpoint():
    """Accepts connections (the kernel's backlog) and never answers: a server hanging at start-up."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield listener.getsockname()[:2]


def test_an_endpoint_that_accepts_but_never_answers_does_not_pull_sessions_back(
    silent_endpoint, counting_proxy
):
    before = open_fds()
    with BaoStockPool([silent_endpoint, counting_proxy.address], max_size=2, **TIMINGS) as pool:
        served, stop = [], time.monotonic() + 1.5

        def fetch_until_stop() -> None:
            while time.monotonic() < stop:
                with pool.session() as session:
                    served.append(len(fetch_day(session)))

        threads = [threading.Thread(target=fetch_until_stop) for _ in range(2)]
        run_together(threads, timeout=5)
        stats = pool.stats()
    # ~15 probe periods: each one login attempt on the silent endpoint (on a worker), none here.
    assert counting_proxy.requests_by_method()["login"] == 2
    assert stats["discarded_by_reason"] == {} and stats["endpoints"][0]["up"] is False
    assert len(served) > 50  # the borrowers never waited for a login timeout
    assert wait_for_fds(before) <= before


def test_a_stop_answer_to_a_failback_probe_stops_the_pool(counting_proxy):
    with Simulator(seed=0, today=SIMULATOR_TODAY) as preferred:
        address = preferred.address
        preferred.stop()
        with BaoStockPool([address, counting_proxy.address], max_size=2, **TIMINGS) as pool:
            with pool.session() as session:
                fetch_day(session)
            preferred.faults.error_code, preferred.faults.error_rate = "10001011", 1.0  # blacklisted
            preferred.start()
            time.sleep(0.15)
            with pool.session() as session:  # this checkout queues the probe
                fetch_day(session)
            with pytest.raises(BlacklistedError):
                deadline = time.monotonic() + 3.0
                while time.monotonic() < deadline:
                    with pool.session(timeout=0.5) as session:
                        fetch_day(session)
                    time.sleep(0.02)
            assert pool.stopped is not None
        assert preferred.stats()["requests_by_method"]["login"] == 1  # one probe, then no more asking
