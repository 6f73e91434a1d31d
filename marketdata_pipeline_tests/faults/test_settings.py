"""Settings that parse but misbehave are refused when the definitions load, naming the variable and the fix.

Each was found by setting it and running the pipeline: a pool of 1,000
sessions, an infinite timeout, a blank host, a TTL of a millisecond, a
malformed key, an unknown source. Run config is checked the same way: an
unknown strategy is a config error at launch, a threshold outside 0..1 fails
the step before it sends one request (counted at the socket).
"""

from __future__ import annotations

import re
from datetime import date

import dagster as dg
import pytest

from marketdata_pipeline.definitions import defs
from marketdata_pipeline.defs.settings import SESSION_BUDGET, SETTINGS, SettingError, load_settings
from marketdata_pipeline_tests.pipeline.runs import (
    materialize_daily_bars,
    resources_for,
    step_failure_message,
)
from marketdata_pipeline_tests.pipeline.stored import stored_bars

DAY = date(2024, 1, 2)
PARTITION = f"b03|{DAY}"


@pytest.fixture(autouse=True)
def no_project_settings(monkeypatch):
    """Each case starts from the defaults, whatever this shell exports."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def load_error() -> SettingError:
    """The SettingError that stopped the definitions from loading (Dagster wraps it)."""
    with pytest.raises(Exception) as raised:
        defs()
    error = raised.value
    while error is not None and not isinstance(error, SettingError):
        error = error.__cause__
    assert error is not None, f"the load failed, but not on a setting: {raised.value}"
    return error


@pytest.mark.parametrize(
    ("name", "raw", "complaint"),
    [
        ("BAOSTOCK_POOL_SIZE", "1000", f"at most {SESSION_BUDGET}, the session budget"),
        ("BAOSTOCK_REQUEST_TIMEOUT", "inf", "finite number of seconds"),
        ("BAOSTOCK_REQUEST_TIMEOUT", "nan", "finite number of seconds"),
        ("BAOSTOCK_POOL_TIMEOUT", "1e9", "at most 3600 seconds"),
        ("BAOSTOCK_HOST", "", "is set but blank"),
        ("BAOSTOCK_HOST", "   ", "is set but blank"),
        ("BAOSTOCK_SESSION_TTL", "0.001", "at least 60"),
        ("BAOSTOCK_CONNECT_TIMEOUT", "600", "at most 60 seconds"),
        ("BAOSTOCK_API_KEY", "bs-not-a-key", "not a BaoStock API key"),
        ("MARKETDATA_SOURCE", "bogus", "'baostock' or 'simulator'"),
    ],
)
def test_a_setting_that_would_misbehave_is_refused_naming_it_and_the_fix(monkeypatch, name, raw, complaint):
    monkeypatch.setenv(name, raw)
    with pytest.raises(SettingError) as raised:
        load_settings()
    message = str(raised.value)
    assert re.search(re.escape(complaint), message), message
    assert name in message
    assert "unset it" in message, "the message says how to fix it"


def test_the_definitions_refuse_to_load_with_a_bad_setting(monkeypatch):
    # Every resource's load parses every setting, so a bad one stops the load whichever it is.
    monkeypatch.setenv("MARKETDATA_SOURCE", "bogus")
    message = str(load_error())
    assert "MARKETDATA_SOURCE='bogus' is invalid" in message, message


def test_a_reading_command_with_a_bad_setting_says_which_and_exits_2(monkeypatch, capsys):
    from marketdata_pipeline.cli import main

    monkeypatch.setenv("BAOSTOCK_POOL_SIZE", "1000")
    assert main(["status"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("marketdata status: environment variable BAOSTOCK_POOL_SIZE='1000'"), error
    assert "Traceback" not in error


def test_every_bad_setting_is_listed_at_once(monkeypatch):
    monkeypatch.setenv("BAOSTOCK_POOL_SIZE", "1000")
    monkeypatch.setenv("MARKETDATA_SOURCE", "bogus")
    with pytest.raises(SettingError) as raised:
        load_settings()
    assert "BAOSTOCK_POOL_SIZE" in str(raised.value) and "MARKETDATA_SOURCE" in str(raised.value)


def test_a_malformed_api_key_is_never_echoed(monkeypatch):
    monkeypatch.setenv("BAOSTOCK_API_KEY", "bs-secret-but-wrong")
    message = str(load_error())
    assert "BAOSTOCK_API_KEY=<hidden>" in message and "secret-but-wrong" not in message


def test_a_well_formed_api_key_and_the_edges_of_each_range_load(monkeypatch):
    monkeypatch.setenv("BAOSTOCK_API_KEY", "bs-abAAAAAAAAAAAAAAAAAAAAAAAAAAAX")  # valid checksum
    monkeypatch.setenv("BAOSTOCK_POOL_SIZE", str(SESSION_BUDGET))
    monkeypatch.setenv("BAOSTOCK_SESSION_TTL", "60")
    monkeypatch.setenv("BAOSTOCK_REQUEST_TIMEOUT", "0.5")
    monkeypatch.setenv("BAOSTOCK_FALLBACK_ENDPOINTS", "")  # blank means none
    assert defs().resolve_job_def("daily_bars_job")


def test_simulator_mode_defaults_to_the_demo_warehouse(monkeypatch):
    assert load_settings().duckdb_path == "data/marketdata.duckdb"
    monkeypatch.setenv("MARKETDATA_SOURCE", "simulator")
    assert load_settings().duckdb_path == "data/demo.duckdb"


def test_an_unknown_strategy_is_a_run_config_error_before_any_request(counting_proxy, tmp_path):
    with pytest.raises(dg.DagsterInvalidConfigError, match="bogus"):
        resources = resources_for(counting_proxy.address, tmp_path / "w.duckdb")
        materialize_daily_bars(resources, PARTITION, config={"strategy": "bogus"})
    assert counting_proxy.requests == 0


@pytest.mark.parametrize(("field", "rate"), [("error_failure_rate", 2), ("warn_failure_rate", -1)])
def test_a_failure_rate_outside_0_to_1_fails_before_any_request(counting_proxy, tmp_path, field, rate):
    result = materialize_daily_bars(
        resources_for(counting_proxy.address, tmp_path / "w.duckdb"), PARTITION, config={field: rate}
    )
    assert not result.success
    message = step_failure_message(result)
    assert field in message and "1" in message, message
    assert counting_proxy.requests == 0, counting_proxy.requests_by_type()
    assert stored_bars(tmp_path / "w.duckdb", "b03", DAY, DAY) == [], "no bar was written"
