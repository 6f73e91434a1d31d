"""The code location loads: `dg check defs` and `dagster definitions validate` both exit 0."""

from __future__ import annotations

import subprocess

import pytest

from marketdata_pipeline_tests.pipeline.commands import BIN, REPO, dagster_home, pipeline_env

COMMANDS = {
    "dg check defs": [str(BIN / "dg"), "check", "defs"],
    "dagster definitions validate": [str(BIN / "dagster"), "definitions", "validate"],
}


@pytest.mark.slow
def test_dg_check_defs_and_dagster_definitions_validate_exit_0(tmp_path):
    # Both at once (each spends most of its time importing Dagster), each with its own throwaway
    # DAGSTER_HOME; a port nothing listens on: loading must not need a reachable server.
    running = {
        name: subprocess.Popen(
            command,
            cwd=REPO,
            env=pipeline_env(("127.0.0.1", 9), tmp_path / "warehouse.duckdb", dagster_home(tmp_path / name)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, command in COMMANDS.items()
    }
    outcomes = {name: (process.wait(timeout=180), process.stdout.read()) for name, process in running.items()}
    for process in running.values():
        process.stdout.close()

    for name, (code, output) in outcomes.items():
        assert code == 0, f"{name} exited {code}:\n{output[-3000:]}"
