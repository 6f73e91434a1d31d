"""Each deploy/*/dagster.yaml loads as an instance config and keeps the project budget; broken copies fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster._check import CheckError
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.ref import configurable_storage_data

from marketdata_pipeline_tests.deploy.configs import (
    DELETE,
    PROJECT_INSTANCE_FILE,
    changed,
    class_config_errors,
    instance_dirs,
    load_instance,
    load_yaml,
    renamed,
    storage_section,
    write_instance,
)

DIRS = instance_dirs()
IDS = [directory.name for directory in DIRS]
# Sections naming a `{module, class, config}` Dagster builds at instance start.
CLASS_SECTIONS = ("run_launcher", "run_coordinator", "compute_logs", "scheduler", "local_artifact_storage")


def test_the_three_deployments_have_an_instance_file():
    assert IDS == ["celery", "k8s", "postgres"]


@pytest.mark.parametrize("directory", DIRS, ids=IDS)
def test_instance_file_validates_with_postgres_storage(directory: Path):
    config = load_instance(directory)

    assert set(config["storage"]) == {"postgres"}
    assert config["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}


@pytest.mark.parametrize("directory", DIRS, ids=IDS)
def test_instance_keeps_the_project_concurrency_settings(directory: Path):
    project = load_yaml(PROJECT_INSTANCE_FILE)["concurrency"]

    assert load_yaml(directory / "dagster.yaml")["concurrency"] == project


@pytest.mark.parametrize("directory", DIRS, ids=IDS)
def test_storage_classes_dagster_postgres_builds_accept_the_block(directory: Path):
    storage = load_instance(directory)["storage"]
    built = [data for data in configurable_storage_data(storage, {}) if data is not None]

    assert {data.module_name for data in built} == {"dagster_postgres"}
    assert {data.class_name: class_config_errors(storage_section(data)) for data in built} == {
        "DagsterPostgresStorage": [],
        "PostgresRunStorage": [],
        "PostgresEventLogStorage": [],
        "PostgresScheduleStorage": [],
    }


@pytest.mark.parametrize("directory", DIRS, ids=IDS)
def test_configurable_classes_validate_against_their_own_schema(directory: Path):
    document = load_yaml(directory / "dagster.yaml")
    sections = {name: document[name] for name in CLASS_SECTIONS if name in document}
    for section in sections.values():
        pytest.importorskip(
            section["module"],
            reason=f"{section['module']} is not installed; `pip install -e '.[deploy-k8s]'` to check "
            f"{directory.name}/dagster.yaml's {section['class']} config against its schema",
        )

    assert {name: class_config_errors(section) for name, section in sections.items()} == {
        name: [] for name in sections
    }


BROKEN_INSTANCES = {
    "hostname misspelt": lambda d: renamed(d, ("storage", "postgres", "postgres_db", "hostname"), "host"),
    "db_name missing": lambda d: changed(d, ("storage", "postgres", "postgres_db", "db_name"), DELETE),
    "port not a number": lambda d: changed(d, ("storage", "postgres", "postgres_db", "port"), "pg"),
    "two storages": lambda d: changed(d, ("storage", "sqlite"), {"base_dir": "/tmp"}),
    "negative pool limit": lambda d: changed(d, ("concurrency", "pools", "default_limit"), -1),
    "pool limit not a number": lambda d: changed(d, ("concurrency", "pools", "default_limit"), "two"),
    "unknown granularity": lambda d: changed(d, ("concurrency", "pools", "granularity"), "step"),
    "run limit misspelt": lambda d: renamed(d, ("concurrency", "runs", "max_concurrent_runs"), "max_runs"),
    "unknown top-level key": lambda d: changed(d, ("storge",), {}),
}


@pytest.mark.parametrize("directory", DIRS, ids=IDS)
@pytest.mark.parametrize("breakage", BROKEN_INSTANCES.values(), ids=BROKEN_INSTANCES.keys())
def test_broken_copy_of_instance_file_is_rejected(directory: Path, breakage, tmp_path: Path):
    broken = breakage(load_yaml(directory / "dagster.yaml"))

    with pytest.raises((DagsterInvalidConfigError, CheckError)):
        load_instance(write_instance(broken, tmp_path / directory.name))


BROKEN_RUN_LAUNCHERS = {
    "instance_config_map missing": lambda s: changed(s, ("config", "instance_config_map"), DELETE),
    "job_namespace misspelt": lambda s: renamed(s, ("config", "job_namespace"), "job_namspace"),
    "env_secrets not a list": lambda s: changed(s, ("config", "env_secrets"), {"name": "marketdata"}),
    "fail_pod_on_run_failure not a bool": lambda s: changed(s, ("config", "fail_pod_on_run_failure"), "yes"),
}


@pytest.mark.parametrize("breakage", BROKEN_RUN_LAUNCHERS.values(), ids=BROKEN_RUN_LAUNCHERS.keys())
def test_broken_k8s_run_launcher_passes_the_instance_loader_but_not_its_class_schema(breakage, tmp_path):
    pytest.importorskip("dagster_k8s", reason="`pip install -e '.[deploy-k8s]'` to check K8sRunLauncher")
    document = load_yaml(instance_dirs()[IDS.index("k8s")] / "dagster.yaml")
    broken = changed(document, ("run_launcher",), breakage(document["run_launcher"]))

    load_instance(write_instance(broken, tmp_path))  # a launcher's config is free-form to the loader
    assert class_config_errors(broken["run_launcher"]) != []
