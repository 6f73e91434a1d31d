"""Exponential backoff with full jitter, for retrying a factory that fails."""

from __future__ import annotations

import random


class ExponentialBackoff:
    """Delays that double from `initial` up to `maximum`, each drawn uniformly in [d/2, d].

    Jitter spreads the retries of many pools (or many processes) restarting at
    once, so a server coming back is not hit by a synchronized wave.
    """

    __slots__ = ("_initial", "_maximum", "_current", "_random")

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self._initial = initial
        self._maximum = maximum
        self._current = initial
        self._random = rng or random.Random()

    def next_delay(self) -> float:
        delay = self._current * (0.5 + 0.5 * self._random.random())
        self._current = min(self._current * 2, self._maximum)
        return delay
