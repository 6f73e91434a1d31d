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


class PoolMetrics:
    """What happened in a pool since it opened (counters only grow).

    `counts` holds the `COUNTERS` (psycopg_pool's flat stats dict; a plain
    dict, cheaper on the checkout path than a Counter). Close reasons go to
    `discarded`, or to `evictions` by kind.
    """

    __slots__ = ("counts", "discarded", "evictions", "_waits")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.discarded: Counter[str] = Counter()
        self.evictions: Counter[str] = Counter({"ttl": 0, "idle": 0})
        self._waits: deque[float] = deque(maxlen=WAIT_SAMPLES)

    def record_acquire(self, wait_s: float, reused: bool, waited: bool) -> None:
        counts = self.counts
        counts["acquires"] += 1
        counts["reused"] += reused
        counts["waited"] += waited
        self._waits.append(wait_s)

    def snapshot(self) -> dict:
        waits = list(self._waits)
        acquires = self.counts["acquires"]
        return {
            **self.counts,
            "hit_rate": round(self.counts["reused"] / acquires, 6) if acquires else 0.0,
            "acquire_wait_p50_ms": _percentile_ms(waits, 0.50),
            "acquire_wait_p95_ms": _percentile_ms(waits, 0.95),
            "discarded_by_reason": dict(self.discarded),
            "evictions": dict(self.evictions),
        }
