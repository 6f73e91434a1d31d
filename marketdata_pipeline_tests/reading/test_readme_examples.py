"""The README's "Reading the data" examples run as written, against a real warehouse.

Its `sh` blocks run line by line with `.venv/bin` first on PATH, its `python`
blocks in one interpreter, in document order, in an empty directory with
MARKETDATA_DUCKDB_PATH pointing at a copy of the test warehouse. The qlib block
runs only where pyqlib is installed (it is not a dependency; see the README).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from marketdata_pipeline_tests.pipeline.commands import BIN, REPO

BLOCK = re.compile(r"```(sh|python)\n(.*?)```", re.DOTALL)


def reading_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Reading the data")
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_section_has_examples_for_pandas_sql_parquet_and_qlib():
    blocks = BLOCK.findall(reading_section())
    text = "\n".join(code for _, code in blocks)
    for needle in ("Warehouse()", "marketdata query", "export parquet", "export qlib", "qlib.init"):
        assert needle in text, needle


@pytest.mark.slow
def test_every_example_runs(loaded, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(loaded[0], db)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "MARKETDATA_DUCKDB_PATH": str(db), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    has_qlib = subprocess.run([sys.executable, "-c", "import qlib"], capture_output=True).returncode == 0
    for language, code in BLOCK.findall(reading_section()):
        if "import qlib" in code and not has_qlib:
            continue
        shell = ["bash", "-euo", "pipefail", "-c", code]
        command = shell if language == "sh" else [sys.executable, "-c", code]
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=120)
        output = done.stdout[-2000:] + done.stderr[-2000:]
        assert done.returncode == 0, f"{language} example failed:\n{code}\n{output}"
    assert (work / "bars.parquet").is_file() and (work / "qfq.csv").is_file()
    assert (work / "exports" / "qlib" / "calendars" / "day.txt").is_file()
    assert (work / "exports" / "parquet" / "manifest.json").is_file()
