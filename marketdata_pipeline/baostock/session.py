"""One BaoStock session: login/logout and its state, typed queries with exact paging.

No module globals: every session owns its socket, so many sessions can run in
one process, one thread per session at a time. The socket I/O (connect, send,
read one whole answer under a deadline, the idle check) is `wire.py`'s; any
transport failure closes the socket for good and the session must be
discarded (a pool does that on `TransportError`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from baostock.common import contants as cons

from marketdata_pipeline.baostock import frames, validation, wire
from marketdata_pipeline.baostock.budget import RequestBudget
from marketdata_pipeline.baostock.errors import (
    BaoStockError,
    ConnectionLostError,
    NotLoggedInError,
    ProtocolError,
    TransportError,
    error_for_code,
)
from marketdata_pipeline.baostock.results import Page, ResultSet, parse_page

log = logging.getLogger(__name__)

DEFAULT_PAGE_TIMEOUT = 10.0
"""Seconds for a login, a logout or one page of a paged answer (capped by request_timeout)."""
_PER_PAGE = cons.BAOSTOCK_PER_PAGE_COUNT


@dataclass(frozen=True)
class _Call:
    """A request type, its answer type and the method name both carry."""

    method: str
    request_type: str
    answer_type: str

    @classmethod
    def named(cls, method: str, message: str) -> _Call:
        """The types are the official constants `MESSAGE_TYPE_<message>_REQUEST` and `_RESPONSE`."""
        request, answer = (
            getattr(cons, f"MESSAGE_TYPE_{message}_{side}") for side in ("REQUEST", "RESPONSE")
        )
        return cls(method, request, answer)


_DAILY_FACTOR_SPELLINGS = {"adjustFacto": "adjustFactor"}


class BaoStockSession:
    """A logged-in conversation with one BaoStock server over one TCP socket.

    Use it as a context manager (connect + login, then logout + close on every
    path) or call connect/login/logout/close yourself. Not for two threads at
    once: give each thread its own session (or borrow one from a pool).
    Its state (`endpoint`, `user`, `logged_in`, `connected_at`,
    `logged_in_at`, `requests`, `closed`) is for reading: only the session
    changes it.
    """

    def __init__(
        self,
        host: str = cons.BAOSTOCK_SERVER_IP,
        port: int = cons.BAOSTOCK_SERVER_PORT,
        *,
        user: str = "anonymous",
        password: str = "123456",
        api_key: str | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
        page_timeout: float | None = None,
        budget: RequestBudget | None = None,
    ):
        validation.check_credentials(user, password)
        self._api_key = validation.check_api_key(api_key)
        if self._api_key and host == cons.BAOSTOCK_SERVER_IP:
            host = cons.BAOSTOCK_VIP_SERVER_IP  # an API key's server, as the official client does
        self._host = host
        self._port = _checked_port(port)
        self.endpoint = f"{self._host}:{self._port}"
        """`host:port` this session talks to (the VIP host when an API key chose it)."""
        self.user = user
        self._password = password
        self.connect_timeout = _checked_timeout(connect_timeout, "connect_timeout")
        self.request_timeout = _checked_timeout(request_timeout, "request_timeout")
        # A login or one page (<= 2,000 rows) answers in well under a second: a silent server is
        # given up on sooner than a whole-market answer, which the server takes seconds to build.
        self.page_timeout = min(
            self.request_timeout,
            DEFAULT_PAGE_TIMEOUT if page_timeout is None else _checked_timeout(page_timeout, "page_timeout"),
        )
        self._budget = budget
        self._sock: socket.socket | None = None
        self._closed_because: str | None = None
        self.logged_in = False
        self.connected_at: float | None = None
        """`time.monotonic()` when the socket was opened."""
        self.logged_in_at: float | None = None
        """`time.monotonic()` of the last successful login."""
        self.requests = 0
        """How many request frames this session has sent."""
        self._in_use = threading.Lock()

    # -- state -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once close() ran or a transport error broke the socket; a closed session stays closed."""
        return self._closed_because is not None

    def __repr__(self) -> str:
        state = (
            f"closed ({self._closed_because})" if self.closed else "logged in" if self.logged_in else "open"
        )
        return f"<BaoStockSession {self.endpoint} user={self.user} {state}>"

    # -- lifecycle ---------------------------------------------------------

    def connect(self) -> None:
        """Open the socket (within connect_timeout); a no-op when already connected."""
        self._raise_if_closed()
        if self._sock is not None:
            return
        with self._closing_on_transport_error():
            self._sock = wire.connect(self._host, self._port, self.connect_timeout)
        self.connected_at = time.monotonic()

    _LOGIN = _Call.named("login", "LOGIN")

    def login(self) -> None:
        """Connect if needed, then log in with the user, password and API key of this session."""
        self.connect()
        self._call(self._LOGIN, [self._password, self._api_key or "0"], self.page_timeout)
        self.logged_in = True
        self.logged_in_at = time.monotonic()

    _LOGOUT = _Call.named("logout", "LOGOUT")

    def logout(self, timeout: float | None = None) -> bool:
        """Log out, best effort: True when the server confirmed, False otherwise; never raises.

        Bounded by `timeout` (default page_timeout). The socket stays open
        (close() closes it) unless the logout broke it.
        """
        if self._sock is None or not self.logged_in:
            return False
        stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
        try:
            self._call(self._LOGOUT, [stamp], timeout or self.page_timeout)
            return True
        except BaoStockError as exc:
            log.info("logout from %s failed: %s", self.endpoint, exc)
            return False
        finally:
            self.logged_in = False

    def close(self) -> None:
        """Close the socket; idempotent, safe from another thread (it wakes a blocked read)."""
        self._close("closed by close()")

    def __enter__(self) -> BaoStockSession:
        try:
            self.login()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.logout()
        finally:
            self.close()

    def ping(self) -> float:
        """Prove the socket and the login work; returns the round trip in seconds.

        Uses `query_trade_dates` over today only: a real query, so the server
        checks the login (an expired one answers 10001001) and the whole
        request/answer path runs, yet the answer is one calendar row of a few
        hundred bytes and is valid on every day, unlike data queries that are
        empty before publication or on holidays.
        """
        started = time.monotonic()
        day = validation.today()
        self.query_trade_dates(day, day)
        return time.monotonic() - started

    def check_socket(self) -> None:
        """Check an idle session's socket without a round trip: one poll() of microseconds.

        Catches what happened while the session sat idle - the server hung up
        (restart, idle timeout, killed connection) or sent bytes nobody asked
        for - and closes the session for good, like any transport error:
        ConnectionLostError or ProtocolError. It does not prove the login is
        still valid; ping() does. Only for a session no thread is using.
        """
        with self._exclusive(), self._closing_on_transport_error():
            wire.check_idle_socket(self._open_socket(), self.endpoint)

    # -- queries -----------------------------------------------------------

    _K_DATA = _Call.named("query_history_k_data_plus", "GETKDATAPLUS")

    def query_history_k_data_plus(
        self,
        code: str,
        fields: str | Sequence[str],
        start_date: str | None = None,
        end_date: str | None = None,
        frequency: str = "d",
        adjustflag: str = "3",
        *,
        per_page: int = _PER_PAGE,
    ) -> ResultSet:
        """K-line bars of one code: d/w/m or 5/15/30/60-minute, adjustflag 1/2/3, all pages."""
        code = validation.normalize_code(code)
        frequency = validation.check_frequency(frequency)
        fields = validation.normalize_fields(fields, frequency)
        start, end = validation.date_range(start_date, end_date)
        adjustflag = validation.check_adjustflag(adjustflag)
        return self._paged(self._K_DATA, [code, fields, start, end, frequency, adjustflag], per_page)

    _ALL_STOCK = _Call.named("query_all_stock", "QUERYALLSTOCK")

    def query_all_stock(self, day: str | None = None, *, per_page: int = _PER_PAGE) -> ResultSet:
        """Every security with its trade status on `day` (default today); empty before publication."""
        return self._paged(self._ALL_STOCK, [validation.normalize_date(day, "day")], per_page)

    _TRADE_DATES = _Call.named("query_trade_dates", "QUERYTRADEDATES")

    def query_trade_dates(
        self, start_date: str | None = None, end_date: str | None = None, *, per_page: int = _PER_PAGE
    ) -> ResultSet:
        """Each day from start_date (default 2015-01-01) to end_date (default today): trading or not."""
        return self._paged(self._TRADE_DATES, list(validation.date_range(start_date, end_date)), per_page)

    _ADJUST_FACTOR = _Call.named("query_adjust_factor", "ADJUSTFACTOR")

    def query_adjust_factor(
        self,
        code: str,
        start_date: str | None = None,
        end_date: str | None = None,
        *,
        per_page: int = _PER_PAGE,
    ) -> ResultSet:
        """Adjust factors of one code at each ex-date within the range."""
        code = validation.normalize_code(code)
        return self._paged(
            self._ADJUST_FACTOR, [code, *validation.date_range(start_date, end_date)], per_page
        )

    _STOCK_BASIC = _Call.named("query_stock_basic", "QUERYSTOCKBASIC")

    def query_stock_basic(
        self, code: str = "", code_name: str = "", *, per_page: int = _PER_PAGE
    ) -> ResultSet:
        """Listing facts (name, IPO and delisting dates, type, status) by code and/or fuzzy name."""
        code = validation.normalize_optional_code(code)
        code_name = validation.plain_text(code_name or "", "code_name").strip()
        return self._paged(self._STOCK_BASIC, [code, code_name], per_page)

    _HS300 = _Call.named("query_hs300_stocks", "QUERYHS300STOCKS")

    def query_hs300_stocks(self, date: str = "", *, per_page: int = _PER_PAGE) -> ResultSet:
        """CSI 300 constituents as of `date` (default: the latest)."""
        return self._paged(self._HS300, [validation.normalize_date(date, "date", "")], per_page)

    _SZ50 = _Call.named("query_sz50_stocks", "QUERYSZ50STOCKS")

    def query_sz50_stocks(self, date: str = "", *, per_page: int = _PER_PAGE) -> ResultSet:
        """SSE 50 constituents as of `date` (default: the latest)."""
        return self._paged(self._SZ50, [validation.normalize_date(date, "date", "")], per_page)

    _ZZ500 = _Call.named("query_zz500_stocks", "QUERYZZ500STOCKS")

    def query_zz500_stocks(self, date: str = "", *, per_page: int = _PER_PAGE) -> ResultSet:
        """CSI 500 constituents as of `date` (default: the latest)."""
        return self._paged(self._ZZ500, [validation.normalize_date(date, "date", "")], per_page)

    _DAILY_K = _Call.named("query_daily_history_k_AStock", "GETKDaily_D_AStock")

    def query_daily_history_k_AStock(self, date: str = "") -> ResultSet:  # noqa: N802 - the official name
        """Daily bars of every A-share on one day (default today), in one unpaged answer."""
        return self._unpaged(self._DAILY_K, [validation.normalize_date(date, "date")])

    _DAILY_FACTOR = _Call.named("query_daily_adjust_factor", "GETKDaily_ADJUSTFACTOR")

    def query_daily_adjust_factor(self, date: str | None = None) -> ResultSet:
        """Adjust factors of every code with an ex-date on `date` (default today), in one unpaged answer.

        The last field is named `adjustFactor` here whichever way the server
        spells it: the package demo reads `adjustFactor`, live answers have
        been seen to say `adjustFacto`.
        """
        answer = self._unpaged(self._DAILY_FACTOR, [validation.normalize_date(date, "date")])
        fields = [_DAILY_FACTOR_SPELLINGS.get(name, name) for name in answer.fields]
        return ResultSet(answer.method, fields, answer.rows, pages=answer.pages)

    # -- paging ------------------------------------------------------------

    def _paged(self, call: _Call, params: list[str], per_page: int) -> ResultSet:
        """Every page, like the official client: ask page n+1 only after a page of exactly per_page rows."""
        validation.check_per_page(per_page)
        self._raise_unless_logged_in()
        fields: list[str] = []
        rows: list[list[str]] = []
        number = 0
        with self._closing_on_transport_error():
            while True:
                number += 1
                answer = self._call(call, [str(number), str(per_page), *params], self.page_timeout)
                page = _checked_page(parse_page(answer), call, number, per_page)
                fields = _joined_fields(fields, page.fields, call)
                rows.extend(page.rows)
                if len(page.rows) < per_page:
                    return ResultSet(call.method, fields, rows, pages=number)

    def _unpaged(self, call: _Call, params: list[str]) -> ResultSet:
        self._raise_unless_logged_in()
        with self._closing_on_transport_error():
            page = parse_page(self._call(call, params))
        return ResultSet(call.method, page.fields, page.rows)

    # -- one request, one answer -------------------------------------------

    def _call(self, call: _Call, params: list[str], timeout: float | None = None) -> frames.Frame:
        """One request frame out (method, user, params), one whole answer back, under one deadline.

        Returns a successful answer; raises the typed error otherwise.
        """
        timeout = timeout or self.request_timeout
        request = frames.encode_request(call.request_type, [call.method, self.user, *params])
        with self._closing_on_transport_error():
            with self._exclusive():
                sock = self._open_socket()

                def send() -> float:
                    """Send the frame; the whole answer's deadline starts as it leaves."""
                    deadline = time.monotonic() + timeout
                    wire.send(sock, self.endpoint, request, deadline, timeout)
                    return deadline

                # With a budget: may wait its turn, or raise DailyBudgetExhausted unsent.
                deadline = send() if self._budget is None else self._budget.send_request(send)
                self.requests += 1
                answer = frames.decode_response(wire.receive(sock, self.endpoint, deadline, timeout))
            return self._checked_answer(answer, call)

    def _checked_answer(self, answer: frames.Frame, call: _Call) -> frames.Frame:
        body = answer.fields
        if answer.msg_type == frames.ERROR_TYPE or (len(body) >= 2 and body[0] != cons.BSERR_SUCCESS):
            if len(body) < 2:
                raise ProtocolError(f"error answer to {call.method} has no code and message: {body!r}")
            if body[0] == cons.BSERR_NO_LOGIN:
                self.logged_in = False
            raise error_for_code(body[0], body[1])
        if answer.msg_type != call.answer_type:
            raise ProtocolError(
                f"{call.method} was answered with type {answer.msg_type}, not {call.answer_type}"
            )
        if len(body) < 4 or body[2] != call.method:
            raise ProtocolError(f"answer to {call.method} names another method: {body[:4]!r}")
        return answer

    # -- state guards ------------------------------------------------------

    def _open_socket(self) -> socket.socket:
        self._raise_if_closed()
        if self._sock is None:
            raise NotLoggedInError("the session is not connected; call login() first", cons.BSERR_NO_LOGIN)
        return self._sock

    def _raise_unless_logged_in(self) -> None:
        self._raise_if_closed()
        if not self.logged_in:
            raise NotLoggedInError("the session is not logged in; call login() first", cons.BSERR_NO_LOGIN)

    def _raise_if_closed(self) -> None:
        if self._closed_because is not None:
            raise ConnectionLostError(
                f"the session to {self.endpoint} is closed ({self._closed_because}); open a new session"
            )

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Refuse, rather than interleave, a second thread's use of the socket."""
        if not self._in_use.acquire(blocking=False):
            raise RuntimeError(f"{self!r} is used by two threads at once; give each thread its own session")
        try:
            yield
        finally:
            self._in_use.release()

    @contextlib.contextmanager
    def _closing_on_transport_error(self) -> Iterator[None]:
        """A transport error leaves the socket in an unknown state: close it for good, then re-raise."""
        try:
            yield
        except TransportError as exc:
            self._close(f"{type(exc).__name__}: {exc.message}")
            raise

    def _close(self, reason: str) -> None:
        sock, self._sock = self._sock, None
        self.logged_in = False
        if self._closed_because is None:
            self._closed_because = reason
        if sock is not None:
            wire.shut(sock)


def _checked_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port {port!r} is not a TCP port (1-65535); check BAOSTOCK_PORT")
    return port


def _checked_timeout(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name}={value!r} must be a positive number of seconds")
    return float(value)


def _checked_page(page: Page, call: _Call, number: int, per_page: int) -> Page:
    """Strict paging: the page asked, at the size asked, with no more rows than that size."""
    for what, answered, asked in (("page", page.number, number), ("per_page", page.per_page, per_page)):
        if answered != asked:
            raise ProtocolError(
                f"{call.method}: the server answered {what} {answered} when {asked} was asked"
            )
    if len(page.rows) > per_page:
        raise ProtocolError(f"{call.method}: the server sent {len(page.rows)} rows on a page of {per_page}")
    return page


def _joined_fields(seen: list[str], page_fields: list[str], call: _Call) -> list[str]:
    """Every non-empty page must name the same fields; a page past the end may name none."""
    if not seen or not page_fields:
        return seen or page_fields
    if page_fields != seen:
        raise ProtocolError(f"{call.method}: a later page names fields {page_fields}, the first {seen}")
    return seen
