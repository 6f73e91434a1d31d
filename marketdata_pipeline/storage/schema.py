"""The warehouse schema: tables, keys, adjusted-price views and their factor gaps, created idempotently."""

from __future__ import annotations

import duckdb

from marketdata_pipeline.storage.checks import FINDINGS_TABLE
from marketdata_pipeline.storage.columns import (
    ADJUST_FACTORS,
    DAILY_BARS,
    DAILY_BARS_WRITE_COLUMNS,
    STOCK_UNIVERSE_BY_DAY,
    TRADE_CALENDAR,
)
from marketdata_pipeline.storage.connection import write_transaction
from marketdata_pipeline.storage.revisions import REVISIONS_TABLE

DAILY_BARS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    *((f.target, f.sql_type, f.description) for f in DAILY_BARS.stored),
    *DAILY_BARS_WRITE_COLUMNS,
)
"""daily_bars' columns in table order: (name, SQL type, description), from the one definition."""

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "preclose")

# daily_bars and stock_universe declare no PRIMARY KEY: DuckDB keeps one as an ART index beside
# the table, which was 60% of a whole-market file and most of each write's, commit's and close's
# time (see docs/design-notes.md). Their writers keep (code, trade_date) unique instead: one
# transaction deletes the slice, then inserts rows checked unique; universe_matches_bars reports a
# key stored twice anyway.
_UNKEYED: dict[str, str] = {
    "daily_bars": DAILY_BARS.create_table(
        "daily_bars", *(f"{name} {sql_type}" for name, sql_type, _ in DAILY_BARS_WRITE_COLUMNS), keyed=False
    ),
    "stock_universe": STOCK_UNIVERSE_BY_DAY.create_table(
        "stock_universe", "batch VARCHAR NOT NULL", keyed=False
    ),
}

TABLES: dict[str, str] = {
    **_UNKEYED,
    "adjust_factors": ADJUST_FACTORS.create_table("adjust_factors", keyed=True),
    "trade_calendar": TRADE_CALENDAR.create_table("trade_calendar", keyed=True),
    "ingest_failures": """
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
}
"""The project's tables by name (the trust tables aside): a file holding none of them is another program's."""


def _adjusted(factor: str, unknown: str) -> str:
    """`bars.* REPLACE (...)` keeps the column order, scaling only the prices (NULL where `unknown`)."""
    scaled = ", ".join(
        f"CASE WHEN {unknown} THEN NULL ELSE bars.{col} * ({factor}) END AS {col}" for col in PRICE_COLUMNS
    )
    return f"bars.* REPLACE ({scaled})"


# b(t): the back factor of the latest ex-date on or before the bar, 1.0 before a code's first ex-date.
_BACK_FACTOR = "coalesce(ex.back_adjust_factor, 1.0)"

# An ex-date shows in the raw bars themselves: BaoStock's preclose is then the previous close adjusted,
# not the previous close. One without a factor row in between means adjust_factors is missing or stale.
_GAPS = """
    CREATE OR REPLACE VIEW adjust_factor_gaps AS
    WITH priced AS (
        SELECT code, batch, trade_date, preclose,
               lag(close) OVER (PARTITION BY code ORDER BY trade_date) AS previous_close,
               lag(trade_date) OVER (PARTITION BY code ORDER BY trade_date) AS previous_date
        FROM daily_bars
        WHERE close IS NOT NULL AND preclose IS NOT NULL
    )
    SELECT code, batch, trade_date, previous_date, previous_close, preclose
    FROM priced
    WHERE abs(preclose - previous_close) > 0.005
      AND NOT EXISTS (
          SELECT 1 FROM adjust_factors AS f
          WHERE f.code = priced.code
            AND f.divid_operate_date > priced.previous_date AND f.divid_operate_date <= priced.trade_date
      )
"""
_FIRST_GAP = "first_gap AS (SELECT code, min(trade_date) AS since FROM adjust_factor_gaps GROUP BY code)"

_VIEWS: tuple[str, ...] = (
    _GAPS,
    # hfq prices from a missing ex-date on are unknown: NULL, never the raw price.
    f"""
    CREATE OR REPLACE VIEW daily_bars_hfq AS
    WITH {_FIRST_GAP}
    SELECT {_adjusted(_BACK_FACTOR, "gap.since <= bars.trade_date")}
    FROM daily_bars AS bars
    ASOF LEFT JOIN adjust_factors AS ex
        ON bars.code = ex.code AND bars.trade_date >= ex.divid_operate_date
    LEFT JOIN first_gap AS gap ON gap.code = bars.code
    """,
    # qfq scales by b(t) / b(latest): the newest bars keep their raw prices exactly (as adjustflag=2).
    # A missing ex-date leaves b(latest) unknown, so every qfq price of the code is NULL.
    f"""
    CREATE OR REPLACE VIEW daily_bars_qfq AS
    WITH latest AS (
        SELECT code, arg_max(back_adjust_factor, divid_operate_date) AS back_adjust_factor
        FROM adjust_factors
        GROUP BY code
    ), {_FIRST_GAP}
    SELECT {_adjusted(f"{_BACK_FACTOR} / coalesce(latest.back_adjust_factor, 1.0)", "gap.since IS NOT NULL")}
    FROM daily_bars AS bars
    ASOF LEFT JOIN adjust_factors AS ex
        ON bars.code = ex.code AND bars.trade_date >= ex.divid_operate_date
    LEFT JOIN latest ON latest.code = bars.code
    LEFT JOIN first_gap AS gap ON gap.code = bars.code
    """,
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table (if missing), the trust tables' too, and (re)create the views; safe to call
    on every run."""
    _drop_primary_keys(con)
    for statement in (*TABLES.values(), *_VIEWS, FINDINGS_TABLE, REVISIONS_TABLE):
        con.execute(statement)


def _drop_primary_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild, once, a table an earlier version created with its key (DuckDB cannot drop a key)."""
    keyed = con.execute(
        "SELECT DISTINCT table_name FROM duckdb_constraints() "
        "WHERE constraint_type = 'PRIMARY KEY' AND list_contains(?, table_name)",
        [sorted(_UNKEYED)],
    ).fetchall()
    for (table,) in keyed:
        with write_transaction(con):
            con.execute(f"ALTER TABLE {table} RENAME TO {table}_keyed")
            con.execute(_UNKEYED[table])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {table}_keyed")
            con.execute(f"DROP TABLE {table}_keyed")
