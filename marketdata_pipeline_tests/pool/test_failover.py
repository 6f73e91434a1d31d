"""FailoverEndpoints: ordered endpoints, skip the dead ones, probe and come back to the preferred one."""

from __future__ import annotations

import time

import pytest

from marketdata_pipeline.pool import SessionPool, reasons
from marketdata_pipeline.pool.events import EventSink, Failover
from marketdata_pipeline.pool.failover import AllEndpointsDown, FailoverEndpoints
from marketdata_pipeline_tests.pool.fakes import wait_until


class Down(ConnectionError):
    pass


class Refused(Exception):
    """Not the endpoint's fault (like a rejected password)."""


class Session:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.closed = False


class FakeNetwork:
    def __init__(self, *down: str) -> None:
        self.down = set(down)
        self.attempts: list[str] = []
        self.probes: list[str] = []

    def connect(self, endpoint: str) -> Session:
        self.attempts.append(endpoint)
        if endpoint in self.down:
            raise Down(f"{endpoint} refused")
        return Session(endpoint)

    def reachable(self, endpoint: str) -> None:
        self.probes.append(endpoint)
        if endpoint in self.down:
            raise Down(f"{endpoint} still refused")


def make(events=None, retry_after=0.05, endpoints=("a", "b", "c"), network=None):
    return FailoverEndpoints(
        list(endpoints),
        is_endpoint_failure=lambda exc: isinstance(exc, ConnectionError),
        reachable=(network or FakeNetwork()).reachable,
        retry_after=retry_after,
        pool_name="p",
        events=EventSink(events.append if events is not None else None),
    )


def test_first_endpoint_up_is_used():
    endpoints, network = make(), FakeNetwork()
    assert endpoints.open(network.connect).endpoint == "a"
    assert endpoints.current == "a" and endpoints.failovers == 0


def test_dead_endpoint_is_skipped_until_its_retry_time():
    events = []
    endpoints, network = make(events), FakeNetwork("a")
    assert endpoints.open(network.connect).endpoint == "b"
    assert endpoints.open(network.connect).endpoint == "b"
    assert network.attempts == ["a", "b", "b"]
    assert endpoints.failovers == 0  # the first session ever is not a switch
    status = endpoints.status()
    assert status[0]["up"] is False and "Down: a refused" in status[0]["last_error"]


def test_switch_is_counted_and_reported():
    events = []
    endpoints, network = make(events), FakeNetwork()
    endpoints.open(network.connect)
    network.down.add("a")
    assert endpoints.open(network.connect).endpoint == "b"
    assert endpoints.failovers == 1
    assert events == [Failover("p", "a", "b", "a is down (Down: a refused)")]


def test_preferred_endpoint_is_probed_and_sessions_move_back(make_pool):
    events = []
    network = FakeNetwork("a")
    endpoints = make(events, network=network)
    pool = make_pool(factory=lambda: endpoints.open(network.connect), check=None, close=_close, max_size=2)
    on_b = [pool.acquire(), pool.acquire()]
    assert {s.endpoint for s in on_b} == {"b"}
    pool.release(on_b[0])
    endpoints.fail_back(pool)
    assert network.probes == []  # not yet time: a dead endpoint is skipped for retry_after
    time.sleep(0.06)
    endpoints.fail_back(pool)
    endpoints.fail_back(pool)
    assert wait_until(lambda: network.probes == ["a"])  # one probe per period, however many callers
    network.down.clear()
    time.sleep(0.06)
    endpoints.fail_back(pool)
    # Back: the idle session on b is evicted now, the borrowed one when it returns.
    assert wait_until(lambda: on_b[0].closed)
    assert not on_b[1].closed
    pool.release(on_b[1])
    assert on_b[1].closed
    assert pool.stats()["discarded_by_reason"] == {reasons.EVICTED: 2}
    with pool.session() as session:
        assert session.endpoint == "a"
    assert events[-1] == Failover("p", "b", "a", "preferred endpoint is back")


def test_failback_probe_runs_on_the_pools_workers_and_stops_with_it():
    network = FakeNetwork("a")
    endpoints = make(network=network, retry_after=0.01)
    pool = SessionPool(lambda: endpoints.open(network.connect), close=_close, max_size=1)
    with pool.session():
        pass
    time.sleep(0.02)
    pool.close(timeout=1.0)
    endpoints.fail_back(pool)  # after close: the task is refused, no thread is started
    time.sleep(0.02)
    assert network.probes == []


def _close(session: Session) -> None:
    session.closed = True


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

    def refuse(endpoint: str) -> Session:
        raise Refused("bad password")

    with pytest.raises(Refused):
        endpoints.open(refuse)
    assert all(state["up"] for state in endpoints.status())


@pytest.mark.parametrize(("endpoints", "retry"), [((), 1.0), (("a",), 0)])
def test_bad_arguments_are_named(endpoints, retry):
    with pytest.raises(ValueError, match="endpoints|retry_after"):
        make(endpoints=endpoints, retry_after=retry)
