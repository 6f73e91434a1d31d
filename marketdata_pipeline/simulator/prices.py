"""The price model: raw daily bars of any symbols over any day range, and back-adjust factors.

A symbol's log price is a walk folded into a band, times the product of its
ex-date ratios; closes are rounded to the 0.01 tick. The walk is anchored per
calendar month: a monthly move (one draw per symbol and month) fixes where each
month starts, and the month's clipped daily returns (zero on suspended days)
are shifted evenly so the month covers exactly that move. Every day is thus
computed from its own month alone - one day of the whole market costs one
month of draws, not the symbol's whole history - and the whole market and a
single symbol go through the same arithmetic, giving bit-identical values.
Daily and monthly parts are each capped at a share of the symbol's tightest
price limit over its listed life (marketdata_pipeline.boards), so a day never moves past its limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from marketdata_pipeline.boards import BOARDS
from marketdata_pipeline.simulator import noise
from marketdata_pipeline.simulator.profiles import Profiles
from marketdata_pipeline.simulator.timeline import Timeline

# Returns stay this far (in log terms) inside the price limit, so that rounding both
# prices to the tick can never push a move past the limit.
LIMIT_MARGIN = 0.015
_S_RETURN, _S_OPEN, _S_HIGH, _S_LOW, _S_VOLUME, _S_MONTH = 100, 101, 102, 103, 104, 105
# a day moves at most (daily share + month share + daily share) x the cap: the clipped
# return, plus the month's shift of at most (month move + sum of returns) / active days
_DAILY_SHARE = 0.4
_MONTH_SHARE = 0.2
_MONTH_SCALE = 0.7


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
    limit: np.ndarray  # the day's price limit, a fraction of the preclose
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
        self._plans: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._factors: dict[int, FactorTable] = {}
        self._lock = threading.Lock()
        month_len = np.diff(timeline.month_start)
        self._month_width = int(month_len.max())
        self._pos_in_month = np.arange(timeline.size) - timeline.month_start[timeline.month_of]
        self._move_cap = np.log1p(_tightest_limits(profiles, timeline)) - LIMIT_MARGIN

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
        open_ = np.minimum(np.maximum(round2(preclose * np.exp(0.4 * sigma * z_open)), down), up)
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
            walk.limit,
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
        first_month, last_month = int(tl.month_of[max(lo - 1, 0)]), int(tl.month_of[hi])
        start = int(tl.month_start[first_month])
        days = np.arange(start, int(tl.month_start[last_month + 1]))
        returns, suspended = self._daily_returns(syms, days)
        anchor, move, active = (a[:, first_month : last_month + 1] for a in self._month_plan(syms))
        where = (slice(None), tl.month_of[days] - first_month, self._pos_in_month[days])
        padded = np.zeros((len(syms), last_month - first_month + 1, self._month_width))
        padded[where] = returns
        totals = np.cumsum(padded, axis=2)[:, :, -1]
        shift = np.divide(move - totals, active, out=np.zeros_like(totals), where=active > 0)
        padded[where] = returns + shift[where[:2]] * ~suspended
        walked = (anchor[:, :, None] + np.cumsum(padded, axis=2))[where][:, : hi + 1 - start]
        close = self._close(syms, days[: hi + 1 - start], walked)
        if lo == 0:
            first = self._close(syms, np.array([0]), np.zeros((len(syms), 1)), before_start=True)
            close = np.concatenate([first, close], axis=1)
        else:
            close = close[:, lo - 1 - start :]
        window = days[lo - start : hi + 1 - start]
        year = tl.year_of[window]
        ex_day = p.ex_day[syms][:, year]
        ex_ratio = np.where(ex_day == window, p.ex_q[syms][:, year], 1.0)
        is_st = (p.st_start[syms][:, None] <= window) & (window < p.st_end[syms][:, None])
        limit = _limits(p.board[syms], tl.days[window], is_st)
        return _Walk(close, limit, ex_ratio, suspended[:, lo - start : hi + 1 - start], is_st)

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

    def _daily_returns(self, syms: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.profiles
        z = noise.normal(self.seed, _S_RETURN, p.code_id[syms][:, None], days[None, :])
        cap = self._move_cap[syms][:, None] * _DAILY_SHARE
        suspended = self._suspended(syms, days)
        returns = np.where(suspended, 0.0, np.minimum(np.maximum(p.sigma[syms][:, None] * z, -cap), cap))
        return returns, suspended

    def _suspended(self, syms: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Suspension mask over a day range, painted from the intervals (cheaper than per-day lookups)."""
        p = self.profiles
        first, count = int(days[0]), len(days)
        starts, ends = p.susp_start[syms], p.susp_end[syms]
        hit = (starts >= 0) & (ends > first) & (starts < first + count)
        rows = np.broadcast_to(np.arange(len(syms))[:, None], starts.shape)[hit]
        marks = np.zeros((len(syms), count + 1), dtype=np.int64)
        np.add.at(marks, (rows, np.clip(starts[hit] - first, 0, count)), 1)
        np.add.at(marks, (rows, np.clip(ends[hit] - first, 0, count)), -1)
        return np.cumsum(marks, axis=1)[:, :count] > 0

    def _month_plan(self, syms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(walk at each month start, the month's move, its unsuspended days), cached per symbol."""
        with self._lock:
            missing = [int(s) for s in dict.fromkeys(syms.tolist()) if s not in self._plans]
        if missing:
            computed = self._compute_plans(np.array(missing))
            with self._lock:
                for k, sym in enumerate(missing):
                    self._plans[sym] = tuple(part[k] for part in computed)
        with self._lock:
            rows = [self._plans[int(s)] for s in syms]
        return tuple(np.stack([row[i] for row in rows]) for i in range(3))

    def _compute_plans(self, syms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, tl = self.profiles, self.timeline
        months = len(tl.month_start) - 1
        active = np.broadcast_to(np.diff(tl.month_start), (len(syms), months)).astype(np.float64)
        starts, ends = p.susp_start[syms], p.susp_end[syms]
        years = np.arange(tl.years)
        for month in range(12):  # a suspension never leaves its year
            index = years * 12 + month
            begin, stop = tl.month_start[index], tl.month_start[index + 1]
            overlap = np.minimum(ends, stop) - np.maximum(starts, begin)
            active[:, index] -= np.where(starts >= 0, np.maximum(overlap, 0), 0)
        w = noise.normal(self.seed, _S_MONTH, p.code_id[syms][:, None], np.arange(months)[None, :])
        cap = self._move_cap[syms][:, None] * _MONTH_SHARE * active
        move = np.clip(p.sigma[syms][:, None] * np.sqrt(active) * _MONTH_SCALE * w, -cap, cap)
        anchor = np.zeros_like(move)
        anchor[:, 1:] = np.cumsum(move, axis=1)[:, :-1]
        return anchor, move, active


def _limits(board: np.ndarray, ordinals: np.ndarray, is_st: np.ndarray) -> np.ndarray:
    """The (symbols, days) price limits, as fractions, of symbols on `board` (BOARDS indices) on the
    days of `ordinals`, ST or not as `is_st` says."""
    limit = np.zeros(is_st.shape)
    for index, spec in enumerate(BOARDS):
        rows = board == index
        for k, rule in enumerate(spec.rules):  # oldest first: a later rule overrides from its day on
            on = rows[:, None] & ((ordinals >= rule.since.toordinal()) | (k == 0))[None, :]
            limit = np.where(on, np.where(is_st, rule.st_limit, rule.limit) / 100, limit)
    return limit


def _tightest_limits(p: Profiles, timeline: Timeline) -> np.ndarray:
    """Each symbol's narrowest price limit (a fraction) over the rules in force while it is listed,
    its ST limit if it is ever ST."""
    end = np.where(p.out_ordinal > 0, p.out_ordinal, timeline.days[-1] + 1)
    ever_st = p.st_start >= 0
    tightest = np.ones(len(p.board))
    for index, spec in enumerate(BOARDS):
        rows = p.board == index
        for k, rule in enumerate(spec.rules):
            until = spec.rules[k + 1].since.toordinal() if k + 1 < len(spec.rules) else end.max() + 1
            overlaps = rows & (p.ipo_ordinal < until) & ((k == 0) | (end > rule.since.toordinal()))
            narrow = np.where(ever_st, rule.st_limit, rule.limit) / 100
            tightest = np.where(overlaps, np.minimum(tightest, narrow), tightest)
    return tightest
