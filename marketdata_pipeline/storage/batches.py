"""The batch a code's rows are filed under: checks incoming rows and fills stock_universe.batch.

The same contract as `ingest.batching.batch_of` (DESIGN: `zlib.crc32(code) % 16`), restated here
because importing `ingest` would pull the BaoStock protocol into the storage layer; a test holds
the two equal for every code of the real universe.
"""

from __future__ import annotations

import zlib

BATCH_COUNT = 16
BATCHES: tuple[str, ...] = tuple(f"b{i:02d}" for i in range(BATCH_COUNT))


def batch_of(code: str) -> str:
    """The batch key of `code` (`sh.600000` form)."""
    return f"b{zlib.crc32(code.encode('utf-8')) % BATCH_COUNT:02d}"
