"""`parquet_export` and `qlib_export`: the warehouse as a Parquet dataset and as qlib data, incrementally.

Both read the warehouse on short read-only connections (a writer waits for one
file at most) and publish atomically; their metadata says rows, days, bytes
and the last day, so the asset page shows how current each export is.
"""

from pathlib import Path

import dagster as dg

from marketdata_pipeline.defs.market.assets import adjust_factors, daily_bars
from marketdata_pipeline.defs.settings import load_settings
from marketdata_pipeline.defs.warehouse.resources import WarehouseResource
from marketdata_pipeline.exports import ExportSummary, export_parquet, export_qlib

GROUP = "exports"


class QlibExportConfig(dg.Config):
    """Run settings of `qlib_export`."""

    adjust: str = "hfq"
    """hfq (every day a pure append) or qfq (each ex-date rewrites that code's files)."""


def export_directory(name: str) -> Path:
    return Path(load_settings().export_dir) / name


def _result(summary: ExportSummary) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={
            "rows": summary.rows,
            "days": summary.days,
            "bytes": summary.bytes,
            "last_day": summary.last_day or "",
            "files_written": summary.files_written,
            "data_version": summary.data_version,
            "path": dg.MetadataValue.path(str(summary.directory.resolve())),
        }
    )


@dg.asset(group_name=GROUP, kinds={"parquet"}, deps=[daily_bars, adjust_factors])
def parquet_export(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """daily_bars as hive-partitioned Parquet (year/month) plus adjust_factors, with a SHA-256 manifest."""
    return _result(
        export_parquet(warehouse.database, export_directory("parquet"), lock_timeout=warehouse.lock_timeout)
    )


@dg.asset(group_name=GROUP, kinds={"qlib"}, deps=[daily_bars, adjust_factors])
def qlib_export(config: QlibExportConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """daily_bars in qlib's provider layout (calendars, instruments, float32 features), appended daily."""
    summary = export_qlib(
        warehouse.database,
        export_directory("qlib"),
        adjust=config.adjust,
        lock_timeout=warehouse.lock_timeout,
    )
    return _result(summary)
