"""Checking what callers hand the ingest layer: codes, dates, worker counts; errors say the fix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from marketdata_pipeline.baostock import validation
from marketdata_pipeline.baostock.errors import BadParameterError


def as_date(value: date | str | None, name: str) -> date | None:
    """`value` as a date: a date, an ISO "YYYY-MM-DD" string, or None/"" for unknown."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={value!r} is not a date: pass a datetime.date or 'YYYY-MM-DD'") from exc


def required_date(value: date | str, name: str) -> date:
    """`value` as a date (see `as_date`); None or "" are refused."""
    day = as_date(value, name)
    if day is None:
        raise ValueError(f"{name} is empty: pass a datetime.date or 'YYYY-MM-DD'")
    return day


def check_range(start: date | str, end: date | str) -> tuple[date, date]:
    """`start` and `end` as dates, refused unless start <= end."""
    first, last = required_date(start, "start"), required_date(end, "end")
    if first > last:
        raise ValueError(f"start={first} is after end={last}: pass start <= end")
    return first, last


def check_codes(codes: Iterable[str]) -> list[str]:
    """`codes` in `sh.600000` form without duplicates, first order kept.

    Codes the client can read (`600000.SH`, `SH.600000`) are normalized, as
    the answers will carry them; an unreadable code is kept as is so that it
    fails alone, with the client's BadParameterError, instead of failing the run.
    """
    if isinstance(codes, str):
        raise ValueError(f"codes={codes!r} is one string: pass a list of codes such as ['sh.600000']")
    codes = list(codes)
    bad = [code for code in codes if not isinstance(code, str) or not code.strip()]
    if bad:
        raise ValueError(
            f"codes contains {bad[:3]!r}: every code must be a non-empty string like 'sh.600000'"
        )
    return list(dict.fromkeys(_normalized(code) for code in codes))


def _normalized(code: str) -> str:
    try:
        return validation.normalize_code(code)
    except BadParameterError:
        return code


def check_days(trading_days: Sequence[date]) -> list[date]:
    """`trading_days` as dates, refused unless strictly ascending."""
    days = [as_date(day, f"trading_days[{index}]") for index, day in enumerate(trading_days)]
    if any(day is None for day in days):
        raise ValueError("trading_days contains an empty value: pass datetime.date objects")
    if any(later <= earlier for earlier, later in zip(days, days[1:], strict=False)):
        raise ValueError("trading_days must be sorted ascending without duplicates: pass sorted(set(days))")
    return days


def positive_int(value: int, name: str, meaning: str) -> int:
    """`value` if it is a positive int (a bool is not), else ValueError saying what `name` means."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive int ({meaning})")
    return value


def worker_count(pool, max_workers: int | None) -> int:
    """Threads for a run: `max_workers` capped at the pool's max_size (None means max_size)."""
    if not hasattr(pool, "session") or not hasattr(pool, "max_size"):
        raise TypeError(
            f"pool={pool!r} is not a session pool: pass a BaoStockPool (with session() and max_size)"
        )
    if max_workers is None:
        return pool.max_size
    return min(positive_int(max_workers, "max_workers", "or None for pool.max_size"), pool.max_size)
