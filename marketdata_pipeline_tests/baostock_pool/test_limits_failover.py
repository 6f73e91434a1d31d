"""Login limits shrink the pool instead of hammering the server; endpoints fail over and back."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest

from marketdata_pipeline.baostock import BlacklistedError
from marketdata_pipeline.pool import CapacityLimited, Failover
from marketdata_pipeline.pool.pool import WORKERS
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.baostock_pool.conftest import fetch_day
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pool.fakes import wait_until
from marketdata_pipeline_tests.threads import run_together


def test_login_limit_settles_at_allowed_size_and_keeps_working(simulator, make_pool):
    simulator.faults.max_logins = 2
    events = []
    pool = make_pool([simulator.address], max_size=4, capacity_retry=30.0, on_event=events.append)
    served = []
    errors = []

    def fetch_many() -> None:
        try:
            for _ in range(8):
                with pool.session() as session:
                    served.append(len(fetch_day(session)))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=fetch_many) for _ in range(6)]
    run_together(threads, timeout=10)
    stats = pool.stats()
    assert errors == [] and len(served) == 48
    assert stats["target_size"] == 2 and stats["size"] == 2
    assert stats["capacity_limits"] >= 1 and stats["login_failures"] >= 1
    assert stats["logins"] == 2
    assert simulator.stats()["peak_active_logins"] == 2
    # Refused logins are bounded: one per slot beyond the limit, not a tight loop.
    assert simulator.stats()["login_refused"] <= 2
    assert [e.target_size for e in events if isinstance(e, CapacityLimited)][-1] == 2


@pytest.fixture
def second_simulator():
    with Simulator(seed=0, today=date(2024, 12, 31)) as sim:
        yield sim


def test_failover_to_second_endpoint_and_back(simulator, second_simulator, make_pool):
    events = []
    first, second = simulator.address, second_simulator.address
    pool = make_pool([first, second], max_size=2, failback_probe_s=0.2, on_event=events.append)
    with pool.session() as session:
        fetch_day(session)
    assert pool.stats()["endpoint"] == f"{first[0]}:{first[1]}"

    simulator.stop()
    started = time.monotonic()
    with pool.session() as session:
        assert fetch_day(session)
    assert time.monotonic() - started < 5.0
    stats = pool.stats()
    assert stats["failovers"] == 1 and stats["endpoint"] == f"{second[0]}:{second[1]}"
    assert stats["endpoints"][0]["up"] is False and "ConnectError" in stats["endpoints"][0]["last_error"]

    simulator.start()
    assert wait_until(lambda: _use_and_read_endpoint(pool) == f"{first[0]}:{first[1]}", timeout=5.0)
    assert pool.stats()["failovers"] == 2
    switches = [(e.from_endpoint, e.to_endpoint, e.reason) for e in events if isinstance(e, Failover)]
    assert switches[0][:2] == (f"{first[0]}:{first[1]}", f"{second[0]}:{second[1]}")
    assert "is down" in switches[0][2]
    assert switches[1] == (f"{second[0]}:{second[1]}", f"{first[0]}:{first[1]}", "preferred endpoint is back")
    # Sessions left on the second endpoint were evicted and logged out.
    assert wait_until(lambda: second_simulator.stats()["active_logins"] == 0)


def test_work_continues_through_failover_under_load(simulator, second_simulator, make_pool):
    pool = make_pool([simulator.address, second_simulator.address], max_size=3)
    failures = []
    done = []
    stop = threading.Event()

    def fetch_until_stopped() -> None:
        while not stop.is_set():
            try:
                with pool.session() as session:
                    fetch_day(session)
                    done.append(time.monotonic())
            except Exception as exc:  # a request in flight when the server died
                failures.append((time.monotonic(), exc))

    threads = [threading.Thread(target=fetch_until_stopped) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    killed_at = time.monotonic()
    simulator.stop()
    assert wait_until(lambda: any(t > killed_at + 0.05 for t in done), timeout=5.0)
    stop.set()
    for thread in threads:
        thread.join(5)
    assert len(failures) <= 3  # at most the requests in flight at the kill
    assert pool.stats()["failovers"] == 1


def _use_and_read_endpoint(pool) -> str | None:
    with pool.session() as session:
        fetch_day(session)
        return session.endpoint


def test_blacklist_answer_to_a_login_refuses_the_pool_at_once(simulator, make_pool):
    pool = make_pool([simulator.address], max_size=4)
    simulator.faults.error_code = "10001011"
    simulator.faults.error_rate = 1.0
    started = time.monotonic()
    with pytest.raises(BlacklistedError, match="blacklisted"):
        pool.session(timeout=30.0).__enter__()
    assert time.monotonic() - started < 2.0  # not the 30 s acquire timeout
    simulator.faults.error_rate = 0.0
    for _ in range(3):  # even once the server would answer: no new login, no retry
        with pytest.raises(BlacklistedError):
            pool.session(timeout=3.0).__enter__()
    assert simulator.stats()["requests_by_method"]["login"] == 1
    assert pool.stopped is not None and pool.stats()["login_failures"] == 1


def test_failback_probes_use_the_pools_workers_and_no_thread_or_fd_outlives_close(
    simulator, second_simulator, make_pool
):
    before_fds, before_threads = open_fds(), set(threading.enumerate())
    pool = make_pool([simulator.address, second_simulator.address], max_size=4, failback_probe_s=0.02,
                     name="probed")  # fmt: skip
    simulator.stop()
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # many checkouts while the preferred endpoint is down: many probes
        with pool.session() as session:
            fetch_day(session)
    assert pool.stats()["endpoints"][0]["up"] is False
    # Every creation, retry and probe ran on the pool's fixed workers: no thread per job.
    assert len(_threads_of("probed")) == WORKERS
    pool.close()
    assert _threads_of("probed") == []
    # Nothing else either (the simulator's connection threads end as the sockets close).
    assert wait_until(lambda: set(threading.enumerate()) <= before_threads)
    assert wait_for_fds(before_fds) <= before_fds


def _threads_of(pool_name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{pool_name}-")]
