"""A run's fetched daily bars, validated and typed chunk by chunk into a private DuckDB file.

A long range never sits in Python memory (one batch's whole history is ~700k rows): the fetch hands
each chunk of wire strings to `BarStage.add`, which checks and casts it once, in SQL, and appends it
to the stage's own file. The slice writes then copy typed rows from the stage into the warehouse
(`writes.replace_daily_bars_from_stage`), so the warehouse lock is taken only after the network work
and a malformed value stops the run before anything is written.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from marketdata_pipeline.storage.columns import DAILY_BARS
from marketdata_pipeline.storage.incoming import MalformedRowsError, validated

STAGED_TABLE = "bars"
# The stage is scratch space: a small DuckDB memory limit keeps its buffers from growing with the run.
_STAGE_MEMORY = "256MB"


class BarStage:
    """Typed daily bars of one run in a temporary DuckDB file; use as a context manager."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="marketdata-stage-", dir=directory))
        self.path = self._dir / "bars.duckdb"
        self.rows = 0
        self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(
            str(self.path), config={"memory_limit": _STAGE_MEMORY}
        )
        self._con.execute(DAILY_BARS.create_table(STAGED_TABLE, keyed=False))

    def add(self, bars: pd.DataFrame | pa.Table) -> int:
        """Validate `bars` (wire strings, see `columns.DAILY_BARS`) and append them typed; return how many.

        Raises MalformedRowsError naming the first bad value; nothing of that chunk is staged.
        """
        if self._con is None:
            raise RuntimeError("the stage is sealed: add every chunk before writing from it")
        with validated(self._con, DAILY_BARS, bars) as view:
            self._con.execute(f"INSERT INTO {STAGED_TABLE} BY NAME {DAILY_BARS.select_typed(view)}")
        self.rows += len(bars)
        return len(bars)

    def seal(self) -> None:
        """Close the stage's own connection so the warehouse can attach its file (idempotent)."""
        if self._con is not None:
            con, self._con = self._con, None
            duplicated = con.execute(
                f"SELECT code, trade_date FROM {STAGED_TABLE} GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
            ).fetchall()
            con.close()
            if duplicated:
                raise MalformedRowsError(
                    f"daily bars: {duplicated[0][0]} on {duplicated[0][1]} was staged twice; "
                    "nothing was written - each (code, date) may be added once per run"
                )

    def close(self) -> None:
        """Close and delete the stage's file."""
        try:
            if self._con is not None:
                self._con.close()
                self._con = None
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> BarStage:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@contextmanager
def attached(con: duckdb.DuckDBPyConnection, stage: BarStage) -> Iterator[str]:
    """Attach the sealed stage read-only to the warehouse connection `con`; yield its table's name."""
    stage.seal()
    alias = "run_stage"
    # ATTACH takes no parameters; the path is our own temporary file, quoted as a SQL string.
    path = str(stage.path).replace("'", "''")
    con.execute(f"ATTACH '{path}' AS {alias} (READ_ONLY)")
    try:
        yield f"{alias}.{STAGED_TABLE}"
    finally:
        con.execute(f"DETACH {alias}")
