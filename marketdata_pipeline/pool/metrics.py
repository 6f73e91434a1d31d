"""Pool counters and acquire-wait percentiles; mutated only under the pool's lock."""

from __future__ import annotations

from collections import Counter, deque

WAIT_SAMPLES = 4096
"""How many recent acquire waits the percentiles are computed over."""


def _percentile_ms(samples: list[float], fraction: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    index = min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))
    return round(ordered[index] * 1000.0, 3)


COUNTERS = (
    "created",
    "create_failures",
    "reused",
    "acquires",
    "waited",
    "timeouts",
    "leaks",
    "renewals",
    "capacity_limits",
)
"""The flat counters of `stats()`, also summed over the pools of a `KeyedPool`."""


class PoolMetrics(Counter[str]):
    """What happened in a pool since it opened (counters only grow).

    The `COUNTERS` are the Counter itself (psycopg_pool's stats dict; one never
    counted reads 0). Close reasons go to `discarded`, or to `evictions` by kind.
    """

    def __init__(self) -> None:
        super().__init__()
        self.discarded: Counter[str] = Counter()
        self.evictions: Counter[str] = Counter({"ttl": 0, "idle": 0})
        self._waits: deque[float] = deque(maxlen=WAIT_SAMPLES)

    def record_acquire(self, wait_s: float, reused: bool, waited: bool) -> None:
        self["acquires"] += 1
        self["reused"] += reused
        self["waited"] += waited
        self._waits.append(wait_s)

    def snapshot(self) -> dict:
        waits = list(self._waits)
        return {
            **{name: self[name] for name in COUNTERS},
            "hit_rate": round(self["reused"] / self["acquires"], 6) if self["acquires"] else 0.0,
            "acquire_wait_p50_ms": _percentile_ms(waits, 0.50),
            "acquire_wait_p95_ms": _percentile_ms(waits, 0.95),
            "discarded_by_reason": dict(self.discarded),
            "evictions": dict(self.evictions),
        }
