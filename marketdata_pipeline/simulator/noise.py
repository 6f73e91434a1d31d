"""Counter-based random numbers: a pure function of (seed, stream, symbol, counter).

Every synthetic value is drawn by hashing its coordinates (splitmix64), so any
day of any symbol can be computed alone, in any order, in a vectorised batch
of one symbol or of the whole market, and always comes out the same.
"""

from __future__ import annotations

import functools
import statistics

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SYMBOL_MUL = np.uint64(0xD6E8FEB86659FD93)
_COUNTER_MUL = np.uint64(0xA0761D6478BD642F)
_QUANTILES = 1 << 16


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


Coord = np.ndarray | int


def uniform(seed: int, stream: Coord, symbol: Coord, counter: Coord) -> np.ndarray:
    """Uniform floats in (0, 1), broadcast over `stream`, `symbol` and `counter` (integer arrays)."""
    bits = _bits(seed, stream, symbol, counter)
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def _bits(seed: int, stream: Coord, symbol: Coord, counter: Coord) -> np.ndarray:
    seed_key = np.uint64((seed * 1_000_003) & 0xFFFFFFFFFFFFFFFF)
    streams = np.asarray(stream, dtype=np.int64).astype(np.uint64)
    sym = np.asarray(symbol, dtype=np.int64).astype(np.uint64)
    cnt = np.asarray(counter, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        key = _splitmix(streams * np.uint64(7_919) + seed_key)
        return _splitmix(_splitmix(sym * _SYMBOL_MUL + key) ^ (cnt * _COUNTER_MUL))


def normal(seed: int, stream: Coord, symbol: Coord, counter: Coord) -> np.ndarray:
    """Standard normal floats: the top 16 bits of one hash pick a quantile (a table lookup is
    several times faster than Box-Muller, and 65,536 levels are plenty for synthetic prices)."""
    index = (_bits(seed, stream, symbol, counter) >> np.uint64(48)).view(np.int64)
    return _normal_quantiles().take(index)


@functools.cache
def _normal_quantiles() -> np.ndarray:
    inverse = statistics.NormalDist().inv_cdf
    return np.array([inverse((k + 0.5) / _QUANTILES) for k in range(_QUANTILES)])
