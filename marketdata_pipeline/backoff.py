"""Retry delays: exponential backoff with full jitter, the one rule for "how long before trying again"."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

_MAX_DOUBLINGS = 64
"""Past this many doublings every delay is the cap anyway; bounding it keeps 2**n from overflowing."""


class ExponentialBackoff:
    """`delay(attempt)` is drawn uniformly in [0, min(cap, initial * 2**(attempt - 1))].

    Full jitter (AWS's "Exponential Backoff and Jitter"): many clients that
    failed together (pools, processes, Dagster steps) spread their retries over
    the whole window instead of coming back in one synchronized wave. Pass
    `seed` (or `rng`) for a reproducible sequence in tests.
    """

    __slots__ = ("initial", "cap", "_random")

    def __init__(
        self, initial: float, cap: float, *, seed: int | None = None, rng: random.Random | None = None
    ) -> None:
        for name, value in (("initial delay", initial), ("max delay", cap)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
                raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
        if initial > cap:
            raise ValueError(f"initial delay {initial} exceeds max delay {cap}; swap them")
        self.initial = float(initial)
        self.cap = float(cap)
        self._random = rng if rng is not None else random.Random(seed)

    def ceiling(self, attempt: int) -> float:
        """The largest delay `attempt` (1 = the first retry) can draw."""
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise ValueError(f"attempt must be an integer >= 1, got {attempt!r}")
        return min(self.cap, self.initial * 2.0 ** min(attempt - 1, _MAX_DOUBLINGS))

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt`."""
        return self._random.uniform(0.0, self.ceiling(attempt))

    def delays(self) -> Iterator[float]:
        """delay(1), delay(2), ... without end; zip it with the attempts you allow."""
        attempt = 1
        while True:
            yield self.delay(attempt)
            attempt += 1
