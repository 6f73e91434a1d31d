"""The Parquet and qlib exports, read back with independent readers (pyarrow; numpy per qlib's format).

Incremental exports after a later run equal a fresh full export byte for byte,
qlib's files grow by exactly the new days, and the manifest's digests match.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pyarrow.dataset as pads
import pytest

from marketdata_pipeline import Warehouse
from marketdata_pipeline.exports import export_parquet, export_qlib
from marketdata_pipeline.storage import open_warehouse
from marketdata_pipeline_tests.reading.conftest import FIRST_DAYS, NEXT_DAYS, load_bars

QLIB_FIELDS = ("open", "high", "low", "close", "volume", "amount", "factor", "change")


@pytest.fixture(scope="module")
def exported(loaded, tmp_path_factory):
    """Exports of FIRST_DAYS, then after a run for NEXT_DAYS, then fresh ones (on a copy of `loaded`)."""
    root = tmp_path_factory.mktemp("exports")
    db = root / "warehouse.duckdb"
    shutil.copy(loaded[0], db)
    first = {"parquet": export_parquet(db, root / "parquet"), "qlib": export_qlib(db, root / "qlib")}
    sizes = {path: path.stat().st_size for path in (root / "qlib" / "features").rglob("*.bin")}
    resources = dict(loaded[1], warehouse=type(loaded[1]["warehouse"])(database=str(db), lock_timeout=10.0))
    load_bars(resources, *NEXT_DAYS)
    second = {"parquet": export_parquet(db, root / "parquet"), "qlib": export_qlib(db, root / "qlib")}
    fresh = {
        "parquet": export_parquet(db, root / "fresh_parquet"),
        "qlib": export_qlib(db, root / "fresh_qlib"),
    }
    return root, db, first, second, fresh, sizes


def qlib_series(directory, code: str, field: str) -> tuple[int, np.ndarray]:
    """qlib's FileFeatureStorage: little-endian float32, the first value the start index into the calendar."""
    raw = np.fromfile(directory / "features" / code.replace(".", "") / f"{field}.day.bin", dtype="<f4")
    return int(raw[0]), raw[1:]


def test_parquet_rows_equal_the_warehouse(exported):
    root, db, *_ = exported
    table = pads.dataset(root / "parquet" / "daily_bars", format="parquet", partitioning="hive").to_table()
    frame = table.to_pandas().sort_values(["code", "trade_date"]).reset_index(drop=True)
    stored = Warehouse(db).sql("SELECT * FROM daily_bars ORDER BY code, trade_date")
    assert len(frame) == len(stored)
    for column in ("close", "volume", "pct_chg", "trade_status"):
        assert frame[column].astype("float64").equals(stored[column].astype("float64")), column
    assert set(frame["year"].astype(str)) == {"2024"} and set(frame["month"].astype(str)) == {"7"}
    factors = pads.dataset(root / "parquet" / "adjust_factors" / "data.parquet").to_table()
    assert factors.num_rows == Warehouse(db).sql("SELECT count(*) AS n FROM adjust_factors")["n"][0]


@pytest.mark.parametrize("kind", ["parquet", "qlib"])
def test_the_manifest_lists_every_file_with_its_sha256(exported, kind):
    root, *_ = exported
    manifest = json.loads((root / kind / "manifest.json").read_text())
    on_disk = {str(path.relative_to(root / kind)) for path in (root / kind).rglob("*") if path.is_file()}
    assert on_disk - {"manifest.json"} == set(manifest["files"])
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((root / kind / name).read_bytes()).hexdigest() == entry["sha256"], name
    assert manifest["last_day"] == str(NEXT_DAYS[-1])


@pytest.mark.parametrize("kind", ["parquet", "qlib"])
def test_an_incremental_export_equals_a_fresh_full_one(exported, kind):
    root, _, first, second, fresh, _ = exported
    assert second[kind].rows == fresh[kind].rows > first[kind].rows
    assert second[kind].data_version == first[kind].data_version + 1
    incremental = json.loads((root / kind / "manifest.json").read_text())["files"]
    full = json.loads((root / f"fresh_{kind}" / "manifest.json").read_text())["files"]
    assert {name: entry["sha256"] for name, entry in incremental.items()} == {
        name: entry["sha256"] for name, entry in full.items()
    }


