"""K-line rows as BaoStock formats them: daily, weekly, monthly and 5/15/30/60-minute bars.

Unadjusted prices carry 4 decimals, adjusted ones 10 (raw x factor of the
latest ex-date on or before the bar); amount 4; turn, pctChg and ratios 6;
volume is an integer string. Suspended days keep a row: prices = previous
close, volume and amount 0, turn and ratios empty.
"""

from __future__ import annotations

import numpy as np

from marketdata_pipeline.simulator import noise
from marketdata_pipeline.simulator.market import Market
from marketdata_pipeline.simulator.prices import DailyBars, round2, round6

RAW, BACK, FORWARD = "3", "1", "2"
_RATIO_FIELDS = ("peTTM", "psTTM", "pcfNcfTTM", "pbMRQ")
_S_MINUTE = 200


def factor_series(market: Market, sym: int, days: np.ndarray, flag: str, factors_through: int) -> np.ndarray:
    """The multiplier of each day's raw prices for adjustflag `flag` (6-decimal factors)."""
    if flag == RAW:
        return np.ones(len(days))
    table = market.factor_table(sym)
    published = table.ex_days <= factors_through
    ex_days, back = table.ex_days[published], table.back[published]
    idx = np.searchsorted(ex_days, days, side="right") - 1
    series = np.where(idx >= 0, back[np.maximum(idx, 0)] if len(back) else 1.0, 1.0)
    if flag == BACK:
        return series
    latest = back[-1] if len(back) else 1.0
    return round6(series / latest)


def kdata_rows(
    market: Market, sym: int, lo: int, hi: int, frequency: str, flag: str, fields: list[str],
    factors_through: int,
) -> list[list[str]]:  # fmt: skip
    """Rows of one symbol for day indices lo..hi in the requested field order."""
    bars = market.daily(sym, lo, hi)
    keep = bars.listed[0]
    if not keep.any():
        return []
    factor = factor_series(market, sym, bars.days, flag, factors_through)
    code = market.universe.codes[sym]
    if frequency == "d":
        index = (0, slice(None)) if keep.all() else (0, keep)
        view = _View(bars, index)
        no_turn = view["suspended"] | bool(market.profiles.is_index[sym])
        days = bars.days[index[1]]
        columns = _daily_columns(market, view, days, [code] * len(days), no_turn, factor[index[1]], flag)
    elif frequency in ("w", "m"):
        back = factor_series(market, sym, bars.days, BACK, factors_through)
        columns = _period_columns(market, bars, keep, factor, flag, code, frequency, back)
    else:
        columns = _minute_columns(market, sym, bars, keep, factor, flag, code, int(frequency))
    return [list(row) for row in zip(*(columns[name]() for name in fields), strict=True)]


WHOLE_MARKET_FIELDS: tuple[str, ...] = (
    "date", "code", "open", "high", "low", "close", "preclose", "volume", "amount", "adjustflag",
    "turn", "tradestatus", "pctChg", "peTTM", "pbMRQ", "psTTM", "pcfNcfTTM", "isST",
)  # fmt: skip
"""The whole-market answer's field order: pbMRQ before psTTM, unlike the per-symbol query
(baostock 0.9.4's demo/demo_daily_k_4_AStock.py; public parsers of live answers agree)."""
STALE_VOLUME_BEFORE_YEAR = 2017
"""Suspended rows of whole-market days before this year may carry a stale volume with amount 0."""


