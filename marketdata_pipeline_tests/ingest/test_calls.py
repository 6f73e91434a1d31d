"""Retry policy and the bounded runner: pauses, limits, order of results."""

import threading
import time
import weakref

import pytest

from marketdata_pipeline.ingest.calls import RetryPolicy, run_bounded


def test_backoff_doubles_with_full_jitter_up_to_the_cap():
    backoff = RetryPolicy(attempts=5, backoff_s=0.1, max_backoff_s=0.3).backoff()
    for retry, ceiling in [(1, 0.1), (2, 0.2), (3, 0.3), (4, 0.3)]:
        pauses = [backoff.delay(retry) for _ in range(200)]
        assert all(0 <= pause <= ceiling for pause in pauses)
        assert max(pauses) > ceiling / 2  # spread over the window, not stuck at its bottom


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "attempts must be >= 1"),
        ({"backoff_s": -1}, "> 0"),
        ({"backoff_s": 2.0}, "exceeds max delay"),
    ],
)
def test_a_bad_retry_policy_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


def test_run_bounded_never_runs_more_than_max_workers_at_once():
    lock, running, peak = threading.Lock(), [0], [0]

    def work(item):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return item * 2

    results = dict(run_bounded(work, range(20), max_workers=3))
    assert results == {item: item * 2 for item in range(20)}
    assert 1 < peak[0] <= 3


def test_run_bounded_holds_a_bounded_number_of_items_and_results():
    """A million items are taken lazily, and a result is let go once the caller has it."""
    taken, alive, peak = [0], weakref.WeakSet(), [0]

    class Answer:
        pass

    def items():
        for item in range(1_000_000):
            taken[0] += 1
            yield item

    def work(item):
        answer = Answer()
        alive.add(answer)
        return answer

    for count, (_, answer) in enumerate(run_bounded(work, items(), max_workers=3), start=1):
        del answer  # reference counting frees it at once unless run_bounded still holds it
        peak[0] = max(peak[0], len(alive))
        assert taken[0] - count <= 2 * 3
        if count == 200:
            break
    assert peak[0] <= 2 * 3


def test_run_bounded_works_ahead_while_the_caller_holds_a_result():
    """With `ahead`, the workers go on with that many more items while the caller is busy."""
    started = []

    def work(item):
        started.append(item)
        return item

    for ahead, expected in ((None, 2 * 2), (10, 2 + 10)):
        started.clear()
        results = run_bounded(work, range(100), max_workers=2, ahead=ahead)
        next(results)  # the caller holds the first result (storing a chunk, say)
        time.sleep(0.2)
        assert len(started) == expected  # every item taken was worked on meanwhile
        results.close()


def test_leaving_run_bounded_early_cancels_the_work_not_started():
    started = []

    def work(item):
        started.append(item)
        time.sleep(0.01)
        return item

    for _ in run_bounded(work, range(100), max_workers=2):
        break
    assert len(started) < 10
