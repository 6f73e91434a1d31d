"""The simulator answers the captured request frames with frames shaped like the real server's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from marketdata_pipeline.baostock import frames
from marketdata_pipeline_tests.simulator.wire import WireClient

CAPTURES = Path(__file__).parents[1] / "fixtures" / "baostock-wire"
SERVED = [
    "login",
    "query_history_k_data_plus",
    "query_history_k_data_plus_5min",
    "query_history_k_data_plus_60min",
    "query_all_stock",
    "query_trade_dates",
    "query_adjust_factor",
    "query_stock_basic",
    "logout",
]
# the JSON position and the fields position of each answer type (None: no such position)
LAYOUT = {
    "01": (None, None),
    "03": (None, None),
    "96": (6, 8),
    "36": (6, 8),
    "34": (6, 9),
    "16": (6, 10),
    "46": (6, 9),
}
COMPRESSED_TRAILER = re.compile(rb"^\x01\d+\n<!\[CDATA\[\]\]>\n$")
PLAIN_TRAILER = re.compile(rb"\x01\d+<!\[CDATA\[\]\]>\n$")
CALENDAR_DETERMINED = {"query_history_k_data_plus", "query_history_k_data_plus_5min",
                       "query_history_k_data_plus_60min", "query_all_stock", "query_trade_dates",
                       "query_stock_basic"}  # fmt: skip


def captured(name: str) -> tuple[bytes, bytes]:
    folder = CAPTURES / name
    return (folder / "request.bin").read_bytes(), (folder / "response.bin").read_bytes()


def trailer(raw: bytes) -> bytes:
    _, msg_type, length = frames.parse_header(raw)
    return raw[frames.HEADER_LEN + length :] if msg_type in frames.COMPRESSED_TYPES else raw


def records(text: str) -> list[list[str]]:
    return json.loads(text)["record"] if text else []


@pytest.mark.parametrize("name", SERVED)
def test_answer_to_a_captured_request_has_the_captured_structure(shared_simulator, name):
    request, real = captured(name)
    with WireClient(shared_simulator.address) as client:
        if name != "login":
            client.send_raw(captured("login")[0])
            assert frames.decode_response(client.receive_raw()).fields[0] == "0"
        client.send_raw(request)
        ours = client.receive_raw()
    mine, theirs = frames.decode_response(ours), frames.decode_response(real)
    assert (mine.version, mine.msg_type) == (theirs.version, theirs.msg_type) == ("00.9.00", theirs.msg_type)
    assert len(mine.fields) == len(theirs.fields)
    assert mine.fields[:4] == theirs.fields[:4]
    rows_at, fields_at = LAYOUT[theirs.msg_type]
    if fields_at is None:
        assert len(mine.fields[4]) == len(theirs.fields[4]) == 17 and mine.fields[4].isdigit()
    else:
        assert mine.fields[fields_at] == theirs.fields[fields_at]
        assert mine.fields[4:6] == theirs.fields[4:6]
        mine_rows, their_rows = records(mine.fields[rows_at]), records(theirs.fields[rows_at])
        assert all(len(row) == len(their_rows[0]) for row in mine_rows)
        if name in CALENDAR_DETERMINED:
            assert len(mine_rows) == len(their_rows)
            assert [row[0] for row in mine_rows] == [row[0] for row in their_rows]
    pattern = COMPRESSED_TRAILER if theirs.msg_type in frames.COMPRESSED_TYPES else PLAIN_TRAILER
    assert pattern.search(trailer(real)) and pattern.search(trailer(ours))


def test_an_error_answer_is_type_04_with_code_and_message(shared_simulator):
    with WireClient(shared_simulator.address) as client:
        answer = client.call("33", ["query_trade_dates", "anonymous", "1", "10", "2024-01-01", "2024-01-10"])
    assert answer.msg_type == "04"
    assert answer.fields[0] == "10001001" and answer.fields[1]
