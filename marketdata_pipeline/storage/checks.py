"""The warehouse's reconciliation checks as SQL, and the `check_findings` table of offending rows.

The checks hold daily_bars against itself, stock_universe and adjust_factors;
check_findings keeps every offending row they find.

Each check is one SQL relation of offending rows (batch, trade_date, code, then what is wrong) plus
the rows it looked at, over the slices of one or more batches (the same days); `run_check_on_batches`
counts both per batch, keeps a few examples and, given a run id, records every offending row (up to
FINDINGS_LIMIT per check and batch) in check_findings. A day's run of all 16 batches evaluates each
check once, not 16 times.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from marketdata_pipeline.boards import BOARDS, IPO_FIRST_DAY_BAND, Board, PriceLimit
from marketdata_pipeline.storage.connection import bound, utc_now

EXAMPLES = 5
FINDINGS_LIMIT = 10_000
TICK = 0.01

A_SHARES: tuple[int, ...] = (1,)
"""stock_basic's type of A-shares (2 index, 3 other, 4 convertible bond, 5 ETF)."""

FINDINGS_TABLE = """
    CREATE TABLE IF NOT EXISTS check_findings (
        check_name VARCHAR NOT NULL,
        batch VARCHAR,
        trade_date DATE,
        code VARCHAR,
        detail VARCHAR NOT NULL,
        run_id VARCHAR,
        found_at TIMESTAMP NOT NULL
    )
"""


@dataclass(frozen=True)
class CheckResult:
    """One check on one slice: whether it passed, its counts, and a few offending rows as dicts."""

    name: str
    passed: bool
    numbers: dict[str, int]
    examples: tuple[dict[str, object], ...]


@dataclass(frozen=True)
class Check:
    """A check as SQL over the slices' parameters ($batches, $start, $end and the check's own)."""

    name: str
    catches: str
    """What a finding means, for the asset check's description and the README."""
    checked: str
    """SQL: the rows the check looked at (only counted, per their `batch` column)."""
    offending: str
    """SQL: the offending rows: a `batch` column, then trade_date and code (NULL for a whole day)."""


# The slices' bars, and the bars of each code's previous session (for day-over-day rules).
_BARS = "SELECT * FROM daily_bars WHERE list_contains($batches, batch) AND trade_date BETWEEN $start AND $end"
_CHAIN = """
    SELECT * FROM (
        SELECT cur.*, lag(cur.close) OVER w AS prev_close, lag(cur.trade_date) OVER w AS prev_date,
               days.n - lag(days.n) OVER w AS day_gap
        FROM (SELECT * FROM daily_bars WHERE list_contains($batches, batch) AND trade_date BETWEEN
                  coalesce((SELECT max(s) FROM unnest($sessions) AS t(s) WHERE s < $start), $start)
                  AND $end) AS cur
        JOIN (SELECT trade_date, row_number() OVER (ORDER BY trade_date) AS n
              FROM (SELECT DISTINCT unnest($sessions) AS trade_date)) AS days USING (trade_date)
        WINDOW w AS (PARTITION BY cur.code ORDER BY cur.trade_date)
    ) WHERE trade_date >= $start AND day_gap = 1 AND prev_close IS NOT NULL AND preclose IS NOT NULL
"""
"""Each slice bar whose code has a bar on the previous XSHG session ($sessions, which start at or
before the session before $start): a gap (a missing bar, or sessions never stored) has no comparable
predecessor; the universe check reports a missing bar.
The sessions come from the calendar, not from the stored days: a warehouse that skipped days
would otherwise chain a close to a preclose sessions later."""

_FACTORED = f"""
    SELECT chain.*, coalesce(now.back_adjust_factor, 1.0) AS factor,
           coalesce(prev.back_adjust_factor, 1.0) AS prev_factor,
           now.divid_operate_date IS NOT DISTINCT FROM chain.trade_date AS factor_row_on_day
    FROM ({_CHAIN}) AS chain
    ASOF LEFT JOIN adjust_factors AS now
        ON chain.code = now.code AND chain.trade_date >= now.divid_operate_date
    ASOF LEFT JOIN adjust_factors AS prev
        ON chain.code = prev.code AND chain.prev_date >= prev.divid_operate_date
"""

