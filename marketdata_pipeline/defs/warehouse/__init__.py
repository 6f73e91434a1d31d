"""The DuckDB warehouse as Dagster sees it: the warehouse resource."""
