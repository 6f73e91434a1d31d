"""A generic, thread-safe pool of sessions (knows nothing of BaoStock).

`SessionPool` lends sessions made by any factory; `KeyedPool` keeps one
`SessionPool` per key (endpoint, account). See DESIGN.md, "The pool".
"""

from marketdata_pipeline.pool import reasons
from marketdata_pipeline.pool.errors import PoolClosed, PoolError, PoolTimeout, TooManyWaiting
from marketdata_pipeline.pool.events import (
    Backoff,
    CapacityLimited,
    Failover,
    PoolEvent,
    SessionAcquired,
    SessionCreated,
    SessionDiscarded,
    SessionEvicted,
    SessionLeaked,
    SessionReleased,
)
from marketdata_pipeline.pool.keyed import KeyedPool
from marketdata_pipeline.pool.pool import SessionPool

__all__ = [
    "Backoff",
    "CapacityLimited",
    "Failover",
    "KeyedPool",
    "PoolClosed",
    "PoolError",
    "PoolEvent",
    "PoolTimeout",
    "SessionAcquired",
    "SessionCreated",
    "SessionDiscarded",
    "SessionEvicted",
    "SessionLeaked",
    "SessionPool",
    "SessionReleased",
    "TooManyWaiting",
    "reasons",
]