PRECLOSE_CHAIN = Check(
    "preclose_chain",
    catches=(
        "A day whose preclose does not continue the previous close under the back factors "
        "(close[t-1] x F[t-1] = preclose[t] x F[t] within a tick): a wrong preclose or a wrong "
        "factor; a drop without a factor row is an ex-date, reported by factors_cover_ex_dates."
    ),
    checked=f"SELECT * FROM ({_CHAIN})",
    # close[t-1] x F[t-1] = preclose[t] x F[t] (back factors); within a tick at day t's price scale.
    # A drop without its factor row looks like an ex-date whose factor is not stored (yet: bars come
    # before factors each evening): factors_cover_ex_dates reports it, not this check.
    offending=f"""
        SELECT batch, trade_date, code, prev_date, prev_close, preclose, prev_factor, factor,
               factor_row_on_day
        FROM ({_FACTORED})
        WHERE abs(prev_close * prev_factor - preclose * factor) > {TICK} * factor + 1e-9
          AND (factor_row_on_day OR preclose > prev_close)
    """,
)

_SUSPENDED_WRONG = " OR ".join(
    [f"abs(coalesce({col}, -1) - preclose) > 1e-9" for col in ("open", "high", "low", "close")]
    + ["coalesce(volume, 0) <> 0", "coalesce(amount, 0) <> 0"]
)
SUSPENSION_RULES = Check(
    "suspension_rules",
    catches=(
        "A suspended row (trade_status 0) with prices other than its preclose or with "
        "volume/amount, or a trading row without volume."
    ),
    checked=_BARS,
    offending=f"""
        SELECT batch, trade_date, code, trade_status, open, high, low, close, preclose, volume, amount,
               CASE WHEN trade_status = 0 THEN 'suspended row with prices off preclose or with volume'
                    ELSE 'trading row without volume' END AS problem
        FROM ({_BARS})
        WHERE (trade_status = 0 AND (preclose IS NULL OR {_SUSPENDED_WRONG}))
           OR (trade_status = 1 AND coalesce(volume, 0) <= 0)
    """,
)

# The A-share trading rows of the slice with their universe facts (type, IPO date).
_LISTED_TRADING = f"""
    SELECT bars.*, universe.ipo_date FROM ({_BARS}) AS bars
    JOIN (SELECT trade_date, code, type, ipo_date FROM stock_universe
          WHERE list_contains($batches, batch) AND trade_date BETWEEN $start AND $end) AS universe
         USING (trade_date, code)
    WHERE bars.trade_status = 1 AND universe.type = 1
"""


def _by_rule(day: str, value: Callable[[PriceLimit], str]) -> str:
    """SQL: `value` of the price-limit rule (marketdata_pipeline.boards) of the row's code on `day`."""
    whens = [
        f"WHEN ({_on_board(board)}) AND {day} >= DATE '{rule.since.isoformat()}' THEN {value(rule)}"
        for board in BOARDS
        for rule in reversed(board.rules)
    ]
    return f"CASE {' '.join(whens)} END"


def _on_board(board: Board) -> str:
    return " OR ".join(f"code LIKE '{prefix}%'" for prefix in board.prefixes)


_LIMIT = _by_rule("trade_date", lambda rule: f"CASE WHEN is_st THEN {rule.st_limit} ELSE {rule.limit} END")
_IPO_BAND = _by_rule("ipo_date", lambda rule: str(rule.ipo_first_day_band).upper())
_IPO_FREE_DAYS = _by_rule("ipo_date", lambda rule: str(rule.ipo_free_days))
DOWN_BAND, UP_BAND = IPO_FIRST_DAY_BAND

