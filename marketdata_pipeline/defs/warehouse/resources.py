"""The DuckDB warehouse as a Dagster resource: checked before a step fetches, then opened only to write."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Literal

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from marketdata_pipeline.defs.settings import load_settings
from marketdata_pipeline.orphans import end_with_parent
from marketdata_pipeline.storage import ensure_schema, open_warehouse
from marketdata_pipeline.storage.integrity import check_warehouse


class WarehouseResource(DuckDBResource):
    """`DuckDBResource` whose connections wait out another writer's lock and always close.

    The stock `get_connection` neither closes its connection when the body
    raises nor says which file was locked; this one does both, with the same
    `connection_config` (DuckDB settings such as memory_limit or threads).
    When a step starts - before it fetches anything - the file is checked (it
    reads back whole, and holds data of this run's `source`) and its schema
    ensured, so a damaged or foreign file fails the step without a request
    sent or a byte written; the step's connections then just open. Used
    outside a step, its first connection ensures the schema.
    """

    lock_timeout: float = Field(default=60.0, gt=0, description="seconds to wait for another writer")
    source: Literal["baostock", "simulator"] = Field(
        default="baostock",
        description="where this run's data comes from: baostock or simulator (MARKETDATA_SOURCE)",
    )

    _schema_ready: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Every step that writes the warehouse dies with its run worker: no orphan writes after a crash.
        end_with_parent()
        checked = check_warehouse(self.database, self.source, lock_timeout=self.lock_timeout)
        self._schema_ready = True
        if context.log is None:
            return
        found = "created" if checked.created else f"{checked.rows} rows read back"
        context.log.info(
            f"warehouse {self.database} ({checked.source} data): {found} in {checked.seconds:.2f} s"
        )
        if checked.adopted:
            context.log.warning(
                f"warehouse {self.database} had no source record (it predates them) and is now recorded "
                f"as {checked.source}; if `make demo` or the simulator filled it, delete it and re-run"
            )

    @contextmanager
    def get_connection(self):
        opened = open_warehouse(self.database, lock_timeout=self.lock_timeout, config=self.connection_config)
        with opened as con:
            if not self._schema_ready:
                ensure_schema(con)
                self._schema_ready = True
            yield con


@dg.definitions
def resources() -> dg.Definitions:
    settings = load_settings()
    # `make dev`'s simulator wins over a `.env` saying baostock, for the record as for the address.
    warehouse = WarehouseResource(database=settings.duckdb_path, source=settings.source)
    return dg.Definitions(resources={"warehouse": warehouse})
