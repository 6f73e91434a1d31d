"""A counting TCP proxy on loopback: what a client really sent to the server, counted at the socket.

Put it between the pipeline and a simulator to count connections and request
frames (a BaoStock request is one line ending in a newline; its header names
the message type), the way an operator would count them with tcpdump. It can
also answer the next request of a method with an error itself (`fail_next`),
for a fault that must hit exactly one request.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import Counter

from baostock.common import contants as cons

from marketdata_pipeline.baostock import frames
from marketdata_pipeline.baostock.errors import ProtocolError

CHUNK = 65536
# Linux's receive timestamps (socket(7)), which Python's socket module does not name: each read of
# a client's socket carries the time the kernel received its data, however late this thread runs.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESPEC = struct.Struct("qq")
ACCEPT_POLL_S = 0.2
JOIN_TIMEOUT_S = 5.0


class CountingProxy:
    """Forwards every connection to `upstream`; counts connections and requests by message type."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(ACCEPT_POLL_S)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._connections = 0
        self._requests: Counter[str] = Counter()
        self._methods: Counter[str] = Counter()
        self._arrivals: list[float] = []
        self._fail: dict[str, list[str]] = {}
        self._acceptor = threading.Thread(target=self._accept, name="counting-proxy", daemon=True)
        self._acceptor.start()

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.getsockname()[:2]

    @property
    def connections(self) -> int:
        """Connections clients opened through the proxy."""
        with self._lock:
            return self._connections

    @property
    def requests(self) -> int:
        """Request frames clients sent, all types."""
        with self._lock:
            return sum(self._requests.values())

    def requests_by_type(self) -> dict[str, int]:
        """Request frames by BaoStock message type ('00' login, '02' logout, ...)."""
        with self._lock:
            return dict(self._requests)

    def arrivals(self) -> list[float]:
        """When each request frame reached the proxy's socket (the kernel's receive time, epoch
        seconds), earliest first: a proxy thread descheduled on a busy machine reads frames late,
        but their stamps stay the kernel's, so no window looks fuller than it was on the wire."""
        with self._lock:
            return sorted(self._arrivals)

    def requests_by_method(self) -> dict[str, int]:
        """Request frames by method, the body's first field ('login', 'query_all_stock', ...)."""
        with self._lock:
            return dict(self._methods)

    def fail_next(self, method: str, error_code: str, times: int = 1) -> None:
        """Answer the next `times` requests of `method` with BaoStock error `error_code`, unforwarded."""
        with self._lock:
            self._fail.setdefault(method, []).extend([error_code] * times)

    def pending_failures(self) -> int:
        """Injected errors (`fail_next`) not yet answered."""
        with self._lock:
            return sum(len(codes) for codes in self._fail.values())

    def close(self) -> None:
        """Stop accepting, close every forwarded connection and join the threads."""
        self._stopping.set()
        self._acceptor.join(JOIN_TIMEOUT_S)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            threads = list(self._threads)
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5.0)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            client.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            server.settimeout(None)
            with self._lock:
                self._connections += 1
                self._sockets.update((client, server))
                serving = threading.Thread(target=self._serve, args=(client, server), daemon=True)
                self._threads.append(serving)
            serving.start()

    def _serve(self, client: socket.socket, server: socket.socket) -> None:
        """Pump both ways until both sides closed, then close both sockets."""
        answers = threading.Thread(target=self._pump, args=(server, client, False), daemon=True)
        answers.start()
        self._pump(client, server, True)
        answers.join()
        with self._lock:
            self._sockets.difference_update((client, server))
        client.close()
        server.close()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        pending = bytearray()
        try:
            while True:
                chunk, ancillary, _, _ = source.recvmsg(CHUNK, socket.CMSG_SPACE(TIMESPEC.size))
                if not chunk:
                    break
                if not upstream:
                    sink.sendall(chunk)
                    continue
                # Requests are forwarded whole, so one can be answered here instead. A request
                # waits for its answer, so a read holds one frame and its stamp is that frame's.
                received = _kernel_time(ancillary)
                pending += chunk
                while (end := pending.find(b"\n")) >= 0:
                    line = bytes(pending[: end + 1])
                    del pending[: end + 1]
                    injected = self._count(line, received)
                    if injected is None:
                        sink.sendall(line)
                    else:
                        source.sendall(injected)
        except OSError:
            pass
        finally:
            # One side closed: close the other direction too, as a real server or client would see it.
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def _count(self, line: bytes, received: float) -> bytes | None:
        """Count one request; the error answer to send back instead of forwarding it, if one is due."""
        try:
            request = frames.decode_request(line)
            msg_type, method = request.msg_type, request.fields[0]
        except ProtocolError:  # not a frame: still a request on the wire
            msg_type, method = "??", "??"
        with self._lock:
            self._requests[msg_type] += 1
            self._methods[method] += 1
            self._arrivals.append(received)
            due = self._fail.get(method)
            code = due.pop(0) if due else None
        if code is None:
            return None
        return frames.encode_response(cons.MESSAGE_TYPE_EXCEPTIONS, [code, "injected by the proxy"])


def _kernel_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's receive time of a read (SCM_TIMESTAMPNS), or now if it gave none."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            return seconds + nanoseconds / 1e9
    return time.time()
