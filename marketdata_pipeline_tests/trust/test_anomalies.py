"""Each simulator anomaly at 2% fails its own check, which names exactly the rows it altered.

One simulator serves all five kinds at once: a check that finds only its own kind's rows also
shows that no other anomaly sets it off.
"""

from __future__ import annotations

import pytest

from marketdata_pipeline_tests.trust.market import (
    KINDS,
    RATE,
    anomalous_month,
    expected_rows,
)


@pytest.fixture(scope="module")
def anomalous(tmp_path_factory):
    return anomalous_month(0, tmp_path_factory.mktemp("anomalies") / "marketdata.duckdb", "anomalies")


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_an_anomaly_fails_its_own_check_naming_its_rows(anomalous, kind):
    results, found, injected, codes = anomalous
    expected = expected_rows(kind, injected)
    rows_checked = results[kind].numbers["rows_checked"]

    assert not results[kind].passed
    assert RATE / 2 < len(injected[kind]) / rows_checked < RATE * 2
    assert found[kind] == expected
    assert results[kind].numbers["findings"] == len(expected)
    assert {(e["code"], e["trade_date"].isoformat()) for e in results[kind].examples} <= expected


@pytest.mark.slow
def test_the_other_checks_stay_quiet(anomalous):
    results, *_ = anomalous
    quiet = {name: result.passed for name, result in results.items() if name not in KINDS}
    assert quiet == dict.fromkeys(quiet, True)
