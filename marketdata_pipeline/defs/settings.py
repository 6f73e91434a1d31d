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
from pathlib import Path
from typing import Any

import dagster as dg

from marketdata_pipeline.baostock.errors import BadParameterError
from marketdata_pipeline.baostock.validation import check_api_key

# The BaoStock sessions all runs together may hold (dagster.yaml: 1 "baostock" slot x 4 per
# run): users who ran 8 parallel clients against the real server were blacklisted for a day.
SESSION_BUDGET = 4


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


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _address(raw: str) -> str:
    host, _, port = raw.rpartition(":")
    if not host:
        raise ValueError(f"{raw!r} is not host:port")
    _port(port)
    return raw


def _source(raw: str) -> str:
    if raw not in ("baostock", "simulator"):
        raise ValueError("must be 'baostock' or 'simulator'")
    return raw


def _default_warehouse() -> str:
    # Synthetic data never lands in the file real runs use (simulator mode: see simulator_mode()).
    return "data/demo.duckdb" if simulator_mode() else "data/marketdata.duckdb"


def _hours(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or not 0 < value <= 24 * 30:
        raise ValueError("must be a number of hours greater than 0 and at most 720")
    return value


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
            "BAOSTOCK_PAGE_TIMEOUT", 10.0, _seconds(0, 600), "seconds for a login or one page of an answer"
        ),
        Setting(
            "BAOSTOCK_MAX_REQUESTS_PER_SECOND",
            10,
            _non_negative_int,
            "requests per second one run may send to one endpoint, all sessions together (0 = no cap)",
        ),
        Setting(
            "BAOSTOCK_MAX_REQUESTS_PER_DAY",
            40_000,
            _non_negative_int,
            "requests per Asia/Shanghai day to one endpoint, all runs together (0 = no budget)",
        ),
        Setting(
            "BAOSTOCK_BLACKLIST_COOLDOWN_H",
            24.0,
            _hours,
            "hours schedules and sensors pause after a blacklisted (10001011) answer",
        ),
        Setting(
            "BAOSTOCK_STATE_DIR",
            "",
            str,
            "folder of the per-endpoint request counts and cool-downs (default: baostock/ by the warehouse)",
        ),
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

SIMULATOR_ADDRESS = Setting(
    "MARKETDATA_SIMULATOR", "", _address, "host:port of the simulator `make dev` started"
)
"""Set only by `make dev` and `make demo`, never in `.env`: dagster dev lets `.env` override the
environment, so a blank line for it there would hide the simulator's address."""


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


def simulator_mode() -> bool:
    """Runs go to the bundled simulator, never to the real server: `make dev` started one
    (MARKETDATA_SIMULATOR is set, whatever a `.env` says) or MARKETDATA_SOURCE=simulator."""
    return bool(SIMULATOR_ADDRESS.value()) or setting("MARKETDATA_SOURCE") == "simulator"


def baostock_address() -> tuple[str, int]:
    """Where runs send BaoStock requests.

    The simulator's address (MARKETDATA_SIMULATOR, set by `make dev`) wins
    over BAOSTOCK_HOST/PORT and MARKETDATA_SOURCE, which a `.env` copied from
    `.env.example` sets for the real server (and `dagster dev` lets `.env`
    override the environment); MARKETDATA_SOURCE=simulator without it refuses
    rather than guess. Otherwise BAOSTOCK_HOST/PORT.
    """
    if not simulator_mode():
        return setting("BAOSTOCK_HOST"), setting("BAOSTOCK_PORT")
    address = SIMULATOR_ADDRESS.value()
    if not address:
        raise SettingError(
            "MARKETDATA_SOURCE=simulator but no simulator address: MARKETDATA_SIMULATOR (host:port) is "
            "set by `make dev` when it starts the simulator; start the UI with "
            "`MARKETDATA_SOURCE=simulator make dev`, or set MARKETDATA_SOURCE=baostock and "
            "BAOSTOCK_HOST/BAOSTOCK_PORT to a server you started"
        )
    host, _, port = address.rpartition(":")
    return host, int(port)


def baostock_state_dir() -> str:
    """BAOSTOCK_STATE_DIR, or `baostock/` in the warehouse's folder (`data/baostock` for a remote one)."""
    configured = setting("BAOSTOCK_STATE_DIR")
    if configured:
        return configured
    warehouse = setting("MARKETDATA_DUCKDB_PATH")
    folder = Path(warehouse).parent if ":" not in warehouse else Path("data")
    return str(folder / "baostock")
