"""Bounded concurrent fetching of daily bars, with per-symbol isolation, fallback and progress.

`fetch_daily_bars` plans (see `planner`), then runs whole-market days or
per-symbol ranges on at most `min(max_workers, pool.max_size)` threads. A
whole-market day that fails or lacks a symbol is made good by range requests
for the missing symbols; with `listed` given, each symbol's rows are checked
against the trading days it was listed, and a symbol still short is a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import TypeVar

import pyarrow as pa

from marketdata_pipeline.ingest.bars import CODE_AT, DAILY_FIELDS_CSV, DATE_AT, BarCollector, daily_rows
from marketdata_pipeline.ingest.breaker import NOT_TRIED, Breaker
from marketdata_pipeline.ingest.calls import Call, RetryPolicy, call_with_retry, run_bounded
from marketdata_pipeline.ingest.completeness import (
    ALWAYS_LISTED,
    incomplete_reason,
    listed_days,
    normalize_listed,
)
from marketdata_pipeline.ingest.inputs import check_codes, check_days, positive_int, worker_count
from marketdata_pipeline.ingest.planner import FetchPlan, plan_fetch
from marketdata_pipeline.ingest.report import (
    EMPTY_ANSWER,
    INCOMPLETE,
    WHOLE_MARKET,
    FetchFailure,
    FetchReport,
    Progress,
)

T = TypeVar("T")

DEFAULT_PROGRESS_EVERY = 50
_EMPTY_DAY = "the whole-market answer has no rows: not published yet, or not a trading day"


def fetch_daily_bars(
    pool,
    codes: Iterable[str],
    trading_days: Sequence[date],
    *,
    listed: Mapping[str, tuple] | None = None,
    strategy: str = "auto",
    max_workers: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every: int = DEFAULT_PROGRESS_EVERY,
    retry: RetryPolicy | None = None,
    sink: Callable[[pa.Table], object] | None = None,
) -> FetchReport:
    """Fetch unadjusted daily bars of `codes` on `trading_days` (sorted dates) through `pool`.

    `listed` maps code -> (ipo_date, out_date) (dates, ISO strings or None)
    and turns on the completeness check. `on_progress` is called on the
    caller's thread every `progress_every` symbols, after each whole-market
    day, and once at the end. Failures never raise: they are in the report.
    With `sink`, the bars go to it in chunks of about `CHUNK_ROWS` (on the
    caller's thread) and the report's `bars` is empty: a long range is never
    held in memory.
    """
    workers = worker_count(pool, max_workers)
    run = _FetchRun(
        pool, check_codes(codes), check_days(trading_days), listed, sink, workers, retry or RetryPolicy(),
        on_progress, positive_int(progress_every, "progress_every", "symbols per progress call"),
    )  # fmt: skip
    plan = plan_fetch(len(run.codes), len(run.days), workers, strategy=strategy)
    pool.require_requests(plan.estimated_requests)  # DailyBudgetExhausted before anything is sent
    if run.codes and run.days:  # else nothing to fetch, and the report says so
        run.fetch(plan.strategy)
    run.check_completeness()
    run.report_progress("done")
    return run.report(plan)


class _FetchRun:
    """The state of one fetch, touched only on the caller's thread (workers return, never write)."""

    def __init__(
        self,
        pool,
        codes: list[str],
        days: list[date],
        listed: Mapping | None,
        sink: Callable[[pa.Table], object] | None,
        workers: int,
        retry: RetryPolicy,
        on_progress: Callable[[Progress], None] | None,
        progress_every: int,
    ):
        self.started = time.monotonic()
        self.pool, self.codes, self.days, self.workers, self.retry = pool, codes, days, workers, retry
        self.on_progress, self.progress_every = on_progress, progress_every
        self.windows = None if listed is None else normalize_listed(listed)  # None: no completeness check
        self.collector = BarCollector(codes, [day.isoformat() for day in days], sink=sink)
        self.failures: dict[str, FetchFailure] = {}
        self.notes: list[str] = []
        self.market_failures: list[FetchFailure] = []
        self.requests = self.symbols_done = self.days_done = self.fallback_symbols = 0
        # Two rounds of every worker failing: a real outage, not a few dropped connections.
        self.breaker = Breaker(max(4, 2 * workers))

    def fetch(self, strategy: str) -> None:
        if strategy == "symbol":
            self.fetch_symbol_ranges({code: self.expected_days(code) for code in self.codes}, "symbol")
            return
        self.fetch_market_days()
        missing = self.missing_by_code()
        self.fallback_symbols = sum(1 for wanted in missing.values() if wanted)
        if self.market_failures:
            self.notes.append(fallback_note(self.market_failures, self.fallback_symbols))
        self.fetch_symbol_ranges(missing, "fallback")

    def expected_days(self, code: str) -> list[date]:
        if self.windows is None:
            return self.days
        return listed_days(self.days, self.windows.get(code, ALWAYS_LISTED))

    def missing_by_code(self) -> dict[str, list[date]]:
        return {code: self.collector.missing_days(code, self.expected_days(code)) for code in self.codes}

    def calls(self, work: Callable[[T], Call], items: Iterable[T]) -> Iterator[tuple[T, Call]]:
        """`run_bounded` with each call's requests counted and told to the breaker; nothing more is
        sent once it is open (leaving the loop cancels the work not started)."""
        if self.breaker.open:
            return
        for item, call in run_bounded(work, items, self.workers):
            self.requests += call.requests
            self.breaker.record(call)
            yield item, call
            if self.breaker.open:
                return

    def hand_over(self, rows: list) -> None:
        """Give an answer's rows to the collector, then empty the list, so that the finished call
        holds no second copy of them while the collector has them."""
        self.collector.add(rows)
        rows.clear()

    def fetch_market_days(self) -> None:
        """One whole-market request per day; keeps this run's codes, records days that failed.

        An empty whole-market answer for a day of the run is recorded as a failed
        day too (`EmptyAnswer`: not published yet, or not a trading day); its
        symbols are asked one by one like those of any failed day.
        """

        def fetch_day(day: date) -> Call:
            def query(session) -> tuple[list, int]:
                answer = session.query_daily_history_k_AStock(day.isoformat())
                rows = daily_rows(answer, f"query_daily_history_k_AStock({day.isoformat()})")
                kept = [row for row in rows if self.collector.wants(row) and row[DATE_AT] == day.isoformat()]
                return kept, len(rows)

            return call_with_retry(self.pool, query, self.retry)

        for day, call in self.calls(fetch_day, self.days):
            self.days_done += 1
            if not call.ok:
                self.market_failures.append(FetchFailure.from_error(WHOLE_MARKET, day, day, call.error))
            elif call.result[1] == 0:
                self.market_failures.append(FetchFailure(WHOLE_MARKET, day, day, EMPTY_ANSWER, _EMPTY_DAY))
            else:
                self.hand_over(call.result[0])
            self.report_progress("market")
        # An open breaker left days not started; the fallback sends nothing either.

    def fetch_symbol_ranges(self, wanted: dict[str, list[date]], phase: str) -> None:
        """One range request per symbol over its wanted days; a symbol's failure is its own."""
        todo = {code: days for code, days in wanted.items() if days}
        self.symbols_done += len(wanted) - len(todo)

        def fetch_range(code: str) -> Call:
            first, last = todo[code][0].isoformat(), todo[code][-1].isoformat()

            def query(session):
                answer = session.query_history_k_data_plus(
                    code, DAILY_FIELDS_CSV, start_date=first, end_date=last, frequency="d", adjustflag="3"
                )
                rows = daily_rows(answer, f"query_history_k_data_plus({code}, {first}..{last})")
                return [row for row in rows if row[CODE_AT] == code]

            return call_with_retry(self.pool, query, self.retry)

        left = set(todo)
        for count, (code, call) in enumerate(self.calls(fetch_range, list(todo)), start=1):
            left.discard(code)
            self.symbols_done += 1
            if call.ok:
                self.hand_over(call.result)
            else:
                first, last = todo[code][0], todo[code][-1]
                self.failures.setdefault(code, FetchFailure.from_error(code, first, last, call.error))
            if count % self.progress_every == 0 or count == len(todo):
                self.report_progress(phase)
        for code in left:  # not sent: the breaker opened
            self.symbols_done += 1
            failure = FetchFailure(code, todo[code][0], todo[code][-1], NOT_TRIED, self.breaker.reason())
            self.failures.setdefault(code, failure)
        if left:
            self.report_progress(phase)

    def check_completeness(self) -> None:
        """A listed symbol short of bars (and not already failed) becomes an "incomplete" failure."""
        if self.windows is None:
            return
        for code, missing in self.missing_by_code().items():
            if missing and code not in self.failures:
                expected = len(self.expected_days(code))
                message = incomplete_reason(expected - len(missing), expected)
                self.failures[code] = FetchFailure(code, missing[0], missing[-1], INCOMPLETE, message)

    def report_progress(self, phase: str) -> None:
        if self.on_progress is None:
            return
        self.on_progress(
            Progress(
                phase=phase,
                symbols_done=self.symbols_done,
                symbols_total=len(self.codes),
                days_done=self.days_done,
                days_total=len(self.days),
                rows=len(self.collector),
                failures=len(self.failures),
                requests=self.requests,
                elapsed_s=time.monotonic() - self.started,
            )
        )

    def report(self, plan: FetchPlan) -> FetchReport:
        failures = [self.failures[code] for code in sorted(self.failures)]
        return FetchReport(
            bars=self.collector.to_frame(),
            failures=failures,
            requests=self.requests,
            strategy=plan.strategy,
            plan_reason=plan.reason,
            symbols_requested=len(self.codes),
            symbols_ok=len(self.codes) - len(failures),
            days_requested=len(self.days),
            duration_s=time.monotonic() - self.started,
            fallback_symbols=self.fallback_symbols,
            market_failures=list(self.market_failures),
            notes=list(self.notes),
        )


def fallback_note(market_failures: list[FetchFailure], symbols: int) -> str:
    """What a run does about whole-market days that failed or answered empty, `symbols` being the
    symbols short of bars after them, for its log.

    Those days are never asked symbol by symbol, day by day: each symbol short of bars gets ONE
    range request over all its missing days, paced like every request of the run.
    """
    days = sorted(failure.start_date for failure in market_failures)
    kinds = sorted({failure.error_type for failure in market_failures})
    span = f"{days[0]}..{days[-1]}" if len(days) > 1 else f"{days[0]}"
    return (
        f"{len(days)} whole-market day(s) failed or answered empty ({', '.join(kinds)}; {span}): "
        f"planned as {symbols} per-symbol range requests, one per symbol over all its missing days, "
        "under the run's request cap (not one request per symbol and day)"
    )
