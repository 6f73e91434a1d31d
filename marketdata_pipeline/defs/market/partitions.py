"""Partitions of the market assets, trading days (XSHG) x symbol batches, and their keys read as days."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time

import dagster as dg

from marketdata_pipeline.batching import BATCHES
from marketdata_pipeline.market_calendar import TIMEZONE, weekday_holidays

HISTORY_START = "2015-01-01"
DATE_FORMAT = "%Y-%m-%d"


class TradingDayPartitions(dg.TimeWindowPartitionsDefinition):
    """Daily partitions on weekdays, less the exchange's weekday holidays.

    Dagster hashes a partitions definition through its repr on each cached
    lookup; the ~215 holidays make that repr 16k characters (0.45 ms a hash,
    8 s to map one batch's whole history to `stock_universe`'s days). The
    definition is immutable, so its hash is computed once.
    """

    @functools.cached_property
    def _hash(self) -> int:
        return super().__hash__()

    def __hash__(self) -> int:
        return self._hash


# end_offset=1: today's partition exists from midnight Shanghai time, so the
# 17:45 schedule can fill it; the asset refuses dates BaoStock has not published.
date_partitions = TradingDayPartitions(
    cron_schedule="0 0 * * 1-5",
    start=HISTORY_START,
    fmt=DATE_FORMAT,
    timezone=TIMEZONE,
    end_offset=1,
    exclusions=[datetime.combine(day, time()) for day in weekday_holidays(date.fromisoformat(HISTORY_START))],
)
batch_partitions = dg.StaticPartitionsDefinition(list(BATCHES))
daily_bars_partitions = dg.MultiPartitionsDefinition({"date": date_partitions, "batch": batch_partitions})


def bars_partition_key(batch: str, day: date) -> dg.MultiPartitionKey:
    """The daily_bars partition of `batch` on `day` (`b03|2024-01-02`)."""
    return dg.MultiPartitionKey({"batch": batch, "date": day.isoformat()})


def date_keys_to_days(keys: Iterable[str]) -> list[date]:
    """Date partition keys as sorted dates (Dagster refused any key not of the partitions at launch)."""
    return sorted({date.fromisoformat(key) for key in keys})


def batches_and_days(
    keys: Iterable[str], key_range: dg.PartitionKeyRange | None = None
) -> dict[str, list[date]]:
    """`b03|2024-01-02` keys grouped as batch -> sorted trading days; a run selecting none says why."""
    days: dict[str, set[date]] = defaultdict(set)
    for key in keys:
        dimensions = daily_bars_partitions.get_partition_key_from_str(key).keys_by_dimension
        days[dimensions["batch"]].add(date.fromisoformat(dimensions["date"]))
    if not days:
        raise dg.Failure(_empty_range_reason(key_range))
    return {batch: sorted(days[batch]) for batch in sorted(days)}


def _empty_range_reason(key_range: dg.PartitionKeyRange | None) -> str:
    if key_range is None:
        return "the run selects no daily_bars partitions: pick at least one batch and trading day"
    corners = [
        daily_bars_partitions.get_partition_key_from_str(key).keys_by_dimension
        for key in (key_range.start, key_range.end)
    ]
    reversed_ = [name for name in ("date", "batch") if corners[0][name] > corners[1][name]]
    what = f"its start is after its end in {' and '.join(reversed_)}" if reversed_ else "it is empty"
    return (
        f"partition range {key_range.start}...{key_range.end} selects no daily_bars partitions: {what}. "
        "Put the earlier date and the lower batch first, e.g. "
        f"{min(corners[0]['batch'], corners[1]['batch'])}|{min(corners[0]['date'], corners[1]['date'])}..."
        f"{max(corners[0]['batch'], corners[1]['batch'])}|{max(corners[0]['date'], corners[1]['date'])}"
    )
