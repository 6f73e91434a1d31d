"""point_official_client_at: targets the official client, logs it out, restores it, never hangs."""

from __future__ import annotations

import contextlib
import io
import time

import baostock as bs
from baostock.common import contants as cons
from baostock.common import context

from marketdata_pipeline_tests.conftest import point_official_client_at
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds


def test_logs_out_closes_the_socket_and_restores_the_target(simulator):
    before, target = open_fds(), (cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT)
    with point_official_client_at(*simulator.address), contextlib.redirect_stdout(io.StringIO()):
        assert simulator.address == (cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT)
        assert bs.login().error_code == "0"
    assert target == (cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT)
    assert context.default_socket is None
    assert simulator.stats()["logouts"] == 1
    assert wait_for_fds(before) <= before


def test_does_not_hang_when_the_server_dropped_the_connection(simulator):
    with point_official_client_at(*simulator.address), contextlib.redirect_stdout(io.StringIO()):
        assert bs.login().error_code == "0"
        simulator.kill_connections()
        started = time.monotonic()
    assert time.monotonic() - started < 3
