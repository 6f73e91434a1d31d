"""Env settings fail at load naming the variable; partitions are XSHG trading days x 16 batches."""

import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pytest

from marketdata_pipeline.batching import batch_of
from marketdata_pipeline.defs.market.partitions import (
    TradingDayPartitions,
    batches_and_days,
    daily_bars_partitions,
    date_partitions,
)
from marketdata_pipeline.defs.settings import SETTINGS, SettingError, load_settings
from marketdata_pipeline.market_calendar import (
    SHANGHAI,
    is_trading_day,
    latest_published_day,
    latest_published_days,
    xshg_trading_days,
)

ENV_EXAMPLE = Path(__file__).parents[2] / ".env.example"


@pytest.mark.parametrize(
    ("name", "raw", "complaint"),
    [
        ("BAOSTOCK_PORT", "http", "BAOSTOCK_PORT='http' is invalid"),
        ("BAOSTOCK_PORT", "70000", "between 1 and 65535"),
        ("BAOSTOCK_POOL_SIZE", "0", "at least 1"),
        ("BAOSTOCK_POOL_TIMEOUT", "-3", "greater than 0"),
        ("BAOSTOCK_FALLBACK_ENDPOINTS", "hostonly", "is not host:port"),
        ("BAOSTOCK_FALLBACK_ENDPOINTS", "a.example:10030,b.example:0", "between 1 and 65535"),
        ("MARKETDATA_SIMULATOR", "127.0.0.1:http", "MARKETDATA_SIMULATOR='127.0.0.1:http' is invalid"),
        ("MARKETDATA_SOURCE", "bloomberg", "'baostock' or 'simulator'"),
    ],
)
def test_a_bad_value_fails_at_load_naming_the_variable(monkeypatch, name, raw, complaint):
    monkeypatch.setenv(name, raw)
    with pytest.raises(SettingError, match=re.escape(complaint)) as raised:
        load_settings()
    assert name in str(raised.value)


def test_a_bad_secret_is_never_echoed():
    refusing = replace(SETTINGS["BAOSTOCK_PASSWORD"], parse=_refuse)
    with pytest.raises(SettingError) as raised:
        refusing.read({"BAOSTOCK_PASSWORD": "hunter2"})
    assert "hunter2" not in str(raised.value) and "<hidden>" in str(raised.value)


def _refuse(raw: str) -> str:
    raise ValueError("refused")


def test_env_example_documents_every_setting():
    documented = set(re.findall(r"^([A-Z_]+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    assert documented == set(SETTINGS)


def test_partition_keys_read_batch_then_date():
    keys = daily_bars_partitions.get_partition_keys()
    assert keys[0] == "b00|2015-01-05"  # 2015-01-01/02 were New Year holidays
    assert "b03|2024-01-02" in keys
    assert len({key.split("|")[0] for key in keys}) == 16


@pytest.mark.parametrize(
    ("day", "trading"),
    [
        (date(2024, 1, 2), True),
        (date(2024, 1, 6), False),  # Saturday
        (date(2024, 10, 1), False),  # National Day
        (date(2024, 10, 8), True),
        (date(2024, 2, 9), False),  # Spring Festival eve
    ],
)
def test_date_partitions_are_xshg_trading_days(day, trading):
    assert is_trading_day(day) is trading
    assert (day.isoformat() in date_partitions.get_partition_keys()) is trading


def test_date_partitions_are_every_xshg_session_since_2015():
    last = date.fromisoformat(date_partitions.get_last_partition_key())
    days = [date.fromisoformat(key) for key in date_partitions.get_partition_keys()]
    assert days == xshg_trading_days(date(2015, 1, 1), last)


def test_date_partitions_hash_once_as_dagster_would(monkeypatch):
    expected = dg.TimeWindowPartitionsDefinition.__hash__(date_partitions)
    reprs = []
    monkeypatch.setattr(TradingDayPartitions, "__repr__", lambda self: reprs.append(1) or "")
    assert [hash(date_partitions) for _ in range(3)] == [expected] * 3
    assert reprs == []  # the 16k-character repr is not built again per hash


def test_keys_group_by_batch_with_their_days():
    grouped = batches_and_days(["b03|2024-01-03", "b03|2024-01-02", "b07|2024-01-02"])
    assert grouped == {"b03": [date(2024, 1, 2), date(2024, 1, 3)], "b07": [date(2024, 1, 2)]}


def test_a_code_keeps_its_batch():
    assert batch_of("sh.600000") == batch_of("sh.600000")
    assert re.fullmatch(r"b(0\d|1[0-5])", batch_of("sz.000001"))


@pytest.mark.parametrize(
    ("now", "latest"),
    [
        ("2024-10-08 17:29", date(2024, 9, 30)),  # Tuesday after National Day, before publication
        ("2024-10-08 17:31", date(2024, 10, 8)),
        ("2024-10-12 12:00", date(2024, 10, 11)),  # Saturday
    ],
)
def test_latest_published_day_follows_the_1730_publication(now, latest):
    assert latest_published_day(_shanghai(now)) == latest


def test_latest_published_days_skip_holidays():
    days = latest_published_days(3, _shanghai("2024-10-08 18:00"))
    assert days == [date(2024, 9, 27), date(2024, 9, 30), date(2024, 10, 8)]


def _shanghai(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)


def test_definitions_hold_the_market_assets_and_checks():
    from marketdata_pipeline.definitions import defs

    graph = defs().resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "trade_calendar", "stock_universe", "daily_bars", "adjust_factors", "parquet_export", "qlib_export"
    }
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "pool_health", "failure_rate", "ohlc_consistent", "preclose_chain", "suspension_rules",
        "price_limits", "volume_units", "universe_matches_bars", "bar_revisions",
        "factors_cover_ex_dates", "factors_fresh",
    } <= checks  # fmt: skip
    assert isinstance(date_partitions, TradingDayPartitions)