# Each row's session number since its listing (NULL when it listed over a month before the slice:
# long past any IPO rule), counted over the code's stored bars: its bar's number among the code's
# bars minus the number of the code's last bar before the IPO date (ASOF: a join per row, where a
# count per row over the code's bars grows with the square of a long slice).
_NUMBERED = """
    SELECT code, trade_date, row_number() OVER (PARTITION BY code ORDER BY trade_date) AS n
    FROM daily_bars WHERE list_contains($batches, batch) AND trade_date <= $end
"""
_SESSIONED = f"""
    SELECT rows.*, CASE WHEN rows.ipo_date IS NULL OR rows.ipo_date < $start - INTERVAL 30 DAY THEN NULL
                        ELSE bar.n - coalesce(before.n, 0) END AS session
    FROM ({_LISTED_TRADING}) AS rows
    JOIN ({_NUMBERED}) AS bar USING (code, trade_date)
    ASOF LEFT JOIN ({_NUMBERED}) AS before ON rows.code = before.code AND rows.ipo_date > before.trade_date
    WHERE rows.pct_chg IS NOT NULL AND rows.preclose > 0
"""
# The band each row must stay in: none on an IPO's free days, the first-day band, else the limit.
_LIMITED = f"""
    SELECT *, CASE WHEN first_day_band THEN {DOWN_BAND} ELSE -limit_pct END AS down_pct,
              CASE WHEN first_day_band THEN {UP_BAND} ELSE limit_pct END AS up_pct
    FROM (SELECT *, {_LIMIT} AS limit_pct, coalesce(session = 1 AND {_IPO_BAND}, FALSE) AS first_day_band
          FROM ({_SESSIONED}) AS rows
          WHERE session IS NULL OR session > {_IPO_FREE_DAYS})
"""
PRICE_LIMITS = Check(
    "price_limits",
    catches=(
        "pct_chg outside the board's daily limit that day (marketdata_pipeline/boards.py: 10% main, "
        "20% STAR and ChiNext from 2020-08-24, 5% ST main board before 2025-07-07, 30% Beijing; "
        "none on an IPO's first 5 days from registration, +44%/-36% on an approval-era IPO's first day)."
    ),
    checked=_LIMITED,
    # The limit price is rounded to the tick: allow one tick over, plus pct_chg's own rounding.
    offending=f"""
        SELECT batch, trade_date, code, pct_chg, down_pct, up_pct, preclose, close, is_st, session
        FROM ({_LIMITED})
        WHERE pct_chg NOT BETWEEN down_pct - (100 * {TICK} / preclose + 1e-4)
                              AND up_pct + (100 * {TICK} / preclose + 1e-4)
    """,
)

VOLUME_TOLERANCE = 0.02
_VOLUMED = f"SELECT * FROM ({_LISTED_TRADING}) WHERE volume > 0 AND amount IS NOT NULL AND low > 0"
VOLUME_UNITS = Check(
    "volume_units",
    catches=(
        "amount / volume outside [low, high] (2% slack) on trading rows: volume in lots instead of "
        "shares, amount in thousands, a shifted column."
    ),
    checked=_VOLUMED,
    offending=f"""
        SELECT batch, trade_date, code, volume, amount, amount / volume AS average_price, low, high
        FROM ({_VOLUMED})
        WHERE amount / volume NOT BETWEEN low * (1 - {VOLUME_TOLERANCE}) AND high * (1 + {VOLUME_TOLERANCE})
    """,
)

_UNIVERSE = """
    SELECT batch, trade_date, code, trade_status FROM stock_universe
    WHERE list_contains($batches, batch) AND trade_date BETWEEN $start AND $end
      AND list_contains($types, type)
"""
_KNOWN_DAYS = "SELECT DISTINCT trade_date FROM stock_universe WHERE trade_date BETWEEN $start AND $end"
_TRADING_DAYS = f"""
    SELECT batch, trade_date FROM ({_BARS})
    UNION SELECT batches.batch, calendar_date
    FROM trade_calendar, (SELECT unnest($batches) AS batch) AS batches
    WHERE is_trading_day AND calendar_date BETWEEN $start AND $end
"""
UNIVERSE_MATCHES_BARS = Check(
    "universe_matches_bars",
    catches=(
        "The day's bars against the day's stock_universe of the batch: a listed code without a bar, "
        "a bar of an unlisted code, a trade status that differs, a trading day without a universe, "
        "a code stored twice for a day in either table."
    ),
    checked=f"SELECT batch, trade_date, code FROM ({_BARS}) "
    f"UNION SELECT batch, trade_date, code FROM ({_UNIVERSE})",
    offending=f"""
        SELECT batch, trade_date, code, universe.trade_status AS universe_status,
               bars.trade_status AS bar_status,
               CASE WHEN bars.code IS NULL THEN 'no bar for a listed code'
                    WHEN universe.code IS NULL THEN 'bar of a code not in the universe'
                    ELSE 'trade status differs from the universe' END AS problem
        FROM ({_UNIVERSE}) AS universe
        FULL JOIN (SELECT batch, trade_date, code, trade_status FROM ({_BARS})) AS bars
            USING (batch, trade_date, code)
        WHERE trade_date IN ({_KNOWN_DAYS})
          AND (bars.code IS NULL OR universe.code IS NULL OR bars.trade_status <> universe.trade_status)
        UNION ALL
        SELECT batch, trade_date, NULL, NULL, NULL, 'trading day without a stored universe (write it first)'
        FROM ({_TRADING_DAYS}) WHERE trade_date NOT IN ({_KNOWN_DAYS})
        UNION ALL
        SELECT batch, trade_date, code, NULL, NULL, 'stored twice in ' || stored_in FROM (
            SELECT batch, trade_date, code, 'daily_bars' AS stored_in FROM ({_BARS})
            UNION ALL SELECT batch, trade_date, code, 'stock_universe' FROM ({_UNIVERSE})
        ) GROUP BY ALL HAVING count(*) > 1
    """,
)

