"""The BaoStock client: the wire protocol, sessions, typed queries and errors, and their session pool."""

from marketdata_pipeline.baostock.errors import (
    AnswerError,
    BadParameterError,
    BaoStockError,
    BaoStockTimeout,
    BlacklistedError,
    ConnectError,
    ConnectionLostError,
    LoginError,
    LoginLimitError,
    NotLoggedInError,
    ProtocolError,
    ServerError,
    TransportError,
)
from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.baostock.results import ResultSet
from marketdata_pipeline.baostock.session import BaoStockSession
from marketdata_pipeline.baostock.validation import normalize_code

__all__ = [
    "AnswerError",
    "BadParameterError",
    "BaoStockError",
    "BaoStockPool",
    "BaoStockSession",
    "BaoStockTimeout",
    "BlacklistedError",
    "ConnectError",
    "ConnectionLostError",
    "LoginError",
    "LoginLimitError",
    "NotLoggedInError",
    "ProtocolError",
    "ResultSet",
    "ServerError",
    "TransportError",
    "normalize_code",
]
