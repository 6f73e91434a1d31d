"""BaoStockPool: the generic session pool bound to logged-in BaoStock sessions, with endpoint failover.

The policy (sizes, waiters, eviction, leaks, backoff) is `SessionPool`'s; this
module supplies the BaoStock plumbing: how a session is opened (connect +
login on the first endpoint that is up), checked (a local socket check on
every checkout, a real `ping()` in `health_check()`), renewed (log in again
past `session_ttl`), which errors break a session (`TransportError`,
`NotLoggedInError`), which mean "no more logins" (10001005) and which stop
the whole pool (`StopError`: blacklisted, credentials rejected, ...), and the
request budget every session's frames are charged to (`budget.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from baostock.common import contants as cons

from marketdata_pipeline.baostock.budget import EndpointLedger, RequestBudget
from marketdata_pipeline.baostock.errors import (
    BaoStockError,
    BaoStockTimeout,
    BlacklistedError,
    ConnectError,
    ConnectionLostError,
    LoginLimitError,
    NotLoggedInError,
    ServerUnreachable,
    StopError,
    TransportError,
)
from marketdata_pipeline.baostock.session import BaoStockSession
from marketdata_pipeline.pool.errors import SettingError
from marketdata_pipeline.pool.events import EventHook, EventSink
from marketdata_pipeline.pool.failover import AllEndpointsDown, FailoverEndpoints
from marketdata_pipeline.pool.pool import Lease, SessionPool

DEFAULT_ENDPOINTS = (("public-api.baostock.com", 10030),)
LOGOUT_TIMEOUT_S = 2.0
"""Logging out is a courtesy to the server's login count; a dead server must not stall close()."""
_REDACTED = "***"
UNREACHABLE_TRIES = 3
"""Failed connects, before any login, that end the pool's use of the server (3 x connect_timeout at worst)."""
_SETTING_NAMES = {"max_lifetime": "session_ttl"}
"""The generic pool's setting names that this class's callers know by another name."""


@dataclass(frozen=True)
class HealthReport:
    """What `health_check()` found: idle sessions pinged, how many answered, how many were replaced."""

    checked: int
    healthy: int
    replaced: int
    errors: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    refused: str | None = None
    """The server's answer when it refused the pings (blacklisted, ...), as opposed to dead sessions."""

    @property
    def ok(self) -> bool:
        """Every idle session answered its ping."""
        return self.healthy == self.checked

    @property
    def unreplaced(self) -> int:
        """Dead sessions for which no replacement could be logged in (the pool is smaller now)."""
        return self.checked - self.healthy - self.replaced


