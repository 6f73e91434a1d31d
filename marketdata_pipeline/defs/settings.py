"""The one place that reads configuration from the environment.

Each setting has a name, a default and a parser; a bad value fails at load with
a message naming the variable and the fix. Values that must stay secret are
handed to Dagster as `EnvVar`, so the UI shows the variable's name, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg


class SettingError(ValueError):
    """An environment variable holds a value the project cannot use."""


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be greater than 0")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("must be between 1 and 65535")
    return value


def _endpoints(raw: str) -> list[str]:
    endpoints = [part.strip() for part in raw.split(",") if part.strip()]
    for endpoint in endpoints:
        host, _, port = endpoint.rpartition(":")
        if not host:
            raise ValueError(f"{endpoint!r} is not host:port")
        _port(port)
    return endpoints


def _source(raw: str) -> str:
    if raw not in ("baostock", "simulator"):
        raise ValueError("must be 'baostock' or 'simulator'")
    return raw


@dataclass(frozen=True)
class Setting:
    """One environment variable: its default, how it parses, what it means."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool = False

    def value(self) -> Any:
        """The parsed value, or the default when the variable is unset or empty."""
        raw = os.environ.get(self.name, "").strip()
        if not raw:
            return self.default
        try:
            return self.parse(raw)
        except ValueError as exc:
            shown = "<hidden>" if self.secret else repr(raw)
            raise SettingError(
                f"environment variable {self.name}={shown} is invalid ({exc}); "
                f"fix it or unset it to use the default ({self.help})"
            ) from None

    def for_resource(self) -> Any:
        """What to give a resource field: an `EnvVar` when the variable is set (the UI then
        shows its name, never a secret's value), else the default."""
        value = self.value()
        if not os.environ.get(self.name, "").strip():
            return value
        if isinstance(value, int):
            return dg.EnvVar.int(self.name)
        if isinstance(value, str):
            return dg.EnvVar(self.name)
        return value


SETTINGS = {
    s.name: s
    for s in (
        Setting("BAOSTOCK_HOST", "public-api.baostock.com", str, "BaoStock server host"),
        Setting("BAOSTOCK_PORT", 10030, _port, "BaoStock server port"),
        Setting(
            "BAOSTOCK_FALLBACK_ENDPOINTS",
            [],
            _endpoints,
            "comma-separated host:port list tried in order when the main server is down",
        ),
        Setting("BAOSTOCK_USER", "anonymous", str, "BaoStock user id"),
        Setting("BAOSTOCK_PASSWORD", "123456", str, "BaoStock password", secret=True),
        Setting(
            "BAOSTOCK_API_KEY",
            "",
            str,
            "BaoStock API key; one starting with bs- uses the vip host",
            secret=True,
        ),
        Setting("BAOSTOCK_POOL_SIZE", 4, _positive_int, "sessions per run (max pool size)"),
        Setting("BAOSTOCK_POOL_TIMEOUT", 60.0, _positive_float, "seconds to wait for a free session"),
        Setting("BAOSTOCK_SESSION_TTL", 1800.0, _positive_float, "seconds before a session logs in again"),
        Setting("BAOSTOCK_REQUEST_TIMEOUT", 30.0, _positive_float, "seconds for one whole answer"),
        Setting("MARKETDATA_DUCKDB_PATH", "data/marketdata.duckdb", str, "path of the DuckDB warehouse"),
        Setting("MARKETDATA_SOURCE", "baostock", _source, "'simulator' makes `make dev` start the simulator"),
    )
}


def setting(name: str) -> Any:
    """The parsed value of the setting `name`."""
    return SETTINGS[name].value()
