"""Bad settings fail at construction with a message naming the setting and the fix."""

from __future__ import annotations

import pytest

from marketdata_pipeline.pool import SessionPool
from marketdata_pipeline.pool.config import PoolConfig


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_size": 0}, "max_size must be an integer >= 1, got 0"),
        ({"min_size": -1}, "min_size must be an integer >= 0"),
        ({"min_size": 5, "max_size": 2}, r"min_size \(5\) must not exceed max_size \(2\); raise max_size"),
        ({"max_waiting": -2}, "max_waiting must be an integer >= 0"),
        ({"acquire_timeout": -1}, "acquire_timeout must be >= 0"),
        ({"acquire_timeout": "30"}, "acquire_timeout must be a number of seconds, got '30'"),
        ({"max_lifetime": 0}, r"max_lifetime must be > 0 \(or None to disable it\)"),
        ({"max_idle": -5}, "max_idle must be > 0"),
        ({"leak_threshold": float("nan")}, "leak_threshold must be a number of seconds"),
        ({"lifetime_jitter": 1.0}, r"lifetime_jitter must be in \[0, 1\)"),
        ({"reconnect_backoff": (1.0,)}, r"reconnect_backoff must be \(initial_s, max_s\)"),
        ({"reconnect_backoff": (5.0, 1.0)}, "initial delay 5.0 exceeds max delay 1.0; swap them"),
        ({"name": ""}, "name must be a non-empty string"),
        ({"max_size": True}, "max_size must be an integer"),
    ],
)
def test_bad_setting_is_named(options, message):
    with pytest.raises(ValueError, match=message):
        PoolConfig(**options)


def test_factory_must_be_callable():
    with pytest.raises(ValueError, match="factory must be a callable"):
        SessionPool("not a factory")


def test_defaults_are_valid():
    config = PoolConfig()
    assert (config.min_size, config.max_size, config.acquire_timeout, config.max_waiting) == (0, 4, 30.0, 0)
