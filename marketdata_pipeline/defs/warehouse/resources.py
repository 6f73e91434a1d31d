"""The DuckDB warehouse as a Dagster resource."""

from __future__ import annotations

from contextlib import contextmanager

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from marketdata_pipeline.defs.settings import SETTINGS
from marketdata_pipeline.storage import ensure_schema, open_warehouse


class WarehouseResource(DuckDBResource):
    """`DuckDBResource` whose connections wait out another writer's lock and always close.

    The stock `get_connection` neither closes its connection when the body
    raises nor says which file was locked; this one does both, and makes
    sure the schema exists before handing the connection out.
    """

    lock_timeout: float = Field(default=60.0, gt=0, description="seconds to wait for another writer")

    @contextmanager
    def get_connection(self):
        with open_warehouse(self.database, lock_timeout=self.lock_timeout) as con:
            ensure_schema(con)
            yield con


@dg.definitions
def resources() -> dg.Definitions:
    path = SETTINGS["MARKETDATA_DUCKDB_PATH"].for_resource()
    return dg.Definitions(resources={"warehouse": WarehouseResource(database=path)})
