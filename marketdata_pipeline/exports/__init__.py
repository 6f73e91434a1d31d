"""Exports of the warehouse for other tools: a hive-partitioned Parquet dataset and qlib's provider layout."""

from marketdata_pipeline.exports.files import ExportSummary, read_manifest
from marketdata_pipeline.exports.parquet import export_parquet
from marketdata_pipeline.exports.qlib import export_qlib

__all__ = ["ExportSummary", "export_parquet", "export_qlib", "read_manifest"]
