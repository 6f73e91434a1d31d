"""Simulator anomalies over real sockets: one anomalous market for per-symbol and whole-market answers,
and the shared clean market untouched (bad specs: faults/test_trust_inputs.py)."""

from __future__ import annotations

from datetime import date

import pytest

from marketdata_pipeline.baostock.fields import DAILY_FIELDS
from marketdata_pipeline.baostock.session import BaoStockSession
from marketdata_pipeline.ingest.bars import DAILY_FIELDS_CSV
from marketdata_pipeline.ingest.result_fields import pick_fields
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.simulator.anomalies import KINDS
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds

DAY = date(2024, 6, 27)
TODAY = date(2024, 6, 28)  # DAY is past: its revisions show
EVERY_KIND = [f"{kind}:0.05" for kind in KINDS]
SAMPLE = 600  # codes whose injected rows are computed (each costs a symbol-year of the market)


_STATUS, _VOLUME, _AMOUNT = (DAILY_FIELDS.index(name) for name in ("tradestatus", "volume", "amount"))


def canonical(row) -> list[str]:
    """A daily row in DAILY_FIELDS order with a suspended day's volume and amount as 0: the two queries
    describe a suspended day differently (the warehouse stores this one form, storage/columns.py)."""
    row = list(row)
    if row[_STATUS] == "0":
        row[_VOLUME] = row[_AMOUNT] = "0"
    return row


def whole_market(simulator) -> dict[str, list[str]]:
    with BaoStockSession(*simulator.address, request_timeout=30) as session:
        answer = session.query_daily_history_k_AStock(DAY.isoformat())
    return {row[1]: canonical(row) for row in pick_fields(answer, DAILY_FIELDS, "whole market")}


def per_symbol(simulator, codes) -> dict[str, list[str]]:
    with BaoStockSession(*simulator.address, request_timeout=30) as session:
        answers = [
            session.query_history_k_data_plus(code, DAILY_FIELDS_CSV, DAY.isoformat(), DAY.isoformat())
            for code in codes
        ]
    return {answer.rows[0][1]: canonical(answer.rows[0]) for answer in answers}


def statuses(simulator) -> dict[str, str]:
    with BaoStockSession(*simulator.address, request_timeout=30) as session:
        return {row[0]: row[1] for row in session.query_all_stock(DAY.isoformat()).rows}


@pytest.mark.slow
def test_per_symbol_and_whole_market_answers_carry_the_same_anomalies_and_the_clean_market_stays_clean():
    before = open_fds()
    with Simulator(seed=0, today=TODAY, anomalies=EVERY_KIND) as anomalous:
        market = whole_market(anomalous)
        codes = sorted(market)[:SAMPLE]
        altered = {kind: dict(anomalous.injected(kind, codes, DAY, DAY)) for kind in KINDS}
        bar_kinds = {code for kind in KINDS if kind != "universe_matches_bars" for code in altered[kind]}
        asked = sorted(bar_kinds)[:40] + sorted(set(codes) - bar_kinds)[:10]
        assert per_symbol(anomalous, asked) == {code: market[code] for code in asked}
        anomalous_statuses = statuses(anomalous)
    with Simulator(seed=0, today=TODAY) as clean:
        clean_market = whole_market(clean)
        clean_statuses = statuses(clean)
    assert wait_for_fds(before) <= before

    assert {code for code in codes if market[code] != clean_market[code]} == bar_kinds
    assert all(0.02 < len(rows) / len(codes) < 0.09 for rows in altered.values())
    flipped = {code for code in codes if clean_statuses[code] != anomalous_statuses[code]}
    assert flipped == set(altered["universe_matches_bars"])
    volume = list(DAILY_FIELDS_CSV.split(",")).index("volume")
    for code in altered["volume_units"]:
        if code not in altered["suspension_rules"] and code not in altered["revision"]:
            assert int(market[code][volume]) * 100 == int(clean_market[code][volume])
