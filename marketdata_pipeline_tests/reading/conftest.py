"""A small real warehouse for the reader and export tests: b03 in the simulator's ex-date season."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from marketdata_pipeline.defs.market.assets import trade_calendar
from marketdata_pipeline_tests.pipeline.runs import (
    materialize_adjust_factors,
    materialize_daily_bars,
    resources_for,
)

BATCH = "b03"
# Trading days in July 2024, when many of the simulator's codes go ex; the warehouse first holds
# FIRST_DAYS, and a later "daily run" adds NEXT_DAYS.
FIRST_DAYS = (date(2024, 7, 1), date(2024, 7, 5))
NEXT_DAYS = (date(2024, 7, 8), date(2024, 7, 9))


def load_bars(resources: dict, first: date, last: date) -> None:
    result = materialize_daily_bars(resources, first=f"{BATCH}|{first}", last=f"{BATCH}|{last}")
    assert result.success


@pytest.fixture(scope="session")
def loaded(shared_simulator, tmp_path_factory):
    """(db path, resources): trade_calendar, b03 bars of FIRST_DAYS and b03's adjust factors."""
    db = tmp_path_factory.mktemp("reading") / "warehouse.duckdb"
    resources = resources_for(shared_simulator.address, db)
    assert dg.materialize([trade_calendar], resources=resources).success
    load_bars(resources, *FIRST_DAYS)
    assert materialize_adjust_factors(resources, BATCH).success
    return db, resources
