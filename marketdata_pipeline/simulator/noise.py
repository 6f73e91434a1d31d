"""Counter-based random numbers: a pure function of (seed, stream, symbol, counter).

Every synthetic value is drawn by hashing its coordinates (splitmix64), so any
day of any symbol can be computed alone, in any order, in a vectorised batch
of one symbol or of the whole market, and always comes out the same.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SYMBOL_MUL = np.uint64(0xD6E8FEB86659FD93)
_COUNTER_MUL = np.uint64(0xA0761D6478BD642F)
_TWO_PI = 2.0 * np.pi
_HALF_SCALE = 1.0 / 4294967296.0


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
    """Standard normal floats: Box-Muller over the two 32-bit halves of one hash."""
    bits = _bits(seed, stream, symbol, counter)
    u1 = ((bits >> np.uint64(32)).astype(np.float64) + 0.5) * _HALF_SCALE
    u2 = ((bits & np.uint64(0xFFFFFFFF)).astype(np.float64) + 0.5) * _HALF_SCALE
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)
