"""Session lifecycle, state, requests on the wire and use from many threads, over real sockets."""

from __future__ import annotations

import socket
import threading
import time

import pandas as pd
import pytest
from baostock.common import contants as cons

from marketdata_pipeline.baostock import (
    BadParameterError,
    BaoStockError,
    BaoStockSession,
    ConnectionLostError,
    NotLoggedInError,
    ProtocolError,
    ResultSet,
    frames,
    validation,
)
from marketdata_pipeline_tests.baostock.wire_server import (
    Peer,
    WireServer,
    answer_session,
    login_answer,
    records,
    trade_dates_answer,
)
from marketdata_pipeline_tests.threads import run_together

DAYS = [["2024-01-02", "1"], ["2024-01-03", "1"]]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Recorder:
    """Answers like the server and records every request frame it saw, login and logout included."""

    def __init__(self, rows: list[list[str]] = DAYS):
        self.rows = rows
        self.requests: list[frames.Frame] = []
        self._lock = threading.Lock()

    def __call__(self, peer: Peer) -> None:
        answer_session(_RecordingPeer(peer, self), self.answer)

    def answer(self, request: frames.Frame) -> bytes:
        if request.msg_type == cons.MESSAGE_TYPE_GETKDATAPLUS_REQUEST:
            _, user, page, per_page, code, fields, start, end, frequency, flag = request.fields
            body = ["0", "success", request.fields[0], user, page, per_page, "", code, fields, start, end]
            return frames.encode_response(cons.MESSAGE_TYPE_GETKDATAPLUS_RESPONSE, [*body, frequency, flag])
        return trade_dates_answer(request, self.rows)

    def record(self, request: frames.Frame) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def methods(self) -> list[str]:
        return [request.fields[0] for request in self.requests]


class _RecordingPeer:
    def __init__(self, peer: Peer, recorder: Recorder):
        self._peer, self._recorder = peer, recorder

    def requests(self):
        for request in self._peer.requests():
            self._recorder.record(request)
            yield request

    def send(self, data: bytes) -> None:
        self._peer.send(data)


def api_key(role: str = "AB", payload: str = "x" * 27) -> str:
    checksum = ALPHABET[sum(ALPHABET.index(char) for char in role + payload) % 62]
    return f"bs-{role}{payload}{checksum}"


# -- lifecycle -------------------------------------------------------------------


def test_with_block_logs_in_queries_logs_out_and_closes(fds):
    recorder = Recorder()
    with WireServer(recorder) as server:
        before = time.monotonic()
        with BaoStockSession(server.host, server.port) as session:
            assert session.logged_in and not session.closed
            assert before <= session.connected_at <= session.logged_in_at <= time.monotonic()
            result = session.query_trade_dates("2024-01-02", "2024-01-03")
            assert session.requests == 2
        assert session.closed and not session.logged_in
        assert session.requests == 3
    assert recorder.methods == ["login", "query_trade_dates", "logout"]
    assert result.rows == DAYS and result.fields == ["calendar_date", "is_trading_day"]
    login, _, logout = recorder.requests
    assert login.fields == ["login", "anonymous", "123456", "0"]
    assert logout.fields[:2] == ["logout", "anonymous"] and len(logout.fields[2]) == 14


def test_login_sends_user_password_and_api_key(fds):
    recorder = Recorder()
    key = api_key()
    with (
        WireServer(recorder) as server,
        BaoStockSession(server.host, server.port, user="alice", password="s3cret", api_key=key),
    ):
        pass
    assert recorder.requests[0].fields == ["login", "alice", "s3cret", key]


def test_an_api_key_sends_the_public_host_to_the_vip_host():
    port = cons.BAOSTOCK_SERVER_PORT
    assert BaoStockSession(api_key=api_key()).endpoint == f"{cons.BAOSTOCK_VIP_SERVER_IP}:{port}"
    assert BaoStockSession().endpoint == f"{cons.BAOSTOCK_SERVER_IP}:{port}"
    assert BaoStockSession("127.0.0.1", 4000, api_key=api_key()).endpoint == "127.0.0.1:4000"


@pytest.mark.parametrize(
    "key", ["bs-short", api_key()[:-1] + "#", "xx" + api_key()[2:], api_key()[:-1] + "Z"]
)
def test_a_malformed_api_key_is_refused_before_connecting(key):
    with pytest.raises(BadParameterError, match="BAOSTOCK_API_KEY") as caught:
        BaoStockSession(api_key=key)
    assert caught.value.code == cons.BSERR_APIKey_FORMAT_INCORRECT


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"port": 0}, ValueError, "BAOSTOCK_PORT"),
        ({"port": "10030"}, ValueError, "BAOSTOCK_PORT"),
        ({"connect_timeout": 0}, ValueError, "connect_timeout"),
        ({"request_timeout": -1.0}, ValueError, "request_timeout"),
        ({"user": ""}, BadParameterError, "BAOSTOCK_USER"),
        ({"password": ""}, BadParameterError, "BAOSTOCK_PASSWORD"),
    ],
)
def test_bad_session_settings_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        BaoStockSession(**kwargs)


