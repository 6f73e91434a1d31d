"""Fixtures of the fault suite: a simulator whose faults a test may change, and a counting proxy before it.

The other suites may reuse both: `faulty_simulator` is a fresh simulator per
test; `counting_proxy` forwards to it and counts connections and request
frames at the socket, for tests that assert how many requests a fault costs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.conftest import SIMULATOR_TODAY
from marketdata_pipeline_tests.faults.proxy import CountingProxy
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds


@pytest.fixture
def faulty_simulator() -> Iterator[Simulator]:
    """A fresh simulator (seed 0, today 2024-12-31) on a free port, for a test to break."""
    with Simulator(seed=0, today=SIMULATOR_TODAY) as sim:
        yield sim


@pytest.fixture
def counting_proxy(faulty_simulator) -> Iterator[CountingProxy]:
    """A counting TCP proxy in front of `faulty_simulator`; afterwards no fd of it is left open."""
    before = open_fds()
    with CountingProxy(faulty_simulator.address) as proxy:
        yield proxy
    assert wait_for_fds(before) <= before, "the counting proxy left a socket open"
