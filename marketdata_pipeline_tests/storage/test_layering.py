"""The layers' imports (storage knows rows, not the protocol; nothing below defs/ knows Dagster; only
defs/settings.py reads settings), the domain rules written once (market_calendar), one batch contract."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from marketdata_pipeline.batching import BATCHES, batch_of

WIRE = Path(__file__).resolve().parents[1] / "fixtures" / "baostock-wire"
PACKAGE = Path(__file__).resolve().parents[2] / "marketdata_pipeline"
# The Dagster side: defs/ and the entry points that start, load or configure Dagster (or read the
# project settings from defs/settings.py). Every other module is plain Python below defs/.
DAGSTER_SIDE = (
    "defs/",
    "definitions.py",
    "dagster_internals.py",
    "instance_storage.py",
    "run_launcher.py",
    "launch.py",
    "demo.py",
    "doctor.py",
    "cli.py",
    "reader.py",
    "reading_commands.py",
)
# The market's calendar and clock: defined once, in market_calendar.py, and imported everywhere else.
DOMAIN_RULES = {
    "is_trading_day",
    "xshg_trading_days",
    "weekday_holidays",
    "chain_sessions",
    "closed_reason",
    "shanghai_now",
    "published_through",
    "latest_published_day",
    "latest_published_days",
    "unpublished_reason",
    "xshg_calendar",
}


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


def _modules() -> dict[str, ast.Module]:
    return {
        path.relative_to(PACKAGE).as_posix(): ast.parse(path.read_text(), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _imported(tree: ast.Module) -> set[str]:
    """Every module an import statement names, at any depth (function-level imports included)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_nothing_below_defs_imports_dagster_or_defs():
    plain = {name: tree for name, tree in _modules().items() if not name.startswith(DAGSTER_SIDE)}
    assert "ingest_run.py" in plain and "market_calendar.py" in plain and "simulator/server.py" in plain

    def knows_dagster(module: str) -> bool:
        return module.split(".")[0].startswith("dagster") or module.startswith("marketdata_pipeline.defs")

    offending = {name: sorted(filter(knows_dagster, _imported(tree))) for name, tree in plain.items()}
    assert {name: modules for name, modules in offending.items() if modules} == {}


def test_the_calendar_and_the_clock_are_defined_once_in_market_calendar():
    definers: dict[str, list[str]] = {}
    builders = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in DOMAIN_RULES:
                definers.setdefault(node.name, []).append(name)
            called = node.func if isinstance(node, ast.Call) else None
            if getattr(called, "id", None) == "ZoneInfo" or getattr(called, "attr", None) == "get_calendar":
                builders.append(name)
        if name != "market_calendar.py" and any(m.startswith("exchange_calendars") for m in _imported(tree)):
            builders.append(name)
    assert definers == {rule: ["market_calendar.py"] for rule in DOMAIN_RULES}
    # The XSHG calendar and the Asia/Shanghai zone are built there only (simulator included).
    assert sorted(set(builders)) == ["market_calendar.py"]


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
    environment only as process plumbing (DAGSTER_HOME, a child's environment, the demo's own,
    Dagster's own DAGSTER_EVENT_BATCH_SIZE)."""
    package = Path(__file__).resolve().parents[2] / "marketdata_pipeline"
    touching = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "os.environ" in (text := path.read_text(encoding="utf-8")) or "getenv" in text
    }
    assert touching == {"defs/settings.py", "cli.py", "launch.py", "demo.py", "instance_storage.py"}
