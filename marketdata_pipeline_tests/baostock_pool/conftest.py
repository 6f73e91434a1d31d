"""Fixtures for BaoStockPool tests: pools on the simulator that are always closed, and fd accounting."""

from __future__ import annotations

import pytest

from marketdata_pipeline.baostock.pool import BaoStockPool

FIELDS = "date,code,open,high,low,close,volume"
DAY = "2024-12-31"


@pytest.fixture
def make_pool():
    """Build a BaoStockPool with test-sized timings; every pool is closed at teardown."""
    pools: list[BaoStockPool] = []

    def make(endpoints, **options) -> BaoStockPool:
        options.setdefault("acquire_timeout", 5.0)
        options.setdefault("connect_timeout", 1.0)
        options.setdefault("request_timeout", 2.0)
        options.setdefault("reconnect_backoff", (0.02, 0.2))
        pool = BaoStockPool(endpoints, **options)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close(timeout=2.0)


def fetch_day(session, code: str = "sh.600000") -> list[list[str]]:
    """One symbol's bar for DAY: the request the whole-market fetch makes per code."""
    return session.query_history_k_data_plus(code, FIELDS, start_date=DAY, end_date=DAY).rows
