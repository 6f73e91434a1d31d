"""The DuckDB warehouse: schema, staging, atomic partition writes, revisions, checks, views."""

from marketdata_pipeline.storage.checks import CheckResult, run_adjust_factors_checks, run_daily_bars_checks
from marketdata_pipeline.storage.connection import WarehouseLockedError, open_warehouse, write_transaction
from marketdata_pipeline.storage.incoming import MalformedRowsError
from marketdata_pipeline.storage.revisions import with_trailing_days
from marketdata_pipeline.storage.schema import DAILY_BARS_COLUMNS, ensure_schema
from marketdata_pipeline.storage.stage import BarStage, attached
from marketdata_pipeline.storage.universes import stored_universe, stored_universe_days
from marketdata_pipeline.storage.writes import (
    record_failures,
    replace_adjust_factors,
    replace_daily_bars,
    replace_daily_bars_from_stage,
    replace_stock_universe,
    replace_stock_universes,
    replace_trade_calendar,
    rows_per_day,
)

__all__ = [
    "DAILY_BARS_COLUMNS",
    "BarStage",
    "CheckResult",
    "MalformedRowsError",
    "WarehouseLockedError",
    "attached",
    "ensure_schema",
    "open_warehouse",
    "record_failures",
    "run_adjust_factors_checks",
    "run_daily_bars_checks",
    "stored_universe",
    "stored_universe_days",
    "replace_adjust_factors",
    "replace_daily_bars",
    "replace_daily_bars_from_stage",
    "replace_stock_universe",
    "replace_stock_universes",
    "replace_trade_calendar",
    "with_trailing_days",
    "rows_per_day",
    "write_transaction",
]
