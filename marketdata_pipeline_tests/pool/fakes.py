"""In-memory sessions and factories for the generic pool's tests (no I/O, fully scripted)."""

from __future__ import annotations

import threading
import time


class FakeSession:
    """A session that can be killed; records who uses it so tests can catch double lending."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.alive = True
        self.close_calls = 0
        self.renewals = 0
        self.borrowers = 0

    @property
    def closed(self) -> bool:
        return self.close_calls > 0

    def __repr__(self) -> str:
        return f"<FakeSession {self.number}>"


class ServerRefused(ConnectionError):
    """The factory could not reach its fake server."""


class CapacityRefused(Exception):
    """The fake server allows no more sessions (a login-limit answer)."""


class FakeFactory:
    """Makes FakeSessions; can fail the next N calls, refuse past a capacity, or be slow."""

    def __init__(self, *, fail_next: int = 0, capacity: int | None = None, delay: float = 0.0) -> None:
        self.made: list[FakeSession] = []
        self.calls = 0
        self.started = 0  # calls begun (a slow factory counts in `calls` only when done)
        self.fail_next = fail_next
        self.capacity = capacity
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self) -> FakeSession:
        with self._lock:
            self.started += 1
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.calls += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                raise ServerRefused("fake server at 127.0.0.1:1 refused the connection")
            if self.capacity is not None and self.live() >= self.capacity:
                raise CapacityRefused(f"login limit reached ({self.capacity} sessions)")
            session = FakeSession(len(self.made) + 1)
            self.made.append(session)
            return session

    def live(self) -> int:
        return sum(not s.closed for s in self.made)


def check(session: FakeSession) -> None:
    if not session.alive:
        raise ServerRefused(f"session {session.number} is dead")


def close(session: FakeSession) -> None:
    session.close_calls += 1


def renew(session: FakeSession) -> None:
    check(session)
    session.renewals += 1


def wait_until(condition, timeout: float = 3.0, interval: float = 0.005) -> bool:
    """Poll `condition()` until true or `timeout`; returns its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(interval)
    return True
