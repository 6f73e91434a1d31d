"""marketdata_pipeline: mirror China A-share daily bars from BaoStock into DuckDB with Dagster."""
