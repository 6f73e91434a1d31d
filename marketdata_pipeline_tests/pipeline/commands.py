"""Running the pipeline as its users do: real commands in subprocesses, configured by environment."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROJECT_INSTANCE_CONFIG = REPO / "marketdata_pipeline" / "dagster.yaml"
CONFIG_VARIABLES = ("BAOSTOCK_", "MARKETDATA_", "DAGSTER_HOME")


def dagster_home(root: Path) -> Path:
    """A fresh DAGSTER_HOME under `root` holding the project's dagster.yaml, as `make demo` sets it up."""
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(PROJECT_INSTANCE_CONFIG, home / "dagster.yaml")
    return home


def pipeline_env(address: tuple[str, int], db_path: Path, home: Path, **settings: str) -> dict[str, str]:
    """This process's environment minus any project setting, plus the simulator, warehouse and `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(CONFIG_VARIABLES)}
    host, port = address
    env.update(
        BAOSTOCK_HOST=host,
        BAOSTOCK_PORT=str(port),
        BAOSTOCK_MAX_REQUESTS_PER_SECOND="0",  # a local simulator needs no politeness
        MARKETDATA_DUCKDB_PATH=str(db_path),
        DAGSTER_HOME=str(home),
        **settings,
    )
    return env


def materialize_command(partition: str) -> list[str]:
    """The documented command that materializes one daily_bars partition."""
    return [
        str(BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        "marketdata_pipeline.definitions",
        "--select",
        "daily_bars",
        "--partition",
        partition,
    ]


def check_evaluations_in(home: Path) -> dict[str, dg.AssetCheckEvaluation]:
    """The asset check evaluations of every run recorded in the instance at `home`, by check name."""
    evaluation = dg.DagsterEventType.ASSET_CHECK_EVALUATION
    with dg.DagsterInstance.from_config(str(home)) as instance:
        entries = [
            entry
            for record in instance.get_run_records()
            for entry in instance.all_logs(record.dagster_run.run_id, of_type=evaluation)
        ]
    evaluations = [entry.dagster_event.asset_check_evaluation_data for entry in entries]
    return {data.check_name: data for data in evaluations}
