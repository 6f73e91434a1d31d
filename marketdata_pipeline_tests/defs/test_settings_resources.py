"""Resources built from one parse of the settings: plain values, secrets as `EnvVar`, DuckDB's own config."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from marketdata_pipeline.defs import settings as settings_module
from marketdata_pipeline.defs.sessions.resources import BaoStockPoolResource
from marketdata_pipeline.defs.settings import SETTINGS, Settings, load_settings
from marketdata_pipeline.defs.warehouse.resources import WarehouseResource
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds

KEY = "bs-abAAAAAAAAAAAAAAAAAAAAAAAAAAAX"  # a valid checksum


@pytest.fixture(scope="module")
def instance():
    """One ephemeral instance for the resources these cases build (each costs a second)."""
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture(autouse=True)
def no_project_settings(monkeypatch):
    """Each case starts from the defaults, whatever this shell exports."""
    for name in (*SETTINGS, "MARKETDATA_SIMULATOR"):
        monkeypatch.delenv(name, raising=False)


def test_loading_the_definitions_parses_the_settings_once(monkeypatch):
    from marketdata_pipeline.definitions import defs

    parses = []
    original = Settings.parse.__func__
    counted = classmethod(lambda cls, environ: parses.append(1) or original(cls, environ))
    monkeypatch.setattr(Settings, "parse", counted)
    settings_module._parsed.cache_clear()
    monkeypatch.setenv("BAOSTOCK_POOL_SIZE", "3")  # an environment not parsed before
    definitions = defs()
    assert definitions.resolve_job_def("daily_bars_job")
    assert len(parses) == 1, f"parsed {len(parses)} times"


def test_resources_get_plain_values_and_the_secrets_as_env_vars(monkeypatch, tmp_path, instance):
    monkeypatch.setenv("MARKETDATA_DUCKDB_PATH", str(tmp_path / "w.duckdb"))  # state beside it
    monkeypatch.setenv("BAOSTOCK_PASSWORD", "s3cret")
    monkeypatch.setenv("BAOSTOCK_API_KEY", KEY)
    monkeypatch.setenv("BAOSTOCK_PORT", "10031")
    monkeypatch.setenv("BAOSTOCK_POOL_SIZE", "2")
    monkeypatch.setenv("BAOSTOCK_CONNECT_TIMEOUT", "2.5")
    monkeypatch.setenv("BAOSTOCK_FALLBACK_ENDPOINTS", "b.example:10032, c.example:10033")
    config = BaoStockPoolResource.from_settings(load_settings()).get_resource_definition().config_schema
    shown = config.default_value
    assert shown["password"] == {"env": "BAOSTOCK_PASSWORD"}
    assert shown["api_key"] == {"env": "BAOSTOCK_API_KEY"}
    assert "s3cret" not in repr(shown) and KEY not in repr(shown), "the UI shows a secret's name only"
    assert (shown["host"], shown["port"], shown["pool_size"]) == ("public-api.baostock.com", 10031, 2)
    assert shown["state_dir"] == str(tmp_path / "baostock")
    assert shown["connect_timeout"] == 2.5, "BAOSTOCK_CONNECT_TIMEOUT reaches the pool"
    assert shown["fallback_endpoints"] == [
        {"host": "b.example", "port": 10032}, {"host": "c.example", "port": 10033}
    ]  # fmt: skip
    resources = {"baostock": BaoStockPoolResource.from_settings(load_settings())}
    with dg.build_resources(resources, instance=instance) as built:
        assert (built.baostock.password, built.baostock.api_key) == ("s3cret", KEY), "resolved in the step"
        assert built.baostock.endpoints()[1:] == [("b.example", 10032), ("c.example", 10033)]


def test_unset_secrets_are_their_defaults_and_the_settings_never_print_them(monkeypatch):
    monkeypatch.setenv("BAOSTOCK_API_KEY", KEY)
    resource = BaoStockPoolResource.from_settings(load_settings())
    assert resource.password == "123456"
    assert KEY not in repr(load_settings())


@pytest.mark.parametrize(
    ("field", "value"), [("port", 70000), ("pool_size", 5), ("max_requests_per_day", -1)]
)
def test_the_pool_resource_bounds_its_fields(field, value):
    with pytest.raises(Exception, match=field):
        BaoStockPoolResource(host="127.0.0.1", **{"port": 10030, field: value})


def test_the_warehouse_passes_duckdb_settings_and_ensures_its_schema_once_per_step(tmp_path, instance):
    path = tmp_path / "w.duckdb"
    fds = open_fds()
    duckdb_settings = {"threads": 1, "memory_limit": "300MB"}
    resource = WarehouseResource(database=str(path), connection_config=duckdb_settings)
    with dg.build_resources({"warehouse": resource}, instance=instance) as built:
        with built.warehouse.get_connection() as con:
            assert con.execute("SELECT current_setting('threads')").fetchone() == (1,)
            assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("286.1 MiB",)
            con.execute("DROP TABLE trade_calendar")  # created by the step's check, at setup
        with built.warehouse.get_connection() as con:
            assert not _has_table(con, "trade_calendar"), "a step's connection ran the schema's DDL again"
    assert wait_for_fds(fds) <= fds


def test_used_outside_a_step_the_first_connection_ensures_the_schema(tmp_path):
    resource = WarehouseResource(database=str(tmp_path / "w.duckdb"))
    with resource.get_connection() as con:
        assert _has_table(con, "trade_calendar")
        con.execute("DROP TABLE trade_calendar")
    with resource.get_connection() as con:
        assert not _has_table(con, "trade_calendar"), "the schema is ensured once, not per connection"


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()[0] == 1
