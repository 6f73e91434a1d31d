"""One synthetic market per seed: universe, profiles, the price model and its bounded caches."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict

import numpy as np

from marketdata_pipeline.simulator.prices import DailyBars, FactorTable, PriceModel
from marketdata_pipeline.simulator.profiles import Profiles, build_profiles
from marketdata_pipeline.simulator.timeline import Timeline, market_timeline
from marketdata_pipeline.simulator.universe import STOCK_TYPE, Universe, load_universe

YEAR_BLOCKS = 1024  # ~30 KB each: about 30 MB of cached symbol-years at most


class Market:
    """The market of one seed. Thread-safe; holds O(symbols x months) floats plus an LRU of year blocks."""

    def __init__(self, seed: int):
        self.seed = seed
        self.universe: Universe = load_universe()
        self.timeline: Timeline = market_timeline()
        self.profiles: Profiles = build_profiles(seed, self.universe, self.timeline)
        self.model = PriceModel(seed, self.profiles, self.timeline)
        self.stock_positions = np.array(
            [pos for pos, kind in enumerate(self.universe.types) if kind == STOCK_TYPE], dtype=np.int64
        )
        self._blocks: OrderedDict[tuple[int, int], DailyBars] = OrderedDict()
        self._lock = threading.Lock()

    def daily(self, sym: int, lo: int, hi: int) -> DailyBars:
        """Raw daily bars of one symbol for day indices lo..hi, served from cached year blocks."""
        tl = self.timeline
        parts = []
        for year in range(int(tl.year_of[lo]), int(tl.year_of[hi]) + 1):
            block = self._year_block(sym, year)
            start = int(tl.year_start[year])
            parts.append(
                _slice(block, max(lo, start) - start, min(hi + 1, int(tl.year_start[year + 1])) - start)
            )
        return parts[0] if len(parts) == 1 else _concat(parts)

    def whole_market_day(self, day: int) -> DailyBars:
        """Raw bars of every A-share for one day index (not cached here: the answer is)."""
        return self.model.daily(self.stock_positions, day, day)

    def factor_table(self, sym: int) -> FactorTable:
        return self.model.factor_table(sym)

    def _year_block(self, sym: int, year: int) -> DailyBars:
        key = (sym, year)
        with self._lock:
            block = self._blocks.get(key)
            if block is not None:
                self._blocks.move_to_end(key)
                return block
        tl = self.timeline
        block = self.model.daily(np.array([sym]), int(tl.year_start[year]), int(tl.year_start[year + 1]) - 1)
        with self._lock:
            self._blocks[key] = block
            while len(self._blocks) > YEAR_BLOCKS:
                self._blocks.popitem(last=False)
        return block


def _slice(bars: DailyBars, a: int, b: int) -> DailyBars:
    values = {name: getattr(bars, name) for name in DailyBars.__dataclass_fields__}
    cut = {name: (v[a:b] if name == "days" else v[..., a:b]) for name, v in values.items()}
    return DailyBars(**cut)


def _concat(parts: list[DailyBars]) -> DailyBars:
    names = DailyBars.__dataclass_fields__
    return DailyBars(**{n: np.concatenate([getattr(p, n) for p in parts], axis=-1) for n in names})


@functools.lru_cache(maxsize=4)
def market_for_seed(seed: int) -> Market:
    """Markets are pure functions of the seed, so simulators with the same seed share one."""
    return Market(seed)
