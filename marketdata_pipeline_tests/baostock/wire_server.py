"""A tiny BaoStock-speaking TCP server for tests: one thread per connection, one handler per test.

Modelled on urllib3's socket-level tests: each test hands the server a
function that receives the connection and misbehaves in one exact way.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from baostock.common import contants as cons

from marketdata_pipeline.baostock import frames

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "baostock-wire"
USER = "anonymous"


class Peer:
    """The server's side of one client connection: read request frames, send answers."""

    def __init__(self, conn: socket.socket, stopping: threading.Event):
        self.conn = conn
        self.stopping = stopping
        self._buffer = b""

    def read_request(self) -> bytes | None:
        """The next whole request frame (ending in newline), or None when the client closed."""
        while b"\n" not in self._buffer:
            try:
                chunk = self.conn.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self._buffer += chunk
        frame, _, self._buffer = self._buffer.partition(b"\n")
        return frame + b"\n"

    def requests(self) -> Iterator[frames.Frame]:
        """Decoded request frames until the client goes away."""
        while (raw := self.read_request()) is not None:
            yield frames.decode_request(raw)

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def hang(self) -> None:
        """Never answer: wait until the server stops (the client must time out first)."""
        self.stopping.wait(10)


class WireServer:
    """Listen on 127.0.0.1 (ephemeral port) and run `handle(peer)` for each connection in a thread."""

    def __init__(self, handle: Callable[[Peer], None]):
        self._handle = handle
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.host, self.port = self._listener.getsockname()[:2]
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.errors: list[BaseException] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def __enter__(self) -> WireServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._conns.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._handle(Peer(conn, self._stopping))
        except OSError:
            pass  # the client went away mid-answer: that is what many tests do on purpose
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test through .errors
            self.errors.append(exc)
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop accepting, wake handlers, close every socket and join every thread."""
        self._stopping.set()
        self._acceptor.join(2)
        self._listener.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(2)


# -- answers -----------------------------------------------------------------


def login_answer(user: str = USER) -> bytes:
    return frames.encode_response(
        cons.MESSAGE_TYPE_LOGIN_RESPONSE, ["0", "success", "login", user, "20240102093000000"]
    )


def logout_answer(user: str = USER) -> bytes:
    return frames.encode_response(
        cons.MESSAGE_TYPE_LOGOUT_RESPONSE, ["0", "success", "logout", user, "20240102093000000"]
    )


def error_answer(code: str, message: str) -> bytes:
    return frames.encode_response(cons.MESSAGE_TYPE_EXCEPTIONS, [code, message])


def records(rows: list[list[str]]) -> str:
    return json.dumps({"record": rows}, ensure_ascii=False, separators=(",", ":")) if rows else ""


def trade_dates_answer(request: frames.Frame, rows: list[list[str]], page: str | None = None) -> bytes:
    """A type-34 answer to `request` (a query_trade_dates frame) holding `rows`."""
    _, user, asked_page, per_page, start, end = request.fields
    body = ["0", "success", "query_trade_dates", user, page or asked_page, per_page, records(rows)]
    return frames.encode_response(
        cons.MESSAGE_TYPE_QUERYTRADEDATES_RESPONSE, [*body, start, end, "calendar_date, is_trading_day"]
    )


def answer_session(peer: Peer, answer_query: Callable[[frames.Frame], bytes | None]) -> None:
    """Answer login and logout like the server; hand every other request to `answer_query`.

    `answer_query` returns the bytes to send, or None to stop serving (the
    handler has already misbehaved, e.g. sent half an answer).
    """
    for request in peer.requests():
        if request.msg_type == cons.MESSAGE_TYPE_LOGIN_REQUEST:
            peer.send(login_answer(request.fields[1]))
        elif request.msg_type == cons.MESSAGE_TYPE_LOGOUT_REQUEST:
            peer.send(logout_answer(request.fields[1]))
        else:
            answer = answer_query(request)
            if answer is None:
                return
            peer.send(answer)
