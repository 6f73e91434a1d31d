"""The project's instance storage: Dagster's own files, connections kept open, nothing lost on kill -9,
and a watcher in another process (the webserver's live run logs) sees every event as it is committed."""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy
from dagster._core.storage.event_log.sqlite import sqlite_event_log

from marketdata_pipeline import instance_storage
from marketdata_pipeline.instance_storage import OPEN_SHARDS, PooledSqliteEventLogStorage
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "marketdata_pipeline" / "dagster.yaml"
WATCH_BOUND_S = 5.0  # the UI's live logs: an event shows within this of its commit

# A child that stores events as fast as it can, says how many are committed, then waits to be
# killed with its connections open (nothing checkpointed, nothing closed).
WRITER = r"""
import sys, time
import dagster as dg
with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    for i in range(int(sys.argv[2])):
        instance.report_runless_asset_event(dg.AssetMaterialization("probe", partition=str(i)))
    print("stored", flush=True)
    time.sleep(60)
"""

# A child that opens the instance, says so, runs a one-op job under a given run id, its op storing
# an observation, then waiting for a line on stdin (the run in flight), then stays alive with its
# connections open.
RUNNER = r"""
import sys, time
import dagster as dg

@dg.op
def probe(context):
    time.sleep(1.0)  # well after the run's start was checkpointed
    context.log_event(dg.AssetObservation("probe"))
    sys.stdin.readline()

@dg.job
def probe_job():
    probe()

with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    print("ready", flush=True)
    assert probe_job.execute_in_process(instance=instance, run_id=sys.argv[2]).success
    print("ran", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A home as the demo and the tests open it: by path, DAGSTER_HOME unset."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(PROJECT_DAGSTER_YAML.read_text())
    return home


def plain_dagster_home(home: Path) -> Path:
    """The same storage files opened by Dagster's own classes (the project's instance_class left out)."""
    plain = home.parent / "plain"
    plain.mkdir()
    settings = PROJECT_DAGSTER_YAML.read_text().split("\ninstance_class:")[0]
    (plain / "dagster.yaml").write_text(settings)
    for name in ("history", "schedules"):
        (plain / name).symlink_to(home / name)
    return plain


def child(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    process.stdin.close()
    process.stdout.close()


def test_a_home_opened_by_path_stores_in_dagsters_own_files_and_closes_every_one(home):
    fds, threads = open_fds(), threading.active_count()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        for i in range(20):
            instance.report_runless_asset_event(dg.AssetMaterialization("probe", partition=str(i)))
        for run in range(OPEN_SHARDS + 2):  # more shards than stay open: the oldest are closed
            instance.event_log_storage.get_logs_for_run(f"run-{run}")
        instance.watch_event_logs("run-0", None, lambda *_: None)  # the watchers' thread
        assert instance.get_materialized_partitions(dg.AssetKey("probe")) == {str(i) for i in range(20)}
    assert wait_for_fds(fds) == fds
    assert threading.active_count() == threads
    assert (home / "history" / "runs" / "index.db").exists()  # where Dagster's default storage puts it
    with dg.DagsterInstance.from_config(str(plain_dagster_home(home))) as plain:
        assert type(plain.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert len(plain.get_materialized_partitions(dg.AssetKey("probe"))) == 20


def test_storing_asset_events_opens_no_engine_per_event(home, monkeypatch):
    created = []
    real_create_engine = sqlalchemy.create_engine

    def counting_create_engine(*args, **kwargs):
        created.append(args[0] if args else kwargs.get("url"))
        return real_create_engine(*args, **kwargs)

    # Tagged like a date x batch partition's materialization: Dagster indexes those tags.
    def materialization(i: int) -> dg.AssetMaterialization:
        tags = {"dagster/partition/date": f"2024-01-{i + 1:02d}", "dagster/partition/batch": "b03"}
        return dg.AssetMaterialization("probe", partition=str(i), tags=tags)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.report_runless_asset_event(materialization(0))  # the first event may look
        # Dagster's SQLite modules import create_engine by name: count wherever they call it.
        for module in (sqlite_event_log, instance_storage.db):
            monkeypatch.setattr(module, "create_engine", counting_create_engine)
        for i in range(1, 31):
            instance.report_runless_asset_event(materialization(i))
        assert len(instance.get_materialized_partitions(dg.AssetKey("probe"))) == 31
    assert created == []


DATES = dg.StaticPartitionsDefinition([f"2024-01-{day:02d}" for day in range(1, 32)])
RANGED = dg.MultiPartitionsDefinition({"date": DATES, "batch": dg.StaticPartitionsDefinition(["b03"])})


@dg.asset(partitions_def=RANGED, backfill_policy=dg.BackfillPolicy.single_run())
def ranged(context):  # no annotation: this module postpones annotations, which Dagster refuses
    for rows, key in enumerate(context.partition_keys):
        context.add_asset_metadata({"dagster/row_count": rows}, partition_key=key)
    return dg.MaterializeResult()


STORE_BATCH = PooledSqliteEventLogStorage.store_event_batch
INDEX_TRANSACTION = PooledSqliteEventLogStorage.index_transaction


def materialized_by_partition(home: Path, monkeypatch, batch_size: str) -> tuple[dict, list[int], int]:
    """Run `ranged` over its whole range on `home` with DAGSTER_EVENT_BATCH_SIZE; each partition's
    stored row count and indexed batch tag, the sizes of the event batches the storage got, and how
    many transactions it opened on the index shard."""
    batches: list[int] = []
    transactions = []
    monkeypatch.setattr(PooledSqliteEventLogStorage, "index_transaction",
                        lambda storage: (transactions.append(1), INDEX_TRANSACTION(storage))[1])  # fmt: skip
    def store_batch(storage, events):
        batches.append(len(events))
        STORE_BATCH(storage, events)

    monkeypatch.setattr(PooledSqliteEventLogStorage, "store_event_batch", store_batch)
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
    keys = RANGED.get_partition_keys()
    tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert dg.materialize([ranged], instance=instance, tags=tags, raise_on_error=False).success
        records = instance.fetch_materializations(dg.AssetKey("ranged"), limit=1000).records
        stored = {
            record.partition_key: (
                record.asset_materialization.metadata["dagster/row_count"].value,
                record.asset_materialization.tags["dagster/partition/batch"],
            )
            for record in records
        }
        # Each indexed tag belongs to its own event, and the asset's entry names the last one.
        batch_tag = {"dagster/partition/batch": "b03"}
        tagged = instance.get_event_tags_for_asset(dg.AssetKey("ranged"), filter_tags=batch_tag)
        assert len(tagged) == len(keys)
        latest = instance.event_log_storage.get_latest_tags_by_partition(
            dg.AssetKey("ranged"), dg.DagsterEventType.ASSET_MATERIALIZATION, ["dagster/partition/date"], keys
        )
        assert {key: tags["dagster/partition/date"] for key, tags in latest.items()} == {
            key: key.keys_by_dimension["date"] for key in keys
        }
        (entry,) = instance.get_asset_records([dg.AssetKey("ranged")])
        last = entry.asset_entry.last_materialization_record
        assert (last.storage_id, last.partition_key) == (records[0].storage_id, records[0].partition_key)
        assert entry.asset_entry.last_run_id == records[0].run_id
    return stored, batches, len(transactions)


def test_a_steps_materializations_are_stored_in_batches_exactly_as_one_by_one(tmp_path, monkeypatch):
    homes = {size: tmp_path / f"batch-{size}" for size in ("0", "7")}
    for home in homes.values():
        home.mkdir()
        (home / "dagster.yaml").write_text(PROJECT_DAGSTER_YAML.read_text())
    one_by_one, no_batches, transactions_one_by_one = materialized_by_partition(homes["0"], monkeypatch, "0")
    batched, batches, transactions = materialized_by_partition(homes["7"], monkeypatch, "7")
    assert no_batches == []
    assert len(batched) == len(RANGED.get_partition_keys()) == 31
    assert batched == one_by_one  # every partition, its own row count, its indexed tags
    assert batches and max(batches) == 7  # planned events and materializations, 7 at a time
    # 31 planned and 31 materialized partitions: one transaction each, or one per batch of 7
    assert transactions_one_by_one >= 62 and transactions <= transactions_one_by_one - 62 + 2 * 5


@pytest.mark.slow  # a child process importing Dagster
def test_events_committed_before_a_kill_9_are_all_there(home):
    writer = child(WRITER, str(home), "200")
    try:
        assert writer.stdout.readline().strip() == "stored"
    finally:
        kill(writer)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.get_materialized_partitions(dg.AssetKey("probe"))) == 200


class Watcher:
    """An instance watching one run's events, as the webserver does for a run's page."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str):
        self.seen: queue.Queue[dg.DagsterEventType] = queue.Queue()
        self.types: list[dg.DagsterEventType] = []
        self._instance, self._run_id = instance, run_id
        instance.watch_event_logs(run_id, None, lambda entry, _: self.seen.put(entry.dagster_event_type))

    def wait_for(self, event_type: dg.DagsterEventType) -> None:
        """Once the run's process has committed an `event_type` event (however long a loaded machine
        takes to get there), the watcher must have it within WATCH_BOUND_S."""
        committed = time.monotonic() + 60
        while not self._committed(event_type) and time.monotonic() < committed:
            time.sleep(0.05)
        deadline = time.monotonic() + WATCH_BOUND_S
        while event_type not in self.types and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                self.types.append(self.seen.get(timeout=max(0.0, deadline - time.monotonic())))
        assert event_type in self.types, f"{WATCH_BOUND_S} s for {event_type}: the watcher saw {self.types}"

    def _committed(self, event_type: dg.DagsterEventType) -> bool:
        return any(entry.dagster_event_type == event_type for entry in self._instance.all_logs(self._run_id))


