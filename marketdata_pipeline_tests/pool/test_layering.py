"""The pool is the bottom layer: no protocol, no Dagster, no data path; backoff imports nothing of ours."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _modules_loaded_by(module: str) -> list[str]:
    code = f"import sys, {module}; print(' '.join(sys.modules))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("marketdata_pipeline.pool", ("marketdata_pipeline.pool", "marketdata_pipeline.backoff")),
        ("marketdata_pipeline.backoff", ("marketdata_pipeline.backoff",)),
    ],
)
def test_imports_stay_below(module, allowed):
    loaded = _modules_loaded_by(module)
    ours = [m for m in loaded if m.startswith("marketdata_pipeline.") and not m.startswith(allowed)]
    foreign = [m for m in loaded if m.split(".")[0] in ("baostock", "dagster", "duckdb", "pandas")]
    assert (ours, foreign) == ([], [])