def whole_market_rows(market: Market, day: int) -> list[list[str]]:
    """Every A-share listed on day index `day`, 18 daily fields, unadjusted, in WHOLE_MARKET_FIELDS order.

    Suspended rows have the real answer's shape: empty volume and amount, and on some old days a
    stale non-zero volume with amount 0 (the per-symbol answer gives 0 and 0 for the same day).
    """
    bars = market.whole_market_day(day)
    keep = bars.listed[:, 0]
    view = _View(bars, (keep, 0))
    positions = market.stock_positions[keep]
    codes = [market.universe.codes[s] for s in positions.tolist()]
    days = np.full(len(codes), day)
    columns = _daily_columns(market, view, days, codes, view["suspended"], np.ones(len(codes)), RAW)
    rows = [list(row) for row in zip(*(columns[name]() for name in WHOLE_MARKET_FIELDS), strict=True)]
    volume, amount = WHOLE_MARKET_FIELDS.index("volume"), WHOLE_MARKET_FIELDS.index("amount")
    old = int(market.timeline.iso_dates[day][:4]) < STALE_VOLUME_BEFORE_YEAR
    code_ids = market.profiles.code_id[positions]
    for k in np.flatnonzero(view["suspended"]).tolist():
        stale = old and (int(code_ids[k]) + day) % 3 == 0
        rows[k][volume] = str(100 * (1 + (int(code_ids[k]) * 7 + day) % 9_000)) if stale else ""
        rows[k][amount] = "0" if stale else ""
    return rows


class _View:
    """1-D columns picked out of the (symbols, days) arrays by `index`, each on first use."""

    def __init__(self, bars: DailyBars, index: tuple):
        self._bars = bars
        self._index = index
        self._columns: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        column = self._columns.get(name)
        if column is None:
            if name in _RATIO_FIELDS:
                source = self._bars.ratios[_RATIO_FIELDS.index(name)]
            else:
                source = getattr(self._bars, name)
            column = self._columns[name] = source[self._index]
        return column


def _formatted(pattern: str, values: list) -> list[str]:
    """Format a whole column in one C-level % operation (much faster than a comprehension)."""
    if not values:
        return []
    return (f"{pattern}\0" * len(values) % tuple(values)).split("\0")[:-1]


def _prices(values: np.ndarray, factor: np.ndarray, flag: str) -> list[str]:
    if flag == RAW:
        return _formatted("%.4f", values.tolist())
    return _formatted("%.10f", (values * factor).tolist())


def _fixed6(values: np.ndarray, blank: np.ndarray) -> list[str]:
    text = _formatted("%.6f", values.tolist())
    if blank.any():
        for k in np.flatnonzero(blank).tolist():
            text[k] = ""
    return text


def _daily_columns(market, view, days, codes, no_turn, factor, flag):
    tl = market.timeline
    susp = view["suspended"]

    def price(name):
        return lambda: _prices(view[name], factor, flag)

    columns = {
        "date": lambda: [tl.iso_dates[d] for d in days.tolist()],
        "code": lambda: codes,
        "open": price("open"),
        "high": price("high"),
        "low": price("low"),
        "close": price("close"),
        "preclose": price("preclose"),
        "volume": lambda: _formatted("%d", view["volume"].tolist()),
        "amount": lambda: _formatted("%.4f", view["amount"].tolist()),
        "adjustflag": lambda: [flag] * len(codes),
        "turn": lambda: _fixed6(view["turn"], no_turn),
        "tradestatus": lambda: ["0" if s else "1" for s in susp.tolist()],
        "pctChg": lambda: _formatted("%.6f", view["pct_chg"].tolist()),
        "isST": lambda: ["1" if s else "0" for s in view["is_st"].tolist()],
    }
    for name in _RATIO_FIELDS:
        columns[name] = lambda name=name: _fixed6(view[name], no_turn)
    return columns


def _period_columns(market, bars, keep, factor, flag, code, frequency, back):
    """Weekly or monthly bars from the daily ones; pctChg is the period's total return."""
    tl = market.timeline
    days = bars.days[keep]
    keys = (tl.days[days] - 1) // 7 if frequency == "w" else tl.month_of[days]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(days)] - 1
    f = factor[keep]

    def column(name: str) -> np.ndarray:
        return getattr(bars, name)[0][keep]

    def total(name: str) -> list:
        return np.add.reduceat(column(name), starts).tolist()

    growth = (column("close") * back[keep])[ends] / (column("preclose") * back[keep])[starts]
    is_index = bool(market.profiles.is_index[market.universe.position[code]])
    n = len(starts)
    return {
        "date": lambda: [tl.iso_dates[d] for d in days[ends].tolist()],
        "code": lambda: [code] * n,
        "open": lambda: _prices(column("open")[starts], f[starts], flag),
        "high": lambda: _prices(np.maximum.reduceat(column("high") * f, starts), np.ones(n), flag),
        "low": lambda: _prices(np.minimum.reduceat(column("low") * f, starts), np.ones(n), flag),
        "close": lambda: _prices(column("close")[ends], f[ends], flag),
        "volume": lambda: _formatted("%d", total("volume")),
        "amount": lambda: _formatted("%.4f", round2(np.array(total("amount"))).tolist()),
        "adjustflag": lambda: [flag] * n,
        "turn": lambda: [""] * n if is_index else _formatted("%.6f", total("turn")),
        "pctChg": lambda: _formatted("%.6f", ((growth - 1) * 100).tolist()),
    }


