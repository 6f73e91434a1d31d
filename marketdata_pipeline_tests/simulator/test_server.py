"""Server lifecycle, sessions, paging and BaoStock's error answers, over real sockets."""

from __future__ import annotations

import json
import threading

import pytest

from marketdata_pipeline.baostock import frames
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.fd_count import open_fds, wait_for_fds
from marketdata_pipeline_tests.simulator.wire import WireClient
from marketdata_pipeline_tests.threads import run_together


def k_data(code="sh.600000", fields="date,close", start="2024-01-01", end="2024-12-31", freq="d", flag="3",
           page="1", per_page="2000", user="anonymous") -> list[str]:  # fmt: skip
    return ["query_history_k_data_plus", user, page, per_page, code, fields, start, end, freq, flag]


def rows_of(answer) -> list[list[str]]:
    text = answer.fields[6]
    return json.loads(text)["record"] if text else []


def test_start_stop_restart_leave_no_file_descriptors():
    before = open_fds()
    sim = Simulator(today=None).start()
    host, port = sim.address
    clients = [WireClient((host, port)) for _ in range(3)]
    for client in clients:
        assert client.login().fields[0] == "0"
    sim.restart()
    assert sim.address == (host, port)
    with WireClient((host, port)) as again:
        assert again.login().fields[0] == "0"
    for client in clients:
        client.close()
    sim.stop()
    sim.stop()
    assert wait_for_fds(before) <= before


def test_address_before_start_is_a_clear_error():
    with pytest.raises(RuntimeError, match="start"):
        _ = Simulator().address


def test_bad_port_is_refused():
    with pytest.raises(ValueError, match="port"):
        Simulator(port=70000)


def test_a_query_before_login_or_for_another_user_is_not_logged_in(shared_simulator):
    with WireClient(shared_simulator.address) as client:
        assert client.call("95", k_data()).fields[0] == "10001001"
        client.login("alice")
        assert client.call("95", k_data(user="bob")).fields[0] == "10001001"
        assert client.call("95", k_data(user="alice")).fields[0] == "0"


@pytest.mark.parametrize(
    "fields, code",
    [
        (k_data(start="2024-02-01", end="2024-01-01"), "10004009"),
        (k_data(fields="date,bogus"), "10004012"),
        (k_data(fields="date,time", freq="d"), "10004012"),
        (k_data(code="sh.999999"), "10004011"),
        (k_data(code="600000"), "10004011"),
        (k_data(start="2024/01/01"), "10004010"),
        (k_data(end="2024-02-30"), "10004010"),
        (k_data(freq="7"), "10004006"),
        (k_data(flag="4"), "10004006"),
        (k_data(page="0"), "10004006"),
    ],
)
def test_bad_input_gets_baostocks_error_code(shared_simulator, fields, code):
    with WireClient(shared_simulator.address) as client:
        client.login()
        answer = client.call("95", fields)
    assert (answer.msg_type, answer.fields[0]) == ("04", code)
    assert answer.fields[1]


def test_other_queries_refuse_bad_dates_and_ranges(shared_simulator):
    with WireClient(shared_simulator.address) as client:
        client.login()
        assert (
            client.call("35", ["query_all_stock", "anonymous", "1", "10", "20240102"]).fields[0] == "10004010"
        )
        assert (
            client.call(
                "33", ["query_trade_dates", "anonymous", "1", "10", "2024-02-01", "2024-01-01"]
            ).fields[0]
            == "10004009"
        )
        assert client.call("98", ["query_daily_history_k_AStock", "anonymous", "x"]).fields[0] == "10004010"
        assert client.call("15", ["query_adjust_factor", "anonymous", "1", "10", "sh.9", "2024-01-01",
                                  "2024-02-01"]).fields[0] == "10004011"  # fmt: skip


def test_unknown_message_type_and_broken_frames_get_error_answers(shared_simulator):
    with WireClient(shared_simulator.address) as client:
        client.login()
        assert client.call("61", ["query_hs300_stocks", "anonymous", "1", "10", ""]).msg_type == "04"
        client.send_raw(b"garbage\n")
        answer = frames.decode_response(client.receive_raw())
        assert (answer.msg_type, answer.fields[0]) == ("04", "10004019")
        assert client.call("95", k_data()).fields[0] == "0"


def test_paging_gives_exactly_per_page_rows_then_the_rest_then_empty(shared_simulator):
    with WireClient(shared_simulator.address) as client:
        client.login()
        whole = rows_of(client.call("95", k_data(per_page="10000")))
        pages = [rows_of(client.call("95", k_data(page=str(p), per_page="100"))) for p in (1, 2, 3, 4)]
    assert len(whole) == 242
    assert [len(p) for p in pages] == [100, 100, 42, 0]
    assert sum(pages, []) == whole


def test_unpublished_days_have_no_bars(shared_simulator):
    with WireClient(shared_simulator.address) as client:
        client.login()
        assert rows_of(client.call("95", k_data(start="2024-12-30", end="2025-01-31")))[-1][0] == "2024-12-31"
        assert rows_of(client.call("95", k_data(start="2025-01-01", end="2025-01-31"))) == []


def test_stats_count_logins_requests_and_methods(simulator):
    with WireClient(simulator.address) as client:
        client.login()
        client.call("95", k_data())
        client.call("02", ["logout", "anonymous", "20240101000000"])
    stats = simulator.stats()
    assert stats["logins"] == stats["logouts"] == 1
    assert stats["requests"] == 3 and stats["connections"] == 1
    assert stats["requests_by_method"] == {"login": 1, "query_history_k_data_plus": 1, "logout": 1}
    assert stats["active_logins"] == 0 and stats["peak_active_logins"] == 1


def test_eight_concurrent_sessions_get_consistent_answers(shared_simulator):
    expected = None
    with WireClient(shared_simulator.address) as client:
        client.login()
        expected = rows_of(client.call("95", k_data()))
    results: list[bool] = []

    def session() -> None:
        with WireClient(shared_simulator.address) as c:
            c.login()
            results.extend(rows_of(c.call("95", k_data())) == expected for _ in range(10))

    threads = [threading.Thread(target=session) for _ in range(8)]
    run_together(threads, timeout=30)
    assert results == [True] * 80
