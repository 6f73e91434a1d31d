"""Storage knows rows, not the protocol: its imports, and its batch contract equal to ingest's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from marketdata_pipeline.storage.batches import BATCHES, batch_of

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


def test_batches_match_ingest_for_every_code_of_the_real_universe():
    from marketdata_pipeline.baostock.frames import decode_response
    from marketdata_pipeline.ingest import batching

    answer = decode_response((WIRE / "query_all_stock" / "response.bin").read_bytes())
    codes = [record[0] for record in json.loads(answer.fields[6])["record"]]
    assert len(codes) == 5638
    assert BATCHES == batching.BATCHES
    assert [batch_of(code) for code in codes] == [batching.batch_of(code) for code in codes]
    assert len({batch_of(code) for code in codes}) == len(BATCHES)
