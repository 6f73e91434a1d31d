"""The simulator's TCP server: a listener thread plus one thread per connection."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable, Mapping
from datetime import date, datetime

from marketdata_pipeline.simulator.anomalies import Anomalies, AnomalousMarket
from marketdata_pipeline.simulator.clock import PublicationClock
from marketdata_pipeline.simulator.connection import Connection
from marketdata_pipeline.simulator.faults import FaultDice, Faults
from marketdata_pipeline.simulator.handlers import DAILY_FACTOR_SPELLINGS, Answers
from marketdata_pipeline.simulator.market import market_for_seed
from marketdata_pipeline.simulator.stats import ServerStats

ACCEPT_POLL_S = 0.2
JOIN_TIMEOUT_S = 5.0


class Simulator:
    """A BaoStock-compatible server over the synthetic market of `seed` (see the package docstring)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 0,
        today: date | datetime | None = None,
        latency_ms: float = 0,
        jitter_ms: float = 0,
        drop_rate: float = 0,
        hang_rate: float = 0,
        corrupt_rate: float = 0,
        error_rate: float = 0,
        error_code: str = "10005001",
        max_logins: int | None = None,
        idle_close_s: float | None = None,
        anomalies: Iterable[str] | Mapping[str, float] | None = None,
        daily_factor_field: str = DAILY_FACTOR_SPELLINGS[0],
        market_depth_days: int | None = None,
    ):
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer 0-65535 (0 picks a free one), got {port!r}")
        self.host = host
        self.seed = seed
        self.faults = Faults(latency_ms, jitter_ms, drop_rate, hang_rate, corrupt_rate, error_rate,
                             error_code, max_logins, idle_close_s)  # fmt: skip
        self.clock = PublicationClock(today)
        self.anomalies = Anomalies(anomalies)
        if daily_factor_field not in DAILY_FACTOR_SPELLINGS:
            raise ValueError(f"daily_factor_field {daily_factor_field!r} not in {DAILY_FACTOR_SPELLINGS}")
        self.daily_factor_field = daily_factor_field
        self._port = port
        self._dice = FaultDice(seed)
        self._stats = ServerStats()
        self._answers: Answers | None = None
        self.market_depth_days = market_depth_days
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: dict[Connection, threading.Thread] = {}
        self._acceptor: threading.Thread | None = None

    @property
    def market_depth_days(self) -> int | None:
        """Trading days of history the whole-market query answers (None: all); settable at run time."""
        return self._market_depth_days

    @market_depth_days.setter
    def market_depth_days(self, days: int | None) -> None:
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
            raise ValueError(f"market_depth_days must be a positive number of trading days or None: {days!r}")
        self._market_depth_days = days
        if self._answers is not None:
            self._answers.market_depth_days = days

    @property
    def address(self) -> tuple[str, int]:
        if self._listener is None:
            raise RuntimeError("the simulator is not started: call start() first")
        return self.host, self._port

    def start(self) -> Simulator:
        """Bind and listen; returns once connections are accepted. Idempotent while running."""
        if self._listener is not None:
            return self
        if self._answers is None:
            self._answers = Answers(self._market(), self.clock)
            self._answers.daily_factor_field = self.daily_factor_field
            self._answers.market_depth_days = self._market_depth_days
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self._port))
            listener.listen(128)
            listener.settimeout(ACCEPT_POLL_S)
        except OSError:
            listener.close()
            raise
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._stopping.clear()
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"simulator-accept-{self._port}",
                                          daemon=True)  # fmt: skip
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection, and join all threads."""
        if self._listener is None:
            return
        self._stopping.set()
        with contextlib.suppress(OSError):  # wakes the acceptor now instead of at its next poll
            self._listener.shutdown(socket.SHUT_RDWR)
        assert self._acceptor is not None
        self._acceptor.join(JOIN_TIMEOUT_S)
        self._listener.close()
        self._listener = None
        self.kill_connections(wait=True)

    def restart(self) -> None:
        """Stop, then listen again on the same port (clients must reconnect)."""
        self.stop()
        self.start()

    def kill_connections(self, wait: bool = False) -> None:
        """Drop every live connection, as if the server died mid-use."""
        with self._lock:
            live = list(self._connections.items())
        for connection, _ in live:
            connection.shutdown()
        if wait:
            for _, thread in live:
                thread.join(JOIN_TIMEOUT_S)

    def injected(self, kind: str, codes: Iterable[str], first: date, last: date) -> list[tuple[str, str]]:
        """(code, ISO date) of each row of `codes` over first..last that anomaly `kind` alters, as
        served now (a revision shows once a later day is published)."""
        tl = self._market().timeline
        return self._market().injected(kind, codes, tl.index_on_or_after(first), tl.index_on_or_before(last))

    def stats(self) -> dict[str, object]:
        with self._lock:
            active = len(self._connections)
        return self._stats.snapshot(active)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _market(self) -> AnomalousMarket:
        """The market this simulator serves: the seed's, seen through its anomalies."""
        return AnomalousMarket(market_for_seed(self.seed), self.anomalies, self.clock)

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._stats.count("connections")
            self._spawn(sock)

    def _spawn(self, sock: socket.socket) -> None:
        assert self._answers is not None
        connection = Connection(sock, self._answers, self.faults, self._dice, self._stats, self._stopping)
        thread = threading.Thread(target=self._serve, args=(connection,), daemon=True,
                                  name=f"simulator-conn-{self._port}")  # fmt: skip
        # Started under the lock, so stop() never finds a registered thread it cannot join yet.
        with self._lock:
            self._connections[connection] = thread
            thread.start()

    def _serve(self, connection: Connection) -> None:
        try:
            connection.serve()
        finally:
            with self._lock:
                self._connections.pop(connection, None)
