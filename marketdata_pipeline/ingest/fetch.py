"""Bounded concurrent fetching of daily bars, with per-symbol isolation, fallback and progress.

`fetch_daily_bars` plans (see `planner`), then runs whole-market days or
per-symbol ranges on at most `min(max_workers, pool.max_size)` threads. A
whole-market day that fails or lacks a symbol is made good by range requests
for the missing symbols; with `listed` given, each symbol's rows are checked
against the trading days it was listed, and a symbol still short is a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date

import pandas as pd

from marketdata_pipeline.ingest.bars import (
    CHUNK_ROWS,
    DAILY_FIELDS_CSV,
    BarCollector,
    daily_rows,
    row_code,
    row_date,
)
from marketdata_pipeline.ingest.breaker import NOT_TRIED, Breaker, threshold_for
from marketdata_pipeline.ingest.calls import Call, RetryPolicy, call_with_retry, require_requests, run_bounded
from marketdata_pipeline.ingest.completeness import (
    ALWAYS_LISTED,
    incomplete_reason,
    listed_days,
    normalize_listed,
)
from marketdata_pipeline.ingest.inputs import check_codes, check_days, check_progress_every, worker_count
from marketdata_pipeline.ingest.planner import CostModel, FetchPlan, plan_fetch
from marketdata_pipeline.ingest.report import (
    EMPTY_ANSWER,
    INCOMPLETE,
    WHOLE_MARKET,
    FetchFailure,
    FetchReport,
    Progress,
)

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
    cost_model: CostModel | None = None,
    sink: Callable[[pd.DataFrame], object] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> FetchReport:
    """Fetch unadjusted daily bars of `codes` on `trading_days` (sorted dates) through `pool`.

    `listed` maps code -> (ipo_date, out_date) (dates, ISO strings or None)
    and turns on the completeness check. `on_progress` is called on the
    caller's thread every `progress_every` symbols, after each whole-market
    day, and once at the end. Failures never raise: they are in the report.
    With `sink`, the bars go to it in chunks of about `chunk_rows` (on the
    caller's thread) and the report's `bars` is empty: a long range is never
    held in memory.
    """
    workers = worker_count(pool, max_workers)
    run = _FetchRun(
        check_codes(codes), check_days(trading_days), listed, on_progress, progress_every,
        Breaker(threshold_for(workers)), sink, chunk_rows,
    )  # fmt: skip
    plan = plan_fetch(len(run.codes), len(run.days), workers, strategy=strategy, model=cost_model)
    require_requests(pool, plan.estimated_requests)
    if run.codes and run.days:  # else nothing to fetch, and the report says so
        _fetch_by_plan(run, plan, pool, workers, retry or RetryPolicy())
    run.check_completeness()
    run.report_progress("done")
    return run.report(plan)


def _fetch_by_plan(run: _FetchRun, plan: FetchPlan, pool, workers: int, retry: RetryPolicy) -> None:
    if plan.strategy == "market":
        _fetch_market_days(run, pool, workers, retry)
        missing = run.missing_by_code()
        if run.market_failures:
            run.notes.append(fallback_note(run.market_failures, missing))
        _fetch_symbol_ranges(run, pool, workers, retry, missing, phase="fallback")
    else:
        _fetch_symbol_ranges(run, pool, workers, retry, run.expected_by_code(), phase="symbol")


class _FetchRun:
    """The state of one fetch, touched only on the caller's thread (workers return, never write)."""

    def __init__(
        self,
        codes: list[str],
        days: list[date],
        listed: Mapping | None,
        on_progress: Callable[[Progress], None] | None,
        progress_every: int,
        breaker: Breaker,
        sink: Callable[[pd.DataFrame], object] | None,
        chunk_rows: int,
    ):
        self.started = time.monotonic()
        self.codes, self.days = codes, days
        self.windows = normalize_listed(listed)
        self.check_listing = listed is not None
        self.collector = BarCollector(
            codes, [day.isoformat() for day in days], sink=sink, chunk_rows=chunk_rows
        )
        self.failures: dict[str, FetchFailure] = {}
        self.notes: list[str] = []
        self.market_failures: list[FetchFailure] = []
        self.requests = self.symbols_done = self.days_done = self.fallback_symbols = 0
        self.on_progress = on_progress
        self.progress_every = check_progress_every(progress_every)
        self.breaker = breaker

    def expected_days(self, code: str) -> list[date]:
        if not self.check_listing:
            return self.days
        return listed_days(self.days, self.windows.get(code, ALWAYS_LISTED))

    def expected_by_code(self) -> dict[str, list[date]]:
        return {code: self.expected_days(code) for code in self.codes}

    def missing_by_code(self) -> dict[str, list[date]]:
        return {code: self.collector.missing_days(code, self.expected_days(code)) for code in self.codes}

    def record_failure(self, code: str, first: date, last: date, error: Exception) -> None:
        self.failures.setdefault(code, FetchFailure.from_error(code, first, last, error))

    def check_completeness(self) -> None:
        """A listed symbol short of bars (and not already failed) becomes an "incomplete" failure."""
        if not self.check_listing:
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


def _hand_over(run: _FetchRun, rows: list) -> None:
    """Give an answer's rows to the collector, then empty the list, so that the finished call
    holds no second copy of them while the collector has them."""
    run.collector.add(rows)
    rows.clear()


def _fetch_market_days(run: _FetchRun, pool, workers: int, retry: RetryPolicy) -> None:
    """One whole-market request per day; keeps this run's codes, records days that failed.

    An empty whole-market answer for a day of the run is recorded as a failed
    day too (`EmptyAnswer`: not published yet, or not a trading day); its
    symbols are asked one by one like those of any failed day.
    """

    def fetch_day(day: date) -> Call:
        def query(session) -> tuple[list, int]:
            answer = session.query_daily_history_k_AStock(day.isoformat())
            rows = daily_rows(answer, f"query_daily_history_k_AStock({day.isoformat()})")
            kept = [row for row in rows if run.collector.wants(row) and row_date(row) == day.isoformat()]
            return kept, len(rows)

        return call_with_retry(pool, query, retry)

    for day, call in run_bounded(fetch_day, run.days, workers):
        run.requests += call.requests
        run.days_done += 1
        run.breaker.record(call)
        if not call.ok:
            run.market_failures.append(FetchFailure.from_error(WHOLE_MARKET, day, day, call.error))
        elif call.result[1] == 0:
            run.market_failures.append(FetchFailure(WHOLE_MARKET, day, day, EMPTY_ANSWER, _EMPTY_DAY))
        else:
            _hand_over(run, call.result[0])
        run.report_progress("market")
        if run.breaker.open:
            break  # leaving the loop cancels the days not started; the fallback will not run either


def fallback_note(market_failures: list[FetchFailure], missing: Mapping[str, list[date]]) -> str:
    """What a run does about whole-market days that failed or answered empty, for its log.

    Those days are never asked symbol by symbol, day by day: each symbol short of bars gets ONE
    range request over all its missing days, paced like every request of the run.
    """
    days = sorted(failure.start_date for failure in market_failures)
    kinds = sorted({failure.error_type for failure in market_failures})
    symbols = sum(1 for wanted in missing.values() if wanted)
    span = f"{days[0]}..{days[-1]}" if len(days) > 1 else f"{days[0]}"
    return (
        f"{len(days)} whole-market day(s) failed or answered empty ({', '.join(kinds)}; {span}): "
        f"planned as {symbols} per-symbol range requests, one per symbol over all its missing days, "
        "under the run's request cap (not one request per symbol and day)"
    )


def _fetch_symbol_ranges(
    run: _FetchRun, pool, workers: int, retry: RetryPolicy, wanted: dict[str, list[date]], phase: str
) -> None:
    """One range request per symbol over its wanted days; a symbol's failure is its own."""
    todo = {code: days for code, days in wanted.items() if days}
    run.symbols_done += len(wanted) - len(todo)
    if phase == "fallback":
        run.fallback_symbols = len(todo)

    def fetch_range(code: str) -> Call:
        first, last = todo[code][0].isoformat(), todo[code][-1].isoformat()

        def query(session):
            answer = session.query_history_k_data_plus(
                code, DAILY_FIELDS_CSV, start_date=first, end_date=last, frequency="d", adjustflag="3"
            )
            rows = daily_rows(answer, f"query_history_k_data_plus({code}, {first}..{last})")
            return [row for row in rows if row_code(row) == code]

        return call_with_retry(pool, query, retry)

    done: set[str] = set()
    if not run.breaker.open:
        for count, (code, call) in enumerate(run_bounded(fetch_range, list(todo), workers), start=1):
            done.add(code)
            run.requests += call.requests
            run.symbols_done += 1
            run.breaker.record(call)
            if call.ok:
                _hand_over(run, call.result)
            else:
                run.record_failure(code, todo[code][0], todo[code][-1], call.error)
            if count % run.progress_every == 0 or count == len(todo):
                run.report_progress(phase)
            if run.breaker.open:
                break  # leaving the loop cancels the symbols not started
    for code in todo.keys() - done:
        run.symbols_done += 1
        run.failures.setdefault(
            code, FetchFailure(code, todo[code][0], todo[code][-1], NOT_TRIED, run.breaker.reason())
        )
    if todo.keys() - done:
        run.report_progress(phase)
