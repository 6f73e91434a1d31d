"""The fetch planner: whole-market requests per date or range requests per symbol, by cost.

Two ways to get D trading days x S symbols of daily bars:

- "market": one `query_daily_history_k_AStock(date)` per day. D requests, each
  answering the whole market (~5,000 rows) of which only the run's symbols are kept.
- "symbol": one `query_history_k_data_plus(code, ...)` per symbol over the run's
  range. S requests x ceil(D / 2,000) pages, S x D rows.

Cost model (estimated wall-clock seconds):

    seconds = requests x request_s / min(units, workers) + rows x row_s

Round trips overlap across workers (a unit is a day or a symbol, the most that
can be in flight at once); rows do not, because producing, compressing and
decoding rows is CPU work under the GIL here (and bandwidth against the real
server). The weights are parameters. The defaults were measured against the
project's simulator with 20 ms latency on a quiet 2-core machine, by
`python -m marketdata_pipeline_tests.bench planner`: one session,
cold requests (each day or symbol asked once, as in a run), medians of a
whole-market day (5,057 rows: 306 ms), a 5-day range (5 rows: 25 ms) and a
one-year range (242 rows: 36 ms), least-squares fit request_s = 23.5 ms,
row_s = 56 us. The model then predicted 4-worker runs of one batch within
~25% (1 day: 0.31 s predicted / 0.32 s measured for "market"; 20 days: 2.24 /
2.28 s for "symbol", 5.81 / 5.34 s for "market"). Under load (load average
10) the fitted row_s rose to 84-109 us and the seconds drifted, yet with the
defaults the planner still picked the faster strategy for 1, 5, 20 and 60
days of a batch; with them the boundary is 7 days for 320 symbols on 4 workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from baostock.common import contants as cons

Strategy = Literal["market", "symbol"]
STRATEGIES: tuple[str, ...] = ("auto", "market", "symbol")


@dataclass(frozen=True)
class CostModel:
    """Weights of the planner's cost: seconds per round trip and per row transferred."""

    request_s: float = 0.0235
    """One request's round trip: the 20 ms latency plus framing and scheduling."""
    row_s: float = 56e-6
    """One row produced, compressed, sent, decoded and kept or dropped (serial across workers)."""
    market_rows: int = 5_100
    """Rows in one whole-market answer (5,097 A-shares on 2024-01-02)."""
    page_rows: int = cons.BAOSTOCK_PER_PAGE_COUNT
    """Rows per page the client asks for (2,000); the server pages at this size."""

    def __post_init__(self) -> None:
        if min(self.request_s, self.row_s) < 0 or min(self.market_rows, self.page_rows) < 1:
            raise ValueError(f"CostModel weights must be >= 0 and market_rows, page_rows >= 1, got {self}")


@dataclass(frozen=True)
class Estimate:
    """What one strategy would cost: requests, rows transferred and seconds."""

    strategy: Strategy
    requests: int
    rows: int
    seconds: float

    def describe(self) -> str:
        return f"{self.strategy}: {self.requests:,} requests, ~{self.rows:,} rows, ~{self.seconds:.2f} s"


@dataclass(frozen=True)
class FetchPlan:
    """The chosen strategy, how many requests it should take, and why it was chosen."""

    strategy: Strategy
    estimated_requests: int
    reason: str


def estimate(strategy: Strategy, n_symbols: int, n_days: int, workers: int, model: CostModel) -> Estimate:
    """The cost of fetching `n_days` x `n_symbols` with `strategy` on `workers` threads."""
    if strategy == "market":
        requests, rows, units = n_days, n_days * model.market_rows, n_days
    else:
        requests = n_symbols * max(1, math.ceil(n_days / model.page_rows)) if n_days else 0
        rows, units = n_symbols * n_days, n_symbols
    overlap = max(1, min(units, workers))
    seconds = requests * model.request_s / overlap + rows * model.row_s
    return Estimate(strategy, requests, rows, seconds)


def plan_fetch(
    n_symbols: int,
    n_days: int,
    max_workers: int,
    *,
    strategy: str = "auto",
    model: CostModel | None = None,
) -> FetchPlan:
    """Pick "market" or "symbol" for `n_days` x `n_symbols` on `max_workers` threads.

    `strategy="auto"` picks the lower estimated seconds (ties go to "market",
    which needs fewer logins); "market" or "symbol" forces that strategy and
    says so in the reason.
    """
    _check_plan_inputs(n_symbols, n_days, max_workers, strategy)
    if n_symbols == 0 or n_days == 0:
        nothing = f"nothing to fetch ({n_days} days x {n_symbols} symbols)"
        return FetchPlan("symbol" if strategy == "symbol" else "market", 0, nothing)
    model = model or CostModel()
    market = estimate("market", n_symbols, n_days, max_workers, model)
    symbol = estimate("symbol", n_symbols, n_days, max_workers, model)
    if strategy != "auto":
        chosen, other = (market, symbol) if strategy == "market" else (symbol, market)
        why = f"forced by caller; {chosen.describe()} (auto would compare with {other.describe()})"
    else:
        chosen, other = (market, symbol) if market.seconds <= symbol.seconds else (symbol, market)
        why = f"{chosen.describe()} beats {other.describe()}"
    reason = f"{n_days} days x {n_symbols} symbols on {max_workers} workers: {why}"
    return FetchPlan(chosen.strategy, chosen.requests, reason)


def _check_plan_inputs(n_symbols: int, n_days: int, max_workers: int, strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy={strategy!r} is not one of {', '.join(STRATEGIES)}")
    if n_symbols < 0 or n_days < 0:
        raise ValueError(f"n_symbols and n_days must be >= 0, got {n_symbols} and {n_days}")
    if max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers}: pass the pool's max_size or less")
