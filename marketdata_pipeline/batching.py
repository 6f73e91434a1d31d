"""The one place that maps a security code to its batch partition (no dependencies: every layer uses it)."""

from __future__ import annotations

import zlib

BATCH_COUNT = 16
BATCHES: tuple[str, ...] = tuple(f"b{i:02d}" for i in range(BATCH_COUNT))


def batch_of(code: str) -> str:
    """The batch key of `code` (`sh.600000` form): stable when other codes list or delist."""
    return f"b{zlib.crc32(code.encode('utf-8')) % BATCH_COUNT:02d}"
