"""Ingest fixtures: BaoStock pools on the shared simulator, and the market it serves at the end of 2024."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest

from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.ingest import fetch_trade_calendar, fetch_universe, trading_days
from marketdata_pipeline.simulator import Simulator

LAST_DAY = date(2024, 12, 31)  # the shared simulator's today
WARM_UP_DAY = date(2024, 12, 2)  # not among the days the tests fetch


@contextlib.contextmanager
def pool_on(simulator: Simulator, **settings) -> Iterator[BaoStockPool]:
    """A BaoStockPool on `simulator`, closed on exit; generous timeouts unless the test sets its own."""
    settings = {"max_size": 4, "request_timeout": 30.0, "acquire_timeout": 30.0} | settings
    with BaoStockPool([simulator.address], **settings) as pool:
        yield pool


@pytest.fixture(scope="module")
def shared_pool(shared_simulator: Simulator) -> Iterator[BaoStockPool]:
    """A pool of 4 sessions on the shared simulator, for tests that only read."""
    with pool_on(shared_simulator) as pool:
        warm_up(pool)
        yield pool


def warm_up(pool: BaoStockPool) -> None:
    """Pay the simulator's one-off cost on one thread: its first whole-market answer builds the market.

    Four workers asking for four first days at once would each build it, and
    take several times longer, under the GIL.
    """
    with pool.session() as session:
        session.query_daily_history_k_AStock(WARM_UP_DAY.isoformat())


@pytest.fixture(scope="module")
def universe(shared_pool: BaoStockPool) -> pd.DataFrame:
    """Everything trading on 2024-12-31, with listing facts and batch."""
    return fetch_universe(shared_pool, LAST_DAY)


@pytest.fixture(scope="module")
def last_days(shared_pool: BaoStockPool) -> list[date]:
    """The last 10 trading days of 2024."""
    return trading_days(fetch_trade_calendar(shared_pool, "2024-12-01", LAST_DAY))[-10:]
