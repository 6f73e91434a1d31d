"""Seeded data anomalies (`--anomaly KIND[:RATE]`): one kind per reconciliation check, plus revisions.

A (code, day) carries an anomaly of a kind when a counter-based draw of (seed, kind, code, day)
falls below the kind's rate, so the per-symbol and the whole-market answers agree on which rows
are wrong and how, whatever the query's shape. Each kind breaks exactly the rule its check
enforces and leaves the others' rules intact:

- preclose_chain: preclose raised 2% + 0.03 on a trading, non-ex-date row (pctChg untouched).
- suspension_rules: a trading row reports volume, amount and turn 0.
- price_limits: pctChg 12 points past the day's limit (marketdata_pipeline.boards; not on an IPO's
  first 5 days, when the rules may allow any move).
- volume_units: volume in lots (shares / 100), amount unchanged.
- universe_matches_bars: query_all_stock reports the other trade status than the day's bar.
- revision: a trading row's volume, amount and turn grow ~5% once a later day is published
  (the next day's answers revise it; the day's first publication is clean).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np

from marketdata_pipeline.boards import BOARDS
from marketdata_pipeline.simulator import noise
from marketdata_pipeline.simulator.clock import PublicationClock
from marketdata_pipeline.simulator.prices import DailyBars, round2

KINDS = (
    "preclose_chain",
    "suspension_rules",
    "price_limits",
    "volume_units",
    "universe_matches_bars",
    "revision",
)
DEFAULT_RATE = 0.02
_S_ANOMALY = 300  # + the kind's index: a stream of its own per kind
_IPO_DAYS = max(rule.ipo_free_days for board in BOARDS for rule in board.rules)
_BAR_KINDS = tuple(kind for kind in KINDS if kind != "universe_matches_bars")


def parse_anomaly(text: str) -> tuple[str, float]:
    """`KIND` or `KIND:RATE` -> (kind, rate); a bad kind or rate raises ValueError naming the fix."""
    kind, _, rate_text = text.partition(":")
    if kind not in KINDS:
        raise ValueError(f"anomaly {text!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if not rate_text:
        return kind, DEFAULT_RATE
    try:
        rate = float(rate_text)
    except ValueError:
        rate = -1.0
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"anomaly {text!r}: rate {rate_text!r} is not a probability in (0, 1] like 0.02")
    return kind, rate


class Anomalies:
    """Which anomaly kinds are on, at which rate; immutable, built from "KIND[:RATE]" strings or a mapping."""

    def __init__(self, spec: Iterable[str] | Mapping[str, float] | None = None):
        rates: dict[str, float] = {}
        if isinstance(spec, Mapping):
            for kind, rate in spec.items():
                rates.update([parse_anomaly(f"{kind}:{rate}")])
        elif isinstance(spec, str):
            raise TypeError(f"anomalies must be a list of 'KIND[:RATE]' strings, not the string {spec!r}")
        elif spec is not None:
            rates.update(parse_anomaly(text) for text in spec)
        self.rates: Mapping[str, float] = dict(rates)

    def __repr__(self) -> str:
        return f"Anomalies({[f'{kind}:{rate}' for kind, rate in self.rates.items()]})"

    def hits(self, market, kind: str, syms: np.ndarray, bars: DailyBars, published: int) -> np.ndarray:
        """(symbols, days) mask of the rows `kind` alters in `bars` of universe positions `syms`.

        `published` is the day index of the last published day (revisions touch only earlier days).
        """
        rate = self.rates.get(kind, 0.0)
        if not rate:
            return np.zeros(bars.close.shape, dtype=bool)
        p, days = market.profiles, bars.days
        draw = noise.uniform(
            market.seed, _S_ANOMALY + KINDS.index(kind), p.code_id[syms][:, None], days[None, :]
        )
        eligible = bars.listed & ~p.is_index[syms][:, None] & ~bars.suspended
        if kind == "preclose_chain":
            ex_day = p.ex_day[syms][:, market.timeline.year_of[days]]
            eligible &= (ex_day != days[None, :]) & (days[None, :] > p.ipo_idx[syms][:, None])
        elif kind == "price_limits":
            eligible &= days[None, :] >= p.ipo_idx[syms][:, None] + _IPO_DAYS
        elif kind == "volume_units":
            eligible &= bars.volume >= 100
        elif kind == "revision":
            eligible &= days[None, :] < published
        return eligible & (draw < rate)

    def apply(self, market, syms: np.ndarray, bars: DailyBars, published: int) -> DailyBars:
        """`bars` with every bar kind applied (the clean arrays are never modified)."""
        if not any(self.rates.get(kind) for kind in _BAR_KINDS):
            return bars
        values = {name: getattr(bars, name) for name in ("preclose", "volume", "amount", "turn", "pct_chg")}
        for kind in _BAR_KINDS:
            hit = self.hits(market, kind, syms, bars, published)
            if hit.any():
                _ALTER[kind](bars, values, hit)
        return dataclasses.replace(bars, **values)

    def universe_flips(self, market, index: int) -> np.ndarray:
        """Universe positions whose trade status query_all_stock reports flipped on day `index`."""
        rate = self.rates.get("universe_matches_bars", 0.0)
        p = market.profiles
        if not rate:
            return np.zeros(len(p.code_id), dtype=bool)
        kind = KINDS.index("universe_matches_bars")
        draw = noise.uniform(market.seed, _S_ANOMALY + kind, p.code_id, index)
        listed = (p.ipo_idx <= index) & (index < p.out_idx)
        return listed & ~p.is_index & (draw < rate)


def _preclose(bars, values, hit) -> None:
    values["preclose"] = np.where(hit, round2(values["preclose"] * 1.02 + 0.03), values["preclose"])


def _suspension(bars, values, hit) -> None:
    for name in ("volume", "amount", "turn"):
        values[name] = np.where(hit, 0, values[name]).astype(values[name].dtype)


def _price_limit(bars, values, hit) -> None:
    pct = values["pct_chg"]
    beyond = np.where(pct >= 0, 1.0, -1.0) * (bars.limit * 100 + 12)
    values["pct_chg"] = np.where(hit, beyond, pct)


def _volume_units(bars, values, hit) -> None:
    values["volume"] = np.where(hit, values["volume"] // 100, values["volume"])


def _revision(bars, values, hit) -> None:
    volume = values["volume"]
    revised = volume + 100 * np.maximum(1, np.round(volume * 0.05 / 100)).astype(np.int64)
    scale = np.divide(revised, volume, out=np.ones(volume.shape), where=volume > 0)
    values["volume"] = np.where(hit, revised, volume)
    values["amount"] = np.where(hit, round2(values["amount"] * scale), values["amount"])
    values["turn"] = np.where(hit, values["turn"] * scale, values["turn"])


_ALTER = {
    "preclose_chain": _preclose,
    "suspension_rules": _suspension,
    "price_limits": _price_limit,
    "volume_units": _volume_units,
    "revision": _revision,
}


class AnomalousMarket:
    """A Market as one simulator serves it: its bars and universe statuses carry the anomalies.

    Everything else (universe, profiles, timeline, factors) is the seed's shared Market's.
    """

    def __init__(self, market, anomalies: Anomalies, clock: PublicationClock):
        self._market = market
        self.anomalies = anomalies
        self._clock = clock

    def __getattr__(self, name: str):
        return getattr(self._market, name)

    def published(self) -> int:
        """The day index of the last published trading day."""
        return self._market.timeline.index_on_or_before(self._clock.bars_through())

    def daily(self, sym: int, lo: int, hi: int) -> DailyBars:
        bars = self._market.daily(sym, lo, hi)
        return self.anomalies.apply(self._market, np.array([sym]), bars, self.published())

    def whole_market_day(self, day: int) -> DailyBars:
        bars = self._market.whole_market_day(day)
        return self.anomalies.apply(self._market, self._market.stock_positions, bars, self.published())

    def universe_suspended(self, index: int, suspended: np.ndarray) -> np.ndarray:
        """The suspension flags query_all_stock reports on day `index` (every universe position)."""
        return suspended ^ self.anomalies.universe_flips(self._market, index)

    def injected(self, kind: str, codes: Iterable[str], lo: int, hi: int) -> list[tuple[str, str]]:
        """(code, ISO date) of every row of `codes` over day indices lo..hi that `kind` alters now."""
        market, found, codes = self._market, [], list(codes)
        if kind == "universe_matches_bars":
            for day in range(lo, hi + 1):
                flips = self.anomalies.universe_flips(market, day)
                picked = [code for code in codes if flips[market.universe.position[code]]]
                found += [(code, market.timeline.iso(day)) for code in picked]
            return sorted(found)
        for code in codes:
            sym = market.universe.position[code]
            bars = market.daily(sym, lo, hi)
            hit = self.anomalies.hits(market, kind, np.array([sym]), bars, self.published())[0]
            found += [(code, market.timeline.iso(int(day))) for day in bars.days[hit].tolist()]
        return sorted(found)
