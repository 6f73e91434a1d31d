"""Socket I/O of a BaoStock session: connect, one frame out, one whole answer in under a deadline, idle check.

Knows sockets and frame boundaries, not logins or queries (`session.py`).
Every operation is bounded: connect by its timeout, a request and its answer
by one shared deadline. Errors are the typed transport errors, each naming
the endpoint.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time

from baostock.common import contants as cons

from marketdata_pipeline.baostock import frames
from marketdata_pipeline.baostock.errors import (
    BaoStockTimeout,
    ConnectError,
    ConnectionLostError,
    ProtocolError,
)

_RECV_BYTES = 65536
_ENDPOINT_HINT = "check BAOSTOCK_HOST/BAOSTOCK_PORT and that the server is up"


def connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP socket to host:port within `timeout`; BaoStockTimeout or ConnectError (naming the fix)."""
    endpoint = f"{host}:{port}"
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as exc:
        raise BaoStockTimeout(
            f"connecting to {endpoint} took over {timeout}s; {_ENDPOINT_HINT}",
            cons.BSERR_CONNECT_TIMEOUT,
        ) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConnectError(f"cannot connect to {endpoint}: {reason}; {_ENDPOINT_HINT}") from exc


def send(sock: socket.socket, endpoint: str, request: bytes, deadline: float, timeout: float) -> None:
    """Send one whole request frame before `deadline` (`timeout` is its length, for the message)."""
    sock.settimeout(_remaining(endpoint, deadline, timeout))
    try:
        sock.sendall(request)
    except TimeoutError as exc:
        raise BaoStockTimeout(
            f"sending to {endpoint} took longer than {timeout}s", cons.BSERR_SENDSOCK_TIMEOUT
        ) from exc
    except OSError as exc:
        raise ConnectionLostError(f"sending to {endpoint} failed: {exc}", cons.BSERR_SENDSOCK_FAIL) from exc


def receive(sock: socket.socket, endpoint: str, deadline: float, timeout: float) -> bytes:
    """Read until one whole answer frame; the deadline covers the whole answer, not each recv."""
    buffer = bytearray()
    while True:
        sock.settimeout(_remaining(endpoint, deadline, timeout, len(buffer)))
        try:
            chunk = sock.recv(_RECV_BYTES)
        except TimeoutError as exc:
            raise _timeout(endpoint, timeout, len(buffer)) from exc
        except OSError as exc:
            raise ConnectionLostError(f"reading from {endpoint} failed: {exc}") from exc
        if not chunk:
            raise ConnectionLostError(
                f"{endpoint} closed the connection after {len(buffer)} bytes of an answer"
            )
        searched_to = max(len(buffer) - len(frames.END_MARK), 0)
        buffer += chunk
        if len(buffer) < frames.HEADER_LEN:
            continue
        # Only look for the end where new bytes arrived: a big answer costs one scan, not one per chunk.
        if buffer.find(frames.END_MARK, searched_to) < 0:
            frames.parse_header(bytes(buffer[: frames.HEADER_LEN]))
            continue
        end = frames.response_end(buffer)
        if end is not None:
            if end != len(buffer):
                raise ProtocolError(f"{len(buffer) - end} unexpected bytes after the answer frame")
            return bytes(buffer)


def check_idle_socket(sock: socket.socket, endpoint: str) -> None:
    """Return when an idle socket has nothing to read (the healthy case); raise what broke it otherwise."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    if not poller.poll(0):
        return
    try:
        pending = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return
    except OSError as exc:
        raise ConnectionLostError(f"the idle connection to {endpoint} is broken: {exc}") from exc
    if pending:
        raise ProtocolError(f"{endpoint} sent bytes nobody asked for to an idle session")
    raise ConnectionLostError(f"{endpoint} closed the connection of an idle session")


def shut(sock: socket.socket) -> None:
    """Shut the socket down, then close it; safe while another thread is blocked reading it."""
    # shutdown wakes a read blocked in another thread; it fails only if the peer already reset us.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _remaining(endpoint: str, deadline: float, timeout: float, received: int = 0) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _timeout(endpoint, timeout, received)
    return left


def _timeout(endpoint: str, timeout: float, received: int) -> BaoStockTimeout:
    arrived = f" ({received} bytes arrived)" if received else ""
    return BaoStockTimeout(f"no whole answer from {endpoint} within {timeout}s{arrived}")
