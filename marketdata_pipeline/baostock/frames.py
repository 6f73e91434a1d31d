"""The BaoStock frame codec, shared by the wire client and the simulator.

Request:  header + body + "\\x01" + crc32(header + body) + "\\n"
Response: header + body + "\\x01" + crc + "<![CDATA[]]>\\n"; for compressed
types the body is a zlib stream of the length in the header and the trailer is
"\\x01" + crc + "\\n<![CDATA[]]>\\n". Header: version, type, 10-digit length.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from baostock.common import contants as cons

from marketdata_pipeline.baostock.errors import ProtocolError

SEP = cons.MESSAGE_SPLIT
HEADER_LEN = cons.MESSAGE_HEADER_LENGTH
LENGTH_DIGITS = cons.MESSAGE_HEADER_BODYLENGTH
CLIENT_VERSION = cons.BAOSTOCK_CLIENT_VERSION
SERVER_VERSION = "00.9.00"
END_MARK = b"<![CDATA[]]>\n"
COMPRESSED_TYPES = frozenset(cons.COMPRESSED_MESSAGE_TYPE_TUPLE)
ERROR_TYPE = cons.MESSAGE_TYPE_EXCEPTIONS

_HEADER_RE = re.compile(rb"\d\d\.\d\.\d\d\x01[0-9A-F]{2}\x01\d{10}")  # HEADER_LEN bytes, ASCII


@dataclass(frozen=True)
class Frame:
    """A decoded frame: header version and type, body split on the separator."""

    version: str
    msg_type: str
    fields: list[str]


def _header(version: str, msg_type: str, length: int) -> str:
    return f"{version}{SEP}{msg_type}{SEP}{length:0{LENGTH_DIGITS}d}"


def _crc(text: str) -> str:
    return str(zlib.crc32(text.encode("utf-8")))


def parse_header(raw: bytes) -> tuple[str, str, int]:
    """Split a 21-byte header into (version, type, length) or raise ProtocolError."""
    if not _HEADER_RE.match(raw):
        raise ProtocolError(f"bad frame header {raw[:HEADER_LEN]!r}")
    version, msg_type, length = raw[:HEADER_LEN].decode("ascii").split(SEP)
    return version, msg_type, int(length)


def encode_request(msg_type: str, fields: list[str]) -> bytes:
    """Build a request frame exactly as the official client does (length in characters)."""
    body = SEP.join(fields)
    head_body = _header(CLIENT_VERSION, msg_type, len(body)) + body
    return f"{head_body}{SEP}{_crc(head_body)}\n".encode()


def decode_request(frame: bytes) -> Frame:
    """Parse one request frame (with or without its final newline), checking length and CRC."""
    version, msg_type, length = parse_header(frame)
    head_body, _, crc = frame.rstrip(b"\n").rpartition(SEP.encode())
    return Frame(version, msg_type, _checked_body(head_body, crc, length, "request"))


def encode_response(msg_type: str, fields: list[str]) -> bytes:
    """Build a response frame the way the real server does (see the captured frames)."""
    body = SEP.join(fields)
    if msg_type in COMPRESSED_TYPES:
        # Level 1: compression is the simulator's largest cost per k-data answer (about 2.3x
        # cheaper than the default level here); any zlib stream inflates the same for clients.
        packed = zlib.compress(body.encode("utf-8"), 1)
        header = _header(SERVER_VERSION, msg_type, len(packed))
        crc = _crc(header + body)
        return header.encode("ascii") + packed + f"{SEP}{crc}\n".encode("ascii") + END_MARK
    head_body = _header(SERVER_VERSION, msg_type, len(body)) + body
    return f"{head_body}{SEP}{_crc(head_body)}".encode() + END_MARK


def response_end(buffer: bytes | bytearray) -> int | None:
    """Where the first complete response in `buffer` ends, or None while more bytes are needed.

    A compressed body is skipped by its length, so zlib bytes that happen to
    contain the end mark cannot cut it short (the official client has that bug).
    """
    if len(buffer) < HEADER_LEN:
        return None
    _, msg_type, length = parse_header(bytes(buffer[:HEADER_LEN]))
    start = HEADER_LEN + length if msg_type in COMPRESSED_TYPES else HEADER_LEN
    end = buffer.find(END_MARK, start)
    return None if end < 0 else end + len(END_MARK)


def decode_response(frame: bytes) -> Frame:
    """Parse one complete response frame into its body fields (trailer removed).

    Raises ProtocolError on a bad header, a zlib error, bad UTF-8, a missing
    trailer or, for uncompressed answers, a CRC mismatch.
    """
    version, msg_type, length = parse_header(frame)
    if not frame.endswith(END_MARK):
        raise ProtocolError("response does not end with the end mark")
    if msg_type in COMPRESSED_TYPES:
        return Frame(version, msg_type, _decode_compressed(frame, length).split(SEP))
    head_body, _, crc = frame[: -len(END_MARK)].rpartition(SEP.encode())
    return Frame(version, msg_type, _checked_body(head_body, crc, length, "response"))


def _checked_body(head_body: bytes, crc: bytes, length: int, what: str) -> list[str]:
    """An uncompressed frame's body fields, its length (in characters) and CRC checked."""
    try:
        body = head_body[HEADER_LEN:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{what} is not UTF-8") from exc
    if len(body) != length:
        raise ProtocolError(f"{what} body is {len(body)} characters, header says {length}")
    # The separator is one byte that UTF-8 never uses inside a character, so the
    # CRC can be checked on the received bytes without encoding the text again.
    if crc != str(zlib.crc32(head_body)).encode():
        raise ProtocolError(f"{what} CRC {crc!r} does not match its body")
    return body.split(SEP)


def _decode_compressed(frame: bytes, length: int) -> str:
    packed = frame[HEADER_LEN : HEADER_LEN + length]
    trailer = frame[HEADER_LEN + length : -len(END_MARK)]
    if len(packed) != length or not re.fullmatch(rb"\x01\d+\n", trailer):
        raise ProtocolError(f"compressed response is cut or has a bad trailer {trailer[:40]!r}")
    try:
        return zlib.decompress(packed).decode("utf-8")
    except zlib.error as exc:
        raise ProtocolError(f"compressed response body does not inflate: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ProtocolError("compressed response body is not UTF-8") from exc
