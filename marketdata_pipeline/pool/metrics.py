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


class PoolMetrics:
    """What happened in a pool since it opened (counters only grow)."""

    __slots__ = (
        "acquires",
        "reused",
        "waited",
        "timeouts",
        "created",
        "create_failures",
        "renewals",
        "leaks",
        "capacity_limits",
        "discarded",
        "evictions",
        "_waits",
    )

    def __init__(self) -> None:
        self.acquires = 0
        self.reused = 0
        self.waited = 0
        self.timeouts = 0
        self.created = 0
        self.create_failures = 0
        self.renewals = 0
        self.leaks = 0
        self.capacity_limits = 0
        self.discarded: Counter[str] = Counter()
        self.evictions: Counter[str] = Counter({"ttl": 0, "idle": 0})
        self._waits: deque[float] = deque(maxlen=WAIT_SAMPLES)

    def record_acquire(self, wait_s: float, reused: bool, waited: bool) -> None:
        self.acquires += 1
        self.reused += reused
        self.waited += waited
        self._waits.append(wait_s)

    def snapshot(self) -> dict:
        waits = list(self._waits)
        return {
            "created": self.created,
            "create_failures": self.create_failures,
            "reused": self.reused,
            "hit_rate": round(self.reused / self.acquires, 6) if self.acquires else 0.0,
            "acquires": self.acquires,
            "waited": self.waited,
            "acquire_wait_p50_ms": _percentile_ms(waits, 0.50),
            "acquire_wait_p95_ms": _percentile_ms(waits, 0.95),
            "timeouts": self.timeouts,
            "discarded_by_reason": dict(self.discarded),
            "evictions": dict(self.evictions),
            "leaks": self.leaks,
            "renewals": self.renewals,
            "capacity_limits": self.capacity_limits,
        }
