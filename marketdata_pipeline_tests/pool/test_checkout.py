"""Checkout and return: the context manager, broken sessions, foreign sessions."""

from __future__ import annotations

import pytest

from marketdata_pipeline.pool import reasons
from marketdata_pipeline_tests.pool.fakes import ServerRefused


class AnswerRefused(Exception):
    """An error that leaves the session healthy (like a bad-parameter answer)."""


def is_broken(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError)


def test_session_is_returned_to_idle_and_reused(make_pool, factory):
    pool = make_pool(max_size=2)
    with pool.session() as first:
        assert pool.stats()["in_use"] == 1
    with pool.session() as second:
        pass
    assert first is second
    assert len(factory.made) == 1
    assert pool.stats()["idle"] == 1


def test_broken_error_discards_session_never_put_back(make_pool, factory):
    pool = make_pool(max_size=2, is_broken=is_broken)
    with pytest.raises(ServerRefused), pool.session() as session:
        raise ServerRefused("socket reset")
    assert session.closed
    stats = pool.stats()
    assert stats["size"] == 0 and stats["idle"] == 0
    assert stats["discarded_by_reason"] == {reasons.BROKEN: 1}
    with pool.session() as replacement:
        assert replacement is not session


def test_healthy_error_keeps_session(make_pool, factory):
    pool = make_pool(max_size=2, is_broken=is_broken)
    with pytest.raises(AnswerRefused), pool.session() as session:
        raise AnswerRefused("no such code")
    assert not session.closed
    with pool.session() as again:
        assert again is session


def test_without_classifier_every_error_discards(make_pool):
    pool = make_pool(max_size=1)
    with pytest.raises(AnswerRefused), pool.session() as session:
        raise AnswerRefused("unknown state")
    assert session.closed


def test_interruption_always_discards(make_pool):
    pool = make_pool(max_size=1, is_broken=lambda exc: False)
    with pytest.raises(KeyboardInterrupt), pool.session() as session:
        raise KeyboardInterrupt
    assert session.closed


def test_release_of_foreign_session_is_refused(make_pool):
    pool = make_pool()
    with pytest.raises(ValueError, match="was not checked out from this pool"):
        pool.release(object())


def test_release_twice_is_refused(make_pool):
    pool = make_pool()
    session = pool.acquire()
    pool.release(session)
    with pytest.raises(ValueError, match="not checked out"):
        pool.release(session)


def test_min_size_is_filled_in_background(make_pool, factory):
    pool = make_pool(min_size=3, max_size=4)
    pool.wait_ready(timeout=2.0)
    stats = pool.stats()
    assert stats["size"] == 3 and stats["idle"] == 3
    assert len(factory.made) == 3


def test_repr_names_pool_and_size(make_pool):
    pool = make_pool(name="bars", max_size=3)
    with pool.session():
        assert repr(pool) == "<SessionPool 'bars' 1/3>"
