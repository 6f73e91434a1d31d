"""Golden conformance against frames captured from the real BaoStock server.

Every captured answer parses to the fields and rows the official client saw
(meta.txt), and for the same call the client sends the captured request byte
for byte, once the client version, the CRC and logout's timestamp are
normalised (the captures come from client 00.9.10 with 10000 rows a page).
"""

from __future__ import annotations

import ast
import re

import pytest
from baostock.common import contants as cons

from marketdata_pipeline.baostock import BaoStockSession, frames
from marketdata_pipeline.baostock.results import parse_page
from marketdata_pipeline_tests.baostock.wire_server import FIXTURES, Peer, WireServer

PER_PAGE = 10000
K_DAILY = "date,code,open,high,low,close,preclose,volume,amount,adjustflag,turn,tradestatus,pctChg,isST"
K_MINUTE = "date,time,code,open,high,low,close,volume,amount,adjustflag"

# The call that produced each capture, in the official client's terms.
CALLS = {
    "login": lambda session: None,
    "logout": lambda session: session.logout(),
    "query_adjust_factor": lambda s: s.query_adjust_factor(
        "sh.600000", "2023-01-01", "2023-12-31", per_page=PER_PAGE
    ),
    "query_all_stock": lambda s: s.query_all_stock("2024-01-02", per_page=PER_PAGE),
    "query_history_k_data_plus": lambda s: s.query_history_k_data_plus(
        "sh.600000", K_DAILY, "2024-01-01", "2024-01-31", "d", "2", per_page=PER_PAGE
    ),
    "query_history_k_data_plus_5min": lambda s: s.query_history_k_data_plus(
        "sh.600000", K_MINUTE, "2024-01-02", "2024-01-03", "5", "2", per_page=PER_PAGE
    ),
    "query_history_k_data_plus_60min": lambda s: s.query_history_k_data_plus(
        "sh.600000", K_MINUTE, "2024-01-02", "2024-01-03", "60", "2", per_page=PER_PAGE
    ),
    "query_hs300_stocks": lambda s: s.query_hs300_stocks(per_page=PER_PAGE),
    "query_stock_basic": lambda s: s.query_stock_basic("sh.600000", per_page=PER_PAGE),
    "query_sz50_stocks": lambda s: s.query_sz50_stocks(per_page=PER_PAGE),
    "query_trade_dates": lambda s: s.query_trade_dates("2024-01-01", "2024-01-10", per_page=PER_PAGE),
    "query_zz500_stocks": lambda s: s.query_zz500_stocks(per_page=PER_PAGE),
}
CAPTURES = sorted(path.name for path in FIXTURES.iterdir() if path.is_dir())
QUERY_CAPTURES = [name for name in CAPTURES if name.startswith("query_")]


def read_meta(name: str) -> dict[str, object]:
    meta: dict[str, object] = {}
    for line in (FIXTURES / name / "meta.txt").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        meta[key] = ast.literal_eval(value) if key in ("fields", "rows", "first_row") else value
    return meta


def normalised(request: bytes) -> bytes:
    """The request without its version, its CRC and logout's timestamp."""
    head_body = request.rstrip(b"\n").rpartition(b"\x01")[0]
    return re.sub(rb"^(\x0102\x01\d{10}logout\x01[^\x01]*\x01)\d{14}$", rb"\1<stamp>", head_body[7:])


class Replay:
    """Answers each request with the captured answer of its type and records the request bytes."""

    def __init__(self, capture: str):
        self.answers = {
            cons.MESSAGE_TYPE_LOGIN_REQUEST: (FIXTURES / "login" / "response.bin").read_bytes(),
            cons.MESSAGE_TYPE_LOGOUT_REQUEST: (FIXTURES / "logout" / "response.bin").read_bytes(),
        }
        request = (FIXTURES / capture / "request.bin").read_bytes()
        self.answers[frames.parse_header(request)[1]] = (FIXTURES / capture / "response.bin").read_bytes()
        self.requests: list[bytes] = []

    def __call__(self, peer: Peer) -> None:
        while (request := peer.read_request()) is not None:
            self.requests.append(request)
            peer.send(self.answers[frames.parse_header(request)[1]])


def test_every_capture_has_a_call():
    assert set(CAPTURES) == set(CALLS)


@pytest.mark.parametrize("capture", QUERY_CAPTURES)
def test_captured_answer_parses_to_the_official_fields_and_rows(capture):
    meta = read_meta(capture)
    page = parse_page(frames.decode_response((FIXTURES / capture / "response.bin").read_bytes()))
    assert page.fields == meta["fields"]
    assert len(page.rows) == meta["rows"]
    if "first_row" in meta:
        assert page.rows[0] == meta["first_row"]


@pytest.mark.parametrize("capture", ["login", "logout"])
def test_captured_login_and_logout_answers_are_successes(capture):
    answer = frames.decode_response((FIXTURES / capture / "response.bin").read_bytes())
    assert answer.fields[:4] == ["0", "success", capture, "anonymous"]
    assert read_meta(capture)["rows"] == 0


@pytest.mark.parametrize("capture", CAPTURES)
def test_client_sends_the_captured_request_and_reads_the_captured_answer(fds, capture):
    replay = Replay(capture)
    with WireServer(replay) as server, BaoStockSession(server.host, server.port) as session:
        result = CALLS[capture](session)
        expected = (FIXTURES / capture / "request.bin").read_bytes()
        sent = replay.requests[0] if capture == "login" else replay.requests[1]
    assert sent.startswith(cons.BAOSTOCK_CLIENT_VERSION.encode())
    frames.decode_request(sent)  # our own length and CRC are right
    assert normalised(sent) == normalised(expected)
    if capture.startswith("query_"):
        meta = read_meta(capture)
        assert (result.fields, len(result), result.pages) == (meta["fields"], meta["rows"], 1)
    assert not server.errors


def test_normalising_keeps_everything_but_version_crc_and_stamp():
    login = (FIXTURES / "login" / "request.bin").read_bytes()
    other_user = login.replace(b"anonymous", b"anonymoux")
    assert normalised(login) != normalised(other_user)
    logout = (FIXTURES / "logout" / "request.bin").read_bytes()
    assert normalised(logout).endswith(b"logout\x01anonymous\x01<stamp>")


def test_all_stock_keeps_values_exactly_as_sent():
    page = parse_page(frames.decode_response((FIXTURES / "query_all_stock" / "response.bin").read_bytes()))
    names = {row[2] for row in page.rows}
    # the official client deletes every space of the JSON and would read "(ECPIESG)"
    assert "中证财通中国可持续发展100(ECPI ESG)指数" in names
    assert sum(code.startswith("sh.") for code, _, _ in page.rows) > 2000


def test_k_data_keeps_the_last_character_the_official_client_drops():
    answer = frames.decode_response((FIXTURES / "query_history_k_data_plus" / "response.bin").read_bytes())
    assert answer.fields[-1] == "2"  # adjustflag echo, eaten by the official [21:-1]
