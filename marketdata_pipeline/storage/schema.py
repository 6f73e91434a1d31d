"""The warehouse schema: tables, keys and the adjusted-price views, created idempotently."""

from __future__ import annotations

import duckdb

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "preclose")

_TABLES: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS daily_bars (
        trade_date DATE NOT NULL,
        code VARCHAR NOT NULL,
        open DOUBLE,
        high DOUBLE,
        low DOUBLE,
        close DOUBLE,
        preclose DOUBLE,
        volume BIGINT,
        amount DOUBLE,
        turn DOUBLE,
        trade_status SMALLINT NOT NULL,
        pct_chg DOUBLE,
        pe_ttm DOUBLE,
        ps_ttm DOUBLE,
        pcf_ncf_ttm DOUBLE,
        pb_mrq DOUBLE,
        is_st BOOLEAN,
        batch VARCHAR NOT NULL,
        ingested_at TIMESTAMP NOT NULL,
        PRIMARY KEY (code, trade_date)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS adjust_factors (
        code VARCHAR NOT NULL,
        divid_operate_date DATE NOT NULL,
        fore_adjust_factor DOUBLE,
        back_adjust_factor DOUBLE NOT NULL,
        adjust_factor DOUBLE,
        PRIMARY KEY (code, divid_operate_date)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS stock_universe (
        trade_date DATE NOT NULL,
        code VARCHAR NOT NULL,
        code_name VARCHAR,
        trade_status SMALLINT NOT NULL,
        type SMALLINT,
        status SMALLINT,
        ipo_date DATE,
        out_date DATE,
        batch VARCHAR NOT NULL,
        PRIMARY KEY (trade_date, code)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS trade_calendar (
        calendar_date DATE PRIMARY KEY,
        is_trading_day BOOLEAN NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS ingest_failures (
        run_id VARCHAR NOT NULL,
        batch VARCHAR,
        code VARCHAR,
        start_date DATE,
        end_date DATE,
        error_type VARCHAR NOT NULL,
        message VARCHAR,
        recorded_at TIMESTAMP NOT NULL
    )
    """,
)


def _adjusted(factor: str) -> str:
    """`bars.* REPLACE (...)` keeps daily_bars' column order, scaling only the prices."""
    scaled = ", ".join(f"bars.{col} * ({factor}) AS {col}" for col in PRICE_COLUMNS)
    return f"bars.* REPLACE ({scaled})"


# b(t): the back factor of the latest ex-date on or before the bar, 1.0 before a code's first ex-date.
_BACK_FACTOR = "coalesce(ex.back_adjust_factor, 1.0)"

_VIEWS: tuple[str, ...] = (
    f"""
    CREATE OR REPLACE VIEW daily_bars_hfq AS
    SELECT {_adjusted(_BACK_FACTOR)}
    FROM daily_bars AS bars
    ASOF LEFT JOIN adjust_factors AS ex
        ON bars.code = ex.code AND bars.trade_date >= ex.divid_operate_date
    """,
    # qfq scales by b(t) / b(latest): the newest bars keep their raw prices exactly (as adjustflag=2).
    f"""
    CREATE OR REPLACE VIEW daily_bars_qfq AS
    WITH latest AS (
        SELECT code, arg_max(back_adjust_factor, divid_operate_date) AS back_adjust_factor
        FROM adjust_factors
        GROUP BY code
    )
    SELECT {_adjusted(f"{_BACK_FACTOR} / coalesce(latest.back_adjust_factor, 1.0)")}
    FROM daily_bars AS bars
    ASOF LEFT JOIN adjust_factors AS ex
        ON bars.code = ex.code AND bars.trade_date >= ex.divid_operate_date
    LEFT JOIN latest ON latest.code = bars.code
    """,
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table (if missing) and (re)create the views; safe to call on every run."""
    for statement in (*_TABLES, *_VIEWS):
        con.execute(statement)
