"""The Dagster instance's SQLite storage, with event-log connections kept open instead of one per event.

Dagster's SQLite event log opens a new engine for every event it stores and
disposes it after: each event pays a commit fsync and, as the last connection
to the file closes, a WAL checkpoint - 20-40 ms per event on this 2-core
machine. A history run stores two events per partition (2 x 2,900 for one batch
since 2015), so those milliseconds were most of its wall time. Here each shard
keeps one pooled engine, and its connections run with `synchronous=NORMAL`,
SQLite's recommended setting in WAL mode: a commit survives a crash of any
process (kill -9 included); only an operating-system crash or power cut can
roll back the last events, never corrupt the file. The files and their layout
are Dagster's own, so an instance home works with or without this class.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster import Field, StringSource

from marketdata_pipeline.dagster_internals import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    DagsterSqliteStorage,
    SqliteEventLogStorage,
    _event_logs_directory,
    create_engine,
)


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with one open engine per shard (a run's file, the index)."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: dict[str, db.Engine] = {}
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        with self._db_lock:
            engine = self._engines.get(shard) or self._open_engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _open_engine(self, shard: str) -> db.Engine:
        engine = create_engine(
            self.conn_string_for_shard(shard),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _wal_commits_without_fsync)
        self._engines[shard] = engine
        return engine

    def dispose(self) -> None:
        super().dispose()
        with self._db_lock:
            engines, self._engines = self._engines, {}
        for engine in engines.values():
            engine.dispose()


class PooledSqliteStorage(DagsterSqliteStorage):
    """`storage: custom:` in dagster.yaml: Dagster's SQLite storage under `$DAGSTER_HOME/storage`
    (its default place), with the pooled event log."""

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage.dispose()
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteStorage:
        base_dir = config_value.get("base_dir")
        if not base_dir:
            if not os.environ.get("DAGSTER_HOME"):
                raise ValueError(
                    "PooledSqliteStorage needs DAGSTER_HOME set, or `base_dir` under storage.custom.config "
                    "in dagster.yaml (`marketdata init` writes it)"
                )
            base_dir = os.path.join(os.environ["DAGSTER_HOME"], "storage")
        os.makedirs(base_dir, exist_ok=True)
        return cls(base_dir, inst_data=inst_data)


def _wal_commits_without_fsync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
