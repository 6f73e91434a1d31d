"""ExponentialBackoff: full jitter under a doubling ceiling, reproducible under a seed, bad settings named."""

from __future__ import annotations

import itertools
import statistics

import pytest

from marketdata_pipeline.backoff import ExponentialBackoff


def test_ceiling_doubles_up_to_the_cap():
    backoff = ExponentialBackoff(0.1, 0.4)
    assert [backoff.ceiling(n) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert backoff.ceiling(10_000) == 0.4  # no overflow for a very long outage


def test_delays_are_full_jitter_within_the_ceiling():
    backoff = ExponentialBackoff(1.0, 8.0, seed=1)
    draws = [backoff.delay(4) for _ in range(2000)]
    assert all(0.0 <= d <= 8.0 for d in draws)
    # Spread over the whole window, not bunched near the ceiling: the mean of U(0, 8) is 4.
    assert 3.6 < statistics.fmean(draws) < 4.4 and min(draws) < 0.5


def test_same_seed_same_sequence():
    first = list(itertools.islice(ExponentialBackoff(0.5, 30.0, seed=7).delays(), 10))
    again = list(itertools.islice(ExponentialBackoff(0.5, 30.0, seed=7).delays(), 10))
    other = list(itertools.islice(ExponentialBackoff(0.5, 30.0, seed=8).delays(), 10))
    assert first == again != other
    assert all(d <= 0.5 * 2**n for n, d in enumerate(first))


@pytest.mark.parametrize(
    ("initial", "cap", "message"),
    [
        (0, 1.0, "initial delay must be a finite number of seconds > 0, got 0"),
        (1.0, float("inf"), "max delay must be a finite number"),
        (1.0, float("nan"), "max delay must be a finite number"),
        ("1", 2.0, "initial delay must be"),
        (5.0, 1.0, "initial delay 5.0 exceeds max delay 1.0; swap them"),
    ],
)
def test_bad_settings_are_named(initial, cap, message):
    with pytest.raises(ValueError, match=message):
        ExponentialBackoff(initial, cap)


@pytest.mark.parametrize("attempt", [0, -1, 1.5, True])
def test_attempts_count_from_one(attempt):
    with pytest.raises(ValueError, match="attempt must be an integer >= 1"):
        ExponentialBackoff(1.0, 2.0).delay(attempt)
