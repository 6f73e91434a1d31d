"""One job per market asset, so schedules, sensors and the demo can target their partitions.

Each job's partitions are the asset's own (Dagster infers them from the selection).
"""

import dagster as dg

from marketdata_pipeline.dagster_internals import MAX_RETRIES_TAG, RETRY_STRATEGY_TAG

MAX_RETRIES = 3
# Dagster's run retries (`run_retries` in dagster.yaml) re-run a failed daily_bars run, all of it,
# at most MAX_RETRIES times; defs/market/retries.py holds the rules a retry obeys before it launches.
RUN_RETRY_TAGS = {MAX_RETRIES_TAG: str(MAX_RETRIES), RETRY_STRATEGY_TAG: "ALL_STEPS"}

trade_calendar_job = dg.define_asset_job("trade_calendar_job", selection=["trade_calendar"])
stock_universe_job = dg.define_asset_job("stock_universe_job", selection=["stock_universe"])
daily_bars_job = dg.define_asset_job("daily_bars_job", selection=["daily_bars"], tags=RUN_RETRY_TAGS)
adjust_factors_job = dg.define_asset_job("adjust_factors_job", selection=["adjust_factors"])
