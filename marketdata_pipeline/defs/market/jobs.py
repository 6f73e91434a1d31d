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
# Without fresh_by_1830: the 17:45 run is before its 18:30 deadline (freshness_schedule runs it at
# 18:31), and as a step of its own it would read every daily_bars partition's status in each day's run.
FRESH_BY_1830 = dg.AssetCheckKey(dg.AssetKey("daily_bars"), "fresh_by_1830")
daily_bars_job = dg.define_asset_job(
    "daily_bars_job",
    selection=dg.AssetSelection.assets("daily_bars") - dg.AssetSelection.checks(FRESH_BY_1830),
    tags=RUN_RETRY_TAGS,
)
adjust_factors_job = dg.define_asset_job("adjust_factors_job", selection=["adjust_factors"])