# On trading rows: low <= min(open, close) <= max(open, close) <= high; a missing price is a violation
# too (spelled out because greatest/least skip NULLs).
_OHLC_VIOLATION = (
    "(open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL "
    "OR high < greatest(open, close) OR low > least(open, close) OR low > high)"
)
OHLC_CONSISTENT = Check(
    "ohlc_consistent",
    catches=("On trading rows, low <= min(open, close) <= max(open, close) <= high, and no price missing."),
    checked=f"SELECT * FROM ({_BARS}) WHERE trade_status = 1",
    offending=f"""
        SELECT batch, trade_date, code, open, high, low, close FROM ({_BARS})
        WHERE trade_status = 1 AND {_OHLC_VIOLATION}
    """,
)

BAR_REVISIONS = Check(
    "bar_revisions",
    catches=(
        "Stored values the run's re-fetch changed (the trailing window): which bar, which column, "
        "old and new (all of them in bar_revisions)."
    ),
    checked="SELECT * FROM bar_revisions WHERE list_contains($batches, batch) "
    "AND trade_date BETWEEN $start AND $end AND seen_at >= $since",
    offending="""
        SELECT batch, trade_date, code, "column", old, new, seen_at FROM bar_revisions
        WHERE list_contains($batches, batch) AND trade_date BETWEEN $start AND $end AND seen_at >= $since
    """,
)

FACTORS_COVER_EX_DATES = Check(
    "factors_cover_ex_dates",
    catches=(
        "An ex-date in the bars (preclose below the previous close) without its adjust_factors row: "
        "the qfq/hfq views are wrong from that day on."
    ),
    checked=_BARS,
    # An ex-date lowers the reference price (dividend, bonus shares, rights below the close): a
    # preclose below the previous close is an ex-date, and needs its factor row.
    offending=f"""
        SELECT batch, trade_date, code, prev_close, preclose FROM ({_FACTORED})
        WHERE preclose < prev_close - {TICK} / 2 AND NOT factor_row_on_day
    """,
)

_EX_DATES = f"""
    SELECT batch, trade_date, code FROM ({_CHAIN}) WHERE preclose < prev_close - {TICK} / 2
    UNION SELECT codes.batch, divid_operate_date, code FROM adjust_factors
    JOIN (SELECT DISTINCT batch, code FROM ({_BARS})) AS codes USING (code)
    WHERE divid_operate_date BETWEEN $start AND $end
"""
FACTORS_FRESH = Check(
    "factors_fresh",
    catches=(
        "An ex-date in the bars or the factors that the batch's last factor fetch came before 18:00 "
        "Shanghai of (BaoStock publishes factors then), or no fetch at all."
    ),
    checked=_BARS,
    # BaoStock publishes a day's factors at 18:00 Shanghai (10:00 UTC): a refresh before that misses them.
    offending=f"""
        SELECT batch, trade_date, code, $refreshed_at AS factors_refreshed_at FROM ({_EX_DATES})
        WHERE $refreshed_at IS NULL OR $refreshed_at < trade_date + INTERVAL 10 HOUR
    """,
)

DAILY_BARS_CHECKS: tuple[Check, ...] = (
    OHLC_CONSISTENT,
    PRECLOSE_CHAIN,
    SUSPENSION_RULES,
    PRICE_LIMITS,
    VOLUME_UNITS,
    UNIVERSE_MATCHES_BARS,
    BAR_REVISIONS,
)
"""The checks a daily_bars write runs on its slice."""

ADJUST_FACTORS_CHECKS: tuple[Check, ...] = (FACTORS_COVER_EX_DATES, FACTORS_FRESH)
"""The checks of adjust_factors against the bars' ex-dates."""


