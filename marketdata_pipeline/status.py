"""`marketdata status`: what the warehouse holds each morning - last day, gaps, failures, freshness."""

from __future__ import annotations

from datetime import date

import duckdb

from marketdata_pipeline.batching import BATCHES

SHOWN_GAPS = 5

# Every trading day (the stored calendar, and any day that has bars) through the expected day.
_DAYS = """
    SELECT calendar_date AS day FROM trade_calendar WHERE is_trading_day AND calendar_date <= $expected
    UNION SELECT DISTINCT trade_date FROM daily_bars
"""
# Per batch: first and last day, and the trading days in between without bars (after the last: freshness).
_BATCH_GAPS = f"""
    WITH days AS ({_DAYS}),
    spans AS (SELECT batch, min(trade_date) AS first, max(trade_date) AS last FROM daily_bars GROUP BY batch),
    present AS (SELECT DISTINCT batch, trade_date FROM daily_bars)
    SELECT spans.batch, spans.first, spans.last,
           list(days.day ORDER BY days.day) FILTER (WHERE present.trade_date IS NULL) AS missing
    FROM spans
    JOIN days ON days.day BETWEEN spans.first AND spans.last
    LEFT JOIN present ON present.batch = spans.batch AND present.trade_date = days.day
    GROUP BY ALL ORDER BY spans.batch
"""


def status_lines(con: duckdb.DuckDBPyConnection, expected: date) -> list[str]:
    """The report, one line each: per asset its last day and gaps, then failures; `expected` is the
    latest day BaoStock has published (the day a fresh warehouse ends on)."""
    lines = [f"latest published trading day: {expected}"]
    lines += _calendar_lines(con)
    lines += _universe_lines(con, expected)
    lines += _bars_lines(con, expected)
    lines += _factor_lines(con)
    lines += _failure_lines(con)
    return lines


def _calendar_lines(con) -> list[str]:
    (last,) = con.execute("SELECT max(calendar_date) FROM trade_calendar").fetchone()
    return [f"trade_calendar: {'empty - materialize trade_calendar' if last is None else f'through {last}'}"]


def _universe_lines(con, expected: date) -> list[str]:
    first, last, days = con.execute(
        "SELECT min(trade_date), max(trade_date), count(DISTINCT trade_date) FROM stock_universe"
    ).fetchone()
    if last is None:
        return ["stock_universe: empty - materialize stock_universe"]
    return [f"stock_universe: {days} days {first}..{last}, {_freshness(con, last, expected)}"]


def _bars_lines(con, expected: date) -> list[str]:
    rows = con.execute(_BATCH_GAPS, {"expected": expected}).fetchall()
    if not rows:
        return ["daily_bars: empty - materialize daily_bars"]
    lines = ["daily_bars:"]
    loaded = {batch for batch, *_ in rows}
    for batch, first, last, missing in rows:
        gaps = f"{len(missing)} days missing ({', '.join(map(str, missing[:SHOWN_GAPS]))}" + (
            " ...)" if len(missing) > SHOWN_GAPS else ")"
        ) if missing else "no gaps"  # fmt: skip
        lines.append(f"  {batch}: {first}..{last}, {gaps}, {_freshness(con, last, expected)}")
    never = [batch for batch in BATCHES if batch not in loaded]
    if never:
        lines.append(f"  never loaded: {', '.join(never)}")
    return lines


def _factor_lines(con) -> list[str]:
    rows, codes = con.execute("SELECT count(*), count(DISTINCT code) FROM adjust_factors").fetchone()
    gaps = "SELECT count(*), count(DISTINCT code) FROM adjust_factor_gaps"
    stale, stale_codes = con.execute(gaps).fetchone()
    line = f"adjust_factors: {rows} ex-dates of {codes} codes"
    if stale:
        line += (
            f"; STALE: {stale} ex-dates of {stale_codes} codes seen in the bars are missing "
            "(their adjusted prices are NULL) - materialize adjust_factors"
        )
    return [line]


def _failure_lines(con) -> list[str]:
    latest = con.execute(
        "SELECT run_id, max(recorded_at) FROM ingest_failures GROUP BY run_id ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    if latest is None:
        return ["failures: none recorded"]
    run_id, recorded = latest
    by_type = con.execute(
        "SELECT error_type, count(*) FROM ingest_failures WHERE run_id = ? GROUP BY ALL ORDER BY 2 DESC",
        [run_id],
    ).fetchall()
    listed = ", ".join(f"{kind} {count}" for kind, count in by_type)
    return [f"failures of the latest run with any ({run_id[:8]}, {recorded:%Y-%m-%d %H:%M}): {listed}"]


def _freshness(con, last: date, expected: date) -> str:
    if last >= expected:
        return "fresh"
    (behind,) = con.execute(
        f"SELECT count(*) FROM ({_DAYS}) WHERE day > $last AND day <= $expected",
        {"expected": expected, "last": last},
    ).fetchone()
    return f"STALE: {behind} trading days behind {expected}"
