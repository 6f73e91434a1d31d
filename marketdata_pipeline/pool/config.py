"""Pool settings, validated in one place with messages that name the setting and the fix."""

from __future__ import annotations

import math
from dataclasses import dataclass

from marketdata_pipeline.backoff import ExponentialBackoff
from marketdata_pipeline.pool.errors import SettingError


def _check_positive(name: str, value: float | None, *, allow_none: bool, allow_zero: bool = False) -> None:
    if value is None:
        if allow_none:
            return
        raise SettingError(name, "must be a number of seconds, got None")
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise SettingError(name, f"must be a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        hint = " (or None to disable it)" if allow_none else ""
        raise SettingError(name, f"must be {bound}{hint}, got {value!r}")


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SettingError(name, f"must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """Limits and timings of one pool; see `SessionPool` for what each means."""

    min_size: int = 0
    max_size: int = 4
    acquire_timeout: float = 30.0
    max_waiting: int = 0
    max_lifetime: float | None = None
    lifetime_jitter: float = 0.1
    max_idle: float | None = None
    check_idle_after: float | None = None
    reconnect_backoff: tuple[float, float] = (0.1, 10.0)
    reconnect_timeout: float = 300.0
    leak_threshold: float | None = None
    capacity_retry: float = 60.0
    name: str = "pool"

    def __post_init__(self) -> None:
        _check_count("min_size", self.min_size, 0)
        _check_count("max_size", self.max_size, 1)
        if self.min_size > self.max_size:
            problem = f"({self.min_size}) must not exceed max_size ({self.max_size}); raise max_size"
            raise SettingError("min_size", problem)
        _check_count("max_waiting", self.max_waiting, 0)
        _check_positive("acquire_timeout", self.acquire_timeout, allow_none=False, allow_zero=True)
        _check_positive("max_lifetime", self.max_lifetime, allow_none=True)
        _check_positive("max_idle", self.max_idle, allow_none=True)
        _check_positive("check_idle_after", self.check_idle_after, allow_none=True, allow_zero=True)
        _check_positive("reconnect_timeout", self.reconnect_timeout, allow_none=False, allow_zero=True)
        _check_positive("leak_threshold", self.leak_threshold, allow_none=True)
        _check_positive("capacity_retry", self.capacity_retry, allow_none=False)
        if not 0 <= self.lifetime_jitter < 1:
            problem = f"must be in [0, 1) (a fraction of max_lifetime), got {self.lifetime_jitter!r}"
            raise SettingError("lifetime_jitter", problem)
        if not isinstance(self.reconnect_backoff, tuple | list) or len(self.reconnect_backoff) != 2:
            raise SettingError(
                "reconnect_backoff", f"must be (initial_s, max_s), got {self.reconnect_backoff!r}"
            )
        try:
            ExponentialBackoff(*self.reconnect_backoff)  # the backoff's own checks: one place decides
        except ValueError as exc:
            raise SettingError("reconnect_backoff", f"is (initial_s, max_s): {exc}") from None
        if not isinstance(self.name, str) or not self.name:
            raise SettingError("name", f"must be a non-empty string, got {self.name!r}")