_FOUND = "check_offending_rows"


def run_check(
    con: duckdb.DuckDBPyConnection, check: Check, *, batch: str, **arguments: object
) -> CheckResult:
    """Run `check` on one batch's slice: `arguments` as for `run_check_on_batches` (start, end, ...)."""
    return run_check_on_batches(con, check, batches=[batch], **arguments)[batch]


def run_check_on_batches(
    con: duckdb.DuckDBPyConnection,
    check: Check,
    *,
    batches: Sequence[str],
    start: date,
    end: date,
    run_id: str | None = None,
    **params: object,
) -> dict[str, CheckResult]:
    """Run `check` once over the slices of `batches` (the same days); each batch's result, as if run
    alone. With `run_id`, each batch's offending rows are also recorded in check_findings."""
    values = {"batches": sorted(batches), "start": start, "end": end, **params}
    checked = dict(
        con.execute(
            f"SELECT batch, count(*) FROM ({check.checked}) GROUP BY batch", bound(check.checked, values)
        ).fetchall()
    )
    # The offending rows once, in a temp table: counted, sampled and recorded without re-running the SQL.
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_FOUND} AS {check.offending}", bound(check.offending, values))
    try:
        found = dict(con.execute(f"SELECT batch, count(*) FROM {_FOUND} GROUP BY batch").fetchall())
        return {
            batch: _batch_result(con, check, batch, checked.get(batch, 0), found.get(batch, 0), run_id)
            for batch in batches
        }
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_FOUND}")


def _batch_result(
    con: duckdb.DuckDBPyConnection, check: Check, batch: str, checked: int, found: int, run_id: str | None
) -> CheckResult:
    """One batch's counts and examples from the offending rows' temp table; its findings recorded."""
    rows = f"SELECT * EXCLUDE (batch) FROM {_FOUND} WHERE batch = $batch ORDER BY ALL"
    examples = _dicts(con, f"{rows} LIMIT {EXAMPLES}", {"batch": batch}) if found else ()
    if run_id is not None and found:
        con.execute(
            f"""
            INSERT INTO check_findings
            SELECT $name, $batch, trade_date, code, CAST(to_json(found) AS VARCHAR), $run_id, $now
            FROM ({rows} LIMIT {FINDINGS_LIMIT}) AS found
            """,
            {"name": check.name, "batch": batch, "run_id": run_id, "now": utc_now()},
        )
    return CheckResult(check.name, found == 0, {"rows_checked": checked, "findings": found}, examples)


def run_daily_bars_checks(
    con: duckdb.DuckDBPyConnection,
    *,
    batches: Sequence[str],
    start: date,
    end: date,
    since: datetime,
    sessions: Sequence[date],
    types: Collection[int] = A_SHARES,
    run_id: str | None = None,
) -> dict[str, list[CheckResult]]:
    """Every daily_bars check on the slices of `batches` (the same days), each check evaluated once;
    each batch's results. Revisions are those seen at or after `since` (UTC); `sessions` are the
    XSHG sessions from (at least) the one before `start` through `end`."""
    extra: Mapping[str, object] = {
        "types": sorted(int(kind) for kind in types),
        "since": since,
        "sessions": list(sessions),
    }
    by_check = [
        run_check_on_batches(con, check, batches=batches, start=start, end=end, run_id=run_id, **extra)
        for check in DAILY_BARS_CHECKS
    ]
    return {batch: [results[batch] for results in by_check] for batch in batches}


def run_adjust_factors_checks(
    con: duckdb.DuckDBPyConnection,
    *,
    batch: str,
    start: date,
    end: date,
    refreshed_at: datetime | None,
    sessions: Sequence[date],
    run_id: str | None = None,
) -> list[CheckResult]:
    """The adjust_factors checks over the batch's bars of start..end; `refreshed_at` (UTC) is when
    the batch's factors were fetched, None if never; `sessions` as for run_daily_bars_checks."""
    values = {"refreshed_at": refreshed_at, "sessions": list(sessions)}
    return [
        run_check(con, check, batch=batch, start=start, end=end, run_id=run_id, **values)
        for check in ADJUST_FACTORS_CHECKS
    ]


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> tuple[dict, ...]:
    result = con.execute(sql, dict(params))
    names = [column[0] for column in result.description]
    return tuple(dict(zip(names, row, strict=True)) for row in result.fetchall())