def test_a_query_before_login_is_refused_without_sending(fds):
    recorder = Recorder()
    with WireServer(recorder) as server:
        session = BaoStockSession(server.host, server.port)
        with pytest.raises(NotLoggedInError, match="login"):
            session.query_trade_dates("2024-01-02", "2024-01-03")
        session.connect()
        with pytest.raises(NotLoggedInError):
            session.query_trade_dates("2024-01-02", "2024-01-03")
        session.close()
    assert recorder.requests == [] and session.requests == 0


def test_bad_parameters_never_reach_the_server(fds):
    recorder = Recorder()
    with WireServer(recorder) as server, BaoStockSession(server.host, server.port) as session:
        with pytest.raises(BadParameterError, match="600000"):
            session.query_history_k_data_plus("600000", "date,close")
        with pytest.raises(BadParameterError, match="2024-02-30"):
            session.query_trade_dates("2024-02-30")
    assert recorder.methods == ["login", "logout"]


def test_close_is_idempotent_and_final(fds):
    with WireServer(Recorder()) as server:
        session = BaoStockSession(server.host, server.port)
        session.login()
        session.close()
        session.close()
        assert session.logout() is False
        with pytest.raises(ConnectionLostError, match="closed by close"):
            session.connect()
        with pytest.raises(ConnectionLostError, match="open a new session"):
            session.query_trade_dates("2024-01-02", "2024-01-03")


def test_logout_is_best_effort_and_bounded(fds):
    def handle(peer: Peer) -> None:
        peer.read_request()
        peer.send(login_answer())
        peer.read_request()
        peer.hang()

    with WireServer(handle) as server, BaoStockSession(server.host, server.port) as session:
        started = time.monotonic()
        assert session.logout(timeout=0.2) is False
        assert time.monotonic() - started < 1.2
        assert session.closed  # the timeout broke the socket


def test_close_from_another_thread_wakes_a_blocked_query(fds):
    def handle(peer: Peer) -> None:
        peer.read_request()
        peer.send(login_answer())
        peer.read_request()
        peer.hang()

    with (
        WireServer(handle) as server,
        BaoStockSession(server.host, server.port, request_timeout=10) as session,
    ):
        threading.Timer(0.1, session.close).start()
        started = time.monotonic()
        with pytest.raises(ConnectionLostError):
            session.query_trade_dates("2024-01-02", "2024-01-03")
        assert time.monotonic() - started < 2.0


def test_one_session_used_by_two_threads_at_once_is_refused(fds):
    entered = threading.Event()

    def handle(peer: Peer) -> None:
        peer.read_request()
        peer.send(login_answer())
        request = frames.decode_request(peer.read_request())
        entered.set()
        peer.stopping.wait(0.3)
        peer.send(trade_dates_answer(request, DAYS))
        answer_session(peer, lambda request: trade_dates_answer(request, DAYS))

    with WireServer(handle) as server, BaoStockSession(server.host, server.port) as session:
        worker = threading.Thread(target=session.query_trade_dates, args=("2024-01-02", "2024-01-03"))
        worker.start()
        assert entered.wait(2)
        with pytest.raises(RuntimeError, match="two threads"):
            session.query_trade_dates("2024-01-02", "2024-01-03")
        worker.join(2)
        assert len(session.query_trade_dates("2024-01-02", "2024-01-03")) == 2


def test_ping_asks_for_today_only(fds):
    recorder = Recorder()
    with WireServer(recorder) as server, BaoStockSession(server.host, server.port) as session:
        assert session.ping() >= 0
    today = validation.today()
    assert recorder.requests[1].fields[0] == "query_trade_dates"
    assert recorder.requests[1].fields[4:] == [today, today]


def test_k_data_request_carries_the_normalised_code_and_fields(fds):
    recorder = Recorder()
    with WireServer(recorder) as server, BaoStockSession(server.host, server.port) as session:
        result = session.query_history_k_data_plus(
            "600000.SH", "date, code ,close", "2024-01-02", "2024-01-05", "w", "1", per_page=500
        )
    assert len(result) == 0 and result.fields == ["date", "code", "close"]
    _, user, page, per_page, code, fields, start, end, frequency, flag = recorder.requests[1].fields
    assert (page, per_page, code, fields) == ("1", "500", "sh.600000", "date,code,close")
    assert (start, end, frequency, flag) == ("2024-01-02", "2024-01-05", "w", "1")


