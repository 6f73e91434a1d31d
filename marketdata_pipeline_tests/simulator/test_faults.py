"""Every injected fault is observable over a real socket."""

from __future__ import annotations

import socket
import time
import zlib

import pytest

from marketdata_pipeline.baostock import frames
from marketdata_pipeline.baostock.errors import ProtocolError
from marketdata_pipeline.simulator import Faults, Simulator
from marketdata_pipeline_tests.simulator.wire import WireClient

K_DATA = ["query_history_k_data_plus", "anonymous", "1", "2000", "sh.600000",
          "date,code,open,close", "2024-01-01", "2024-03-31", "d", "3"]  # fmt: skip
TRADE_DATES = ["query_trade_dates", "anonymous", "1", "2000", "2024-01-01", "2024-03-31"]


def test_drop_closes_the_connection_after_part_of_the_answer(simulator):
    with WireClient(simulator.address) as client:
        client.login()
        simulator.faults.drop_rate = 1.0
        client.send("95", K_DATA)
        partial = client.read_until_closed()
    assert len(partial) > 0
    assert frames.response_end(partial) is None
    assert simulator.stats()["dropped"] == 1


def test_hang_never_answers_but_holds_the_connection(simulator):
    with WireClient(simulator.address, timeout=0.5) as client:
        client.login()
        simulator.faults.hang_rate = 1.0
        client.send("33", TRADE_DATES)
        with pytest.raises(TimeoutError):
            client.sock.recv(1)
    assert simulator.stats()["hung"] == 1


def test_corrupt_compressed_answer_fails_to_inflate(simulator):
    with WireClient(simulator.address) as client:
        client.login()
        simulator.faults.corrupt_rate = 1.0
        client.send("95", K_DATA)
        raw = client.receive_raw()
    _, msg_type, length = frames.parse_header(raw)
    assert msg_type == "96"
    with pytest.raises(zlib.error):
        zlib.decompress(raw[frames.HEADER_LEN : frames.HEADER_LEN + length])
    with pytest.raises(ProtocolError):
        frames.decode_response(raw)


def test_corrupt_uncompressed_answer_has_a_wrong_crc(simulator):
    with WireClient(simulator.address) as client:
        client.login()
        simulator.faults.corrupt_rate = 1.0
        client.send("33", TRADE_DATES)
        with pytest.raises(ProtocolError, match="CRC"):
            frames.decode_response(client.receive_raw())


@pytest.mark.parametrize("code", ["10005001", "10001005", "10002007"])
def test_error_fault_answers_the_given_code(simulator, code):
    with WireClient(simulator.address) as client:
        client.login()
        simulator.faults.error_code = code
        simulator.faults.error_rate = 1.0
        answer = client.call("33", TRADE_DATES)
    assert (answer.msg_type, answer.fields[0]) == ("04", code)


def test_max_logins_refuses_with_10001005_until_a_slot_frees(simulator):
    simulator.faults.max_logins = 2
    first, second, third = (WireClient(simulator.address) for _ in range(3))
    try:
        assert first.login().fields[0] == "0"
        assert second.login().fields[0] == "0"
        assert third.login().fields[:1] == ["10001005"]
        assert second.call("02", ["logout", "anonymous", "20240101000000"]).fields[0] == "0"
        assert third.login().fields[0] == "0"
        first.close()
        deadline = time.monotonic() + 2
        while simulator.stats()["active_logins"] > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert second.login().fields[0] == "0"
    finally:
        for client in (first, second, third):
            client.close()
    stats = simulator.stats()
    assert stats["peak_active_logins"] == 2 and stats["login_refused"] == 1


def test_idle_close_closes_an_idle_connection(simulator):
    simulator.faults.idle_close_s = 0.2
    with WireClient(simulator.address, timeout=3) as client:
        client.login()
        started = time.monotonic()
        assert client.read_until_closed() == b""
        assert 0.15 < time.monotonic() - started < 2.5
    assert simulator.stats()["idle_closed"] == 1


def test_latency_delays_each_answer(simulator):
    simulator.faults.latency_ms = 150
    with WireClient(simulator.address) as client:
        started = time.monotonic()
        client.login()
        assert time.monotonic() - started >= 0.14


def test_faults_are_settable_from_another_thread_while_serving(simulator):
    with WireClient(simulator.address) as client:
        client.login()
        assert client.call("33", TRADE_DATES).msg_type == "34"
        simulator.faults.error_rate = 1.0
        assert client.call("33", TRADE_DATES).msg_type == "04"
        simulator.faults.error_rate = 0.0
        assert client.call("33", TRADE_DATES).msg_type == "34"


def test_fault_sequence_is_reproducible_per_seed():
    def outcomes() -> list[str]:
        with Simulator(seed=5, error_rate=0.5, today=None) as sim, WireClient(sim.address) as client:
            client.login()
            sim.faults.error_rate = 0.5
            return [client.call("33", TRADE_DATES).msg_type for _ in range(30)]

    first = outcomes()
    assert first == outcomes() and {"04", "34"} <= set(first)


@pytest.mark.parametrize(
    "setting, value",
    [("drop_rate", 1.5), ("hang_rate", -0.1), ("latency_ms", -1), ("error_code", "oops"),
     ("max_logins", -1), ("idle_close_s", 0), ("nonsense", 1)],
)  # fmt: skip
def test_bad_fault_values_are_refused_with_the_settings_name(setting, value):
    with pytest.raises((ValueError, AttributeError), match=setting):
        setattr(Faults(), setting, value)


def test_kill_connections_drops_live_clients_and_the_server_keeps_accepting(simulator):
    with WireClient(simulator.address) as client:
        client.login()
        simulator.kill_connections()
        with pytest.raises((ConnectionError, OSError)):
            client.call("33", TRADE_DATES)
    with WireClient(simulator.address) as again:
        assert again.login().fields[0] == "0"


def test_a_hung_connection_is_released_by_stop():
    sim = Simulator(hang_rate=1.0).start()
    client = socket.create_connection(sim.address, timeout=5)
    try:
        client.sendall(frames.encode_request("00", ["login", "anonymous", "123456", "0"]))
        time.sleep(0.1)
        started = time.monotonic()
        sim.stop()
        assert time.monotonic() - started < 2
        assert client.recv(1) == b""
    finally:
        client.close()
