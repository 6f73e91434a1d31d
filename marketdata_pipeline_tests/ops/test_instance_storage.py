"""The project's instance storage: Dagster's SQLite files, connections kept open, nothing lost on kill -9."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from marketdata_pipeline.instance_storage import PooledSqliteEventLogStorage
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "marketdata_pipeline" / "dagster.yaml"

# A child that stores events as fast as it can, says how many are committed, then waits to be killed.
WRITER = r"""
import sys, time
import dagster as dg
with dg.DagsterInstance.get() as instance:
    for i in range(int(sys.argv[1])):
        instance.report_runless_asset_event(dg.AssetMaterialization("probe", partition=str(i)))
    print("stored", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_the_instance_stores_in_dagsters_own_place_and_closes_every_file(home):
    before = open_fds()
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        for i in range(20):
            instance.report_runless_asset_event(dg.AssetMaterialization("probe", partition=str(i)))
        assert instance.get_materialized_partitions(dg.AssetKey("probe")) == {str(i) for i in range(20)}
    assert wait_for_fds(before) == before
    assert (home / "storage" / "history" / "runs" / "index.db").exists()  # Dagster's default layout
    with dg.DagsterInstance.get() as again:  # a plain reader sees them too
        assert len(again.get_materialized_partitions(dg.AssetKey("probe"))) == 20


def test_events_committed_before_a_kill_9_are_all_there(home):
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, "200"], env=os.environ.copy(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "stored"
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait(10)
        writer.stdout.close()
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_materialized_partitions(dg.AssetKey("probe"))) == 200
