"""`marketdata init` readies a brand-new DAGSTER_HOME once, so `dagster` commands started together work.

On a new home each `dagster` process creates the instance's tables itself;
started together, all but one used to crash (`table daemon_heartbeats already
exists`). After `marketdata init` the storage exists and they only read it.
"""

from __future__ import annotations

import subprocess

import pytest

from marketdata_pipeline.cli import main
from marketdata_pipeline_tests.pipeline.commands import BIN, REPO, pipeline_env

TOGETHER = 2


@pytest.mark.slow
def test_dagster_commands_started_together_on_an_initialised_new_home_all_succeed(
    tmp_path, monkeypatch, capsys
):
    home = tmp_path / "dagster_home"  # does not exist yet: `marketdata init` creates it
    env = pipeline_env(("127.0.0.1", 9), tmp_path / "w.duckdb", home)

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(["init"]) == 0
    assert f"DAGSTER_HOME={home} is ready" in capsys.readouterr().out
    assert (home / "dagster.yaml").exists()

    running = [
        subprocess.Popen(
            [str(BIN / "dagster"), "instance", "info"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for _ in range(TOGETHER)
    ]
    outcomes = [(process.wait(timeout=180), process.stdout.read()) for process in running]
    for process in running:
        process.stdout.close()

    for code, output in outcomes:
        assert code == 0, output[-2000:]
        assert "already exists" not in output
