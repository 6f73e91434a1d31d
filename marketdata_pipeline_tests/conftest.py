"""Shared pytest fixtures (simulators on ephemeral loopback ports, the official client pointed at one), and
how `make test` spreads the suite over worker processes (pytest-xdist).

A unit of work is a test file, so a module- or session-scoped fixture is built
once for it as in a serial run; a package whose files share one expensive
package-scoped fixture (the ops suite's `dagster dev`) is one unit. Units
holding slow tests go first: they mostly wait on subprocesses, sockets and
Dagster's daemons, and the short units then fill the gaps at the end instead
of leaving one worker alone with a long one.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from datetime import date, datetime

import pytest

from marketdata_pipeline.baostock import frames
from marketdata_pipeline.simulator import Simulator

SIMULATOR_TODAY = date(2024, 12, 31)
LOGOUT_TIMEOUT_S = 2.0


# Packages whose test files share a package-scoped fixture too costly to build on two workers.
SHARED_SETUP_PACKAGES = ("marketdata_pipeline_tests/ops/",)


def work_unit(nodeid: str) -> str:
    """The unit of work of a test: its file, or its package if listed in SHARED_SETUP_PACKAGES."""
    path = nodeid.split("::", 1)[0]
    return next((package for package in SHARED_SETUP_PACKAGES if path.startswith(package)), path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadscope` over `work_unit`s. Not `--dist loadgroup` with `xdist_group` marks: on
    pytest 9.2 those are silently ignored (pytest-xdist issue #1386)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, the units holding a slow test first (stable: file order kept otherwise);
    `make test` passes --no-loadscope-reorder so the scheduler hands them out in this order."""
    if not hasattr(config, "workerinput"):  # a serial run, or xdist's controller (which never collects)
        return
    slow = {work_unit(item.nodeid) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: work_unit(item.nodeid) not in slow)


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A fresh simulator (seed 0, today 2024-12-31) on a free port; tests may change its faults."""
    with Simulator(seed=0, today=SIMULATOR_TODAY) as sim:
        yield sim


@pytest.fixture(scope="session")
def shared_simulator() -> Iterator[Simulator]:
    """One simulator for the whole session (seed 0, today 2024-12-31). Never change its faults."""
    with Simulator(seed=0, today=SIMULATOR_TODAY) as sim:
        yield sim


@contextlib.contextmanager
def point_official_client_at(host: str, port: int) -> Iterator[None]:
    """Send the official `baostock` client to host:port; after, log it out, close its socket, restore.

    The logout is sent here rather than through `baostock.logout()`, whose receive
    loop spins forever if the server has closed the connection.
    """
    from baostock.common import contants as cons
    from baostock.common import context

    saved = cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT
    cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT = host, port
    try:
        yield
    finally:
        sock = getattr(context, "default_socket", None)
        if sock is not None and sock.fileno() != -1:
            with contextlib.suppress(OSError):
                _log_out(sock, getattr(context, "user_id", "anonymous"))
            sock.close()
        context.default_socket = None
        cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT = saved


def _log_out(sock: socket.socket, user: str) -> None:
    """Send a logout on the official client's socket and read its answer, never waiting forever."""
    sock.settimeout(LOGOUT_TIMEOUT_S)
    stamp = datetime.now().strftime("%Y%m%d%H%M%S")
    sock.sendall(frames.encode_request("02", ["logout", user, stamp]))
    buffer = bytearray()
    while frames.response_end(buffer) is None:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buffer += chunk
