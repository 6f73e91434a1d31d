"""Each simulator anomaly at 2% fails its own check, which names exactly the rows it altered.

One simulator serves all five kinds at once: a check that finds only its own kind's rows also
shows that no other anomaly sets it off.
"""

from __future__ import annotations

import pytest

from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.storage import ensure_schema, open_warehouse
from marketdata_pipeline_tests.trust.market import (
    FIRST,
    KINDS,
    LAST,
    RATE,
    every_check,
    expected_rows,
    findings_of,
    load_month,
)


@pytest.fixture(scope="module")
def anomalous_month(tmp_path_factory):
    path = tmp_path_factory.mktemp("anomalies") / "marketdata.duckdb"
    with Simulator(seed=0, today=LAST, anomalies=[f"{kind}:{RATE}" for kind in KINDS]) as simulator:
        with open_warehouse(path) as con:
            ensure_schema(con)
            codes = load_month(simulator, con)
            results = {result.name: result for result in every_check(con, run_id="anomalies")}
            found = {kind: findings_of(con, "anomalies", kind) for kind in KINDS}
        injected = {kind: set(simulator.injected(kind, codes, FIRST, LAST)) for kind in KINDS}
    return results, found, injected, len(codes)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_an_anomaly_fails_its_own_check_naming_its_rows(anomalous_month, kind):
    results, found, injected, codes = anomalous_month
    expected = expected_rows(kind, injected)
    rows_checked = results[kind].numbers["rows_checked"]

    assert not results[kind].passed
    assert RATE / 2 < len(injected[kind]) / rows_checked < RATE * 2
    assert found[kind] == expected
    assert results[kind].numbers["findings"] == len(expected)
    assert {(e["code"], e["trade_date"].isoformat()) for e in results[kind].examples} <= expected


@pytest.mark.slow
def test_the_other_checks_stay_quiet(anomalous_month):
    results, *_ = anomalous_month
    quiet = {name: result.passed for name, result in results.items() if name not in KINDS}
    assert quiet == dict.fromkeys(quiet, True)
