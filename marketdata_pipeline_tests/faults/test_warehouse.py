"""A damaged, foreign or unreachable warehouse file is refused before the run fetches, and never written.

Each case starts from a real warehouse (one partition of daily_bars written by
a run), damages a copy the way disks and people do - truncated, header zeroed,
a data block overwritten - and runs `daily_bars` on it through a counting
proxy: the step fails naming the file and the fix (restore, or delete and
re-run), the proxy saw no request, and the file's bytes are unchanged.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from marketdata_pipeline.defs.warehouse.resources import WarehouseResource
from marketdata_pipeline.storage import ensure_schema, open_warehouse
from marketdata_pipeline.storage.connection import WarehouseDamagedError
from marketdata_pipeline.storage.integrity import check_warehouse
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pipeline.runs import (
    materialize_daily_bars,
    resources_for,
    step_failure_message,
)

PARTITION = "b03|2024-01-02"
HEADERS = 3 * 4096  # DuckDB's file header and its two database headers precede block 0
BLOCK = 256 * 1024


@pytest.fixture(scope="module")
def filled(tmp_path_factory, shared_simulator) -> Path:
    """A warehouse holding one daily_bars partition, written by a real run against the simulator."""
    path = tmp_path_factory.mktemp("filled") / "warehouse.duckdb"
    assert materialize_daily_bars(resources_for(shared_simulator.address, path), PARTITION).success
    return path


def run_on(path: Path, proxy, source: str = "baostock"):
    resources = resources_for(proxy.address, path)
    resources["warehouse"] = WarehouseResource(database=str(path), lock_timeout=10.0, source=source)
    return materialize_daily_bars(resources, PARTITION)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def truncate(path: Path) -> None:
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


def zero_header(path: Path) -> None:
    with path.open("r+b") as file:
        file.write(b"\0" * 4096)


def overwrite_a_bars_block(path: Path) -> None:
    """Overwrite 4 KB inside a block that holds daily_bars' closing prices (as a bad sector or a stray
    write would): only reading that block back finds it."""
    with duckdb.connect(str(path), read_only=True) as con:
        (block,) = con.execute(
            "SELECT min(block_id) FROM pragma_storage_info('daily_bars') "
            "WHERE column_name = 'close' AND block_id >= 0"
        ).fetchone()
    with path.open("r+b") as file:
        file.seek(HEADERS + block * BLOCK + 1024)
        file.write(b"\xa5" * 4096)


@pytest.mark.parametrize("damage", [truncate, zero_header, overwrite_a_bars_block], ids=lambda f: f.__name__)
def test_a_damaged_warehouse_is_refused_before_fetching_and_left_untouched(
    filled, tmp_path, counting_proxy, damage
):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(filled, path)
    damage(path)
    before, fds = digest(path), open_fds()

    result = run_on(path, counting_proxy)

    assert not result.success
    message = step_failure_message(result)
    assert f"the warehouse file {path} is damaged" in message, message
    assert "Restore it from a backup, or delete it" in message
    assert counting_proxy.requests == 0, (
        f"fetched from a damaged warehouse: {counting_proxy.requests_by_type()}"
    )
    assert digest(path) == before, "the damaged file was written to"
    assert not path.with_name(path.name + ".wal").exists()
    assert wait_for_fds(fds) <= fds


def test_an_intact_warehouse_passes_the_check_and_reports_what_it_read(filled, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(filled, path)
    checked = check_warehouse(path, "baostock")
    assert checked.source == "baostock" and not checked.created
    assert checked.rows >= 300, "every row of the partition was read back"


def test_a_warehouse_from_before_source_records_is_adopted_and_says_so(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with open_warehouse(path) as con:
        ensure_schema(con)
        con.execute("INSERT INTO trade_calendar VALUES ('2024-01-02', true)")
    checked = check_warehouse(path, "baostock")
    assert checked.adopted and checked.source == "baostock"
    assert not check_warehouse(path, "baostock").adopted, "recorded now"


def test_another_programs_duckdb_file_is_refused(tmp_path, counting_proxy):
    path = tmp_path / "notes.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE notes AS SELECT 1 AS x")
    before = digest(path)
    message = step_failure_message(run_on(path, counting_proxy))
    assert "DuckDB file of another program" in message and "delete it" in message, message
    assert counting_proxy.requests == 0 and digest(path) == before


@pytest.mark.parametrize(("recorded", "run_source"), [("simulator", "baostock"), ("baostock", "simulator")])
def test_a_warehouse_of_the_other_source_is_refused(tmp_path, counting_proxy, recorded, run_source):
    path = tmp_path / "warehouse.duckdb"
    assert check_warehouse(path, recorded).created
    before = digest(path)

    result = run_on(path, counting_proxy, source=run_source)

    message = step_failure_message(result)
    assert f"holds {recorded} data and this run reads {run_source}" in message, message
    assert "MARKETDATA_DUCKDB_PATH" in message and f"MARKETDATA_SOURCE={recorded}" in message
    assert counting_proxy.requests == 0 and digest(path) == before


def test_a_warehouse_folder_that_cannot_be_created_names_the_variable(tmp_path, counting_proxy):
    in_the_way = tmp_path / "data"
    in_the_way.write_text("a file where the folder should be")
    path = in_the_way / "warehouse.duckdb"

    message = step_failure_message(run_on(path, counting_proxy))

    assert f"cannot use the warehouse file {path}: its folder cannot be created" in message, message
    assert "Set MARKETDATA_DUCKDB_PATH" in message
    assert counting_proxy.requests == 0


def test_the_check_refuses_a_damaged_file_without_the_pipeline(filled, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(filled, path)
    overwrite_a_bars_block(path)
    with pytest.raises(WarehouseDamagedError, match="checksum"):
        check_warehouse(path, "baostock")
