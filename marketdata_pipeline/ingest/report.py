"""What a fetch reports: failures by code and reason, progress slices, the final report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from marketdata_pipeline.baostock.errors import BaoStockError

INCOMPLETE = "Incomplete"
EMPTY_ANSWER = "EmptyAnswer"
WHOLE_MARKET = "*"


@dataclass(frozen=True)
class FetchFailure:
    """One code (or `*` for a whole-market day) that could not be fetched, and why."""

    code: str
    start_date: date
    end_date: date
    error_type: str
    message: str
    error_code: str = ""

    @classmethod
    def from_error(cls, code: str, start_date: date, end_date: date, error: Exception) -> FetchFailure:
        """The failure for `error`, typed by its root cause.

        A pool error caused by a BaoStock error (no session could be made
        because logins time out, say: PoolTimeout from AllEndpointsDown from
        BaoStockTimeout) is reported as that BaoStock error, with the pool's
        message kept after it; notes (earlier attempts) are appended.
        """
        root = _baostock_cause(error)
        known = isinstance(root, BaoStockError)
        message = root.message if known else str(root)
        if root is not error:
            message += f" ({type(error).__name__}: {error})"
        if getattr(error, "__notes__", None):
            message += " [" + "; ".join(error.__notes__) + "]"
        return cls(code, start_date, end_date, type(root).__name__, message, root.code if known else "")


def _baostock_cause(error: BaseException) -> BaseException:
    """The first BaoStock error down `error`'s chain of causes, or `error` itself."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, BaoStockError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__
    return error


@dataclass(frozen=True)
class Progress:
    """A slice of a fetch's progress, handed to `on_progress` on the caller's thread.

    `phase` is "market" (whole-market days), "symbol" (range requests per
    symbol), "fallback" (range requests for what the market answers lacked) or
    "done". A symbol is done once nothing more will be fetched for it.
    """

    phase: str
    symbols_done: int
    symbols_total: int
    days_done: int
    days_total: int
    rows: int
    failures: int
    requests: int
    elapsed_s: float

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class FetchReport:
    """The bars of a fetch (DAILY_FIELDS, strings, sorted by code and date) and how it went."""

    bars: pd.DataFrame
    failures: list[FetchFailure]
    requests: int
    strategy: str
    plan_reason: str
    symbols_requested: int
    symbols_ok: int
    days_requested: int
    duration_s: float
    fallback_symbols: int = 0
    market_failures: list[FetchFailure] = field(default_factory=list)
    """Whole-market days that failed (code `*`); their symbols were refetched one by one."""
    notes: list[str] = field(default_factory=list)
    """Decisions the fetch took that the run log should show (how failed market days were planned)."""

    @property
    def rows(self) -> int:
        return len(self.bars)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def failure_rate(self) -> float:
        """Share of requested symbols that failed (0.0 when none were requested)."""
        if not self.symbols_requested:
            return 0.0
        return (self.symbols_requested - self.symbols_ok) / self.symbols_requested

    def summary(self) -> dict[str, object]:
        """Numbers as numbers, for logs and Dagster metadata."""
        return {
            "strategy": self.strategy,
            "plan_reason": self.plan_reason,
            "symbols_requested": self.symbols_requested,
            "symbols_ok": self.symbols_ok,
            "symbols_failed": len({failure.code for failure in self.failures}),
            "failure_rate": round(self.failure_rate, 6),
            "days_requested": self.days_requested,
            "rows": self.rows,
            "requests": self.requests,
            "fallback_symbols": self.fallback_symbols,
            "market_days_failed": len(self.market_failures),
            "duration_s": round(self.duration_s, 3),
            "requests_per_s": round(self.requests_per_s, 2),
        }
