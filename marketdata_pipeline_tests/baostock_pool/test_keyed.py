"""KeyedPool over BaoStockPools: one pool per account, each with its own login budget (simulator)."""

from __future__ import annotations

import pytest

from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.pool import KeyedPool, PoolClosed, PoolTimeout
from marketdata_pipeline_tests.baostock_pool.conftest import fetch_day
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.pool.fakes import wait_until

LOGINS = {"alice": 1, "bob": 2}
"""Each account's own limit, as when every account has its own login budget on the server."""


@pytest.fixture
def accounts(simulator):
    def make_pool(user: str) -> BaoStockPool:
        return BaoStockPool(
            [simulator.address], user=user, max_size=LOGINS[user], name=f"baostock-{user}",
            acquire_timeout=5.0, connect_timeout=1.0, request_timeout=2.0,
        )  # fmt: skip

    keyed = KeyedPool(make_pool)
    yield keyed
    keyed.close(timeout=2.0)


def test_each_account_logs_in_as_itself_within_its_own_limit(accounts, simulator):
    with accounts.session("alice") as alice:
        assert alice.user == "alice" and fetch_day(alice)
        # alice's one login is taken; bob's pool is not touched by her limit.
        with pytest.raises(PoolTimeout, match="'baostock-alice'"), accounts.session("alice", timeout=0.1):
            pass
        with accounts.session("bob") as bob, accounts.session("bob") as bob_too:
            assert {bob.user, bob_too.user} == {"bob"} and bob is not bob_too
            assert fetch_day(bob) == fetch_day(bob_too) == fetch_day(alice)
    assert simulator.stats()["peak_active_logins"] == 3


def test_stats_add_up_over_accounts_and_keep_each_accounts_own(accounts):
    for user in ("alice", "bob", "bob"):
        with accounts.session(user) as session:
            fetch_day(session)
    stats = accounts.stats()
    assert stats["keys"] == 2 and stats["max_size"] == 3
    assert stats["acquires"] == 3 and stats["pools"]["bob"]["acquires"] == 2
    assert stats["pools"]["alice"]["logins"] == 1 and stats["pools"]["alice"]["endpoint"] is not None


def test_close_logs_every_account_out_and_leaves_no_fd(simulator):
    before = open_fds()
    keyed = KeyedPool(lambda user: BaoStockPool([simulator.address], user=user, max_size=1, name=user))
    for user in ("alice", "bob"):
        with keyed.session(user) as session:
            fetch_day(session)
    assert simulator.stats()["active_logins"] == 2
    keyed.close(timeout=2.0)
    assert wait_until(lambda: simulator.stats()["active_logins"] == 0)
    assert simulator.stats()["logouts"] == 2
    assert wait_for_fds(before) <= before
    with pytest.raises(PoolClosed, match="no pool for 'carol'"):
        keyed.session("carol")