def test_defaults_are_the_official_ones(fds):
    recorder = Recorder()
    with WireServer(recorder) as server, BaoStockSession(server.host, server.port) as session:
        session.query_trade_dates()
        session.query_history_k_data_plus("sz.000001", "date,close")
    trade_dates, k_data = recorder.requests[1:3]
    today = validation.today()
    assert trade_dates.fields[2:] == ["1", str(cons.BAOSTOCK_PER_PAGE_COUNT), cons.DEFAULT_START_DATE, today]
    assert k_data.fields[6:] == [cons.DEFAULT_START_DATE, today, "d", "3"]


# -- results ---------------------------------------------------------------------


def test_result_set_is_a_sequence_of_rows_and_a_dataframe():
    result = ResultSet("query_trade_dates", ["calendar_date", "is_trading_day"], [["2024-01-02", "1"]])
    assert len(result) == 1 and list(result) == [["2024-01-02", "1"]]
    frame = result.to_dataframe()
    assert list(frame.columns) == ["calendar_date", "is_trading_day"]
    assert all(pd.api.types.is_object_dtype(dtype) for dtype in frame.dtypes)
    assert frame.iloc[0].tolist() == ["2024-01-02", "1"]
    empty = ResultSet("query_all_stock", ["code"], []).to_dataframe()
    assert isinstance(empty, pd.DataFrame) and list(empty.columns) == ["code"] and empty.empty


# -- many threads ----------------------------------------------------------------


def test_eight_threads_with_their_own_sessions_never_cross_talk(fds):
    def echo(request: frames.Frame) -> bytes:
        # every answer names the range its own request asked for
        _, user, page, per_page, start, end = request.fields
        body = ["0", "success", "query_trade_dates", user, page, per_page, records([[start, end, user]])]
        return frames.encode_response(
            cons.MESSAGE_TYPE_QUERYTRADEDATES_RESPONSE, [*body, start, end, "start,end,user"]
        )

    failures: list[BaseException] = []

    def work(server: WireServer, worker: int) -> None:
        try:
            with BaoStockSession(server.host, server.port, user=f"user{worker}") as session:
                for day in range(1, 29):
                    start, end = f"2024-0{worker + 1}-{day:02d}", f"2024-0{worker + 1}-28"
                    assert session.query_trade_dates(start, end).rows == [[start, end, f"user{worker}"]]
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    with WireServer(lambda peer: answer_session(peer, echo)) as server:
        threads = [threading.Thread(target=work, args=(server, worker)) for worker in range(8)]
        run_together(threads, timeout=10)
        assert not server.errors
    assert not failures, failures


# -- idle socket check -----------------------------------------------------------


def idle_server(fault, logged_in: threading.Event) -> WireServer:
    """Logs in, waits until the test says the login is done, then does `fault(peer)` and serves on."""

    def handle(peer: Peer) -> None:
        peer.read_request()
        peer.send(login_answer())
        logged_in.wait(2)
        fault(peer)
        answer_session(peer, lambda request: None)

    return WireServer(handle)


def first_check_error(session: BaoStockSession) -> BaoStockError:
    """Call check_socket until the fault the server made reaches the socket (2 s at most)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            session.check_socket()
        except BaoStockError as exc:
            return exc
        time.sleep(0.01)
    raise AssertionError("check_socket never saw the fault")


def test_check_socket_passes_a_healthy_idle_session(fds):
    logged_in = threading.Event()
    with (
        idle_server(lambda peer: None, logged_in) as server,
        BaoStockSession(server.host, server.port) as session,
    ):
        logged_in.set()
        session.check_socket()
        assert not session.closed and session.requests == 1


def test_check_socket_sees_the_server_hang_up_and_closes_the_session(fds):
    logged_in = threading.Event()
    hang_up = idle_server(lambda peer: peer.conn.shutdown(socket.SHUT_RDWR), logged_in)
    with hang_up as server, BaoStockSession(server.host, server.port) as session:
        logged_in.set()
        error = first_check_error(session)
        assert isinstance(error, ConnectionLostError) and "closed the connection of an idle" in str(error)
        assert session.closed


def test_check_socket_refuses_unasked_bytes(fds):
    logged_in = threading.Event()
    chatter = idle_server(lambda peer: peer.send(b"00.9.00"), logged_in)
    with chatter as server, BaoStockSession(server.host, server.port) as session:
        logged_in.set()
        error = first_check_error(session)
        assert isinstance(error, ProtocolError) and "nobody asked for" in str(error)
        assert session.closed


def test_check_socket_on_a_closed_session_says_so():
    session = BaoStockSession("127.0.0.1", 9)
    session.close()
    with pytest.raises(ConnectionLostError, match="closed"):
        session.check_socket()
