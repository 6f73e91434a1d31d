"""A TCP proxy on loopback that counts the BaoStock request frames passing through it, by message type.

Requests are counted at the socket, as the server would see them: every page, every retry and
every login is a frame, whatever the client's own counters say.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter

# A request frame: header (version \x01 type \x01 length) + body + "\x01" + crc + "\n".
_TYPE = slice(8, 10)


class CountingProxy:
    """Forwards 127.0.0.1:<port> to `upstream`; `requests` counts request frames by message type."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self._listener.getsockname()[1]

    def total(self, *types: str) -> int:
        """Request frames of `types` (message type codes such as "95"), or of every type."""
        with self._lock:
            return sum(n for kind, n in self.requests.items() if not types or kind in types)

    def __enter__(self) -> CountingProxy:
        self._acceptor.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        self._acceptor.join(5)
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        for sock in sockets:
            sock.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            for source, target, counted in ((client, server, True), (server, client, False)):
                thread = threading.Thread(target=self._pipe, args=(source, target, counted), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pipe(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        pending = b""
        try:
            while chunk := source.recv(65536):
                if counted:
                    pending = self._count(pending + chunk)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _count(self, data: bytes) -> bytes:
        *frames, rest = data.split(b"\n")
        with self._lock:
            for frame in frames:
                self.requests[frame[_TYPE].decode("ascii", "replace")] += 1
        return rest
