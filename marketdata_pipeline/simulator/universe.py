"""The real securities universe (codes and names), read from the captured query_all_stock frame."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from marketdata_pipeline.baostock import frames

UNIVERSE_FRAME = "query_all_stock_2024-01-02.bin"
INDEX_PREFIXES = ("sh.000", "sz.399")
STOCK_TYPE = "1"
INDEX_TYPE = "2"


@dataclass(frozen=True)
class Universe:
    """Codes in the captured order, their names and BaoStock security type ("1" stock, "2" index)."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    types: tuple[str, ...]

    @functools.cached_property
    def position(self) -> dict[str, int]:
        return {code: pos for pos, code in enumerate(self.codes)}


@functools.cache
def load_universe() -> Universe:
    """Decode the packaged capture (5,638 securities: 541 indices, 5,097 A-shares)."""
    raw = resources.files("marketdata_pipeline.simulator").joinpath("data", UNIVERSE_FRAME).read_bytes()
    rows = json.loads(frames.decode_response(raw).fields[6])["record"]
    codes = tuple(row[0] for row in rows)
    types = tuple(INDEX_TYPE if code.startswith(INDEX_PREFIXES) else STOCK_TYPE for code in codes)
    return Universe(codes, tuple(row[2] for row in rows), types)
