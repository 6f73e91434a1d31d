"""Fixtures for the generic pool's tests: a fake factory and pools that are always closed."""

from __future__ import annotations

import pytest

from marketdata_pipeline.pool import SessionPool
from marketdata_pipeline_tests.pool.fakes import FakeFactory, check, close


@pytest.fixture
def factory() -> FakeFactory:
    return FakeFactory()


@pytest.fixture
def make_pool(factory):
    """Build a SessionPool over `factory` (with fake check/close); every pool is closed at teardown."""
    pools: list[SessionPool] = []

    def make(**options) -> SessionPool:
        options.setdefault("check", check)
        options.setdefault("close", close)
        options.setdefault("reconnect_backoff", (0.01, 0.05))
        pool = SessionPool(options.pop("factory", factory), **options)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close(timeout=1.0)
