"""Fault injection settings (settable at run time from any thread) and the seeded dice that apply them."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, fields

_RATES = ("drop_rate", "hang_rate", "corrupt_rate", "error_rate")
_DURATIONS = ("latency_ms", "jitter_ms")
_ERROR_CODE_RE = re.compile(r"^\d{8}$")


@dataclass
class Faults:
    """What goes wrong, per request. Every assignment is validated; a bad value raises ValueError."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    drop_rate: float = 0.0
    hang_rate: float = 0.0
    corrupt_rate: float = 0.0
    error_rate: float = 0.0
    error_code: str = "10005001"
    max_logins: int | None = None
    idle_close_s: float | None = None
    password: str | None = None
    """The only password logins may use (10001002 otherwise); None accepts any, like the anonymous account."""

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, _checked(name, value))

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _checked(name: str, value: object) -> object:
    if name in _RATES:
        if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
        return float(value)
    if name in _DURATIONS:
        if not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a number of milliseconds >= 0, got {value!r}")
        return float(value)
    if name == "error_code":
        if not isinstance(value, str) or not _ERROR_CODE_RE.match(value):
            raise ValueError(f"error_code must be an 8-digit BaoStock code like '10005001', got {value!r}")
        return value
    if name == "max_logins":
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"max_logins must be None or an integer >= 0, got {value!r}")
        return value
    if name == "idle_close_s":
        if value is not None and (not isinstance(value, int | float) or value <= 0):
            raise ValueError(f"idle_close_s must be None or a number of seconds > 0, got {value!r}")
        return None if value is None else float(value)
    if name == "password":
        if value is not None and not isinstance(value, str):
            raise ValueError(f"password must be None or a string, got {type(value).__name__}")
        return value
    raise AttributeError(f"Faults has no setting {name!r}")


class FaultDice:
    """One seeded RNG for the whole server, so a fault sequence is reproducible per seed."""

    def __init__(self, seed: int):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self, faults: Faults) -> str | None:
        """The fault of this request: 'hang', 'drop', 'error', 'corrupt' or None."""
        with self._lock:
            draws = [self._rng.random() for _ in range(4)]
        for draw, kind in zip(draws, ("hang", "drop", "error", "corrupt"), strict=True):
            if draw < getattr(faults, f"{kind}_rate"):
                return kind
        return None

    def delay_s(self, faults: Faults) -> float:
        """This request's injected latency in seconds."""
        if not faults.latency_ms and not faults.jitter_ms:
            return 0.0
        with self._lock:
            jitter = self._rng.uniform(0.0, faults.jitter_ms)
        return (faults.latency_ms + jitter) / 1000.0
