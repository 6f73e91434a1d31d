"""The project's client and the official client read identical fields and rows from the simulator."""

from __future__ import annotations

import contextlib
import io
import random
from datetime import date, timedelta

import baostock as bs
import pytest

from marketdata_pipeline.baostock import BaoStockSession
from marketdata_pipeline.baostock.fields import FIELDS_BY_FREQUENCY
from marketdata_pipeline_tests.conftest import point_official_client_at

REQUESTS = 200
FIRST, LAST = date(2008, 1, 1), date(2024, 12, 31)


def official_rows(rs) -> tuple[str, list[str], list[list[str]]]:
    rows = []
    while rs.error_code == "0" and rs.next():
        rows.append(rs.get_row_data())
    return rs.error_code, rs.fields, rows


def without_whitespace(rows: list[list[str]]) -> list[list[str]]:
    """The official client deletes every whitespace character of the JSON before parsing it, so a
    name like "100(ECPI ESG)" reaches its users as "100(ECPIESG)"; the project client keeps it."""
    return [["".join(value.split()) for value in row] for row in rows]


def random_range(rng: random.Random, max_days: int) -> tuple[str, str]:
    start = FIRST + timedelta(days=rng.randrange((LAST - FIRST).days))
    end = min(LAST, start + timedelta(days=rng.randint(0, max_days)))
    return start.isoformat(), end.isoformat()


def random_request(rng: random.Random, codes: list[str]) -> tuple[str, tuple]:
    kind = rng.choices(["k", "dates", "all", "factor", "basic", "market", "day_factor"],
                       weights=[70, 6, 4, 8, 6, 2, 4])[0]  # fmt: skip
    if kind == "k":
        frequency = rng.choice(["d", "d", "w", "m", "5", "15", "30", "60"])
        allowed = list(FIELDS_BY_FREQUENCY[frequency])
        fields = ",".join(rng.sample(allowed, rng.randint(1, len(allowed))))
        start, end = random_range(rng, 3000 if frequency in "dwm" else 45)
        return "query_history_k_data_plus", (
            rng.choice(codes),
            fields,
            start,
            end,
            frequency,
            rng.choice("123"),
        )
    if kind == "dates":
        return "query_trade_dates", random_range(rng, 3000)
    if kind == "all":
        return "query_all_stock", (random_range(rng, 0)[0],)
    if kind == "factor":
        return "query_adjust_factor", (rng.choice(codes), *random_range(rng, 5000))
    if kind == "basic":
        return "query_stock_basic", rng.choice([(rng.choice(codes), ""), ("", ""), ("", "银行")])
    if kind == "market":
        return "query_daily_history_k_AStock", (rng.choice(["2024-06-03", "2023-03-15"]),)
    return "query_daily_adjust_factor", (random_range(rng, 0)[0],)


@pytest.mark.slow
def test_project_client_and_official_client_agree_on_random_requests(shared_simulator):
    host, port = shared_simulator.address
    rng = random.Random(2024)
    with point_official_client_at(host, port), contextlib.redirect_stdout(io.StringIO()):
        assert bs.login().error_code == "0"
        with BaoStockSession(host, port) as ours:
            codes = [row[0] for row in ours.query_stock_basic().rows]
            nonempty = 0
            for _ in range(REQUESTS):
                method, args = random_request(rng, codes)
                code, fields, rows = official_rows(getattr(bs, method)(*args))
                assert code == "0", (method, args)
                answer = getattr(ours, method)(*args)
                assert (answer.fields, without_whitespace(answer.rows)) == (fields, rows), (method, args)
                nonempty += bool(rows)
    assert nonempty > REQUESTS // 2
