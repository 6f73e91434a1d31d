"""Each simulator anomaly at 2% fails its own check, which names exactly the rows it altered.

One simulator serves all five kinds at once: a check that finds only its own kind's rows also
shows that no other anomaly sets it off.
"""

from __future__ import annotations

import pytest

from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.trust.market import FIRST, LAST, every_check, findings_of, load_month

KINDS = ("preclose_chain", "suspension_rules", "price_limits", "volume_units", "universe_matches_bars")
RATE = 0.02


@pytest.fixture(scope="module")
def anomalous_month(tmp_path_factory):
    from marketdata_pipeline.storage import ensure_schema, open_warehouse

    path = tmp_path_factory.mktemp("anomalies") / "marketdata.duckdb"
    with Simulator(seed=0, today=LAST, anomalies=[f"{kind}:{RATE}" for kind in KINDS]) as simulator:
        with open_warehouse(path) as con:
            ensure_schema(con)
            codes = load_month(simulator, con)
            results = {result.name: result for result in every_check(con, run_id="anomalies")}
            found = {kind: findings_of(con, "anomalies", kind) for kind in KINDS}
        injected = {kind: set(simulator.injected(kind, codes, FIRST, LAST)) for kind in KINDS}
    return results, found, injected, len(codes)


def expected_rows(kind: str, injected: dict) -> set:
    """The injected rows a check can see: the chain needs a previous bar (none before the month's
    first day), and a row a suspension anomaly emptied has no volume left to have units."""
    rows = injected[kind]
    if kind == "preclose_chain":
        return {(code, day) for code, day in rows if day != FIRST.isoformat()}
    if kind == "volume_units":
        return rows - injected["suspension_rules"]
    return rows


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
