"""`marketdata doctor` against a working, an absent and a blacklisting server, counted at the socket."""

from __future__ import annotations

import socket

import pytest

from marketdata_pipeline.baostock.budget import EndpointLedger
from marketdata_pipeline.baostock.errors import BlacklistedError
from marketdata_pipeline.doctor import run_doctor
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.faults.proxy import CountingProxy


@pytest.fixture
def point_at(monkeypatch, tmp_path):
    def point(address: tuple[str, int]) -> None:
        monkeypatch.delenv("MARKETDATA_SOURCE", raising=False)
        monkeypatch.setenv("BAOSTOCK_HOST", address[0])
        monkeypatch.setenv("BAOSTOCK_PORT", str(address[1]))
        monkeypatch.setenv("BAOSTOCK_STATE_DIR", str(tmp_path))
        monkeypatch.setenv("BAOSTOCK_MAX_REQUESTS_PER_SECOND", "0")

    return point


def test_doctor_checks_the_server_and_prices_the_bootstrap(point_at, tmp_path):
    lines: list[str] = []
    with Simulator(seed=0) as simulator, CountingProxy(simulator.address) as proxy:  # the Shanghai clock
        point_at(proxy.address)
        assert run_doctor(lines.append) == 0, "\n".join(lines)
        sent, endpoint = proxy.requests, f"{proxy.address[0]}:{proxy.address[1]}"
        stats = simulator.stats()
    text = "\n".join(lines)
    checks = (
        "reachable", "login", "published", "latency",
        "whole market, last published day", "whole market, five years",
    )  # fmt: skip
    for check in checks:
        assert f"ok   {check}" in text
    assert "client version accepted" in text and "next full bootstrap" in text
    assert "requests:" in text and "GB of DuckDB" in text and "of the 40,000/day budget" in text
    # One short session: login, the listing's pages (up to 3), 3 pings, calendar, 2 whole-market days, logout.
    assert sent <= 15
    assert (stats["logins"], stats["logouts"], stats["active_connections"]) == (1, 1, 0)
    assert EndpointLedger(tmp_path, endpoint).spent_today() == sent


def test_doctor_names_an_unreachable_server(point_at):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        address = placeholder.getsockname()[:2]
        point_at(address)
        lines: list[str] = []
        assert run_doctor(lines.append) == 1
    assert any(line.startswith("FAIL reachable") and f"127.0.0.1:{address[1]}" in line for line in lines)


def test_doctor_does_not_ask_a_server_during_its_blacklist_cool_down(point_at, tmp_path):
    with Simulator(seed=0) as simulator, CountingProxy(simulator.address) as proxy:
        point_at(proxy.address)
        endpoint = f"{proxy.address[0]}:{proxy.address[1]}"
        EndpointLedger(tmp_path, endpoint).record_stop(BlacklistedError("blacklisted", "10001011"), 3600)
        lines: list[str] = []
        assert run_doctor(lines.append) == 1
        assert proxy.requests == 0
    assert "FAIL cool-down" in "\n".join(lines)
