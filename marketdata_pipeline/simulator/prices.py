"""The price model: raw daily bars of any symbols over any day range, and back-adjust factors.

A symbol's log price is a random walk of clipped daily returns (zero on
suspended days) folded into a band, times the product of its ex-date ratios;
closes are rounded to the 0.01 tick. The walk's running sum is kept per
calendar month (one float per symbol and month), so any day is computed from
its month's start: one day of the whole market and ten years of one symbol
take the same code path and give bit-identical values.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from marketdata_pipeline.simulator import noise
from marketdata_pipeline.simulator.profiles import Profiles
from marketdata_pipeline.simulator.timeline import Timeline

# Returns stay this far (in log terms) inside the price limit, so that rounding both
# prices to the tick can never push a move past the limit.
LIMIT_MARGIN = 0.015
_S_RETURN, _S_OPEN, _S_HIGH, _S_LOW, _S_VOLUME = 100, 101, 102, 103, 104
_OFFSET_CHUNK = 64


@dataclass(frozen=True)
class DailyBars:
    """Raw daily values, arrays of shape (symbols, days) for days[0]..days[-1]."""

    days: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    preclose: np.ndarray
    volume: np.ndarray
    amount: np.ndarray
    turn: np.ndarray
    pct_chg: np.ndarray
    ratios: np.ndarray  # (4, symbols, days)
    suspended: np.ndarray
    is_st: np.ndarray
    listed: np.ndarray


@dataclass(frozen=True)
class FactorTable:
    """One symbol's ex-dates (day indices) and back-adjust factors (6 decimals) from each on."""

    ex_days: np.ndarray
    back: np.ndarray


@dataclass(frozen=True)
class _Walk:
    close: np.ndarray  # closes of days lo-1..hi
    limit: np.ndarray
    ex_ratio: np.ndarray
    suspended: np.ndarray
    is_st: np.ndarray


def round2(x: np.ndarray) -> np.ndarray:
    return np.round(x, 2)


def round6(x: np.ndarray | float) -> np.ndarray:
    return np.round(x, 6)


