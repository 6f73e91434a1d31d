"""FailoverEndpoints: ordered endpoints, skip the dead ones, come back to the preferred one."""

from __future__ import annotations

import time

import pytest

from marketdata_pipeline.pool.events import EventSink, Failover
from marketdata_pipeline.pool.failover import AllEndpointsDown, FailoverEndpoints


class Down(ConnectionError):
    pass


class Refused(Exception):
    """Not the endpoint's fault (like a rejected password)."""


class FakeNetwork:
    def __init__(self, *down: str) -> None:
        self.down = set(down)
        self.attempts: list[str] = []

    def connect(self, endpoint: str) -> str:
        self.attempts.append(endpoint)
        if endpoint in self.down:
            raise Down(f"{endpoint} refused")
        return f"session@{endpoint}"


def make(events=None, retry_after=0.05, endpoints=("a", "b", "c")):
    return FailoverEndpoints(
        list(endpoints),
        is_endpoint_failure=lambda exc: isinstance(exc, ConnectionError),
        retry_after=retry_after,
        pool_name="p",
        events=EventSink(events.append if events is not None else None),
    )


def test_first_endpoint_up_is_used():
    endpoints, network = make(), FakeNetwork()
    assert endpoints.open(network.connect) == (0, "session@a")
    assert endpoints.current == "a" and endpoints.failovers == 0


def test_dead_endpoint_is_skipped_until_its_retry_time():
    events = []
    endpoints, network = make(events), FakeNetwork("a")
    assert endpoints.open(network.connect) == (1, "session@b")
    assert endpoints.open(network.connect) == (1, "session@b")
    assert network.attempts == ["a", "b", "b"]
    assert endpoints.failovers == 0  # the first session ever is not a switch
    status = endpoints.status()
    assert status[0]["up"] is False and "Down: a refused" in status[0]["last_error"]


def test_switch_is_counted_and_reported():
    events = []
    endpoints, network = make(events), FakeNetwork()
    endpoints.open(network.connect)
    network.down.add("a")
    assert endpoints.open(network.connect) == (1, "session@b")
    assert endpoints.failovers == 1
    assert events == [Failover("p", "a", "b", "a is down (Down: a refused)")]


def test_preferred_endpoint_is_probed_and_used_again():
    events = []
    endpoints, network = make(events), FakeNetwork("a")
    endpoints.open(network.connect)
    assert endpoints.due_probe() is None  # not yet time
    time.sleep(0.06)
    index = endpoints.due_probe()
    assert index == 0 and endpoints.due_probe() is None  # one probe per period
    network.down.clear()
    assert endpoints.probe(index, network.connect)
    assert endpoints.open(network.connect) == (0, "session@a")
    assert events[-1] == Failover("p", "b", "a", "preferred endpoint is back")
    assert endpoints.is_preferred(0) and endpoints.is_preferred(1) is False


def test_every_endpoint_down_names_each_error():
    endpoints, network = make(), FakeNetwork("a", "b", "c")
    with pytest.raises(AllEndpointsDown, match=r"a \(Down: a refused\); b .*; c ") as caught:
        endpoints.open(network.connect)
    assert isinstance(caught.value.__cause__, Down)
    # All marked down: the next open still tries them all rather than failing untried.
    with pytest.raises(AllEndpointsDown):
        endpoints.open(network.connect)
    assert network.attempts == ["a", "b", "c", "a", "b", "c"]


def test_error_that_is_not_the_endpoints_fault_propagates_at_once():
    endpoints = make()

    def refuse(endpoint: str) -> str:
        raise Refused("bad password")

    with pytest.raises(Refused):
        endpoints.open(refuse)
    assert all(state["up"] for state in endpoints.status())


@pytest.mark.parametrize(("endpoints", "retry"), [((), 1.0), (("a",), 0)])
def test_bad_arguments_are_named(endpoints, retry):
    with pytest.raises(ValueError, match="endpoints|retry_after"):
        make(endpoints=endpoints, retry_after=retry)
