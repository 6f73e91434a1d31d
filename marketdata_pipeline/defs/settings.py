"""The one place that reads configuration from the environment: every project setting, parsed once.

`load_settings()` parses every variable into one frozen `Settings`, once per
distinct environment (the definitions' load, its resources and each schedule
tick share that parse); a bad value fails it with one message listing every
bad variable and its fix. Resources get plain values from it, so their fields
keep pydantic bounds; only the secrets (BAOSTOCK_PASSWORD, BAOSTOCK_API_KEY)
reach them as `EnvVar`, so the UI shows the variable's name, never its value.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


def _number(
    kind: type, low: float, high: float = math.inf, *, above: bool = False, unit: str = "", why: str = ""
):
    """A parser of finite numbers from `low` (or `above` it) to `high`: inf or nan would overflow a
    socket timeout. Its complaint names the bounds, the unit and `why`."""
    lowest = f"{'greater than' if above else 'at least'} {low:g}"
    bounds = f"{lowest} and at most {high:g}" if high < math.inf else lowest

    def parse(raw: str):
        value = kind(raw)
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number of {unit}, {bounds}")
        if value < low or (above and value == low) or value > high:
            raise ValueError(f"must be {bounds} {unit}".rstrip() + why)
        return value

    return parse


_seconds = functools.partial(_number, float, above=True, unit="seconds")


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("must be between 1 and 65535")
    return value


def _address(raw: str) -> tuple[str, int]:
    host, _, port = raw.strip().rpartition(":")
    if not host:
        raise ValueError(f"{raw.strip()!r} is not host:port")
    return host, _port(port)


def _endpoints(raw: str) -> tuple[tuple[str, int], ...]:
    return tuple(_address(part) for part in raw.split(",") if part.strip())


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


_POOL_SIZE = _number(
    int,
    1,
    SESSION_BUDGET,
    why=", the session budget of all runs together; a bigger pool gets an account "
    "blacklisted by the real server",
)


@dataclass(frozen=True)
class Setting:
    """One environment variable: its default, how it parses, what it means."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool = False
    blank_is_default: bool = True
    """Whether a variable set to blank means the default; False where blank is a mistake
    (an empty BAOSTOCK_HOST would silently send a custom port to the public server)."""

    def read(self, environ: Mapping[str, str]) -> Any:
        """The parsed value in `environ`; None when unset (or blank, where blank means the default)."""
        raw = environ.get(self.name, "").strip()
        if not raw:
            if self.name in environ and not self.blank_is_default:
                raise SettingError(
                    f"environment variable {self.name} is set but blank; give it a value or unset it "
                    f"to use the default {self.default!r} ({self.help})"
                )
            return None
        try:
            return self.parse(raw)
        except ValueError as exc:
            shown = "<hidden>" if self.secret else repr(raw)
            raise SettingError(
                f"environment variable {self.name}={shown} is invalid ({exc}); "
                f"fix it or unset it to use the default ({self.help})"
            ) from None


