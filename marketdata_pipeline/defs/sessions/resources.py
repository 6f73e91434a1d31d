"""The BaoStock session pool as a Dagster resource: opened per step, drained after it."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field, PrivateAttr

from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.defs.settings import SETTINGS, baostock_address, baostock_state_dir, simulator_mode


class BaoStockPoolResource(dg.ConfigurableResource):
    """A pool of logged-in BaoStock sessions.

    Built in `setup_for_execution` and drained in `teardown_after_execution`
    (Dagster runs teardown on failure too), so a step never leaves a socket
    open. Pool events (created, discarded, evicted, leaked, failover, backoff)
    go to the run log; the password and API key never do.
    """

    host: str = Field(description="BaoStock server host (BAOSTOCK_HOST)")
    port: int = Field(description="BaoStock server port (BAOSTOCK_PORT)")
    fallback_endpoints: list[str] = Field(
        default=[], description="host:port endpoints tried in order when the first is down"
    )
    user: str = Field(default="anonymous", description="BaoStock user id")
    password: str = Field(default="123456", description="BaoStock password (from BAOSTOCK_PASSWORD)")
    api_key: str = Field(default="", description="BaoStock API key; bs-... keys use the vip host")
    # No ge=/le= on int fields: an `EnvVar.int` placeholder would fail them at load. The env
    # value is checked by settings.py at load, and BaoStockPool checks every size at setup.
    pool_size: int = Field(default=4, description="most sessions this step holds (>= 1)")
    pool_timeout: float = Field(default=60.0, gt=0, description="seconds to wait for a free session")
    session_ttl: float = Field(default=1800.0, gt=0, description="seconds before a session logs in again")
    request_timeout: float = Field(default=30.0, gt=0, description="seconds for one whole answer")
    connect_timeout: float = Field(default=5.0, gt=0, description="seconds to open a connection")
    page_timeout: float = Field(default=10.0, gt=0, description="seconds for a login or one answer page")
    max_requests_per_second: int = Field(
        default=10, description="requests per second to one endpoint, all sessions together (0 = no cap)"
    )
    max_requests_per_day: int = Field(
        default=0, description="requests per Asia/Shanghai day to one endpoint, all runs (0 = no budget)"
    )
    state_dir: str = Field(default="", description="folder of the day's request counts and cool-downs")
    blacklist_cooldown_h: float = Field(default=24.0, gt=0, description="hours paused after 10001011")

    _pool: BaoStockPool | None = PrivateAttr(default=None)

    def endpoints(self) -> list[tuple[str, int]]:
        """The endpoints in the order they are tried."""
        extra = [endpoint.rpartition(":") for endpoint in self.fallback_endpoints]
        return [(self.host, self.port), *((host, int(port)) for host, _, port in extra)]

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        log = context.log

        def forward(event) -> None:
            # Checkouts and returns are counted in stats(); a line each would drown the run log.
            if log is not None and event.kind not in ("acquired", "released"):
                log.info(f"baostock pool: {event.describe()}")

        self._pool = BaoStockPool(
            endpoints=self.endpoints(),
            user=self.user,
            password=self.password,
            api_key=self.api_key or None,
            max_size=self.pool_size,
            acquire_timeout=self.pool_timeout,
            session_ttl=self.session_ttl,
            request_timeout=self.request_timeout,
            connect_timeout=self.connect_timeout,
            page_timeout=self.page_timeout,
            max_requests_per_second=self.max_requests_per_second,
            max_requests_per_day=self.max_requests_per_day,
            state_dir=self.state_dir or None,
            blacklist_cooldown_s=self.blacklist_cooldown_h * 3600,
            # A session serves one request (all its pages) at a time: held much longer, it leaked.
            leak_threshold=max(60.0, 4 * self.request_timeout),
            on_event=forward,
        )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._pool is not None:
            self._pool.close(timeout=self.request_timeout)
            self._pool = None

    @property
    def pool(self) -> BaoStockPool:
        """The open pool; only inside a step that requires this resource."""
        if self._pool is None:
            raise RuntimeError("the BaoStock pool is open only while a step that uses it runs")
        return self._pool


def baostock_pool_from_env() -> BaoStockPoolResource:
    """The resource configured from BAOSTOCK_* variables (validated now, at load).

    In simulator mode the address is the simulator's (`baostock_address()`),
    as plain values, so that a `.env` naming the real server cannot win.
    """
    if simulator_mode():
        host, port = baostock_address()
    else:
        host, port = SETTINGS["BAOSTOCK_HOST"].for_resource(), SETTINGS["BAOSTOCK_PORT"].for_resource()
    names = {
        "fallback_endpoints": "BAOSTOCK_FALLBACK_ENDPOINTS",
        "user": "BAOSTOCK_USER",
        "password": "BAOSTOCK_PASSWORD",
        "api_key": "BAOSTOCK_API_KEY",
        "pool_size": "BAOSTOCK_POOL_SIZE",
        "pool_timeout": "BAOSTOCK_POOL_TIMEOUT",
        "session_ttl": "BAOSTOCK_SESSION_TTL",
        "request_timeout": "BAOSTOCK_REQUEST_TIMEOUT",
        "page_timeout": "BAOSTOCK_PAGE_TIMEOUT",
        "blacklist_cooldown_h": "BAOSTOCK_BLACKLIST_COOLDOWN_H",
    }
    return BaoStockPoolResource(
        host=host,
        port=port,
        state_dir=baostock_state_dir(),
        max_requests_per_second=_request_cap("BAOSTOCK_MAX_REQUESTS_PER_SECOND"),
        max_requests_per_day=_request_cap("BAOSTOCK_MAX_REQUESTS_PER_DAY"),
        **{field: SETTINGS[name].for_resource() for field, name in names.items()},
    )


def _request_cap(name: str):
    """The setting; in simulator mode an unset (or blank, as in `.env.example`) cap means none."""
    if simulator_mode() and not os.environ.get(name, "").strip():
        return 0
    return SETTINGS[name].for_resource()


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"baostock": baostock_pool_from_env()})
