"""The counting proxy counts what the official client sends, and forwards the answers unchanged."""

from __future__ import annotations

import baostock as bs

from marketdata_pipeline_tests.conftest import point_official_client_at


def test_proxy_counts_each_request_of_the_official_client(counting_proxy):
    with point_official_client_at(*counting_proxy.address):
        assert bs.login().error_code == "0"
        result = bs.query_trade_dates(start_date="2024-01-01", end_date="2024-01-10")
        assert result.error_code == "0"
        assert len(result.get_data()) == 10

    by_type = counting_proxy.requests_by_type()
    assert counting_proxy.connections == 1
    assert by_type["00"] == 1, by_type  # one login
    assert counting_proxy.requests == sum(by_type.values()) >= 3  # login, query, logout
