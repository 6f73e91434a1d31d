"""KeyedPool: one pool per key (endpoint, account), each with its own limits; totals over all keys."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from marketdata_pipeline.pool.errors import PoolClosed
from marketdata_pipeline.pool.metrics import COUNTERS
from marketdata_pipeline.pool.pool import Lease, SessionPool

K = TypeVar("K", bound=Hashable)
S = TypeVar("S")

_SUMMED = ("size", "idle", "in_use", "waiting", "growing", "max_size", *COUNTERS)


class KeyedPool(Generic[K, S]):
    """Pools made on first use by `make_pool(key)`; a key's limits never borrow from another's.

    Typical keys: `(host, port)` for several endpoints, or an account name when
    each account has its own login budget, e.g.
    `KeyedPool(lambda user: BaoStockPool(endpoints, user=user, password=..., max_size=2))`.
    """

    def __init__(self, make_pool: Callable[[K], SessionPool[S]]) -> None:
        if not callable(make_pool):
            raise ValueError(f"make_pool must be a callable key -> SessionPool, got {make_pool!r}")
        self._make_pool = make_pool
        self._pools: dict[K, SessionPool[S]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def pool(self, key: K) -> SessionPool[S]:
        """The pool for `key`, made on first use (at most once per key, even under races)."""
        with self._lock:
            if self._closed:
                raise PoolClosed(f"keyed pool is closed; no pool for {key!r}")
            pool = self._pools.get(key)
            if pool is None:
                # Made under the lock: a pool's constructor does no I/O (growth runs on its workers).
                pool = self._pools[key] = self._make_pool(key)
        return pool

    def session(self, key: K, timeout: float | None = None) -> Lease[S]:
        """`with keyed.session(key) as s:` - a session from `key`'s pool."""
        return self.pool(key).session(timeout)

    def keys(self) -> list[K]:
        with self._lock:
            return list(self._pools)

    def stats(self) -> dict[str, Any]:
        """Totals over every key, plus each key's own stats under "pools" (keyed by `str(key)`)."""
        with self._lock:
            pools = dict(self._pools)
        per_key = {str(key): pool.stats() for key, pool in pools.items()}
        totals: dict[str, Any] = {name: sum(s[name] for s in per_key.values()) for name in _SUMMED}
        totals["hit_rate"] = round(totals["reused"] / totals["acquires"], 6) if totals["acquires"] else 0.0
        totals["keys"] = len(per_key)
        totals["pools"] = per_key
        return totals

    def close(self, timeout: float = 5.0) -> None:
        """Close every key's pool (each gets the full `timeout` to drain)."""
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
        for pool in pools:
            pool.close(timeout)

    def __enter__(self) -> KeyedPool[K, S]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
