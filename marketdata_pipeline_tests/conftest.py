"""Shared pytest fixtures: simulators on ephemeral loopback ports and the official client pointed at one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date

import pytest

from marketdata_pipeline.simulator import Simulator

SIMULATOR_TODAY = date(2024, 12, 31)


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
    """Send the official `baostock` client to host:port; restore its target and close its socket after."""
    import baostock
    from baostock.common import contants as cons
    from baostock.common import context

    saved = cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT
    cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT = host, port
    try:
        yield
    finally:
        sock = getattr(context, "default_socket", None)
        if sock is not None and sock.fileno() != -1:
            with contextlib.suppress(Exception), contextlib.redirect_stdout(None):
                sock.settimeout(2.0)
                baostock.logout()
            sock.close()
        context.default_socket = None
        cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT = saved
