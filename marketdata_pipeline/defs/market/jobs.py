"""One job per market asset, so schedules, sensors and the demo can target their partitions.

Each job's partitions are the asset's own (Dagster infers them from the selection).
"""

import dagster as dg

trade_calendar_job = dg.define_asset_job("trade_calendar_job", selection=["trade_calendar"])
stock_universe_job = dg.define_asset_job("stock_universe_job", selection=["stock_universe"])
daily_bars_job = dg.define_asset_job("daily_bars_job", selection=["daily_bars"])
adjust_factors_job = dg.define_asset_job("adjust_factors_job", selection=["adjust_factors"])
