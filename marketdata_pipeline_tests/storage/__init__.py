"""Tests of the DuckDB warehouse (marketdata_pipeline.storage) on real files in tmp_path."""
