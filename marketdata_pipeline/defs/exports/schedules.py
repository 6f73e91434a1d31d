"""The exports' schedule: both exports at 18:45 Asia/Shanghai, after the bars (17:45) and factors (18:30)."""

import dagster as dg

from marketdata_pipeline.defs.market.schedules import tick_day
from marketdata_pipeline.market_calendar import FACTORS_PUBLISHED_AT, TIMEZONE

exports_job = dg.define_asset_job("exports_job", selection=dg.AssetSelection.groups("exports"))


@dg.schedule(
    cron_schedule="45 18 * * *",
    execution_timezone=TIMEZONE,
    job=exports_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="parquet_export and qlib_export after the day's bars and factors, on trading days.",
)
def exports_schedule(context: dg.ScheduleEvaluationContext):
    day, reason = tick_day(context, FACTORS_PUBLISHED_AT)
    if reason:
        return dg.SkipReason(reason)
    return dg.RunRequest(run_key=f"exports|{day}")