def _minute_columns(market, sym, bars, keep, factor, flag, code, minutes):
    trading = keep & ~bars.suspended[0]
    days = bars.days[trading]
    per_day = 240 // minutes
    o, h, lo, c = (getattr(bars, n)[0][trading] for n in ("open", "high", "low", "close"))
    path_o, path_h, path_l, path_c, volume = _minute_paths(
        market, sym, days, o, h, lo, c, bars.volume[0][trading], per_day
    )
    amount = round2(volume * (path_o + path_h + path_l + path_c) / 4)
    f = np.repeat(factor[trading], per_day)
    stamps = _minute_stamps(minutes)
    tl = market.timeline
    dates = [tl.iso_dates[d] for d in days.tolist()]
    n = len(days) * per_day
    return {
        "date": lambda: [d for d in dates for _ in range(per_day)],
        "time": lambda: [d.replace("-", "") + s for d in dates for s in stamps],
        "code": lambda: [code] * n,
        "open": lambda: _prices(path_o.ravel(), f, flag),
        "high": lambda: _prices(path_h.ravel(), f, flag),
        "low": lambda: _prices(path_l.ravel(), f, flag),
        "close": lambda: _prices(path_c.ravel(), f, flag),
        "volume": lambda: [str(v) for v in volume.ravel().tolist()],
        "amount": lambda: [f"{v:.4f}" for v in amount.ravel().tolist()],
        "adjustflag": lambda: [flag] * n,
    }


def _minute_paths(market, sym, days, o, h, lo, c, volume, per_day):
    """Intraday bars inside each day's range: open to close, touching the day's high and low."""
    code_id = int(market.profiles.code_id[sym])
    counters = days[:, None] * 64 + np.arange(per_day)[None, :]
    z_path, z_vol = noise.normal(
        market.seed, np.array([_S_MINUTE, _S_MINUTE + 1])[:, None, None], code_id, counters[None, :, :]
    )
    steps = np.cumsum(z_path, axis=1)
    bridge = steps - steps[:, -1:] * (np.arange(1, per_day + 1) / per_day)[None, :]
    span = (h - lo)[:, None]
    drift = o[:, None] + (c - o)[:, None] * (np.arange(1, per_day + 1) / per_day)[None, :]
    closes = round2(np.clip(drift + bridge * span / (2 * np.sqrt(per_day)), lo[:, None], h[:, None]))
    closes[:, -1] = c
    opens = np.concatenate([o[:, None], closes[:, :-1]], axis=1)
    highs, lows = np.maximum(opens, closes), np.minimum(opens, closes)
    highs[np.arange(len(days)), np.argmax(highs, axis=1)] = h
    lows[np.arange(len(days)), np.argmin(lows, axis=1)] = lo
    weights = np.exp(0.5 * z_vol) * (1.5 + np.cos(np.linspace(0, 2 * np.pi, per_day)))[None, :]
    lots = volume // 100
    cum = np.round(np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True) * lots[:, None])
    split = np.diff(np.concatenate([np.zeros((len(days), 1)), cum], axis=1)).astype(np.int64) * 100
    return opens, highs, lows, closes, split


def _minute_stamps(minutes: int) -> list[str]:
    morning = [9 * 60 + 30 + k * minutes for k in range(1, 120 // minutes + 1)]
    afternoon = [13 * 60 + k * minutes for k in range(1, 120 // minutes + 1)]
    return [f"{m // 60:02d}{m % 60:02d}00000" for m in morning + afternoon]
