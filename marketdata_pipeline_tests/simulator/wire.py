"""A minimal raw-socket BaoStock client for simulator tests: frames in, frames out, real timeouts."""

from __future__ import annotations

import socket

from marketdata_pipeline.baostock import frames

USER = "anonymous"


class WireClient:
    """One TCP connection speaking request/response frames; closes on exit."""

    def __init__(self, address: tuple[str, int], timeout: float = 5.0):
        self.sock = socket.create_connection(address, timeout=timeout)

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, msg_type: str, fields: list[str]) -> None:
        self.sock.sendall(frames.encode_request(msg_type, fields))

    def send_raw(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def receive_raw(self) -> bytes:
        """One whole response frame; raises ConnectionError if the server closes first."""
        buffer = bytearray()
        while True:
            end = frames.response_end(buffer)
            if end is not None:
                return bytes(buffer[:end])
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"server closed the connection after {len(buffer)} bytes")
            buffer += chunk

    def call(self, msg_type: str, fields: list[str]) -> frames.Frame:
        self.send(msg_type, fields)
        return frames.decode_response(self.receive_raw())

    def login(self, user: str = USER) -> frames.Frame:
        return self.call("00", ["login", user, "123456", "0"])

    def read_until_closed(self) -> bytes:
        """Everything the server sends until it closes the connection."""
        received = bytearray()
        while chunk := self.sock.recv(65536):
            received += chunk
        return bytes(received)
