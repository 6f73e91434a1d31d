"""The deploy/ files read secrets from the environment only, and every variable they read is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dotenv import dotenv_values

from marketdata_pipeline.defs.settings import SETTINGS
from marketdata_pipeline_tests.deploy.configs import DEPLOY, env_references, load_yaml

YAML_FILES = sorted(DEPLOY.glob("*/*.yaml"))
ENV_FILES = sorted(DEPLOY.glob("*/*.env"))
README = DEPLOY / "README.md"
SECRETS = sorted(
    {name for name, setting in SETTINGS.items() if setting.secret}
    | {"DAGSTER_PG_PASSWORD", "DAGSTER_CELERY_BROKER_URL", "motherduck_token", "MOTHERDUCK_TOKEN"}
)


def ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(DEPLOY)) for path in paths]


def assigned_secrets(text: str) -> list[str]:
    """Secret names given a value in `text` (`NAME=value`, `NAME: value`, `- NAME=value`), comments aside."""
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    pattern = re.compile(rf"^\s*(?:-\s*)?({'|'.join(SECRETS)})\s*[=:]\s*\S")
    return [found[1] for line in lines if (found := pattern.match(line))]


def test_there_are_files_to_check():
    assert len(YAML_FILES) == 5 and len(ENV_FILES) == 1


@pytest.mark.parametrize("path", YAML_FILES + ENV_FILES, ids=ids(YAML_FILES + ENV_FILES))
def test_no_secret_is_written_into_a_deploy_file(path: Path):
    assert assigned_secrets(path.read_text(encoding="utf-8")) == []


WRITTEN_SECRETS = ["BAOSTOCK_PASSWORD=hunter2", "  - BAOSTOCK_API_KEY=bs-123", "motherduck_token: x"]


@pytest.mark.parametrize("line", WRITTEN_SECRETS)
def test_a_written_secret_is_found(line: str):
    assert assigned_secrets(f"# a comment\n{line}\n") != []


@pytest.mark.parametrize("path", YAML_FILES, ids=ids(YAML_FILES))
def test_every_variable_a_yaml_file_reads_is_documented(path: Path):
    readme = README.read_text(encoding="utf-8")

    assert [name for name in env_references(load_yaml(path)) if f"`{name}`" not in readme] == []


@pytest.mark.parametrize("path", ENV_FILES, ids=ids(ENV_FILES))
def test_env_files_set_only_project_settings(path: Path):
    assert [name for name in dotenv_values(path) if name not in SETTINGS] == []
