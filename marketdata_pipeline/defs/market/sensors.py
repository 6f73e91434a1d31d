"""The publication sensor: starts a trading day's runs as soon as BaoStock has published the day.

From 17:30 Asia/Shanghai on trading days it asks BaoStock every 5 minutes
whether `query_all_stock(day)` lists securities (one short-lived session,
closed on every path). Once it does, it requests the day's universe run and
its `daily_bars` run over all batches (run keys `<date>|universe`,
`<date>|daily_bars`) and moves its cursor to the day, so a restarted sensor does not request them
again and stops asking BaoStock until the next trading day.

STOPPED by default, like the schedules: turn on this sensor or the 17:40/17:45
schedules (each skips partitions the other started).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import dagster as dg

from marketdata_pipeline.defs.market import day_runs, publication_probe
from marketdata_pipeline.defs.market.jobs import daily_bars_job, stock_universe_job
from marketdata_pipeline.defs.market.publication import SHANGHAI, shanghai_now
from marketdata_pipeline.defs.sessions import cooldown

CHECK_EVERY_SECONDS = 300


def started_reason(day: date, cursor: str | None) -> str | None:
    """Why the day's runs need no request: the cursor says they were started already."""
    if cursor and date.fromisoformat(cursor) >= day:
        return f"the runs of {day} were started already (cursor {cursor}); next check on the next trading day"
    return None


def build_publication_sensor(
    name: str = "daily_bars_publication_sensor", clock: Callable[[], datetime] = shanghai_now
) -> dg.SensorDefinition:
    """The sensor, reading the time from `clock` (tests pass a fixed one)."""

    @dg.sensor(
        name=name,
        jobs=[stock_universe_job, daily_bars_job],
        minimum_interval_seconds=CHECK_EVERY_SECONDS,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Starts the day's stock_universe and daily_bars runs once BaoStock has published "
        "the day (query_all_stock non-empty), from 17:30 Asia/Shanghai on trading days.",
    )
    def publication_sensor(context: dg.SensorEvaluationContext):
        now = clock().astimezone(SHANGHAI)
        day = now.date()
        reason = (
            day_runs.closed_reason(day)
            or day_runs.unpublished_reason(day, now)
            or started_reason(day, context.cursor)
            or cooldown.paused_reason()
            or publication_probe.unpublished_reason(day)
        )
        if reason:
            return dg.SkipReason(reason)
        requests = [
            *day_runs.stock_universe_requests(day, context.instance),
            *day_runs.daily_bars_requests(day, context.instance),
        ]
        context.log.info(f"BaoStock has published {day}: requesting {len(requests)} runs")
        return dg.SensorResult(run_requests=requests, cursor=day.isoformat())

    return publication_sensor


daily_bars_publication_sensor = build_publication_sensor()
