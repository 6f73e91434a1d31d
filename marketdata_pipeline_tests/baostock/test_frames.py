"""The frame codec: request and response frames, their end, and every way a frame can be wrong."""

from __future__ import annotations

import zlib

import pytest
from baostock.common import contants as cons

from marketdata_pipeline.baostock import ProtocolError, frames

TRADE_DATES = cons.MESSAGE_TYPE_QUERYTRADEDATES_RESPONSE
K_DATA = cons.MESSAGE_TYPE_GETKDATAPLUS_RESPONSE


def test_request_length_counts_characters_not_bytes():
    request = frames.encode_request(
        cons.MESSAGE_TYPE_QUERYSTOCKBASIC_REQUEST, ["query_stock_basic", "浦发银行"]
    )
    version, msg_type, length = frames.parse_header(request)
    assert (version, msg_type, length) == (
        cons.BAOSTOCK_CLIENT_VERSION,
        "45",
        len("query_stock_basic\x01浦发银行"),
    )
    assert frames.decode_request(request).fields == ["query_stock_basic", "浦发银行"]
    assert request.endswith(b"\n")


def test_request_crc_is_checked():
    request = frames.encode_request("33", ["query_trade_dates", "anonymous"])
    tampered = request.replace(b"anonymous", b"anonymoux")
    with pytest.raises(ProtocolError, match="CRC"):
        frames.decode_request(tampered)


@pytest.mark.parametrize("msg_type", [TRADE_DATES, K_DATA])
def test_response_round_trip(msg_type):
    fields = ["0", "success", "query", "anonymous", "1", "2000", '{"record":[["上证","1"]]}']
    answer = frames.encode_response(msg_type, fields)
    assert frames.response_end(answer) == len(answer)
    decoded = frames.decode_response(answer)
    assert (decoded.version, decoded.msg_type, decoded.fields) == (frames.SERVER_VERSION, msg_type, fields)


def test_response_end_waits_for_the_whole_frame():
    answer = frames.encode_response(TRADE_DATES, ["0", "success"])
    for cut in (0, 10, frames.HEADER_LEN, len(answer) - 1):
        assert frames.response_end(answer[:cut]) is None
    assert frames.response_end(answer + b"next") == len(answer)


def test_response_end_skips_a_compressed_body_by_its_length():
    """zlib bytes that happen to hold the end mark must not end the frame (the official client's bug)."""
    packed = b"ab" + frames.END_MARK + b"cd"
    header = f"00.9.00\x01{K_DATA}\x01{len(packed):010d}".encode()
    frame = header + packed + b"\x01123\n" + frames.END_MARK
    assert frames.response_end(frame) == len(frame)
    assert frames.response_end(frame[:-1]) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"00.9.00\x0134\x01000000001x" + frames.END_MARK,
        b"00.9.00\x01zz\x010000000001" + frames.END_MARK,
        b"\xff" * 21 + frames.END_MARK,
    ],
)
def test_bad_headers_are_protocol_errors(raw):
    with pytest.raises(ProtocolError, match="bad frame header"):
        frames.response_end(raw)
    with pytest.raises(ProtocolError, match="bad frame header"):
        frames.decode_response(raw)


def test_uncompressed_length_and_crc_are_checked():
    answer = frames.encode_response(TRADE_DATES, ["0", "success", "query_trade_dates"])
    with pytest.raises(ProtocolError, match="header says"):
        frames.decode_response(answer.replace(b"query_trade_dates", b"query_trade_date"))
    with pytest.raises(ProtocolError, match="CRC"):
        frames.decode_response(answer.replace(b"success", b"sucSess"))


def test_compressed_body_must_inflate_and_be_whole():
    answer = frames.encode_response(K_DATA, ["0", "success"])
    length = frames.parse_header(answer)[2]
    corrupt = answer[: frames.HEADER_LEN] + b"\x00" * length + answer[frames.HEADER_LEN + length :]
    with pytest.raises(ProtocolError, match="does not inflate"):
        frames.decode_response(corrupt)
    with pytest.raises(ProtocolError, match="cut or has a bad trailer"):
        frames.decode_response(
            answer[: frames.HEADER_LEN + length - 1] + answer[frames.HEADER_LEN + length :]
        )


def test_compressed_body_must_be_utf8():
    packed = zlib.compress(b"0\x01\xff\xfe")
    frame = f"00.9.00\x01{K_DATA}\x01{len(packed):010d}".encode() + packed + b"\x011\n" + frames.END_MARK
    with pytest.raises(ProtocolError, match="not UTF-8"):
        frames.decode_response(frame)


def test_response_without_end_mark_is_refused():
    answer = frames.encode_response(TRADE_DATES, ["0", "success"])
    with pytest.raises(ProtocolError, match="end mark"):
        frames.decode_response(answer[:-1])
