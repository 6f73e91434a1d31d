"""The A-share boards' daily price limits by date, as the exchanges set them.

The one table that the price_limits check (storage.checks, as SQL) and the simulator's price walk
both read, so check and generator cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

IPO_FIRST_DAY_BAND = (-36, 44)
"""pct_chg band of an approval-era IPO's first day (from the IPO price), instead of the board's limit."""


@dataclass(frozen=True)
class PriceLimit:
    """From `since` on: a day moves at most `limit`% from the preclose, `st_limit`% under risk
    warning (ST, *ST); an IPO listed from then on trades its first `ipo_free_days` sessions without a
    limit, or (`ipo_first_day_band`) its first day within IPO_FIRST_DAY_BAND."""

    since: date
    limit: int
    st_limit: int
    ipo_free_days: int
    ipo_first_day_band: bool = False


@dataclass(frozen=True)
class Board:
    """A board's code prefixes and its price-limit rules, oldest first."""

    name: str
    prefixes: tuple[str, ...]
    rules: tuple[PriceLimit, ...]


CHINEXT_REFORM = date(2020, 8, 24)
STAR_START = date(2019, 7, 22)
MAIN_BOARD_REGISTRATION = date(2023, 4, 10)
"""Registration-based IPOs on the main boards: their first 5 sessions trade without a limit."""
ST_LIMIT_WIDENED = date(2025, 7, 7)
"""SSE/SZSE raise the main boards' risk-warning limit from 5% to 10% (notice of 2025-06-27)."""

_APPROVAL_ERA = PriceLimit(date.min, limit=10, st_limit=5, ipo_free_days=0, ipo_first_day_band=True)

BOARDS: tuple[Board, ...] = (
    Board("Beijing", ("bj.",), (PriceLimit(date.min, limit=30, st_limit=30, ipo_free_days=1),)),
    Board("STAR", ("sh.688", "sh.689"), (PriceLimit(STAR_START, limit=20, st_limit=20, ipo_free_days=5),)),
    Board(
        "ChiNext",
        ("sz.300", "sz.301", "sz.302"),
        (_APPROVAL_ERA, PriceLimit(CHINEXT_REFORM, limit=20, st_limit=20, ipo_free_days=5)),
    ),
    Board(
        "main",
        ("sh.", "sz."),
        (
            _APPROVAL_ERA,
            PriceLimit(MAIN_BOARD_REGISTRATION, limit=10, st_limit=5, ipo_free_days=5),
            PriceLimit(ST_LIMIT_WIDENED, limit=10, st_limit=10, ipo_free_days=5),
        ),
    ),
)
"""Matched in this order (the main board's prefixes catch what the others leave)."""


def board_of(code: str) -> Board:
    """The board of a code like "sz.300750"; a code of no board raises ValueError naming it."""
    for board in BOARDS:
        if code.startswith(board.prefixes):
            return board
    raise ValueError(f"code {code!r} is on no A-share board: expected sh.*, sz.* or bj.*")
