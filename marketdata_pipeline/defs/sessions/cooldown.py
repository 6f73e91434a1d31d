"""Whether automation must leave BaoStock alone: a stop answer (blacklisted) recorded within its cool-down.

The record is the pool's (`baostock/budget.py`): one JSON file per endpoint in
the state folder (BAOSTOCK_STATE_DIR, default `baostock/` beside the
warehouse), so it survives restarts of `dagster dev` and the daemon, and every
run, schedule and sensor on the machine sees the same one.
"""

from __future__ import annotations

from marketdata_pipeline.baostock.budget import EndpointLedger
from marketdata_pipeline.defs.settings import load_settings


def paused_reason() -> str | None:
    """Why schedules and sensors must skip now (a blacklist within its cool-down), or None."""
    settings = load_settings()
    for host, port in settings.endpoints:
        endpoint = f"{host}:{port}"
        ledger = EndpointLedger(settings.state_dir, endpoint)
        stop = ledger.active_stop()
        if stop is not None:
            return stop.reason(endpoint, ledger.path)
    return None
