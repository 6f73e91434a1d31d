"""The request budget: a per-second cap shared by a pool's sessions, a persisted daily count per endpoint.

BaoStock publishes no rate limit and blacklists clients that ask too fast
(about a day). `RequestRate` spaces the request frames of every session of
one pool so that no sliding second holds more than `per_second` of them.
`EndpointLedger` is one small JSON file per endpoint (under the state
directory) holding the requests sent on the current Asia/Shanghai day by all
runs, and the last "stop" answer with the time automation may ask again; it
is read and written under an exclusive `flock`, so concurrent runs on one
machine add up. `RequestBudget` joins them for one pool: it reserves the daily
allowance in small chunks (one file write per chunk, not per request) and
gives back what it did not use when the pool closes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from marketdata_pipeline.baostock.errors import DailyBudgetExhausted, StopError
from marketdata_pipeline.market_calendar import shanghai_now

_WINDOW_S = 1.0
# The server counts arrivals, and a frame arrives after the time recorded here by the network's and
# the kernel's delays (3-9 ms on an idle loopback, more on a busy machine or the internet): waiting
# this much past the window keeps N in any second where the server counts, for 5% less throughput.
_ARRIVAL_SLACK_S = 0.05
_UNCAPPED_CHUNK = 50
T = TypeVar("T")


class RequestRate:
    """At most `per_second` request frames in any sliding second, across threads (0 = no cap)."""

    def __init__(self, per_second: int):
        _check_count("MAX_REQUESTS_PER_SECOND", per_second, "no cap")
        self.per_second = per_second
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def send_in_turn(self, send: Callable[[], T]) -> T:
        """Wait until a request may go out, `send()` it, then record it as sent.

        The lock is held through the send, and the time is recorded after it: the
        frames leave in the order their turns were taken and each before its
        recorded time, so a thread descheduled between its turn and its send
        cannot let a late frame crowd the next second at the socket.
        """
        if not self.per_second:
            return send()
        with self._lock:
            if len(self._sent) == self.per_second:
                wait = self._sent.popleft() + _WINDOW_S + _ARRIVAL_SLACK_S - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            sent = send()
            self._sent.append(time.monotonic())
            return sent


@dataclass(frozen=True)
class Stop:
    """A stop answer on record: what the server said, when, and until when automation waits."""

    code: str
    error: str
    message: str
    at: datetime
    until: datetime

    def reason(self, endpoint: str, path: Path) -> str:
        return (
            f"paused: BaoStock at {endpoint} answered {self.error} [{self.code}] at "
            f"{self.at:%Y-%m-%d %H:%M} Asia/Shanghai; automation resumes after {self.until:%Y-%m-%d %H:%M} "
            f"({self.message}). Delete {path} to resume earlier."
        )


class EndpointLedger:
    """The persisted request count of today (Asia/Shanghai) and the last stop answer of one endpoint."""

    def __init__(self, directory: str | os.PathLike, endpoint: str):
        self.endpoint = endpoint
        self.path = Path(directory) / (endpoint.replace(":", "_").replace("/", "_") + ".json")

    def spent_today(self) -> int:
        with self._locked() as state:
            return state["requests"]

    def take(self, wanted: int, limit: int) -> int:
        """Reserve up to `wanted` of today's `limit` requests; how many were granted (>= 1), else raise."""
        with self._locked(write=True) as state:
            left = limit - state["requests"]
            if left <= 0:
                raise _exhausted(state["requests"], limit, 1)
            # Near the end of the budget, smaller chunks: concurrent runs share what is left.
            granted = min(wanted, max(1, left // 4))
            state["requests"] += granted
            return granted

    def require(self, needed: int, limit: int) -> int:
        """Raise unless `needed` more requests fit in today's `limit`; the requests left otherwise."""
        with self._locked() as state:
            left = limit - state["requests"]
        if needed > left:
            raise _exhausted(limit - left, limit, needed)
        return left

    def give_back(self, unused: int, day: str) -> None:
        """Return reserved requests a pool did not send (only to the day they were taken from)."""
        if unused <= 0:
            return
        with self._locked(write=True) as state:
            if state["day"] == day:
                state["requests"] = max(0, state["requests"] - unused)

    def record_stop(self, error: StopError, cooldown_s: float) -> Stop:
        at = shanghai_now()
        stop = Stop(error.code, type(error).__name__, str(error), at, at + timedelta(seconds=cooldown_s))
        with self._locked(write=True) as state:
            state["stop"] = {**asdict(stop), "at": stop.at.isoformat(), "until": stop.until.isoformat()}
        return stop

    def active_stop(self) -> Stop | None:
        """The stop on record whose cool-down has not passed yet, if any."""
        with self._locked() as state:
            saved = state.get("stop")
        if not saved:
            return None
        at, until = datetime.fromisoformat(saved["at"]), datetime.fromisoformat(saved["until"])
        stop = Stop(**{**saved, "at": at, "until": until})
        return stop if shanghai_now() < stop.until else None

    @contextlib.contextmanager
    def _locked(self, write: bool = False) -> Iterator[dict]:
        """The state under an exclusive lock (a sibling .lock file), written back atomically if `write`.

        A read of a ledger that does not exist creates nothing: schedules and
        sensors read it on every tick.
        """
        if not write and not self.path.exists():
            yield self._read()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._read()
            yield state
            if write:
                scratch = self.path.with_suffix(".tmp")
                scratch.write_text(json.dumps(state, indent=1))
                os.replace(scratch, self.path)

    def _read(self) -> dict:
        today = shanghai_day()
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            state = {}
        except ValueError as exc:
            raise ValueError(
                f"the request ledger {self.path} is not valid JSON ({exc}); "
                "delete it (today's count restarts at 0)"
            ) from None
        if state.get("day") != today:
            state = {"day": today, "requests": 0, "stop": state.get("stop")}
        return state


class RequestBudget:
    """What one pool may send: `RequestRate` per request, and today's allowance from the ledger in chunks."""

    def __init__(self, per_second: int, per_day: int, ledger: EndpointLedger | None):
        _check_count("MAX_REQUESTS_PER_DAY", per_day, "no budget")
        self.rate = RequestRate(per_second)
        self.per_day = per_day
        self.ledger = ledger if per_day else None
        self._chunk = per_second or _UNCAPPED_CHUNK
        self._allowance = 0
        self._day = shanghai_day()
        self._lock = threading.Lock()

    def send_request(self, send: Callable[[], T]) -> T:
        """Send one request frame: spend one of today's requests (or raise, unsent), then send in turn."""
        if self.ledger is not None:
            with self._lock:
                if self._day != shanghai_day():
                    self._allowance, self._day = 0, shanghai_day()
                if not self._allowance:
                    self._allowance = self.ledger.take(self._chunk, self.per_day)
                self._allowance -= 1
        return self.rate.send_in_turn(send)

    def require(self, needed: int) -> int | None:
        """Raise DailyBudgetExhausted unless `needed` more requests fit today; else the requests left
        (None: no daily budget)."""
        if self.ledger is None:
            return None
        with self._lock:
            reserved = self._allowance
        return self.ledger.require(max(0, needed - reserved), self.per_day) + reserved

    def close(self) -> None:
        """Give back the unused part of the last chunk."""
        if self.ledger is None:
            return
        with self._lock:
            unused, self._allowance = self._allowance, 0
        self.ledger.give_back(unused, self._day)


def shanghai_day() -> str:
    return shanghai_now().date().isoformat()


def _exhausted(spent: int, limit: int, needed: int) -> DailyBudgetExhausted:
    left = max(0, limit - spent)
    return DailyBudgetExhausted(
        f"the daily request budget is spent: {spent:,} of BAOSTOCK_MAX_REQUESTS_PER_DAY={limit:,} requests "
        f"sent today ({shanghai_day()}, Asia/Shanghai), {left:,} left, this needs {needed:,}; "
        "nothing was sent",
        code="",
    )


def _check_count(setting: str, value: int, zero_means: str) -> None:
    """`setting`: the environment variable less its BAOSTOCK_ prefix (the argument's name, upper-cased)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problem = f"must be an integer >= 0 (0 = {zero_means}); check BAOSTOCK_{setting}"
        raise ValueError(f"{setting.lower()}={value!r} {problem}")
