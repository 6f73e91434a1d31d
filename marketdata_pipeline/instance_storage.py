"""The Dagster instance's SQLite storage, with event-log connections kept open instead of one per event.

Dagster's SQLite event log opens a new engine for every event it stores and
disposes it after: each event pays a commit fsync and, as the last connection
to the file closes, a WAL checkpoint - 20-120 ms per event on this 2-core
machine, with the load. A history run stores two events per partition (2 x 2,431
for one batch since 2015), so those milliseconds were most of its wall time. Here the shards
used last (the index, the running run's file) keep one open engine each, and
their connections commit with `synchronous=NORMAL`, SQLite's recommended setting
in WAL mode: a commit survives a crash of any process (kill -9 included); only
an operating-system crash or power cut can roll back the last events, never
corrupt the file.

Commits then land in the shard's `-wal` file and reach the `.db` file only at
checkpoints, so the watcher behind the UI's live run logs (which Dagster points
at `<run_id>.db`) follows the `-wal` file too.

The files and their layout are Dagster's own (`$DAGSTER_HOME/history/...`):
`PooledSqliteInstance.config_defaults` roots the storage at the home being
opened, exactly where Dagster's default SQLite storage goes, so a home works
with or without these classes, opened through DAGSTER_HOME or by path.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import groupby

import dagster as dg
import sqlalchemy as db
import yaml
from watchdog.events import FileSystemEvent
from watchdog.observers import Observer

from marketdata_pipeline.dagster_internals import (
    ASSET_EVENTS,
    EVENT_TYPE_TO_PIPELINE_RUN_STATUS,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    ConfigurableClassData,
    DagsterSqliteStorage,
    InstanceRef,
    SqlEventLogStorageTable,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
    event_logs_directory,
)

# Shards kept open at once: the index and the runless shard plus the runs written or watched
# last. A webserver reads many runs; each open shard holds three fds (.db, -wal, -shm).
OPEN_SHARDS = 4
EVENT_BATCH_SIZE = 200
"""Asset events Dagster hands over at once (its DAGSTER_EVENT_BATCH_SIZE, when that is not set):
a step's per-partition materializations and a run's planned events. A run's events reach the
storage (and the UI) at most this many late; a crash of the run loses at most those."""


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with an open engine for each of the shards used last."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()
        self._has_asset_key_index_cols = False
        self._tables_present: set[str] = set()
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        with self._db_lock:  # Dagster's: one connection of this storage in use at a time
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> db.Engine:
        """The shard's open engine, most recently used last; the least recent closed past OPEN_SHARDS."""
        engine = self._engines.pop(shard, None) or self._open_engine(shard)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_SHARDS:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()  # its last connection closing checkpoints the WAL into the .db file
        return engine

    def _open_engine(self, shard: str) -> db.Engine:
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            pool_size=1,  # _db_lock: never two connections of one engine at once
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _wal_commits_without_fsync)
        return engine

    def store_event(self, event: dg.EventLogEntry) -> None:
        """Dagster's store, then, when the run's status changed, its WAL checkpointed (PASSIVE: never
        waits for readers): the `.db` file alone then holds the run up to that event, and a plain
        Dagster watcher of the file (no `-wal` watch) sees the run start and end."""
        super().store_event(event)
        if event.is_dagster_event and event.dagster_event_type in EVENT_TYPE_TO_PIPELINE_RUN_STATUS:
            with self._db_lock, self._engine(event.run_id).connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def store_event_batch(self, events: Sequence[dg.EventLogEntry]) -> None:
        """Dagster's store of each event, with each run of consecutive asset events of one run in one
        transaction per shard instead of two per event (Dagster's SQLite storage stores a batch one
        by one: a history run's 2,431 materializations were 4,862 transactions)."""
        for together, group in groupby(events, key=_batchable):
            if together[0]:
                self._store_asset_events(list(group))
            else:
                for event in group:
                    self.store_event(event)

    def _store_asset_events(self, events: list[dg.EventLogEntry]) -> None:
        """What Dagster's `store_event` does for each asset event, for many at once: each event
        serialized once, each shard's rows inserted in one statement, and each asset's entry
        updated only from the events that decide it."""
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:
            table = SqlEventLogStorageTable
            inserted = conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows)
            event_ids = list(inserted.scalars())
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in _deciding_asset_events(events, event_ids):
                self._store_asset_event(conn, event, event_id)

    def _has_asset_key_index_cols_on_connection(self, conn: db.Connection) -> bool:
        """Dagster reads the asset table's columns back for every asset event (a tenth of its cost);
        a column once there stays (migrations only add), so a True is kept."""
        if not self._has_asset_key_index_cols:
            self._has_asset_key_index_cols = super()._has_asset_key_index_cols_on_connection(conn)
        return self._has_asset_key_index_cols

    def has_table(self, table_name: str) -> bool:
        """Dagster asks before storing each asset event's tags, through a new engine per question (a
        quarter of an event's cost); a table once there stays (migrations only add), so a True is kept."""
        if table_name not in self._tables_present and super().has_table(table_name):
            self._tables_present.add(table_name)
        return table_name in self._tables_present

    def watch(self, run_id: str, cursor: str | None, callback) -> None:
        """Dagster's watch of a run's events, woken by its `-wal` file as well as its `.db` file."""
        if not self._obs:  # Dagster's observer thread, stopped in dispose
            self._obs = Observer()
            self._obs.start()
        watchdog = RunShardWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watchdog, self._obs.schedule(watchdog, self._base_dir))

    def dispose(self) -> None:
        super().dispose()  # stops the watchers' thread
        with self._db_lock:
            engines, self._engines = self._engines, OrderedDict()
        for engine in engines.values():
            engine.dispose()


class RunShardWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's watcher of one run's `.db` file, also reading the run's events when its `-wal` changes."""

    @property
    def patterns(self) -> list[str]:
        return [self._log_path, f"{self._log_path}-wal"]

    def on_modified(self, event: FileSystemEvent) -> None:
        self._process_log()


class PooledSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, schedules, event log in their usual files), the event log pooled."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage.dispose()
        self._event_log_storage = PooledSqliteEventLogStorage(event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> PooledSqliteStorage:
        # Dagster's from_config_value builds a DagsterSqliteStorage, whatever the class it is called on.
        return cls.from_local(inst_data=inst_data, **config_value)


class PooledSqliteInstance(dg.DagsterInstance):
    """`instance_class` in dagster.yaml: Dagster's instance whose default storage is PooledSqliteStorage.

    Dagster roots its default SQLite storage at the home it opens (DAGSTER_HOME, or the directory
    given to `DagsterInstance.from_config`) through `config_defaults(home)`; this keeps that root
    and swaps the class. A `storage:` section in dagster.yaml (Postgres) still takes precedence.
    """

    @classmethod
    def config_schema(cls) -> Mapping:
        return {}

    @classmethod
    def config_defaults(cls, base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        config = yaml.dump({"base_dir": base_dir}, default_flow_style=False)
        storage = ConfigurableClassData(__name__, PooledSqliteStorage.__name__, config)
        return {**InstanceRef.config_defaults(base_dir), "storage": storage}

    def _get_event_batch_size(self) -> int:
        """DAGSTER_EVENT_BATCH_SIZE when set; else EVENT_BATCH_SIZE on the pooled event log, which
        stores a batch in one transaction per shard (any other storage keeps Dagster's default)."""
        if "DAGSTER_EVENT_BATCH_SIZE" in os.environ:
            return super()._get_event_batch_size()
        pooled = isinstance(self.event_log_storage, PooledSqliteEventLogStorage)
        return EVENT_BATCH_SIZE if pooled else super()._get_event_batch_size()


def _batchable(event: dg.EventLogEntry) -> tuple[bool, str]:
    """Whether `event` is an asset event (stored with its neighbours of the same run), and its run."""
    return event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS, event.run_id


def _deciding_asset_events(
    events: Sequence[dg.EventLogEntry], event_ids: Sequence[int]
) -> list[tuple[dg.EventLogEntry, int]]:
    """The last event of each type for each asset, in order: what Dagster's per-event updates of the
    asset's entry would leave there. Each type of event sets the same columns every time (the last
    materialization, the last run, the last event's time), so a column's final value is the one
    the last event of a type setting it wrote; a history run's 2,431 serializations of the entry
    become one."""
    last: dict[tuple, int] = {}
    for index, event in enumerate(events):
        last[(event.dagster_event.asset_key, event.dagster_event_type)] = index
    return [(events[index], event_ids[index]) for index in sorted(last.values())]


def _wal_commits_without_fsync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
