"""The DuckDB warehouse: schema, atomic partition replace, adjusted-price views."""

from marketdata_pipeline.storage.checks import (
    A_SHARES,
    CheckResult,
    check_completeness,
    check_ohlc,
    check_unique_bars,
)
from marketdata_pipeline.storage.connection import WarehouseLockedError, open_warehouse, write_transaction
from marketdata_pipeline.storage.incoming import MalformedRowsError
from marketdata_pipeline.storage.schema import DAILY_BARS_COLUMNS, ensure_schema
from marketdata_pipeline.storage.stage import BarStage, attached
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
    "A_SHARES",
    "DAILY_BARS_COLUMNS",
    "BarStage",
    "CheckResult",
    "MalformedRowsError",
    "WarehouseLockedError",
    "attached",
    "check_completeness",
    "check_ohlc",
    "check_unique_bars",
    "ensure_schema",
    "open_warehouse",
    "record_failures",
    "replace_adjust_factors",
    "replace_daily_bars",
    "replace_daily_bars_from_stage",
    "replace_stock_universe",
    "replace_stock_universes",
    "replace_trade_calendar",
    "rows_per_day",
    "write_transaction",
]
