"""Per-symbol life stories of the synthetic market: listing, delisting, ST, suspensions, ex-dates.

Built for the whole universe at once from the seed (vectorised, milliseconds):
everything the price model needs beyond its daily random draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from marketdata_pipeline.boards import BOARDS, board_of
from marketdata_pipeline.simulator import noise
from marketdata_pipeline.simulator.timeline import MARKET_START, Timeline
from marketdata_pipeline.simulator.universe import INDEX_TYPE, Universe

LAST_IPO = date(2023, 12, 29)
# Listing windows per board, so codes issued later list later (as on the real exchanges).
BOARD_WINDOWS = {
    "sh.600": (MARKET_START, date(2016, 12, 30)),
    "sh.601": (date(2006, 6, 1), LAST_IPO),
    "sh.603": (date(2011, 6, 1), LAST_IPO),
    "sh.605": (date(2019, 6, 1), LAST_IPO),
    "sh.688": (date(2019, 7, 22), LAST_IPO),
    "sh.689": (date(2019, 7, 22), LAST_IPO),
    "sz.000": (MARKET_START, date(2015, 12, 31)),
    "sz.001": (date(2016, 1, 4), LAST_IPO),
    "sz.002": (date(2004, 6, 25), LAST_IPO),
    "sz.003": (date(2020, 1, 2), LAST_IPO),
    "sz.300": (date(2009, 10, 30), LAST_IPO),
    "sz.301": (date(2020, 8, 24), LAST_IPO),
    "sz.302": (date(2020, 8, 24), LAST_IPO),
}
INDEX_WINDOW = (MARKET_START, date(2020, 12, 31))
DELIST_WINDOW = (date(2024, 3, 1), date(2026, 9, 30))
MIN_CUMULATIVE_RATIO = 0.4
NO_DAY = -1

# noise streams of the profile draws
_S_LIST, _S_DELIST, _S_ST, _S_PARAM, _S_SUSP, _S_EX = 10, 20, 30, 40, 60, 80


@dataclass(frozen=True)
class Profiles:
    """Arrays indexed by universe position (and by year index for the yearly events)."""

    code_id: np.ndarray
    is_index: np.ndarray
    board: np.ndarray  # index into marketdata_pipeline.boards.BOARDS (the price-limit rules)
    sigma: np.ndarray
    x0: np.ndarray
    fold_lo: np.ndarray
    fold_hi: np.ndarray
    float_shares: np.ndarray
    volume_base: np.ndarray
    unit_price: np.ndarray
    ratio_base: np.ndarray  # (symbols, 4): peTTM, psTTM, pcfNcfTTM, pbMRQ at the fold centre
    ipo_ordinal: np.ndarray
    ipo_idx: np.ndarray
    out_ordinal: np.ndarray  # 0 while listed
    out_idx: np.ndarray  # timeline size while listed
    st_start: np.ndarray
    st_end: np.ndarray
    susp_start: np.ndarray  # (symbols, years)
    susp_end: np.ndarray
    ex_day: np.ndarray  # (symbols, years), NO_DAY when none
    ex_q: np.ndarray  # raw price ratio applied on the ex-date (1.0 when none)
    q_before: np.ndarray  # (symbols, years): product of ex_q of earlier years


def code_ids(codes: tuple[str, ...]) -> np.ndarray:
    return np.array([int(c[3:]) + (1_000_000 if c.startswith("sz") else 0) for c in codes], dtype=np.int64)


def build_profiles(seed: int, universe: Universe, timeline: Timeline) -> Profiles:
    ids = code_ids(universe.codes)
    is_index = np.array([t == INDEX_TYPE for t in universe.types])
    ipo_ordinal = _listing_dates(seed, universe, ids, is_index, timeline)
    ipo_idx = np.searchsorted(timeline.days, ipo_ordinal, side="left").astype(np.int64)
    out_ordinal, out_idx = _delistings(seed, ids, is_index, timeline)
    st_start, st_end = _st_spells(seed, ids, is_index, ipo_idx, out_ordinal, out_idx, timeline)
    susp_start, susp_end = _suspensions(seed, ids, is_index, ipo_idx, out_idx, timeline)
    ex_day, ex_q, q_before = _ex_dates(seed, ids, is_index, ipo_idx, out_idx, timeline)
    params = _price_params(seed, ids, is_index)
    board = np.array([BOARDS.index(board_of(code)) for code in universe.codes], dtype=np.int64)
    return Profiles(
        code_id=ids,
        is_index=is_index,
        board=board,
        ipo_ordinal=ipo_ordinal,
        ipo_idx=ipo_idx,
        out_ordinal=out_ordinal,
        out_idx=out_idx,
        st_start=st_start,
        st_end=st_end,
        susp_start=susp_start,
        susp_end=susp_end,
        ex_day=ex_day,
        ex_q=ex_q,
        q_before=q_before,
        **params,
    )


def _listing_dates(seed, universe, ids, is_index, timeline) -> np.ndarray:
    u = noise.uniform(seed, _S_LIST, ids, 0)
    wanted = np.zeros(len(ids), dtype=np.int64)
    by_board: dict[str, list[int]] = {}
    for pos, code in enumerate(universe.codes):
        by_board.setdefault(code[:6], []).append(pos)
    for board, members in by_board.items():
        first, last = INDEX_WINDOW if is_index[members[0]] else BOARD_WINDOWS[board]
        span = last.toordinal() - first.toordinal()
        for rank, pos in enumerate(sorted(members, key=lambda p: universe.codes[p])):
            share = u[pos] if is_index[pos] else (rank + u[pos]) / len(members)
            wanted[pos] = first.toordinal() + int(share * span)
    sessions = timeline.days
    return sessions[np.minimum(np.searchsorted(sessions, wanted), len(sessions) - 1)]


def _delistings(seed, ids, is_index, timeline) -> tuple[np.ndarray, np.ndarray]:
    u = noise.uniform(seed, _S_DELIST, ids, np.arange(2)[:, None])
    first, last = (d.toordinal() for d in DELIST_WINDOW)
    delisted = (u[0] < 0.02) & ~is_index
    wanted = first + (u[1] * (last - first)).astype(np.int64)
    out_idx = np.where(delisted, np.searchsorted(timeline.days, wanted), timeline.size)
    out_ordinal = np.where(delisted, timeline.days[np.minimum(out_idx, timeline.size - 1)], 0)
    return out_ordinal.astype(np.int64), out_idx.astype(np.int64)


def _st_spells(seed, ids, is_index, ipo_idx, out_ordinal, out_idx, timeline):
    u = noise.uniform(seed, _S_ST, ids, np.arange(3)[:, None])
    room = np.maximum(timeline.size - ipo_idx - 250, 1)
    start = ipo_idx + 250 + (u[1] * room).astype(np.int64)
    length = 120 + (u[2] * 380).astype(np.int64)
    spell = (u[0] < 0.05) & ~is_index & (start < timeline.size)
    st_start = np.where(spell, start, NO_DAY)
    st_end = np.where(spell, start + length, NO_DAY)
    # a delisting is preceded by a year under special treatment
    delisted = out_ordinal > 0
    st_start = np.where(delisted, np.maximum(out_idx - 250, ipo_idx), st_start)
    st_end = np.where(delisted, out_idx, st_end)
    return st_start.astype(np.int64), st_end.astype(np.int64)


def _suspensions(seed, ids, is_index, ipo_idx, out_idx, timeline):
    years = np.arange(timeline.years)
    u = noise.uniform(seed, _S_SUSP + np.arange(4)[:, None, None], ids[:, None], years[None, :])
    # suspensions fall outside the ex-date window (year days 105-140) so an ex-date is never suspended
    offset = np.where(u[1] < 0.5, 5 + (u[2] * 65), 150 + (u[2] * 50)).astype(np.int64)
    start = timeline.year_start[years][None, :] + offset
    end = np.minimum(start + 1 + (u[3] ** 2 * 20).astype(np.int64), timeline.year_start[years + 1][None, :])
    ok = (
        (u[0] < 0.25)
        & ~is_index[:, None]
        & (start >= ipo_idx[:, None] + 5)
        & (end < out_idx[:, None])
        & (start < end)
    )
    return np.where(ok, start, NO_DAY), np.where(ok, end, NO_DAY)


def _ex_dates(seed, ids, is_index, ipo_idx, out_idx, timeline):
    years = np.arange(timeline.years)
    u = noise.uniform(seed, _S_EX + np.arange(5)[:, None, None], ids[:, None], years[None, :])
    day = timeline.year_start[years][None, :] + 105 + (u[1] * 35).astype(np.int64)
    ok = (
        (u[0] < 0.7)
        & ~is_index[:, None]
        & (day >= ipo_idx[:, None] + 20)
        & (day < out_idx[:, None])
        & (day < timeline.year_start[years + 1][None, :])
    )
    cash = 1.0 - (0.005 + 0.035 * u[2])
    bonus = np.array([0.2, 0.3, 0.5, 1.0])[(u[4] * 4).astype(np.int64)]
    with_bonus = cash / (1.0 + bonus)
    ex_q = np.ones_like(cash)
    q_before = np.ones_like(cash)
    running = np.ones(len(ids))
    for year in years:
        q_before[:, year] = running
        q = np.where(
            (u[3][:, year] < 0.12) & (running * with_bonus[:, year] >= MIN_CUMULATIVE_RATIO),
            with_bonus[:, year],
            cash[:, year],
        )
        q = np.where(ok[:, year], q, 1.0)
        ex_q[:, year] = q
        running = running * q
    return np.where(ok, day, NO_DAY), ex_q, q_before


def _price_params(seed, ids, is_index) -> dict[str, np.ndarray]:
    u = noise.uniform(seed, _S_PARAM, ids, np.arange(12)[:, None])
    lo = np.where(is_index, np.log(300.0), np.log(8.0))
    hi = np.where(is_index, np.log(20000.0), np.log(400.0))
    float_shares = np.where(is_index, 0.0, np.round(np.exp(np.log(5e7) + u[3] * np.log(100.0)), -4))
    pe = (8 + 72 * u[6]) * np.where(u[7] < 0.1, -1.0, 1.0)
    pcf = (5 + 60 * u[9]) * np.where(u[10] < 0.15, -1.0, 1.0)
    ratio_base = np.stack([pe, 0.5 + 10 * u[8], pcf, 0.6 + 8 * u[11]], axis=1)
    return {
        "sigma": np.where(is_index, 0.008 + 0.007 * u[0], 0.015 + 0.02 * u[0]),
        "x0": np.where(is_index, np.log(800 + 5200 * u[1]), np.log(8 + 52 * u[1])),
        "fold_lo": lo,
        "fold_hi": hi,
        "float_shares": float_shares,
        "volume_base": np.where(
            is_index, np.exp(np.log(1e8) + u[4] * np.log(300.0)), float_shares * (0.003 + 0.03 * u[4])
        ),
        "unit_price": 8 + 12 * u[5],
        "ratio_base": ratio_base,
    }