SETTINGS = {
    s.name: s
    for s in (
        Setting(
            "BAOSTOCK_HOST", "public-api.baostock.com", str, "BaoStock server host", blank_is_default=False
        ),
        Setting("BAOSTOCK_PORT", 10030, _port, "BaoStock server port"),
        Setting(
            "BAOSTOCK_FALLBACK_ENDPOINTS",
            (),
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
        Setting("BAOSTOCK_POOL_SIZE", 4, _POOL_SIZE, "sessions per run (max pool size)"),
        Setting("BAOSTOCK_POOL_TIMEOUT", 60.0, _seconds(0, 3600), "seconds to wait for a free session"),
        # Below a minute, re-logins multiply the requests (0.001 s tripled them).
        Setting(
            "BAOSTOCK_SESSION_TTL",
            1800.0,
            _seconds(60, 86400, above=False),
            "seconds before a session logs in again",
        ),
        Setting("BAOSTOCK_CONNECT_TIMEOUT", 5.0, _seconds(0, 60), "seconds to open a connection"),
        Setting("BAOSTOCK_REQUEST_TIMEOUT", 30.0, _seconds(0, 600), "seconds for one whole answer"),
        Setting(
            "BAOSTOCK_PAGE_TIMEOUT", 10.0, _seconds(0, 600), "seconds for a login or one page of an answer"
        ),
        Setting(
            "BAOSTOCK_MAX_REQUESTS_PER_SECOND",
            10,
            _number(int, 0),
            "requests per second one run may send to one endpoint, all sessions together (0 = no cap)",
        ),
        Setting(
            "BAOSTOCK_MAX_REQUESTS_PER_DAY",
            40_000,
            _number(int, 0),
            "requests per Asia/Shanghai day to one endpoint, all runs together (0 = no budget)",
        ),
        Setting(
            "BAOSTOCK_BLACKLIST_COOLDOWN_H",
            24.0,
            _number(float, 0, 24 * 30, above=True, unit="hours"),
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
            "data/marketdata.duckdb",
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
    "MARKETDATA_SIMULATOR", None, _address, "host:port of the simulator `make dev` started"
)
"""Set only by `make dev` and `make demo`, never in `.env`: dagster dev lets `.env` override the
environment, so a blank line for it there would hide the simulator's address."""


@dataclass(frozen=True)
class Settings:
    """Every project setting, parsed and checked, with the defaults that depend on others resolved.

    A field is named after its variable without the prefix, in lower case (`pool_size` is
    BAOSTOCK_POOL_SIZE, `duckdb_path` MARKETDATA_DUCKDB_PATH).
    """

    host: str
    port: int
    fallback_endpoints: tuple[tuple[str, int], ...]
    user: str
    password: str = field(repr=False)
    api_key: str = field(repr=False)
    pool_size: int
    pool_timeout: float
    session_ttl: float
    connect_timeout: float
    request_timeout: float
    page_timeout: float
    max_requests_per_second: int
    max_requests_per_day: int
    blacklist_cooldown_h: float
    state_dir: str
    duckdb_path: str
    export_dir: str
    source: str
    """baostock or simulator; simulator too when `make dev` started one, whatever a `.env` says."""
    simulator: tuple[str, int] | None
    """The address of the simulator `make dev` or `make demo` started (MARKETDATA_SIMULATOR)."""
    secrets_set: frozenset[str]
    """The secret variables set in the environment: resources read them as `EnvVar`."""

    @classmethod
    def parse(cls, environ: Mapping[str, str]) -> Settings:
        """Every setting in `environ`; one SettingError lists every bad variable."""
        values, problems = {}, []
        for item in (*SETTINGS.values(), SIMULATOR_ADDRESS):
            try:
                values[item.name] = item.read(environ)
            except SettingError as exc:
                problems.append(str(exc))
        if problems:
            raise SettingError("\n".join(problems))
        unset = {name for name, value in values.items() if value is None}
        fields = {
            name.split("_", 1)[1].lower(): SETTINGS[name].default if name in unset else values[name]
            for name in SETTINGS
        }
        simulator = values[SIMULATOR_ADDRESS.name]
        if simulator is not None or fields["source"] == "simulator":
            fields["source"] = "simulator"
            # Against the simulator an unset (or blank, as in `.env.example`) cap means none,
            # and synthetic data never lands in the file real runs use.
            for cap in ("max_requests_per_second", "max_requests_per_day"):
                if f"BAOSTOCK_{cap.upper()}" in unset:
                    fields[cap] = 0
            if "MARKETDATA_DUCKDB_PATH" in unset:
                fields["duckdb_path"] = "data/demo.duckdb"
        if not fields["state_dir"]:  # baostock/ beside the warehouse (data/baostock for a remote one)
            path = fields["duckdb_path"]
            fields["state_dir"] = str((Path(path).parent if ":" not in path else Path("data")) / "baostock")
        secrets = frozenset(name for name, item in SETTINGS.items() if item.secret and name not in unset)
        return cls(**fields, simulator=simulator, secrets_set=secrets)

    @property
    def address(self) -> tuple[str, int]:
        """Where runs send BaoStock requests.

        The simulator's address (MARKETDATA_SIMULATOR, set by `make dev`) wins
        over BAOSTOCK_HOST/PORT and MARKETDATA_SOURCE, which a `.env` copied from
        `.env.example` sets for the real server (and `dagster dev` lets `.env`
        override the environment); MARKETDATA_SOURCE=simulator without it refuses
        rather than guess. Otherwise BAOSTOCK_HOST/PORT.
        """
        if self.source != "simulator":
            return self.host, self.port
        if self.simulator is None:
            raise SettingError(
                "MARKETDATA_SOURCE=simulator but no simulator address: MARKETDATA_SIMULATOR (host:port) is "
                "set by `make dev` when it starts the simulator; start the UI with "
                "`MARKETDATA_SOURCE=simulator make dev`, or set MARKETDATA_SOURCE=baostock and "
                "BAOSTOCK_HOST/BAOSTOCK_PORT to a server you started"
            )
        return self.simulator

    @property
    def endpoints(self) -> list[tuple[str, int]]:
        """The endpoints in the order runs try them; the simulator alone in simulator mode, so a
        fallback in a `.env` never sends synthetic runs to a real server."""
        return [self.address] if self.source == "simulator" else [self.address, *self.fallback_endpoints]

    def secret(self, name: str) -> str | dg.EnvVar:
        """What a resource field gets for the secret `name`: an `EnvVar` when the variable is set
        (the UI then shows its name, never its value), else the default."""
        if name in self.secrets_set:
            return dg.EnvVar(name)
        return SETTINGS[name].default


_NAMES = frozenset((*SETTINGS, SIMULATOR_ADDRESS.name))


def load_settings() -> Settings:
    """The settings of this process's environment; parsed once per distinct environment."""
    return _parsed(tuple(sorted((name, value) for name, value in os.environ.items() if name in _NAMES)))


@functools.lru_cache(maxsize=1)
def _parsed(environment: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.parse(dict(environment))
