"""Completeness of fetched bars: which trading days each symbol was listed and should have."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from marketdata_pipeline.ingest.inputs import as_date

# ipo date, out (delisting) date; None when unknown or still listed
ListingWindow = tuple[date | None, date | None]
ALWAYS_LISTED: ListingWindow = (None, None)


def normalize_listed(listed: Mapping[str, tuple] | None) -> dict[str, ListingWindow]:
    """`listed` (code -> (ipo_date, out_date), dates or ISO strings) with real dates."""
    if listed is None:
        return {}
    windows = {}
    for code, window in listed.items():
        if not isinstance(window, tuple | list) or len(window) != 2:
            raise ValueError(f"listed[{code!r}]={window!r} must be a pair (ipo_date, out_date)")
        windows[code] = (
            as_date(window[0], f"listed[{code!r}] ipo"),
            as_date(window[1], f"listed[{code!r}] out"),
        )
    return windows


def listed_days(trading_days: Iterable[date], window: ListingWindow) -> list[date]:
    """The trading days on which a symbol with this listing window trades.

    Listed from the IPO date on, up to the day before its out date: BaoStock's
    outDate is the delisting date, when the symbol no longer trades.
    """
    ipo, out = window
    return [day for day in trading_days if (ipo is None or day >= ipo) and (out is None or day < out)]


def incomplete_reason(n_got: int, n_expected: int) -> str:
    """The failure message of a symbol with fewer bars than listed trading days."""
    return f"incomplete: {n_got} of {n_expected} days"
