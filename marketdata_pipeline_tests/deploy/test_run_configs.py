"""The executor run configs under deploy/ validate against jobs on the real executors; broken copies fail."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.errors import DagsterInvalidConfigError

from marketdata_pipeline.defs.settings import SETTINGS
from marketdata_pipeline_tests.deploy.configs import (
    DEPLOY,
    PROJECT_INSTANCE_FILE,
    changed,
    env_references,
    job_on,
    load_yaml,
    renamed,
    run_config_files,
    unknown_celery_settings,
)

K8S_RUN_CONFIG = DEPLOY / "k8s" / "run_config.yaml"
CELERY_RUN_CONFIG = DEPLOY / "celery" / "run_config.yaml"
# The session budget the issue sets: pool slots x sessions per step.
SESSION_BUDGET = 4


def k8s_executor() -> dg.ExecutorDefinition:
    module = pytest.importorskip(
        "dagster_k8s",
        reason="dagster-k8s is not installed; `pip install -e '.[deploy-k8s]'` to check "
        "deploy/k8s/run_config.yaml against k8s_job_executor's schema",
    )
    return module.k8s_job_executor


def celery_executor() -> dg.ExecutorDefinition:
    from dagster_celery import celery_executor

    return celery_executor


EXECUTORS = {K8S_RUN_CONFIG: k8s_executor, CELERY_RUN_CONFIG: celery_executor}


def set_referenced_env(run_config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every `{env: NAME}` the config reads a value, as the deployment's environment would."""
    for name in env_references(run_config):
        monkeypatch.setenv(name, f"value-of-{name}")


def validate(path: Path, run_config: dict) -> dict:
    return dg.validate_run_config(job_on(EXECUTORS[path]()), run_config)


def pool_limit() -> int:
    return load_yaml(PROJECT_INSTANCE_FILE)["concurrency"]["pools"]["default_limit"]


def test_every_run_config_has_an_executor_to_check_it():
    assert run_config_files() == sorted(EXECUTORS)


@pytest.mark.parametrize("path", sorted(EXECUTORS), ids=lambda path: path.parent.name)
def test_run_config_validates_on_its_executor(path: Path, monkeypatch: pytest.MonkeyPatch):
    run_config = load_yaml(path)
    set_referenced_env(run_config, monkeypatch)

    executor = EXECUTORS[path]()
    resolved = dg.validate_run_config(job_on(executor), run_config)["execution"][executor.name]

    assert set(run_config) == {"execution"}
    assert set(run_config["execution"]["config"]) <= set(resolved)


def test_celery_run_config_names_the_missing_broker_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DAGSTER_CELERY_BROKER_URL", raising=False)

    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_CELERY_BROKER_URL"):
        validate(CELERY_RUN_CONFIG, load_yaml(CELERY_RUN_CONFIG))


def executor_key(*keys: str) -> tuple[str, ...]:
    """The path of a key inside `execution.config`."""
    return ("execution", "config", *keys)


BROKEN_RUN_CONFIGS = [
    (
        K8S_RUN_CONFIG,
        "max_concurrent not a number",
        lambda c: changed(c, executor_key("max_concurrent"), "2x"),
    ),
    (
        K8S_RUN_CONFIG,
        "job_namespace misspelt",
        lambda c: renamed(c, executor_key("job_namespace"), "namespace"),
    ),
    (
        K8S_RUN_CONFIG,
        "step_k8s_config unknown part",
        lambda c: changed(c, executor_key("step_k8s_config", "container"), {}),
    ),
    (CELERY_RUN_CONFIG, "broker misspelt", lambda c: renamed(c, executor_key("broker"), "brokr")),
    (
        CELERY_RUN_CONFIG,
        "retries unknown mode",
        lambda c: changed(c, executor_key("retries"), {"always": {}}),
    ),
    (CELERY_RUN_CONFIG, "include not a list", lambda c: changed(c, executor_key("include"), "marketdata")),
    (CELERY_RUN_CONFIG, "second executor key", lambda c: changed(c, ("execution", "celery"), {})),
]


@pytest.mark.parametrize(
    ("path", "breakage"),
    [(path, breakage) for path, _name, breakage in BROKEN_RUN_CONFIGS],
    ids=[f"{path.parent.name}: {name}" for path, name, _breakage in BROKEN_RUN_CONFIGS],
)
def test_broken_copy_of_run_config_is_rejected(path: Path, breakage, monkeypatch: pytest.MonkeyPatch):
    run_config = load_yaml(path)
    set_referenced_env(run_config, monkeypatch)

    with pytest.raises(DagsterInvalidConfigError):
        validate(path, breakage(run_config))


def test_celery_config_source_holds_only_celery_settings():
    config_source = load_yaml(CELERY_RUN_CONFIG)["execution"]["config"]["config_source"]

    assert unknown_celery_settings(config_source) == []


def test_misspelt_celery_setting_is_caught_although_dagster_passes_it_through(monkeypatch):
    run_config = renamed(
        load_yaml(CELERY_RUN_CONFIG), executor_key("config_source", "worker_concurrency"), "worker_concurency"
    )
    set_referenced_env(run_config, monkeypatch)

    config_source = run_config["execution"]["config"]["config_source"]

    validate(CELERY_RUN_CONFIG, run_config)
    assert unknown_celery_settings(config_source) == ["worker_concurency"]


def test_k8s_pods_per_run_match_the_pool_and_the_session_budget():
    max_concurrent = load_yaml(K8S_RUN_CONFIG)["execution"]["config"]["max_concurrent"]

    assert max_concurrent == pool_limit()
    assert max_concurrent * SETTINGS["BAOSTOCK_POOL_SIZE"].default == SESSION_BUDGET


def test_celery_worker_processes_match_the_pool_and_the_session_budget():
    config_source = load_yaml(CELERY_RUN_CONFIG)["execution"]["config"]["config_source"]

    assert config_source["worker_concurrency"] == pool_limit()
    assert config_source["worker_prefetch_multiplier"] == 1
    assert config_source["worker_concurrency"] * SETTINGS["BAOSTOCK_POOL_SIZE"].default == SESSION_BUDGET


def test_celery_broker_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGSTER_CELERY_BROKER_URL", "pyamqp://marketdata:secret@rabbitmq:5672//")

    resolved = validate(CELERY_RUN_CONFIG, load_yaml(CELERY_RUN_CONFIG))

    assert resolved["execution"]["celery"]["broker"] == "pyamqp://marketdata:secret@rabbitmq:5672//"