class BaoStockPool(SessionPool[BaoStockSession]):
    """A pool of logged-in BaoStock sessions over an ordered list of endpoints.

    `with pool.session() as s: s.query_history_k_data_plus(...)` - a session
    that raised a `TransportError` (or was told it is not logged in) is
    discarded and replaced, never put back; an `AnswerError` such as a bad
    code leaves it in the pool. Endpoints are tried in order: a dead one is
    skipped (re-probed every `failback_probe_s`), and sessions return to a
    preferred endpoint as soon as it is back. A login-limit or blacklist
    answer lowers the pool's target size instead of retrying in a loop.
    The password and API key never appear in repr, logs, events or errors.

    The pool's own settings are `SessionPool`'s (`PoolConfig`: `min_size`,
    `max_size` 4, `acquire_timeout` 30 s, `leak_threshold`, `capacity_retry`
    60 s, ...), with these defaults of its own: a login renewed past
    `session_ttl` (the pool's `max_lifetime`), idle sessions closed after
    `max_idle`, `reconnect_backoff` from 0.2 s, and the socket checked on every
    checkout.
    """

    def __init__(
        self,
        endpoints: Sequence[tuple[str, int]] = DEFAULT_ENDPOINTS,
        user: str = "anonymous",
        password: str = "123456",
        api_key: str | None = None,
        *,
        session_ttl: float | None = 1800.0,
        max_idle: float | None = 300.0,
        reconnect_backoff: tuple[float, float] = (0.2, 10.0),
        request_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        failback_probe_s: float = 2.0,
        page_timeout: float | None = None,
        max_requests_per_second: int = 0,
        max_requests_per_day: int = 0,
        state_dir: str | None = None,
        blacklist_cooldown_s: float | None = None,
        on_event: EventHook | None = None,
        name: str = "baostock",
        **limits: Any,
    ) -> None:
        # Everything the factory reads is set before SessionPool starts its workers.
        self._endpoints = _checked_endpoints(endpoints)
        if max_requests_per_day and not state_dir:
            raise ValueError("max_requests_per_day needs state_dir, where the day's count is kept")
        self._ledgers = {e: EndpointLedger(state_dir, _label(e)) for e in self._endpoints if state_dir}
        self._budgets = {
            e: RequestBudget(max_requests_per_second, max_requests_per_day, self._ledgers.get(e))
            for e in self._endpoints
        }
        self._blacklist_cooldown_s = blacklist_cooldown_s
        self._page_timeout = page_timeout
        self._user = user
        self._secrets = tuple(s for s in (password, api_key) if isinstance(s, str) and s)
        self._password = password
        self._api_key = api_key
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._check_settings()
        self._counts_lock = threading.Lock()
        self._logins = 0
        self._login_failures = 0
        self._unreached = 0
        self._failover: FailoverEndpoints[tuple[str, int], BaoStockSession] = FailoverEndpoints(
            self._endpoints,
            is_endpoint_failure=lambda exc: isinstance(exc, TransportError),
            reachable=self._serves_again,
            retry_after=failback_probe_s,
            label=_label,
            pool_name=name,
            events=EventSink(on_event),
        )
        try:
            super().__init__(
                self._open_session,
                check=_check_socket,
                close=self._logout_and_close,
                renew=self._login_again,
                # A transport error breaks the socket; "not logged in": the login expired server-side.
                is_broken=lambda exc: isinstance(exc, TransportError | NotLoggedInError),
                is_capacity_error=lambda exc: isinstance(exc, LoginLimitError),
                is_fatal=self._stops_the_run,
                on_event=on_event,
                max_lifetime=session_ttl,
                max_idle=max_idle,
                reconnect_backoff=reconnect_backoff,
                check_idle_after=0.0,
                name=name,
                **limits,
            )
        except SettingError as exc:
            # Name the setting as this class's caller passed it.
            raise SettingError(_SETTING_NAMES.get(exc.setting, exc.setting), exc.problem) from None

    # -- public API -------------------------------------------------------

    @property
    def endpoint(self) -> str | None:
        """`host:port` that new sessions go to now (None before the first session)."""
        current = self._failover.current
        return None if current is None else _label(current)

    def session(self, timeout: float | None = None) -> Lease[BaoStockSession]:
        """`with pool.session() as s:` - a logged-in session for the block (see the class docstring)."""
        self._failover.fail_back(self)
        return super().session(timeout)

    def health_check(self, replace_timeout: float | None = None) -> HealthReport:
        """Ping every idle session, replace the dead ones, and report.

        A real request (`BaoStockSession.ping()`, one `query_trade_dates` row)
        rather than a socket check: only a round trip through the server proves
        that the socket is open at both ends and that the login is still
        accepted; a half-open socket or an expired login looks fine locally.
        Sessions in use are not touched (their next request tells).
        """
        budget = self._connect_timeout + self._request_timeout if replace_timeout is None else replace_timeout
        if self.refused is None:
            result = self.check_idle(self._ping, replace_timeout=budget)
        else:
            result = {"checked": 0, "healthy": 0, "replaced": 0, "errors": []}
        refused = self.refused
        errors = [self._redact(message) for message in result["errors"]]
        return HealthReport(
            result["checked"], result["healthy"], result["replaced"], errors, self.stats(),
            refused=None if refused is None else self._redact(str(refused)),
        )  # fmt: skip

    def _ping(self, session: BaoStockSession) -> None:
        if self.refused is not None:
            raise self.refused  # the server said stop during this check: ask no more
        try:
            session.ping()
        except Exception as exc:
            if self._stops_the_run(exc):
                self.refuse(exc)  # before the dead session is replaced: no new login
            raise

    def require_requests(self, needed: int) -> int | None:
        """Raise DailyBudgetExhausted (before anything is sent) unless `needed` more requests fit in
        today's budget of the endpoint in use; the requests left (None when there is no daily budget)."""
        endpoint = self._failover.current or self._endpoints[0]
        return self._budgets[endpoint].require(needed)

    @property
    def stopped(self) -> StopError | None:
        """The stop answer that ended this pool's use of the server, if one came."""
        refused = self.refused
        return refused if isinstance(refused, StopError) else None

    def stats(self) -> dict[str, Any]:
        """The pool's stats plus logins, login_failures, failovers and the endpoint in use."""
        stats = super().stats()
        with self._counts_lock:
            stats["logins"] = self._logins
            stats["login_failures"] = self._login_failures
        stats["failovers"] = self._failover.failovers
        stats["endpoint"] = self.endpoint
        stats["endpoints"] = [
            {**status, "last_error": self._redact(status["last_error"])} for status in self._failover.status()
        ]
        return stats

    def close(self, timeout: float = 5.0) -> None:
        """Log out and close every session (see `SessionPool.close`, which also joins a failback probe)."""
        super().close(timeout)
        for budget in self._budgets.values():
            budget.close()

    def __repr__(self) -> str:
        targets = ", ".join(_label(e) for e in self._endpoints)
        stats = super().stats()
        return (
            f"<BaoStockPool [{targets}] user={self._user!r} "
            f"size={stats['size']}/{stats['max_size']}{' closed' if stats['closed'] else ''}>"
        )

    # -- plumbing for SessionPool -----------------------------------------

    def _open_session(self) -> BaoStockSession:
        """Connect and log in on the first endpoint that is up.

        Until the first login succeeds, `UNREACHABLE_TRIES` failed TCP connects
        end the pool's use of the server with `ServerUnreachable`: a wrong host
        or a server that is down fails a run in seconds, not after minutes of
        reconnecting. A server that accepts connections but is slow to answer
        is not "unreachable": its timeouts go to the breaker as before.
        """
        try:
            return self._failover.open(self._login_to)
        except (BaoStockError, AllEndpointsDown) as exc:
            error = self._redacted(exc)
            if _not_reached(exc):
                with self._counts_lock:
                    self._unreached += 0 if self._logins else 1
                    unreached = self._unreached
                if unreached >= UNREACHABLE_TRIES:
                    message = f"no BaoStock endpoint answered {unreached} tries: {error}"
                    raise ServerUnreachable(message) from None
            raise error from None

    def _new_session(self, endpoint: tuple[str, int]) -> BaoStockSession:
        """A session object for `endpoint`; no socket is opened until login."""
        host, port = endpoint
        return BaoStockSession(
            host,
            port,
            user=self._user,
            password=self._password,
            api_key=self._api_key,
            connect_timeout=self._connect_timeout,
            request_timeout=self._request_timeout,
            page_timeout=self._page_timeout,
            budget=self._budgets.get(endpoint),
        )

    def _stops_the_run(self, exc: BaseException) -> bool:
        """Whether `exc` must end this pool's use of the server; records a blacklist's cool-down.

        A `StopError` always does. A login limit does only when the pool has no
        session and no other login under way: with some, the pool settles at
        what it has (the capacity rule); with none, waiting would only mean
        more refused logins.
        """
        if isinstance(exc, LoginLimitError):
            stats = super().stats()
            return stats["size"] == 0 and stats["growing"] <= 1
        if not isinstance(exc, StopError):
            return False
        cooldown = exc.cooldown_s
        if isinstance(exc, BlacklistedError) and self._blacklist_cooldown_s is not None:
            cooldown = self._blacklist_cooldown_s
        if cooldown and self.refused is None:
            stops = [ledger.record_stop(exc, cooldown) for ledger in self._ledgers.values()]
            if stops:
                # Say when, in the error every borrower gets: the run's failure names the time.
                until = f"{stops[0].until:%Y-%m-%d %H:%M} Asia/Shanghai"
                exc.args = (f"{exc.args[0]}; schedules and sensors wait until {until}",)
        return True

    def _logout_and_close(self, session: BaoStockSession) -> None:
        """Log out when the socket is sound and the server has not told us to stop, then close it."""
        if self.refused is not None:
            session.close()  # a logout is one more request to a server that said stop
            return
        _logout_and_close(session)

    def _login_to(self, endpoint: tuple[str, int], count: bool = True) -> BaoStockSession:
        session = self._new_session(endpoint)
        try:
            self._login(session, count)
        except BaseException:
            session.close()
            raise
        return session

    def _login_again(self, session: BaoStockSession) -> None:
        """Past `session_ttl`: log out and in again on the same socket, instead of reconnecting."""
        session.logout(timeout=self._request_timeout)
        self._login(session)

    def _login(self, session: BaoStockSession, count: bool = True) -> None:
        """Log in, counted in `logins` or `login_failures` unless `count` is False (a failback probe)."""
        try:
            session.login()
        except BaseException:
            with self._counts_lock:
                self._login_failures += count
            raise
        with self._counts_lock:
            self._logins += count

    # -- failback probe (run by pool/failover.py on the pool's workers) -----

    def _serves_again(self, endpoint: tuple[str, int]) -> None:
        """A login and a logout on a preferred endpoint that was down: raises unless it serves again.

        A bare TCP connect would not do: a server that accepts and then hangs
        (restarting, overloaded) passes it, and failing back to it would evict
        every session to log in there, each waiting a login timeout, once per
        probe period. A refused connect costs nothing; a stop answer stops the pool
        as it would from any other login. Not counted in `logins` (those are the
        pool's sessions).
        """
        try:
            session = self._login_to(endpoint, count=False)
        except StopError as exc:
            if self._stops_the_run(exc):
                self.refuse(exc)
            raise
        _logout_and_close(session)

    # -- secrets ----------------------------------------------------------

    def _check_settings(self) -> None:
        """Fail at construction, not in a background login, and never echo a secret while at it.

        Building (not connecting) a session per endpoint runs the session's own
        checks of user, password, API key, port and timeouts: one place decides.
        """
        try:
            for endpoint in self._endpoints:
                self._new_session(endpoint)
        except (BaoStockError, ValueError) as exc:
            raise self._redacted(exc) from None

    def _redact(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            # Also the escaped form, as it appears inside a repr() in a message.
            text = text.replace(secret, _REDACTED).replace(repr(secret)[1:-1], _REDACTED)
        return text

    def _redacted(self, exc: BaseException) -> BaseException:
        """The same error with any secret the server may have echoed masked out."""
        message = str(exc)
        clean = self._redact(message)
        if clean == message:
            return exc
        if isinstance(exc, BaoStockError):
            return type(exc)(self._redact(exc.message), exc.code)
        return type(exc)(clean)


def _checked_endpoints(endpoints: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """The (host, port) pairs as tuples; an empty list is refused by `FailoverEndpoints`."""
    for endpoint in endpoints or ():
        host, port = endpoint if isinstance(endpoint, tuple | list) and len(endpoint) == 2 else ("", 0)
        if not (isinstance(host, str) and host and type(port) is int and 0 < port < 65536):
            raise ValueError(f"endpoint {endpoint!r} must be a (host, port) pair like ('127.0.0.1', 10030)")
    return tuple((host, port) for host, port in endpoints or ())


def _label(endpoint: tuple[str, int]) -> str:
    return f"{endpoint[0]}:{endpoint[1]}"


def _not_reached(exc: BaseException) -> bool:
    """The TCP connect itself failed (refused, no route, connect timeout), on every endpoint tried."""
    if isinstance(exc, AllEndpointsDown):
        exc = exc.__cause__
    return isinstance(exc, ConnectError) or (
        isinstance(exc, BaoStockTimeout) and exc.code == cons.BSERR_CONNECT_TIMEOUT
    )


def _check_socket(session: BaoStockSession) -> None:
    """Raise if the session is closed or its server hung up: no round trip, one poll() of microseconds.

    Run on every checkout: it catches a server restart, a killed connection
    and an idle timeout on the server (all of which close the socket and so
    leave an end-of-stream to read) before the session is handed out.
    """
    if session.closed or not session.logged_in:
        raise ConnectionLostError(f"session to {session.endpoint} is closed or logged out")
    session.check_socket()


def _logout_and_close(session: BaoStockSession) -> None:
    """Log out when the socket is still sound (bounded, best effort), then close it."""
    try:
        _check_socket(session)
        session.logout(timeout=LOGOUT_TIMEOUT_S)
    except BaoStockError:
        pass  # a session whose socket is gone has nothing to log out
    finally:
        session.close()


__all__ = ["BaoStockPool", "HealthReport"]
