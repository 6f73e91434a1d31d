"""The shared-warehouse settings point the project's warehouse at MotherDuck through its one setting."""

from __future__ import annotations

import pytest
from dotenv import dotenv_values

from marketdata_pipeline.defs.settings import load_settings
from marketdata_pipeline_tests.deploy.configs import DEPLOY

MOTHERDUCK_ENV = DEPLOY / "shared-warehouse" / "motherduck.env"


def test_motherduck_env_changes_only_the_warehouse_path():
    values = dotenv_values(MOTHERDUCK_ENV)

    assert list(values) == ["MARKETDATA_DUCKDB_PATH"]
    assert values["MARKETDATA_DUCKDB_PATH"].startswith("md:")


def test_project_setting_reads_the_motherduck_path_unchanged(monkeypatch: pytest.MonkeyPatch):
    for name, value in dotenv_values(MOTHERDUCK_ENV).items():
        monkeypatch.setenv(name, value)

    assert load_settings().duckdb_path == "md:marketdata"
