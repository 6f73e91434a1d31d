"""The simulator's counters: logins, connections, requests and injected faults."""

from __future__ import annotations

import threading
from collections import Counter


class ServerStats:
    """Thread-safe named counters plus the logged-in gauge and its peak."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._by_method: Counter[str] = Counter()
        self._active_logins = 0
        self._peak_logins = 0

    def count(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by

    def request(self, method: str) -> None:
        with self._lock:
            self._counts["requests"] += 1
            self._by_method[method] += 1

    def try_login(self, limit: int | None) -> bool:
        """Take a login slot unless `limit` slots are taken already."""
        with self._lock:
            if limit is not None and self._active_logins >= limit:
                return False
            self._active_logins += 1
            self._peak_logins = max(self._peak_logins, self._active_logins)
            self._counts["logins"] += 1
            return True

    def release_login(self) -> None:
        with self._lock:
            self._active_logins -= 1

    def snapshot(self, active_connections: int) -> dict[str, object]:
        with self._lock:
            names = ("logins", "logouts", "connections", "requests", "errors_sent", "dropped", "hung",
                     "corrupted", "idle_closed", "login_refused")  # fmt: skip
            snap: dict[str, object] = {name: self._counts[name] for name in names}
            snap.update(
                active_logins=self._active_logins,
                peak_active_logins=self._peak_logins,
                active_connections=active_connections,
                requests_by_method=dict(self._by_method),
            )
            return snap
