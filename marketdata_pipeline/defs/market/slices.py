"""Plain helpers of the market assets: partition keys to days and batches, stored universes, metadata."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from marketdata_pipeline.defs.market.partitions import (
    daily_bars_partitions,
    parse_partition_date,
    xshg_trading_days,
)
from marketdata_pipeline.defs.market.publication import BARS_PUBLISHED_AT, latest_published_day
from marketdata_pipeline.ingest import Progress
from marketdata_pipeline.ingest.universe import UNIVERSE_COLUMNS
from marketdata_pipeline.storage import DAILY_BARS_COLUMNS
from marketdata_pipeline.storage.columns import STOCK_UNIVERSE_BY_DAY

FAILURES_SHOWN = 20
DAILY_BARS, STOCK_UNIVERSE = "daily_bars", "stock_universe"

# The data dictionary on the asset page, from the same column definitions as the table's DDL.
DAILY_BARS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn(name, sql_type.split()[0], description=description)
        for name, sql_type, description in DAILY_BARS_COLUMNS
    ]
)
STOCK_UNIVERSE_SCHEMA = dg.TableSchema(
    columns=[
        *(
            dg.TableColumn(f.target, f.kind.sql_type, description=f.description)
            for f in STOCK_UNIVERSE_BY_DAY.stored
        ),
        dg.TableColumn("batch", "VARCHAR", description="Partition batch b00..b15 of the code."),
    ]
)


def date_keys_to_days(keys: Iterable[str]) -> list[date]:
    """Date partition keys as sorted dates."""
    return sorted({parse_partition_date(key) for key in keys})


def batches_and_days(
    keys: Iterable[str], key_range: dg.PartitionKeyRange | None = None
) -> dict[str, list[date]]:
    """`b03|2024-01-02` keys grouped as batch -> sorted trading days; a run selecting none says why."""
    days: dict[str, set[date]] = defaultdict(set)
    for key in keys:
        dimensions = daily_bars_partitions.get_partition_key_from_str(key).keys_by_dimension
        days[dimensions["batch"]].add(parse_partition_date(dimensions["date"]))
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


def refuse_unpublished(days: list[date]) -> None:
    """Fail before any request when a day's bars are not published yet (never fetch the future)."""
    latest = latest_published_day()
    late = [day for day in days if day > latest]
    if late:
        raise dg.Failure(
            f"BaoStock has not published {late[0]} yet: daily bars appear at about "
            f"{BARS_PUBLISHED_AT:%H:%M} Asia/Shanghai on the trading day (latest published: {latest}). "
            "Materialize it after that."
        )


# Per code, its latest row over the days: listing facts (IPO, out date, type) do not change by day.
_STORED_UNIVERSE = """
    SELECT DISTINCT ON (code) code, code_name, CAST(trade_status AS VARCHAR) AS tradeStatus,
           coalesce(strftime(ipo_date, '%Y-%m-%d'), '') AS ipoDate,
           coalesce(strftime(out_date, '%Y-%m-%d'), '') AS outDate,
           coalesce(CAST(type AS VARCHAR), '') AS type, coalesce(CAST(status AS VARCHAR), '') AS status, batch
    FROM stock_universe WHERE list_contains($days, trade_date) AND list_contains($batches, batch)
    ORDER BY code, trade_date DESC
"""


def stored_days(con: duckdb.DuckDBPyConnection, days: list[date]) -> set[date]:
    """Which of `days` already have their universe in the warehouse."""
    rows = con.execute(
        "SELECT DISTINCT trade_date FROM stock_universe WHERE list_contains(?, trade_date)", [days]
    ).fetchall()
    return {row[0] for row in rows}


def stored_universe(con: duckdb.DuckDBPyConnection, days: list[date], batches: Iterable[str]) -> pd.DataFrame:
    """The codes of `batches` stored for any of `days`, once each, shaped like `fetch_universe` rows.

    Filtered in SQL: a year of the whole market is over a million rows, of which a run needs its
    batches' share only.
    """
    frame = con.execute(_STORED_UNIVERSE, {"days": days, "batches": sorted(batches)}).df()
    return frame[list(UNIVERSE_COLUMNS)].astype(str) if len(frame) else _empty_universe()


