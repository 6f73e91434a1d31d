"""What the market assets show in Dagster: data dictionaries, per-partition and per-run metadata.

Each partition's materialization carries its own rows; a run's own numbers and
failures are recorded once per run."""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterable, Iterator, Mapping
from typing import TypeVar

import dagster as dg

from marketdata_pipeline.defs.market.partitions import bars_partition_key
from marketdata_pipeline.ingest_run import BatchOutcome, RunOutcome, RunRefused, UniverseStored
from marketdata_pipeline.storage import DAILY_BARS_COLUMNS
from marketdata_pipeline.storage.columns import STOCK_UNIVERSE_BY_DAY

FAILURES_SHOWN = 20
DAILY_BARS, STOCK_UNIVERSE = "daily_bars", "stock_universe"
Outcome = TypeVar("Outcome")

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


def materialized(
    run: Generator[UniverseStored | BatchOutcome, None, Outcome],
    partition_keys: Collection[str] = (),
    *,
    universe_rows: dict[str, dict] | None = None,
) -> Generator[dg.AssetMaterialization, None, Outcome]:
    """Run the plain run logic, recording each universe chunk as it commits. The step's own
    partitions are recorded by the step's result: the bars' (`partition_rows`), and the universe's
    when the step is `stock_universe` (given `universe_rows`, which collects each day's metadata).
    When the run raises, those committed so far are recorded here before the error propagates, so
    they stay recorded. A refused run is a `dg.Failure` naming the fix."""
    committed: list[BatchOutcome] = []
    try:
        while True:
            stored = next(run)
            if isinstance(stored, UniverseStored) and universe_rows is None:
                yield from materializations(STOCK_UNIVERSE, universe_metadata(stored))
            elif isinstance(stored, UniverseStored):
                universe_rows.update(universe_metadata(stored))
            else:
                committed.append(stored)
    except StopIteration as done:
        return done.value
    except RunRefused as refused:
        raise dg.Failure(str(refused)) from None
    except Exception:
        yield from materializations(STOCK_UNIVERSE, universe_rows or {})
        yield from materializations(DAILY_BARS, partition_rows(committed, partition_keys))
        raise


def materializations(asset: str, by_partition: Mapping[str, Mapping]) -> Iterator[dg.AssetMaterialization]:
    """One materialization of `asset` per partition, with that partition's metadata."""
    for key, metadata in by_partition.items():
        yield dg.AssetMaterialization(asset_key=asset, partition=key, metadata=metadata)


def partition_rows(outcomes: Iterable[BatchOutcome], partition_keys: Collection[str]) -> dict[str, dict]:
    """Each of `partition_keys` (the run's own partitions, not the trailing days it re-fetched) with
    its stored rows after the write, as the metadata of its materialization."""
    wanted = set(partition_keys)
    return {
        key: {"dagster/row_count": rows}
        for outcome in outcomes
        for day, rows in outcome.rows_per_day.items()
        if (key := bars_partition_key(outcome.batch, day)) in wanted
    }


def universe_metadata(stored: UniverseStored) -> dict[str, dict]:
    """Each universe day stored (its partition key) with its rows and A-shares, in day order."""
    return {
        day.isoformat(): {
            "dagster/row_count": rows,
            "a_shares": stored.a_shares[day],
        }
        for day, rows in sorted(stored.rows.items())
    }


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


def run_metadata(run: RunOutcome, pool_stats: Mapping) -> dict[str, object]:
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
        "pool_stats": dg.MetadataValue.json(dict(pool_stats)),
    }
