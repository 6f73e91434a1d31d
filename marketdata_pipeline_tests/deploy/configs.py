"""The deploy/ config files as tests read them: where they are, what they reference, broken copies."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import ConfigurableClassData, class_from_code_pointer

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROJECT_INSTANCE_FILE = REPO / "marketdata_pipeline" / "dagster.yaml"
INSTANCE_FILE = "dagster.yaml"
RUN_CONFIG_FILE = "run_config.yaml"

# Remove the key at a path instead of setting it (see `changed`).
DELETE = object()


def load_yaml(path: Path) -> dict[str, Any]:
    """The YAML document at `path`, which must be a mapping."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path} holds {type(document).__name__}, expected a mapping")
    return document


def instance_dirs() -> list[Path]:
    """Every deploy/ folder holding a Dagster instance file, so a new one is validated without a test edit."""
    return sorted(path.parent for path in DEPLOY.glob(f"*/{INSTANCE_FILE}"))


def run_config_files() -> list[Path]:
    """Every run config under deploy/."""
    return sorted(DEPLOY.glob(f"*/{RUN_CONFIG_FILE}"))


def load_instance(directory: Path) -> Mapping[str, Any]:
    """The instance config in `directory`, validated by the loader `DagsterInstance` itself uses."""
    config, _custom_instance_class = dagster_instance_config(str(directory), INSTANCE_FILE)
    return config


def env_references(value: Any) -> Iterator[str]:
    """Names of the environment variables a config reads through `{env: NAME}`."""
    if isinstance(value, Mapping):
        if set(value) == {"env"} and isinstance(value["env"], str):
            yield value["env"]
            return
        for item in value.values():
            yield from env_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from env_references(item)


def changed(document: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `document` with the key at `path` set to `value`, or removed when it is DELETE."""
    result = copy.deepcopy(dict(document))
    parent = result
    for key in path[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return result


def renamed(document: Mapping[str, Any], path: tuple[str, ...], new_key: str) -> dict[str, Any]:
    """A deep copy of `document` with the key at `path` renamed, as a typo would."""
    result = copy.deepcopy(dict(document))
    parent = result
    for key in path[:-1]:
        parent = parent[key]
    parent[new_key] = parent.pop(path[-1])
    return result


def write_instance(document: Mapping[str, Any], directory: Path) -> Path:
    """Write `document` as the instance file of `directory`; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / INSTANCE_FILE).write_text(yaml.safe_dump(dict(document)), encoding="utf-8")
    return directory


def job_on(executor_def: dg.ExecutorDefinition) -> dg.JobDefinition:
    """A one-step job that runs on `executor_def`.

    The `execution` section of run config depends only on the job's executor, so validating
    against this job checks exactly what Dagster checks when a project job launches on it.
    """

    @dg.op
    def step() -> None:
        """Does nothing: only the job's executor config is under test."""

    @dg.job(name=f"on_{executor_def.name}", executor_def=executor_def)
    def probe() -> None:
        step()

    return probe


def class_config_errors(section: Mapping[str, Any]) -> list[str]:
    """What is wrong with a `{module, class, config}` section, checked against the class's own schema.

    `dagster_instance_config` takes such a section's `config` as free-form; the class checks it
    only when the instance builds it, which for a run launcher means inside the cluster.
    """
    klass = class_from_code_pointer(section["module"], section["class"])
    result = validate_config(klass.config_type(), section.get("config", {}))
    return [] if result.success else [error.message for error in result.errors]


def unknown_celery_settings(config_source: Mapping[str, Any]) -> list[str]:
    """Keys of a Celery `config_source` that Celery does not know (Dagster passes any key through)."""
    from celery.app.defaults import NAMESPACES, flatten

    known = {name for name, _option in flatten(NAMESPACES)}
    return sorted(set(config_source) - known)


def storage_section(data: ConfigurableClassData) -> dict[str, Any]:
    """The `{module, class, config}` section a storage's ConfigurableClassData stands for."""
    return {"module": data.module_name, "class": data.class_name, "config": data.config_dict}
