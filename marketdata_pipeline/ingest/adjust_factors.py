"""Adjust factors per symbol: every ex-date's forward and back factors, fetched concurrently."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd

from marketdata_pipeline.ingest.calls import Call, RetryPolicy, call_with_retry, run_bounded
from marketdata_pipeline.ingest.inputs import check_codes, check_range, worker_count
from marketdata_pipeline.ingest.report import FetchFailure
from marketdata_pipeline.ingest.result_fields import pick_fields

ADJUST_FACTOR_FIELDS = ("code", "dividOperateDate", "foreAdjustFactor", "backAdjustFactor", "adjustFactor")


def fetch_adjust_factors(
    pool,
    codes: Iterable[str],
    start: date | str,
    end: date | str,
    max_workers: int | None = None,
    *,
    retry: RetryPolicy | None = None,
) -> tuple[pd.DataFrame, list[FetchFailure]]:
    """Adjust factors of each code's ex-dates in [start, end], one request per code, concurrently.

    Returns the factors (ADJUST_FACTOR_FIELDS, strings, sorted by code and
    date; a code without ex-dates has no rows) and the codes that failed, by
    code. One code's failure never stops the others.
    """
    start_day, end_day = check_range(start, end)
    retry = retry or RetryPolicy()

    def fetch_code(code: str) -> Call:
        def query(session) -> list[tuple[str, ...]]:
            answer = session.query_adjust_factor(code, start_day.isoformat(), end_day.isoformat())
            rows = pick_fields(answer, ADJUST_FACTOR_FIELDS, f"query_adjust_factor({code})")
            return [row for row in rows if row[0] == code]

        return call_with_retry(pool, query, retry)

    rows, failures = set(), []
    for code, call in run_bounded(fetch_code, check_codes(codes), worker_count(pool, max_workers)):
        if call.ok:
            rows.update(call.result)
        else:
            failures.append(FetchFailure.from_error(code, start_day, end_day, call.error))
    frame = pd.DataFrame(sorted(rows), columns=list(ADJUST_FACTOR_FIELDS), dtype=str)
    return frame, sorted(failures, key=lambda failure: failure.code)
