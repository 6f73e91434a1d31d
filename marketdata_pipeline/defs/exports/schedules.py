"""The exports' schedule: both exports at 18:45 Asia/Shanghai, after the bars (17:45) and factors (18:30)."""

import dagster as dg

from marketdata_pipeline.defs.market.schedules import evening_schedule
from marketdata_pipeline.market_calendar import FACTORS_PUBLISHED_AT

exports_job = dg.define_asset_job("exports_job", selection=dg.AssetSelection.groups("exports"))


@evening_schedule(
    "45 18 * * *",
    exports_job,
    FACTORS_PUBLISHED_AT,
    "parquet_export and qlib_export after the day's bars and factors, on trading days.",
)
def exports_schedule(day, instance: dg.DagsterInstance):
    return dg.RunRequest(run_key=f"exports|{day}")
