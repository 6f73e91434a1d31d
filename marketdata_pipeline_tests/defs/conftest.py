"""One loaded code location for the schedule, sensor and retry tests (loading it costs seconds)."""

import dagster as dg
import pytest

from marketdata_pipeline.definitions import defs


@pytest.fixture(scope="session")
def repository() -> dg.RepositoryDefinition:
    return defs().get_repository_def()
