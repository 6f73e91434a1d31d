"""One `dagster dev` for the ops tests, against a simulator capped at the session budget (8 logins)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.ops.dagster_dev import (
    SESSION_BUDGET,
    DagsterDev,
    group_alive,
    running_dagster_dev,
)


@pytest.fixture(scope="package")
def dagster_dev(tmp_path_factory) -> Iterator[DagsterDev]:
    """`dagster dev` on a free port with a fresh DAGSTER_HOME and warehouse. Afterwards its whole
    process group is gone and this process holds no more fds than before (both checked)."""
    fds_before = open_fds()
    workdir = tmp_path_factory.mktemp("dagster-dev")
    with running_dagster_dev(workdir, "--max-logins", str(SESSION_BUDGET)) as dev:
        yield dev
    assert not group_alive(dev.process_group), f"dagster dev's process group {dev.process_group} outlived it"
    assert wait_for_fds(fds_before) <= fds_before
