"""The fetch planner, bounded concurrent fetching and reference data (no Dagster here)."""

from marketdata_pipeline.ingest.adjust_factors import fetch_adjust_factors
from marketdata_pipeline.ingest.bars import DAILY_FIELDS
from marketdata_pipeline.ingest.calls import RetryPolicy
from marketdata_pipeline.ingest.fetch import fetch_daily_bars
from marketdata_pipeline.ingest.planner import plan_fetch
from marketdata_pipeline.ingest.report import FetchFailure, FetchReport, Progress
from marketdata_pipeline.ingest.trade_calendar import calendar_mismatches, fetch_trade_calendar, trading_days
from marketdata_pipeline.ingest.universe import (
    a_share_codes,
    fetch_stock_basic,
    fetch_universe,
    fetch_universe_chunks,
    fetch_universes,
    listing_windows,
)

__all__ = [
    "DAILY_FIELDS",
    "FetchFailure",
    "FetchReport",
    "Progress",
    "RetryPolicy",
    "a_share_codes",
    "calendar_mismatches",
    "fetch_adjust_factors",
    "fetch_daily_bars",
    "fetch_stock_basic",
    "fetch_trade_calendar",
    "fetch_universe",
    "fetch_universe_chunks",
    "fetch_universes",
    "listing_windows",
    "plan_fetch",
    "trading_days",
]