def test_parquet_rewrites_only_the_changed_month(exported):
    root, db, *_ = exported
    again = export_parquet(db, root / "parquet")
    assert again.files_written == 0
    with open_warehouse(db) as con:
        con.execute("UPDATE daily_bars SET ingested_at = now() WHERE trade_date = ?", [NEXT_DAYS[0]])
    assert export_parquet(db, root / "parquet").files_written == 1


def test_qlib_appends_the_new_days_only(exported):
    root, *_, sizes = exported
    grown = {path: path.stat().st_size - size for path, size in sizes.items()}
    # Codes whose factors did not change got exactly one float32 per new day appended.
    assert max(grown.values()) == 4 * 2
    assert sum(1 for delta in grown.values() if delta == 8) > len(grown) * 0.9


def test_qlib_reads_back_as_the_documented_layout(exported):
    root, db, *_ = exported
    qlib = root / "qlib"
    calendar = qlib.joinpath("calendars", "day.txt").read_text().split()
    assert calendar[0] == str(FIRST_DAYS[0]) and calendar[-1] == str(NEXT_DAYS[-1])
    instruments = [
        line.split("\t") for line in qlib.joinpath("instruments", "all.txt").read_text().splitlines()
    ]
    assert all(code[:2] in ("SH", "SZ", "BJ") and len(code) == 8 for code, *_ in instruments)
    hfq = Warehouse(db).bars([f"{c[2:]}.{c[:2]}" for c, *_ in instruments[:20]], adjust="hfq")
    raw = Warehouse(db).bars([f"{c[2:]}.{c[:2]}" for c, *_ in instruments[:20]])
    for code, frame in hfq.groupby("code"):
        start, close = qlib_series(qlib, code, "close")
        _, factor = qlib_series(qlib, code, "factor")
        _, change = qlib_series(qlib, code, "change")
        positions = [calendar.index(f"{day:%Y-%m-%d}") - start for day in frame["trade_date"]]
        trading = (frame["trade_status"] == 1).to_numpy()
        np.testing.assert_allclose(close[positions][trading], frame["close"][trading], rtol=1e-6)
        # qlib's convention: $close / $factor is the raw close.
        raw_close = raw[raw["code"] == code]["close"].to_numpy()[trading]
        np.testing.assert_allclose((close / factor)[positions][trading], raw_close, rtol=1e-5)
        np.testing.assert_allclose(change[positions][trading], frame["pct_chg"][trading] / 100, rtol=1e-5)
        assert np.isnan(close[positions][~trading]).all(), "suspended days are NaN"


def test_qlib_rewrites_a_code_only_when_its_exported_bars_really_changed(exported):
    root, db, *_ = exported
    qlib = root / "qlib"
    with open_warehouse(db) as con:
        # The daily run's trailing window re-fetches past days: new ingested_at, the same values.
        con.execute("UPDATE daily_bars SET ingested_at = now() WHERE trade_date = ?", [FIRST_DAYS[-1]])
    assert export_qlib(db, qlib).files_written == 0
    with open_warehouse(db) as con:
        code, close = con.execute(
            "SELECT code, close FROM daily_bars WHERE trade_date = ? AND trade_status = 1 "
            "ORDER BY code LIMIT 1",
            [FIRST_DAYS[-1]],
        ).fetchone()
        con.execute(
            "UPDATE daily_bars SET close = ?, ingested_at = now() WHERE code = ? AND trade_date = ?",
            [close + 1, code, FIRST_DAYS[-1]],
        )
        con.execute(
            "INSERT INTO bar_revisions SELECT code, trade_date, 'close', ?, ?, now(), batch "
            "FROM daily_bars WHERE code = ? AND trade_date = ?",
            [close, close + 1, code, FIRST_DAYS[-1]],
        )
    assert export_qlib(db, qlib).files_written == 8  # that code's eight field files, nothing else
    raw = Warehouse(db).bars(code, FIRST_DAYS[-1], FIRST_DAYS[-1])
    start, factor = qlib_series(qlib, code.replace(".", ""), "factor")
    _, qclose = qlib_series(qlib, code.replace(".", ""), "close")
    calendar = qlib.joinpath("calendars", "day.txt").read_text().split()
    position = calendar.index(str(FIRST_DAYS[-1])) - start
    np.testing.assert_allclose(qclose[position] / factor[position], raw["close"].iloc[0], rtol=1e-5)
