"""Layers: storage imports no protocol, only defs/settings.py reads settings, one batch contract for all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from marketdata_pipeline.batching import BATCHES, batch_of

WIRE = Path(__file__).resolve().parents[1] / "fixtures" / "baostock-wire"


@pytest.mark.slow
def test_storage_imports_neither_the_protocol_nor_dagster_nor_ingest():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, marketdata_pipeline.storage; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    forbidden = [m for m in loaded if m.split(".")[0] in ("baostock", "dagster") or m.startswith(
        ("marketdata_pipeline.baostock", "marketdata_pipeline.ingest", "marketdata_pipeline.defs")
    )]  # fmt: skip
    assert forbidden == []


def test_every_code_of_the_real_universe_has_a_stable_batch():
    from marketdata_pipeline.baostock.frames import decode_response

    answer = decode_response((WIRE / "query_all_stock" / "response.bin").read_bytes())
    codes = [record[0] for record in json.loads(answer.fields[6])["record"]]
    assert len(codes) == 5638
    assert {batch_of(code) for code in codes} == set(BATCHES)
    # Pinned: partition keys and stored rows depend on these never changing.
    pinned = {"sh.600000": "b09", "sz.000001": "b04", "sh.688981": "b06", "sz.300750": "b12"}
    assert {code: batch_of(code) for code in pinned} == pinned


def test_only_the_settings_module_reads_project_settings_from_the_environment():
    """Every BAOSTOCK_*/MARKETDATA_* value comes from `load_settings()`; the others touch the
    environment only as process plumbing (DAGSTER_HOME, a child's environment, the demo's own)."""
    package = Path(__file__).resolve().parents[2] / "marketdata_pipeline"
    touching = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "os.environ" in (text := path.read_text(encoding="utf-8")) or "getenv" in text
    }
    assert touching == {"defs/settings.py", "cli.py", "launch.py", "demo.py"}
