"""Socket-level faults: each test starts a server that misbehaves in one exact way.

After every fault the client raises the typed error, its socket is closed for
good (a transport error) or still usable (an answer error), and the process
holds exactly the file descriptors it held before.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from baostock.common import contants as cons

from marketdata_pipeline.baostock import (
    BadParameterError,
    BaoStockSession,
    BaoStockTimeout,
    ConnectError,
    ConnectionLostError,
    LoginLimitError,
    NotLoggedInError,
    ProtocolError,
    ServerError,
    frames,
)
from marketdata_pipeline_tests.baostock.wire_server import (
    Peer,
    WireServer,
    answer_session,
    error_answer,
    login_answer,
    records,
    trade_dates_answer,
)

TIMEOUT = 1.0  # for the tests that wait for a timeout
PATIENT = 5.0  # for the others: failing fast must not depend on a short timeout
DAYS = [["2024-01-02", "1"], ["2024-01-03", "1"], ["2024-01-04", "1"], ["2024-01-05", "1"]]


def serve(answer_query):
    return WireServer(lambda peer: answer_session(peer, answer_query))


def session_for(server: WireServer, request_timeout: float = PATIENT) -> BaoStockSession:
    return BaoStockSession(server.host, server.port, connect_timeout=2.0, request_timeout=request_timeout)


def assert_broken(session: BaoStockSession) -> None:
    assert session.closed and not session.logged_in
    with pytest.raises(ConnectionLostError, match="closed"):
        session.query_trade_dates("2024-01-02", "2024-01-05")


def trade_dates_answer_bytes() -> bytes:
    """A whole answer to a default query_trade_dates request, as bytes."""
    request = frames.decode_request(
        frames.encode_request(
            cons.MESSAGE_TYPE_QUERYTRADEDATES_REQUEST,
            [
                "query_trade_dates",
                "anonymous",
                "1",
                str(cons.BAOSTOCK_PER_PAGE_COUNT),
                "2024-01-02",
                "2024-01-05",
            ],
        )
    )
    return trade_dates_answer(request, DAYS)


# -- transport faults ----------------------------------------------------------


def test_close_mid_answer_is_connection_lost(fds):
    def handle(peer: Peer) -> None:
        peer.read_request()
        peer.send(login_answer())
        peer.read_request()
        peer.send(trade_dates_answer_bytes()[:40])  # then the handler returns and the socket closes

    with WireServer(handle) as server, session_for(server) as session:
        with pytest.raises(ConnectionLostError, match="after 40 bytes"):
            session.query_trade_dates("2024-01-02", "2024-01-05")
        assert_broken(session)


def test_close_before_answer_is_connection_lost_not_a_spin(fds):
    with serve(lambda request: None) as server, session_for(server) as session:
        started = time.monotonic()
        with pytest.raises(ConnectionLostError, match="after 0 bytes"):
            session.query_trade_dates("2024-01-02", "2024-01-05")
        assert time.monotonic() - started < PATIENT / 2
        assert_broken(session)


def test_never_answering_times_out_within_the_request_timeout(fds):
    peer_hangs = threading.Event()

    def hang(request: frames.Frame) -> None:
        peer_hangs.wait(5)

    with serve(hang) as server, session_for(server, TIMEOUT) as session:
        started = time.monotonic()
        with pytest.raises(BaoStockTimeout) as caught:
            session.query_trade_dates("2024-01-02", "2024-01-05")
        assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT + 1.0
        assert caught.value.code == cons.BSERR_RECVSOCK_TIMEOUT
        assert_broken(session)
        peer_hangs.set()


def test_trickling_answer_times_out_on_the_whole_answer_not_each_read(fds):
    def handle(peer: Peer) -> None:
        peer.read_request()
        peer.send(login_answer())
        peer.read_request()
        for byte in trade_dates_answer_bytes():
            if peer.stopping.wait(0.02):
                return
            peer.send(bytes([byte]))

    with WireServer(handle) as server, session_for(server, TIMEOUT) as session:
        started = time.monotonic()
        with pytest.raises(BaoStockTimeout, match="bytes arrived"):
            session.query_trade_dates("2024-01-02", "2024-01-05")
        assert time.monotonic() - started < TIMEOUT + 1.0
        assert_broken(session)


def test_corrupt_zlib_body_is_a_protocol_error(fds):
    def corrupt(request: frames.Frame) -> bytes:
        good = frames.encode_response(cons.MESSAGE_TYPE_GETKDATAPLUS_RESPONSE, ["0", "success"])
        length = frames.parse_header(good)[2]
        garbage = bytes(range(256))[:length]
        return good[: frames.HEADER_LEN] + garbage + good[frames.HEADER_LEN + length :]

    with serve(corrupt) as server, session_for(server) as session:
        with pytest.raises(ProtocolError, match="does not inflate"):
            session.query_history_k_data_plus("sh.600000", "date,close", "2024-01-02", "2024-01-05")
        assert_broken(session)


def test_bad_header_is_a_protocol_error_at_once(fds):
    with serve(lambda request: b"HTTP/1.1 400 Bad Request\r\n\r\n") as server, session_for(server) as session:
        started = time.monotonic()
        with pytest.raises(ProtocolError, match="bad frame header"):
            session.query_trade_dates("2024-01-02", "2024-01-05")
        assert time.monotonic() - started < PATIENT / 2  # not a wait for the end mark
        assert_broken(session)


def test_bad_crc_on_an_uncompressed_answer_is_a_protocol_error(fds):
    def bad_crc(request: frames.Frame) -> bytes:
        good = trade_dates_answer(request, DAYS)
        head_body, _, crc = good[: -len(frames.END_MARK)].rpartition(b"\x01")
        return head_body + b"\x01" + str(int(crc) ^ 1).encode() + frames.END_MARK

    with serve(bad_crc) as server, session_for(server) as session:
        with pytest.raises(ProtocolError, match="CRC"):
            session.query_trade_dates("2024-01-02", "2024-01-05")
        assert_broken(session)


def test_bytes_after_the_answer_are_a_protocol_error(fds):
    with (
        serve(lambda request: trade_dates_answer(request, DAYS) + b"00.9.00") as server,
        session_for(server) as s,
    ):
        with pytest.raises(ProtocolError, match="after the answer"):
            s.query_trade_dates("2024-01-02", "2024-01-05")
        assert_broken(s)


def test_answer_to_another_method_is_a_protocol_error(fds):
    def wrong_method(request: frames.Frame) -> bytes:
        return frames.encode_response(
            cons.MESSAGE_TYPE_QUERYTRADEDATES_RESPONSE,
            ["0", "success", "query_all_stock", "anonymous", "1", "2000", "", "", "", ""],
        )

    with serve(wrong_method) as server, session_for(server) as session:
        with pytest.raises(ProtocolError, match="names another method"):
            session.query_trade_dates("2024-01-02", "2024-01-05")
        assert_broken(session)


def test_connection_refused_names_the_endpoint_and_the_fix(fds):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = BaoStockSession("127.0.0.1", port, connect_timeout=1.0)
    with pytest.raises(ConnectError, match=rf"127\.0\.0\.1:{port}.*BAOSTOCK_HOST/BAOSTOCK_PORT") as caught:
        session.login()
    assert caught.value.code == cons.BSERR_CONNECT_FAIL
    assert_broken(session)


def test_connection_refused_in_a_with_block_leaves_nothing_open(fds):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectError), BaoStockSession("127.0.0.1", port, connect_timeout=1.0):
        pass


# -- answer errors: the session stays usable ------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (cons.BSERR_CODE_INVALIED, BadParameterError),
        (cons.BSERR_NO_LOGIN, NotLoggedInError),
        (cons.BSERR_START_BIGTHAN_END, BadParameterError),
    ],
)
def test_error_answer_to_a_query_is_typed_and_keeps_the_socket(fds, code, error):
    answers = iter([error_answer(code, "服务器说不"), None])

    def answer(request: frames.Frame) -> bytes:
        return next(answers) or trade_dates_answer(request, DAYS)

    with serve(answer) as server, session_for(server) as session:
        with pytest.raises(error) as caught:
            session.query_adjust_factor("sh.600000", "2024-01-02", "2024-01-05")
        assert (caught.value.code, caught.value.message) == (code, "服务器说不")
        assert not session.closed
        if code == cons.BSERR_NO_LOGIN:
            assert not session.logged_in
            session.login()
        assert len(session.query_trade_dates("2024-01-02", "2024-01-05")) == 4


def test_login_limit_answer_is_a_login_limit_error(fds):
    def handle(peer: Peer) -> None:
        for _ in peer.requests():
            peer.send(error_answer(cons.BSERR_LOGIN_COUNT_LIMIT, "账号登陆数达到上限"))

    with WireServer(handle) as server:
        session = session_for(server)
        with pytest.raises(LoginLimitError) as caught, session:
            pass
        assert caught.value.code == cons.BSERR_LOGIN_COUNT_LIMIT
        assert session.closed  # the with block closed it although login failed


# -- paging --------------------------------------------------------------------


class Pages:
    """Answers query_trade_dates with prepared pages and records the page numbers asked."""

    def __init__(self, *pages: list[list[str]], answered_page: str | None = None):
        self.pages = list(pages)
        self.asked: list[frames.Frame] = []
        self.answered_page = answered_page

    def __call__(self, request: frames.Frame) -> bytes:
        self.asked.append(request)
        rows = self.pages[int(request.fields[2]) - 1]
        return trade_dates_answer(request, rows, page=self.answered_page)


def test_full_pages_are_followed_until_a_short_one(fds):
    pages = Pages(DAYS[:2], DAYS[2:4], DAYS[:1])
    with serve(pages) as server, session_for(server) as session:
        result = session.query_trade_dates("2024-01-02", "2024-01-05", per_page=2)
    assert (len(result), result.pages) == (5, 3)
    assert [request.fields[2] for request in pages.asked] == ["1", "2", "3"]
    bodies = {tuple(request.fields[:2] + request.fields[3:]) for request in pages.asked}
    assert len(bodies) == 1  # the same body each time, only the page changes


def test_an_exact_multiple_ends_with_an_empty_page(fds):
    pages = Pages(DAYS[:2], DAYS[2:4], [])
    with serve(pages) as server, session_for(server) as session:
        result = session.query_trade_dates("2024-01-02", "2024-01-05", per_page=2)
    assert (result.rows, result.pages) == (DAYS, 3)


def test_a_short_page_ends_the_result_like_the_official_client(fds):
    pages = Pages(DAYS[:1], DAYS[1:])  # the server holds more, but a short page means the end
    with serve(pages) as server, session_for(server) as session:
        result = session.query_trade_dates("2024-01-02", "2024-01-05", per_page=2)
    assert (result.rows, result.pages, len(pages.asked)) == (DAYS[:1], 1, 1)


def test_an_oversize_page_is_a_protocol_error_not_a_truncation(fds):
    with serve(Pages(DAYS[:3])) as server, session_for(server) as session:
        with pytest.raises(ProtocolError, match="3 rows on a page of 2"):
            session.query_trade_dates("2024-01-02", "2024-01-05", per_page=2)
        assert_broken(session)


def test_an_answer_for_another_page_is_a_protocol_error(fds):
    with serve(Pages(DAYS[:2], DAYS[2:], answered_page="1")) as server, session_for(server) as session:
        with pytest.raises(ProtocolError, match="answered page 1 when 2 was asked"):
            session.query_trade_dates("2024-01-02", "2024-01-05", per_page=2)
        assert_broken(session)


def test_a_page_size_the_server_did_not_use_is_a_protocol_error(fds):
    """A server that caps pages below per_page would otherwise end the result early, silently."""

    def capped(request: frames.Frame) -> bytes:
        _, user, page, _, start, end = request.fields
        body = ["0", "success", "query_trade_dates", user, page, "1", records(DAYS[:1]), start, end]
        return frames.encode_response(
            cons.MESSAGE_TYPE_QUERYTRADEDATES_RESPONSE, [*body, "calendar_date,is_trading_day"]
        )

    with serve(capped) as server, session_for(server) as session:
        with pytest.raises(ProtocolError, match="per_page 1 when 2 was asked"):
            session.query_trade_dates("2024-01-02", "2024-01-05", per_page=2)
        assert_broken(session)


def test_an_error_answer_on_a_later_page_is_raised_not_dropped(fds):
    def answer(request: frames.Frame) -> bytes:
        if request.fields[2] == "2":
            return error_answer(cons.BSERR_SYSTEM_ERROR, "系统级别错误")
        return trade_dates_answer(request, DAYS[:2])

    with serve(answer) as server, session_for(server) as session:
        with pytest.raises(ServerError) as caught:
            session.query_trade_dates("2024-01-02", "2024-01-05", per_page=2)
        assert caught.value.code == cons.BSERR_SYSTEM_ERROR
        assert not session.closed


@pytest.mark.parametrize(
    ("json_text", "problem"),
    [
        ('{"record": [["2024-01-02", "1", "extra"]]}', "row 0 has 3 values for 2 fields"),
        ('{"record": [["2024-01-02", 1]]}', "not"),
        ('{"rows": []}', "not"),
        ('{"record": [["2024-01-02", "1"]', "not JSON"),
    ],
)
def test_malformed_records_are_a_protocol_error(fds, json_text, problem):
    def answer(request: frames.Frame) -> bytes:
        _, user, page, per_page, start, end = request.fields
        body = ["0", "success", "query_trade_dates", user, page, per_page, json_text, start, end]
        return frames.encode_response(
            cons.MESSAGE_TYPE_QUERYTRADEDATES_RESPONSE, [*body, "calendar_date,is_trading_day"]
        )

    with serve(answer) as server, session_for(server) as session:
        with pytest.raises(ProtocolError, match=problem):
            session.query_trade_dates("2024-01-02", "2024-01-05")
        assert_broken(session)


def test_unpaged_whole_market_answer_is_read_in_one_request(fds):
    rows = [["2024-01-02", f"sz.{index:06d}", "10.0000"] for index in range(3000)]
    asked = []

    def answer(request: frames.Frame) -> bytes:
        asked.append(request)
        body = ["0", "success", "query_daily_history_k_AStock", "anonymous", records(rows), "date,code,close"]
        return frames.encode_response(cons.MESSAGE_TYPE_GETKDaily_D_AStock_RESPONSE, body)

    with serve(answer) as server, session_for(server) as session:
        result = session.query_daily_history_k_AStock("2024-01-02")
    assert (result.rows, result.fields, result.pages) == (rows, ["date", "code", "close"], 1)
    assert [request.fields[2:] for request in asked] == [["2024-01-02"]]