class PriceModel:
    """Computes bars on demand; keeps only the per-month walk offsets and factor tables (thread-safe)."""

    def __init__(self, seed: int, profiles: Profiles, timeline: Timeline):
        self.seed = seed
        self.profiles = profiles
        self.timeline = timeline
        self._offsets: dict[int, np.ndarray] = {}
        self._factors: dict[int, FactorTable] = {}
        self._lock = threading.Lock()
        month_len = np.diff(timeline.month_start)
        self._month_width = int(month_len.max())
        self._pos_in_month = np.arange(timeline.size) - timeline.month_start[timeline.month_of]

    def daily(self, syms: np.ndarray, lo: int, hi: int) -> DailyBars:
        """Raw daily bars of universe positions `syms` for day indices lo..hi (inclusive)."""
        p = self.profiles
        days = np.arange(lo, hi + 1)
        walk = self._walk(syms, lo, hi)
        prev, close = walk.close[:, :-1], walk.close[:, 1:]
        preclose = round2(prev * walk.ex_ratio)
        ids = p.code_id[syms][None, :, None]
        z_open, z_high, z_low, z_vol = noise.normal(
            self.seed,
            np.array([_S_OPEN, _S_HIGH, _S_LOW, _S_VOLUME])[:, None, None],
            ids,
            days[None, None, :],
        )
        sigma = p.sigma[syms][:, None]
        up = np.floor(preclose * (1 + walk.limit) * 100 + 1e-6) / 100
        down = np.ceil(preclose * (1 - walk.limit) * 100 - 1e-6) / 100
        open_ = np.clip(round2(preclose * np.exp(0.4 * sigma * z_open)), down, up)
        top, bottom = np.maximum(open_, close), np.minimum(open_, close)
        high = np.maximum(np.minimum(round2(top * (1 + 0.5 * sigma * np.abs(z_high))), up), top)
        low = np.minimum(np.maximum(round2(bottom * (1 - 0.5 * sigma * np.abs(z_low))), down), bottom)
        susp = walk.suspended
        open_, high, low = (np.where(susp, preclose, a) for a in (open_, high, low))
        pct = (close / preclose - 1.0) * 100.0
        base = p.volume_base[syms][:, None] * np.exp(0.5 * z_vol) * (1.0 + 0.1 * np.abs(pct))
        volume = np.where(susp, 0, np.maximum(1, np.round(base / 100.0)) * 100).astype(np.int64)
        unit = np.where(
            p.is_index[syms][:, None], p.unit_price[syms][:, None], (open_ + high + low + close) / 4
        )
        amount = round2(volume * unit)
        floats = p.float_shares[syms][:, None]
        turn = np.divide(volume * 100.0, floats, out=np.zeros_like(close), where=floats > 0)
        centre = np.exp((p.fold_lo[syms] + p.fold_hi[syms]) / 2)[:, None]
        ratios = p.ratio_base[syms].T[:, :, None] * (close / centre)[None, :, :]
        listed = (p.ipo_idx[syms][:, None] <= days) & (days < p.out_idx[syms][:, None])
        return DailyBars(
            days,
            open_,
            high,
            low,
            close,
            preclose,
            volume,
            amount,
            turn,
            pct,
            ratios,
            susp,
            walk.is_st,
            listed,
        )

    def factor_table(self, sym: int) -> FactorTable:
        """Ex-dates of one symbol and the back factor from each on: b_k = b_(k-1) x prev close / preclose."""
        with self._lock:
            table = self._factors.get(sym)
        if table is not None:
            return table
        ex_days = self.profiles.ex_day[sym][self.profiles.ex_day[sym] >= 0]
        back = np.ones(len(ex_days))
        if len(ex_days):
            lo = int(ex_days[0])
            walk = self._walk(np.array([sym]), lo, int(ex_days[-1]))
            prev = walk.close[0, ex_days - lo]
            preclose = round2(prev * walk.ex_ratio[0, ex_days - lo])
            running = 1.0
            for k, ratio in enumerate(prev / preclose):
                running = float(round6(running * ratio))
                back[k] = running
        table = FactorTable(ex_days, back)
        with self._lock:
            self._factors[sym] = table
        return table

    def _walk(self, syms: np.ndarray, lo: int, hi: int) -> _Walk:
        p, tl = self.profiles, self.timeline
        start = int(tl.month_start[tl.month_of[max(lo - 1, 0)]])
        days = np.arange(start, hi + 1)
        returns, limit, suspended, is_st = self._returns(syms, days)
        offsets = self._month_offsets(syms)
        walked = np.empty_like(returns)
        months = tl.month_of[days]
        for month in range(int(months[0]), int(months[-1]) + 1):
            a = int(tl.month_start[month]) - start
            b = min(int(tl.month_start[month + 1]), hi + 1) - start
            walked[:, a:b] = offsets[:, month][:, None] + np.cumsum(returns[:, a:b], axis=1)
        close = self._close(syms, days, walked)
        if lo == 0:
            first = self._close(syms, np.array([0]), np.zeros((len(syms), 1)), before_start=True)
            close = np.concatenate([first, close], axis=1)
        else:
            close = close[:, lo - 1 - start :]
        cut = lo - start
        year = tl.year_of[days[cut:]]
        ex_day = p.ex_day[syms][:, year]
        ex_ratio = np.where(ex_day == days[cut:], p.ex_q[syms][:, year], 1.0)
        return _Walk(close, limit[:, cut:], ex_ratio, suspended[:, cut:], is_st[:, cut:])

    def _close(self, syms, days, walked, before_start: bool = False) -> np.ndarray:
        p, tl = self.profiles, self.timeline
        lo_band, hi_band = p.fold_lo[syms][:, None], p.fold_hi[syms][:, None]
        width = hi_band - lo_band
        folded = np.mod(p.x0[syms][:, None] + walked - lo_band, 2 * width)
        level = np.exp(lo_band + np.where(folded <= width, folded, 2 * width - folded))
        if before_start:
            return round2(level)
        year = tl.year_of[days]
        ex_day = p.ex_day[syms][:, year]
        ratio = p.q_before[syms][:, year] * np.where(
            (ex_day >= 0) & (ex_day <= days), p.ex_q[syms][:, year], 1.0
        )
        return round2(level * ratio)

    def _returns(self, syms: np.ndarray, days: np.ndarray):
        p, tl = self.profiles, self.timeline
        z = noise.normal(self.seed, _S_RETURN, p.code_id[syms][:, None], days[None, :])
        is_st = (p.st_start[syms][:, None] <= days) & (days < p.st_end[syms][:, None])
        board = p.board_limit[syms][:, None]
        limit = np.where(is_st & (board < 0.2), 0.05, board)
        returns = np.clip(
            p.sigma[syms][:, None] * z, np.log1p(-limit) + LIMIT_MARGIN, np.log1p(limit) - LIMIT_MARGIN
        )
        year = tl.year_of[days]
        suspended = (p.susp_start[syms][:, year] <= days) & (days < p.susp_end[syms][:, year])
        returns[suspended] = 0.0
        return returns, limit, suspended, is_st

    def _month_offsets(self, syms: np.ndarray) -> np.ndarray:
        with self._lock:
            missing = [int(s) for s in dict.fromkeys(syms.tolist()) if s not in self._offsets]
        for a in range(0, len(missing), _OFFSET_CHUNK):
            chunk = np.array(missing[a : a + _OFFSET_CHUNK])
            computed = self._compute_offsets(chunk)
            with self._lock:
                self._offsets.update(zip(chunk.tolist(), computed, strict=True))
        with self._lock:
            return np.stack([self._offsets[int(s)] for s in syms])

    def _compute_offsets(self, syms: np.ndarray) -> np.ndarray:
        """Walk sum at each month start; summed with the same cumsum a range query uses."""
        tl = self.timeline
        returns = self._returns(syms, np.arange(tl.size))[0]
        months = len(tl.month_start) - 1
        padded = np.zeros((len(syms), months, self._month_width))
        padded[:, tl.month_of, self._pos_in_month] = returns
        totals = np.cumsum(padded, axis=2)[:, :, -1]
        offsets = np.zeros((len(syms), months))
        offsets[:, 1:] = np.cumsum(totals, axis=1)[:, :-1]
        return offsets
