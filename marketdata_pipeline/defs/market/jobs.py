"""One job per market asset, so schedules, sensors and the demo can target their partitions."""

import dagster as dg

from marketdata_pipeline.defs.market.partitions import (
    batch_partitions,
    daily_bars_partitions,
    date_partitions,
)

trade_calendar_job = dg.define_asset_job("trade_calendar_job", selection=["trade_calendar"])
stock_universe_job = dg.define_asset_job(
    "stock_universe_job", selection=["stock_universe"], partitions_def=date_partitions
)
daily_bars_job = dg.define_asset_job(
    "daily_bars_job", selection=["daily_bars"], partitions_def=daily_bars_partitions
)
adjust_factors_job = dg.define_asset_job(
    "adjust_factors_job", selection=["adjust_factors"], partitions_def=batch_partitions
)
