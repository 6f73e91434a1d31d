"""Shared pytest fixtures: simulators on ephemeral loopback ports and the official client pointed at one."""

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
