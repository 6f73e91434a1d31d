"""Typed BaoStock errors, each carrying BaoStock's error code and message.

Two families: `TransportError` (the session is broken and must be discarded:
connect failure, lost connection, timeout, malformed frame) and answer errors
(the server said no; the session stays healthy). Among answer errors,
`StopError` means the whole run must stop (blacklisted, credentials or client
rejected, an unknown account answer, the daily request budget spent).
"""

from __future__ import annotations

from baostock.common import contants as cons


class BaoStockError(Exception):
    """Base of every error this client raises; `code` defaults to the class's `default_code`.

    `message` keeps the words as given (the server's own); str() adds the code and the class's `advice`.
    """

    default_code = cons.BSERR_UNKNOWN_ERR
    advice = ""

    def __init__(self, message: str, code: str | None = None):
        code = self.default_code if code is None else code
        text = f"{message}; {self.advice}" if self.advice else message
        super().__init__(f"[{code}] {text}" if code else text)
        self.code = code
        self.message = message


class TransportError(BaoStockError):
    """The session's socket is unusable; a pool discards the session."""


class ConnectError(TransportError):
    """The server could not be reached."""

    default_code = cons.BSERR_CONNECT_FAIL


class ConnectionLostError(TransportError):
    """The server closed the connection before a whole answer arrived."""

    default_code = cons.BSERR_RECVCONNECTION_CLOSED


class BaoStockTimeout(TransportError):
    """Connecting, sending or receiving took longer than the configured timeout."""

    default_code = cons.BSERR_RECVSOCK_TIMEOUT


class ProtocolError(TransportError):
    """A frame that does not follow the protocol: bad header, zlib, JSON or CRC."""

    default_code = cons.BSERR_PARSE_DATA_ERR


class AnswerError(BaoStockError):
    """The server answered with an error code; the session is still usable."""


class StopError(AnswerError):
    """The server (or the local request budget) said stop: the whole run must end now.

    No retry, no fallback, no new login: a pool that sees one refuses every
    further checkout with it. `cooldown_s` is how long automation should wait
    before asking again (None: no pause, a person must fix something first);
    `advice` says what to change.
    """

    cooldown_s: float | None = None


class LoginError(AnswerError):
    """Login refused (bad user or password, bad API key, expired client)."""


class CredentialsRejected(StopError, LoginError):
    """The server rejected the user, password or API key (10001002 and kin): final, never retried."""

    advice = (
        "check BAOSTOCK_USER, BAOSTOCK_PASSWORD and BAOSTOCK_API_KEY "
        "(anonymous / 123456 is the public account)"
    )


class ClientRejected(StopError, LoginError):
    """The server refused this client version (10001004)."""

    advice = "the server no longer accepts this client version: upgrade the baostock package"


class AccountRefused(StopError, LoginError):
    """An account or access answer this client does not know (10001xxx, e.g. 10001015): stop, never guess."""

    advice = (
        "an account/access answer baostock 0.9.4 does not list; the run stopped instead of retrying: "
        "read the server's message above, and run `marketdata doctor` before trying again"
    )


class LoginLimitError(LoginError):
    """The account reached its login count limit (10001005).

    Not a stop by itself: a pool that holds sessions settles at what it has;
    a pool that holds none fails its borrowers at once (see BaoStockPool).
    """


class BlacklistedError(StopError, LoginError):
    """The account or address is blacklisted (10001011): stop everything, pause automation for a day."""

    cooldown_s = 24 * 3600.0
    advice = (
        "BaoStock blacklisted this address or account: no more requests are sent; blacklisting lasts "
        "about a day, so try again after the cool-down (BAOSTOCK_BLACKLIST_COOLDOWN_H, default 24 h), "
        "and lower BAOSTOCK_MAX_REQUESTS_PER_SECOND, BAOSTOCK_POOL_SIZE or the baostock concurrency "
        "slots first"
    )


class ServerUnreachable(StopError):
    """No endpoint could be reached before the pool ever logged in: not an answer, but the run ends too.

    Mid-run outages are the pool's and the breaker's business (reconnect,
    failover); a server that was never reached is a setting or an outage that
    retries would only spend minutes on.
    """

    advice = "check BAOSTOCK_HOST/BAOSTOCK_PORT and that the server is up; `marketdata doctor` checks it"


class DailyBudgetExhausted(StopError):
    """This run would send more requests than BAOSTOCK_MAX_REQUESTS_PER_DAY leaves today (never sent)."""

    advice = "wait for the next Asia/Shanghai day or raise BAOSTOCK_MAX_REQUESTS_PER_DAY"


class NotLoggedInError(AnswerError):
    """A query was sent on a session that is not logged in (10001001)."""


class BadParameterError(AnswerError):
    """A parameter was refused, by the server or before sending (10004xxx)."""


class ServerError(AnswerError):
    """The server reported a system error (10005001)."""


_BY_CODE: dict[str, type[BaoStockError]] = {
    cons.BSERR_NO_LOGIN: NotLoggedInError,
    cons.BSERR_USERNAMEORPASSWORD_ERR: CredentialsRejected,
    cons.BSERR_GETUSERINFO_FAIL: CredentialsRejected,
    cons.BSERR_CLIENT_VESION_EXPIRE: ClientRejected,
    cons.BSERR_LOGIN_COUNT_LIMIT: LoginLimitError,
    cons.BSERR_NEED_ACTIVATE: CredentialsRejected,
    cons.BSERR_USERNAME_EMPTY: CredentialsRejected,
    cons.BSERR_PASSWORD_EMPTY: CredentialsRejected,
    cons.BSERR_BLACKLIST_USER: BlacklistedError,
    cons.BSERR_APIKey_FORMAT_INCORRECT: CredentialsRejected,
    cons.BSERR_SYSTEM_ERROR: ServerError,
}


def error_for_code(code: str, message: str) -> BaoStockError:
    """The typed error for an error answer from the server."""
    if code in _BY_CODE:
        return _BY_CODE[code](message, code)
    if code.startswith("10004"):
        return BadParameterError(message, code)
    if code.startswith("10001") and code != cons.BSERR_LOGOUT_FAIL:
        return AccountRefused(message, code)
    return AnswerError(message, code)
