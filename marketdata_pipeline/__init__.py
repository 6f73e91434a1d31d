"""marketdata_pipeline: mirror China A-share daily bars from BaoStock into DuckDB with Dagster."""

__all__ = ["Warehouse"]


def __getattr__(name: str):
    # Lazy, so that the simulator and the CLI do not pay for pandas and DuckDB on import.
    if name == "Warehouse":
        from marketdata_pipeline.reader import Warehouse

        return Warehouse
    raise AttributeError(f"module 'marketdata_pipeline' has no attribute {name!r}")