def merge_universes(frames: Iterable[pd.DataFrame], batches: Iterable[str]) -> pd.DataFrame:
    """Every code of `batches` in any of `frames`, once (the last frame's row wins), by code."""
    wanted = set(batches)
    kept = [frame[frame["batch"].isin(wanted)] for frame in frames]
    if not kept:
        return _empty_universe()
    combined = pd.concat(kept, ignore_index=True)
    return combined.drop_duplicates("code", keep="last").sort_values("code").reset_index(drop=True)


def _empty_universe() -> pd.DataFrame:
    return pd.DataFrame(columns=list(UNIVERSE_COLUMNS), dtype=str)


def progress_line(progress: Progress) -> str:
    """One log line per slice of work."""
    return (
        f"{progress.phase}: symbols {progress.symbols_done}/{progress.symbols_total}, "
        f"days {progress.days_done}/{progress.days_total}, rows {progress.rows}, "
        f"failures {progress.failures}, requests {progress.requests} ({progress.requests_per_s:.0f}/s)"
    )


def failures_table(failures) -> str:
    """The first failures as a markdown table."""
    lines = ["| code | dates | error | message |", "|---|---|---|---|"]
    for failure in failures[:FAILURES_SHOWN]:
        message = failure.message.replace("|", "/").replace("\n", " ")[:120]
        dates = f"{failure.start_date}..{failure.end_date}"
        lines.append(f"| {failure.code} | {dates} | {failure.error_type} | {message} |")
    if len(failures) > FAILURES_SHOWN:
        lines.append(f"| ... | | | {len(failures) - FAILURES_SHOWN} more in ingest_failures |")
    return "\n".join(lines)


def bar_materializations(batch: str, days: list[date], rows_per_day: Mapping[date, int]):
    """One `daily_bars` materialization per (batch, day) partition, carrying that partition's rows."""
    for day in days:
        yield dg.AssetMaterialization(
            asset_key=DAILY_BARS,
            partition=dg.MultiPartitionKey({"batch": batch, "date": day.isoformat()}),
            metadata={"dagster/row_count": rows_per_day.get(day, 0)},
        )


def universe_materializations(universes: Mapping[date, pd.DataFrame], rows: Mapping[date, int]):
    """One `stock_universe` materialization per day stored, with its rows and A-shares."""
    for day, universe in sorted(universes.items()):
        yield dg.AssetMaterialization(
            asset_key=STOCK_UNIVERSE,
            partition=day.isoformat(),
            metadata={"dagster/row_count": rows[day], "a_shares": int((universe["type"] == "1").sum())},
        )


def run_metadata(run, pool_stats: Mapping) -> dict[str, object]:
    """The run's own numbers (plan, requests, failures, pool), recorded once per run, not per partition."""
    report = run.report
    rows = sum(outcome.written or 0 for outcome in run.batches)
    duration = report.duration_s
    return {
        "rows": rows,
        "symbols": report.symbols_requested,
        "failed_symbols": len({failure.code for failure in report.failures}),
        "failures": dg.MetadataValue.md(failures_table(report.failures)) if report.failures else "none",
        "requests": report.requests,
        "strategy": report.strategy,
        "plan": report.plan_reason,
        "batches": ", ".join(outcome.batch for outcome in run.batches),
        "days": report.days_requested,
        "duration_s": round(duration, 3),
        "rows_per_s": round(rows / duration, 1) if duration > 0 else 0.0,
        "requests_per_s": round(report.requests_per_s, 1),
        "pool_stats": dg.MetadataValue.json(_jsonable(pool_stats)),
    }


def _jsonable(stats: Mapping) -> dict:
    return {key: (_jsonable(value) if isinstance(value, Mapping) else value) for key, value in stats.items()}


def calendar_mismatches(calendar: pd.DataFrame) -> list[str]:
    """Days on which BaoStock's trading-day flag disagrees with the XSHG calendar."""
    if calendar.empty:
        return []
    first, last = (
        date.fromisoformat(calendar["calendar_date"].min()),
        date.fromisoformat(calendar["calendar_date"].max()),
    )
    xshg = {day.isoformat() for day in xshg_trading_days(first, last)}
    flagged = calendar.assign(xshg=calendar["calendar_date"].isin(xshg))
    return flagged.loc[(flagged["is_trading_day"] == "1") != flagged["xshg"], "calendar_date"].tolist()
