"""Publication: a day's bars appear at 17:30 Shanghai time, its adjust factors at 18:00."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.simulator.clock import PublicationClock
from marketdata_pipeline_tests.simulator.wire import WireClient

DAY = "2024-06-20"  # a trading day with ex-dates in seed 0


@pytest.mark.parametrize(
    "now, bars, factors",
    [
        (datetime(2024, 6, 20, 17, 29), False, False),
        (datetime(2024, 6, 20, 17, 30), True, False),
        (datetime(2024, 6, 20, 18, 0), True, True),
        (date(2024, 6, 20), True, True),
    ],
)
def test_bars_at_1730_factors_at_1800(now, bars, factors):
    with Simulator(today=now) as sim, WireClient(sim.address) as client:
        client.login()
        market = client.call("98", ["query_daily_history_k_AStock", "anonymous", DAY])
        ex = client.call("9C", ["query_daily_adjust_factor", "anonymous", DAY])
        listed = client.call("35", ["query_all_stock", "anonymous", "1", "10", DAY])
    assert bool(market.fields[4]) is bars
    assert bool(listed.fields[6]) is bars
    assert bool(ex.fields[4]) is factors


def test_the_live_clock_uses_shanghai_time():
    clock = PublicationClock(None)
    assert clock.bars_through() <= clock.today_date()


def test_today_must_be_a_date():
    with pytest.raises(TypeError, match="today"):
        PublicationClock("2024-01-01")
