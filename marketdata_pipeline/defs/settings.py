"""The one place that reads configuration from the environment.

Each setting has a name, a default and a parser; a bad value fails at load with
a message naming the variable and the fix. Values that must stay secret are
handed to Dagster as `EnvVar`, so the UI shows the variable's name, never its value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from marketdata_pipeline.baostock.errors import BadParameterError
from marketdata_pipeline.baostock.validation import check_api_key

# The BaoStock sessions all runs together may hold (dagster.yaml: 2 "baostock" slots x 4 per
# run): users who ran 8 parallel clients against the real server were blacklisted for a day.
SESSION_BUDGET = 8


class SettingError(ValueError):
    """An environment variable holds a value the project cannot use."""


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _pool_size(raw: str) -> int:
    value = _positive_int(raw)
    if value > SESSION_BUDGET:
        raise ValueError(
            f"must be at most {SESSION_BUDGET}, the session budget of all runs together; "
            "a bigger pool gets an account blacklisted by the real server"
        )
    return value


def _seconds(low: float, high: float, *, low_included: bool = False) -> Callable[[str], float]:
    """A parser of finite seconds in `low`..`high` (inf or nan would overflow a socket timeout)."""

    def parse(raw: str) -> float:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number of seconds, between {low:g} and {high:g}")
        too_low = value < low if low_included else value <= low
        if too_low or value > high:
            bound = f"at least {low:g}" if low_included else f"greater than {low:g}"
            raise ValueError(f"must be {bound} and at most {high:g} seconds")
        return value

    return parse


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


def _api_key(raw: str) -> str:
    try:
        return check_api_key(raw)
    except BadParameterError:
        # The key is not echoed: it is a secret even when malformed.
        raise ValueError(
            "not a BaoStock API key: 33 characters, starting with 'bs-', with a valid checksum"
        ) from None


def _source(raw: str) -> str:
    if raw not in ("baostock", "simulator"):
        raise ValueError("must be 'baostock' or 'simulator'")
    return raw


def _default_warehouse() -> str:
    # Synthetic data never lands in the file real runs use.
    return "data/demo.duckdb" if setting("MARKETDATA_SOURCE") == "simulator" else "data/marketdata.duckdb"


@dataclass(frozen=True)
class Setting:
    """One environment variable: its default, how it parses, what it means."""

    name: str
    default: Any
    """The value when unset; a callable is called for it (see `fallback`)."""
    parse: Callable[[str], Any]
    help: str
    secret: bool = False
    blank_is_default: bool = True
    """Whether a variable set to blank means the default; False where blank is a mistake
    (an empty BAOSTOCK_HOST would silently send a custom port to the public server)."""

    def value(self) -> Any:
        """The parsed value, or the default when the variable is unset (or blank, if that means it)."""
        raw = os.environ.get(self.name, "").strip()
        if not raw:
            if self.name in os.environ and not self.blank_is_default:
                raise SettingError(
                    f"environment variable {self.name} is set but blank; give it a value or unset it "
                    f"to use the default {self.fallback()!r} ({self.help})"
                )
            return self.fallback()
        try:
            return self.parse(raw)
        except ValueError as exc:
            shown = "<hidden>" if self.secret else repr(raw)
            raise SettingError(
                f"environment variable {self.name}={shown} is invalid ({exc}); "
                f"fix it or unset it to use the default ({self.help})"
            ) from None

    def fallback(self) -> Any:
        """The default; a callable default is read now (it depends on another setting)."""
        return self.default() if callable(self.default) else self.default

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
        Setting(
            "BAOSTOCK_HOST", "public-api.baostock.com", str, "BaoStock server host", blank_is_default=False
        ),
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
            _api_key,
            "BaoStock API key; one starting with bs- uses the vip host",
            secret=True,
        ),
        Setting("BAOSTOCK_POOL_SIZE", 4, _pool_size, "sessions per run (max pool size)"),
        Setting("BAOSTOCK_POOL_TIMEOUT", 60.0, _seconds(0, 3600), "seconds to wait for a free session"),
        # Below a minute, re-logins multiply the requests (0.001 s tripled them).
        Setting(
            "BAOSTOCK_SESSION_TTL",
            1800.0,
            _seconds(60, 86400, low_included=True),
            "seconds before a session logs in again",
        ),
        Setting("BAOSTOCK_REQUEST_TIMEOUT", 30.0, _seconds(0, 600), "seconds for one whole answer"),
        Setting(
            "MARKETDATA_DUCKDB_PATH",
            _default_warehouse,
            str,
            "the DuckDB warehouse; default data/marketdata.duckdb, data/demo.duckdb for the simulator",
        ),
        Setting(
            "MARKETDATA_EXPORT_DIR", "data/exports", str, "folder of the parquet_export, qlib_export assets"
        ),
        Setting("MARKETDATA_SOURCE", "baostock", _source, "'simulator' makes `make dev` start the simulator"),
    )
}


def setting(name: str) -> Any:
    """The parsed value of the setting `name`."""
    return SETTINGS[name].value()


def check_settings() -> None:
    """Parse every setting now, so a bad one fails the definitions' load, not a run hours later;
    one SettingError lists every bad variable."""
    problems = []
    for item in SETTINGS.values():
        try:
            item.value()
        except SettingError as exc:
            problems.append(str(exc))
    if problems:
        raise SettingError("\n".join(problems))


@dg.definitions
def checked_settings() -> dg.Definitions:
    """Nothing to define: loading this module's definitions refuses bad settings (see check_settings)."""
    check_settings()
    return dg.Definitions()
