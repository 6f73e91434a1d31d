"""The publication sensor: starts a trading day's run as soon as BaoStock has published the day.

From 17:30 Asia/Shanghai on trading days it asks BaoStock every 5 minutes,
through the `baostock` resource's pool (its endpoints and fallbacks, account
and request caps), whether `query_all_stock(day)` lists securities. Once it
does, it requests the day's `daily_bars` run over all batches (run key
`<date>|daily_bars`; the run stores the day's universe too) and moves its
cursor to the day, so a restarted sensor does not request it again and stops
asking BaoStock until the next trading day.

STOPPED by default, like the schedules: turn on this sensor or the 17:45
schedule, or both (each skips a day the other started).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import dagster as dg

from marketdata_pipeline.defs.market.jobs import daily_bars_job
from marketdata_pipeline.defs.market.publication_probe import unlisted_reason
from marketdata_pipeline.defs.market.schedules import day_request
from marketdata_pipeline.defs.sessions import cooldown
from marketdata_pipeline.defs.sessions.resources import BaoStockPoolResource
from marketdata_pipeline.market_calendar import SHANGHAI, closed_reason, shanghai_now, unpublished_reason

CHECK_EVERY_SECONDS = 300


def started_reason(day: date, cursor: str | None) -> str | None:
    """Why the day's run needs no request: the cursor says it was started already."""
    if cursor and date.fromisoformat(cursor) >= day:
        return f"the run of {day} was started already (cursor {cursor}); next check on the next trading day"
    return None


def build_publication_sensor(clock: Callable[[], datetime] = shanghai_now) -> dg.SensorDefinition:
    """The sensor, reading the time from `clock` (tests pass a fixed one)."""

    @dg.sensor(
        name="daily_bars_publication_sensor",
        job=daily_bars_job,
        minimum_interval_seconds=CHECK_EVERY_SECONDS,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Starts the day's daily_bars run once BaoStock has published the day "
        "(query_all_stock non-empty), from 17:30 Asia/Shanghai on trading days.",
    )
    def publication_sensor(context: dg.SensorEvaluationContext, baostock: BaoStockPoolResource):
        now = clock().astimezone(SHANGHAI)
        day = now.date()
        reason = (
            closed_reason(day)
            or unpublished_reason(day, now)
            or started_reason(day, context.cursor)
            or cooldown.paused_reason()
            or unlisted_reason(baostock, day)
        )
        if reason:
            return dg.SkipReason(reason)
        request = day_request(day, context.instance)
        context.log.info(
            f"BaoStock has published {day}: {'requesting its run' if request else 'already started'}"
        )
        return dg.SensorResult(run_requests=[request] if request else [], cursor=day.isoformat())

    return publication_sensor


daily_bars_publication_sensor = build_publication_sensor()
