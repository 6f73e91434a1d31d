"""Typed BaoStock errors, each carrying BaoStock's error code and message.

Two families: `TransportError` (the session is broken and must be discarded:
connect failure, lost connection, timeout, malformed frame) and answer errors
(the server said no; the session stays healthy).
"""

from __future__ import annotations

from baostock.common import contants as cons


class BaoStockError(Exception):
    """Base of every error this client raises."""

    def __init__(self, message: str, code: str = cons.BSERR_UNKNOWN_ERR):
        super().__init__(f"[{code}] {message}" if code else message)
        self.code = code
        self.message = message


class TransportError(BaoStockError):
    """The session's socket is unusable; a pool discards the session."""


class ConnectError(TransportError):
    """The server could not be reached."""

    def __init__(self, message: str, code: str = cons.BSERR_CONNECT_FAIL):
        super().__init__(message, code)


class ConnectionLostError(TransportError):
    """The server closed the connection before a whole answer arrived."""

    def __init__(self, message: str, code: str = cons.BSERR_RECVCONNECTION_CLOSED):
        super().__init__(message, code)


class BaoStockTimeout(TransportError):
    """Connecting, sending or receiving took longer than the configured timeout."""

    def __init__(self, message: str, code: str = cons.BSERR_RECVSOCK_TIMEOUT):
        super().__init__(message, code)


class ProtocolError(TransportError):
    """A frame that does not follow the protocol: bad header, zlib, JSON or CRC."""

    def __init__(self, message: str, code: str = cons.BSERR_PARSE_DATA_ERR):
        super().__init__(message, code)


class AnswerError(BaoStockError):
    """The server answered with an error code; the session is still usable."""


class LoginError(AnswerError):
    """Login refused (bad user or password, bad API key, expired client)."""


class LoginLimitError(LoginError):
    """The account reached its login count limit (10001005)."""


class BlacklistedError(LoginError):
    """The account or address is blacklisted (10001011)."""


class NotLoggedInError(AnswerError):
    """A query was sent on a session that is not logged in (10001001)."""


class BadParameterError(AnswerError):
    """A parameter was refused, by the server or before sending (10004xxx)."""


class ServerError(AnswerError):
    """The server reported a system error (10005001)."""


_BY_CODE: dict[str, type[BaoStockError]] = {
    cons.BSERR_NO_LOGIN: NotLoggedInError,
    cons.BSERR_USERNAMEORPASSWORD_ERR: LoginError,
    cons.BSERR_GETUSERINFO_FAIL: LoginError,
    cons.BSERR_CLIENT_VESION_EXPIRE: LoginError,
    cons.BSERR_LOGIN_COUNT_LIMIT: LoginLimitError,
    cons.BSERR_NEED_ACTIVATE: LoginError,
    cons.BSERR_USERNAME_EMPTY: LoginError,
    cons.BSERR_PASSWORD_EMPTY: LoginError,
    cons.BSERR_BLACKLIST_USER: BlacklistedError,
    cons.BSERR_APIKey_FORMAT_INCORRECT: LoginError,
    cons.BSERR_SYSTEM_ERROR: ServerError,
}


def error_for_code(code: str, message: str) -> BaoStockError:
    """The typed error for an error answer from the server."""
    if code in _BY_CODE:
        return _BY_CODE[code](message, code)
    if code.startswith("10004"):
        return BadParameterError(message, code)
    return AnswerError(message, code)