@contextlib.contextmanager
def running_probe(home: Path, run_id: str) -> Iterator[subprocess.Popen]:
    with dg.DagsterInstance.from_config(str(home)):
        pass  # the home's storage created before a watcher opens it
    runner = child(RUNNER, str(home), run_id)
    try:
        assert runner.stdout.readline().strip() == "ready"
        yield runner
    finally:
        kill(runner)


def finish(runner: subprocess.Popen) -> None:
    runner.stdin.write("done\n")
    runner.stdin.flush()
    assert runner.stdout.readline().strip() == "ran"


@pytest.mark.slow  # a child process importing Dagster
def test_the_webservers_watcher_sees_each_event_of_a_run_in_another_process_as_it_is_committed(home):
    """Live run logs: the run's process keeps its connections open, nothing is checkpointed mid-step."""
    run_id = str(uuid.uuid4())
    with running_probe(home, run_id) as runner, dg.DagsterInstance.from_config(str(home)) as webserver:
        watcher = Watcher(webserver, run_id)
        watcher.wait_for(dg.DagsterEventType.ASSET_OBSERVATION)  # the op is still waiting: the run in flight
        finish(runner)
        watcher.wait_for(dg.DagsterEventType.RUN_SUCCESS)


@pytest.mark.slow  # a child process importing Dagster
def test_a_plain_dagster_watcher_of_the_same_files_sees_the_run_end(home):
    """Dagster's own watcher follows only `<run_id>.db`: the checkpoint at each run status wakes it."""
    run_id = str(uuid.uuid4())
    plain = plain_dagster_home(home)
    with running_probe(home, run_id) as runner, dg.DagsterInstance.from_config(str(plain)) as webserver:
        watcher = Watcher(webserver, run_id)
        finish(runner)
        watcher.wait_for(dg.DagsterEventType.RUN_SUCCESS)
