"""KeyedPool: one pool per key, each with its own limits, and totals over all keys."""

from __future__ import annotations

import threading

import pytest

from marketdata_pipeline.pool import KeyedPool, PoolClosed, PoolTimeout, SessionPool
from marketdata_pipeline_tests.pool.fakes import FakeFactory, close
from marketdata_pipeline_tests.threads import run_together

LIMITS = {"alice": 1, "bob": 3}


@pytest.fixture
def keyed():
    factories: dict[str, FakeFactory] = {}

    def make_pool(account: str) -> SessionPool:
        factories[account] = FakeFactory()
        return SessionPool(factories[account], close=close, max_size=LIMITS[account], name=account)

    pools = KeyedPool(make_pool)
    pools.factories = factories
    yield pools
    pools.close(timeout=1.0)


def test_each_key_has_its_own_limit(keyed):
    alice = keyed.pool("alice").acquire()
    with pytest.raises(PoolTimeout, match="'alice'"):
        keyed.pool("alice").acquire(timeout=0.05)
    bobs = [keyed.pool("bob").acquire(timeout=1.0) for _ in range(3)]
    assert len({id(s) for s in bobs}) == 3
    keyed.pool("alice").release(alice)
    for session in bobs:
        keyed.pool("bob").release(session)


def test_pool_is_made_once_per_key_under_races(keyed):
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(keyed.pool("bob"))) for _ in range(16)]
    run_together(threads, timeout=2)
    assert len({id(pool) for pool in seen}) == 1
    assert keyed.keys() == ["bob"]


def test_aggregate_stats_sum_every_key(keyed):
    with keyed.session("alice"), keyed.session("bob"):
        pass
    with keyed.session("bob"):
        pass
    stats = keyed.stats()
    assert stats["keys"] == 2
    assert stats["acquires"] == 3 and stats["created"] == 2
    assert stats["max_size"] == 4 and stats["size"] == 2
    assert stats["hit_rate"] == round(1 / 3, 6)
    assert stats["pools"]["alice"]["acquires"] == 1 and stats["pools"]["bob"]["acquires"] == 2


def test_close_closes_every_pool_and_refuses_new_keys(keyed):
    with keyed.session("alice"), keyed.session("bob"):
        pass
    keyed.close()
    assert all(s.closed for f in keyed.factories.values() for s in f.made)
    with pytest.raises(PoolClosed):
        keyed.pool("carol")


def test_make_pool_must_be_callable():
    with pytest.raises(ValueError, match="make_pool must be a callable"):
        KeyedPool(None)
