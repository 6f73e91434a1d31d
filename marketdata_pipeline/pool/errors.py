"""The pool's exceptions (what a borrower is told instead of a session) and how errors read in messages."""

from __future__ import annotations


class PoolError(Exception):
    """Base of every error the pool raises."""


class PoolTimeout(PoolError):
    """No session could be handed out within the acquire timeout.

    The message names the culprit: who holds the sessions (and for how long),
    and the last error the factory raised when the pool tried to grow.
    """


class TooManyWaiting(PoolError):
    """The queue of waiting borrowers is full (`max_waiting`); fail fast instead of queueing."""


class PoolClosed(PoolError):
    """The pool is closed (or closing): no session will be handed out."""


class SettingError(ValueError):
    """A pool setting is invalid: `setting` names it, `problem` says what is wrong and the fix.

    Typed, so a subclass whose callers know the setting by another name (BaoStockPool's
    `session_ttl` is the pool's `max_lifetime`) re-raises it under that name, from `problem`.
    """

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting} {problem}")
        self.setting = setting
        self.problem = problem


def describe_error(exc: BaseException | None) -> str:
    """An exception as one line for messages and events: "Type: message" ("none" for None)."""
    return f"{type(exc).__name__}: {exc}" if exc is not None else "none"
