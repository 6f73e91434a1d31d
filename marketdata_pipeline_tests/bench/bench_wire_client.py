"""The project's wire client against the official `baostock` client, same local server, side by side.

The server replays captured real answers (fixtures/baostock-wire), so both
clients read byte-identical frames; the table shows time per query and the
ratio official / ours (above 1: ours is faster).
"""

from __future__ import annotations

import contextlib
import gc
import io
import time
from collections.abc import Callable

import baostock as bs
from baostock.common import contants as cons

from marketdata_pipeline.baostock import BaoStockSession, frames
from marketdata_pipeline_tests.baostock.wire_server import FIXTURES, Peer, WireServer

ROUNDS = 7
PER_PAGE = 10000  # the captured answers echo the 10000 rows a page their client asked for
REPEATS = {"query_all_stock": 20, "query_history_k_data_plus": 200, "query_trade_dates": 200}
K_FIELDS = "date,code,open,high,low,close,preclose,volume,amount,adjustflag,turn,tradestatus,pctChg,isST"


def replay(peer: Peer) -> None:
    answers = {
        frames.parse_header((FIXTURES / name / "request.bin").read_bytes())[1]: (
            FIXTURES / name / "response.bin"
        ).read_bytes()
        for name in ("login", "logout", *REPEATS)
    }
    while (request := peer.read_request()) is not None:
        peer.send(answers[frames.parse_header(request)[1]])


def ours(session: BaoStockSession) -> dict[str, Callable[[], int]]:
    return {
        "query_all_stock": lambda: len(
            session.query_all_stock("2024-01-02", per_page=PER_PAGE).to_dataframe()
        ),
        "query_history_k_data_plus": lambda: len(
            session.query_history_k_data_plus(
                "sh.600000", K_FIELDS, "2024-01-01", "2024-01-31", "d", "2", per_page=PER_PAGE
            ).to_dataframe()
        ),
        "query_trade_dates": lambda: len(
            session.query_trade_dates("2024-01-01", "2024-01-10", per_page=PER_PAGE).to_dataframe()
        ),
    }


def official() -> dict[str, Callable[[], int]]:
    return {
        "query_all_stock": lambda: len(bs.query_all_stock("2024-01-02").get_data()),
        "query_history_k_data_plus": lambda: len(
            bs.query_history_k_data_plus(
                "sh.600000", K_FIELDS, "2024-01-01", "2024-01-31", "d", "2"
            ).get_data()
        ),
        "query_trade_dates": lambda: len(bs.query_trade_dates("2024-01-01", "2024-01-10").get_data()),
    }


def per_query(call: Callable[[], int], repeats: int) -> tuple[float, int]:
    """Seconds per call over `repeats` calls, and the rows of the last call."""
    gc.collect()
    started = time.perf_counter()
    for _ in range(repeats):
        rows = call()
    return (time.perf_counter() - started) / repeats, rows


def best_of_rounds(
    mine: Callable[[], int], theirs: Callable[[], int], repeats: int
) -> tuple[float, float, int]:
    """Best time of each client over ROUNDS rounds that alternate them, so noise hits both alike."""
    ours_best = theirs_best = float("inf")
    for _ in range(ROUNDS):
        ours_time, our_rows = per_query(mine, repeats)
        their_time, their_rows = per_query(theirs, repeats)
        assert our_rows == their_rows, (our_rows, their_rows)
        ours_best, theirs_best = min(ours_best, ours_time), min(theirs_best, their_time)
    return ours_best, theirs_best, our_rows


@contextlib.contextmanager
def official_client_at(host: str, port: int):
    """Point the official client's module globals at the local server, and back."""
    saved = cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT
    cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT = host, port
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            bs.login()
        yield
    finally:
        with contextlib.redirect_stdout(io.StringIO()):
            bs.logout()
        cons.BAOSTOCK_SERVER_IP, cons.BAOSTOCK_SERVER_PORT = saved


def run() -> None:
    with WireServer(replay) as server, BaoStockSession(server.host, server.port) as session:
        mine = ours(session)
        with official_client_at(server.host, server.port):
            theirs = official()
            print(f"{'query':28} {'rows':>6} {'ours ms':>9} {'official ms':>12} {'official/ours':>14}")
            for name, repeats in REPEATS.items():
                our_time, their_time, rows = best_of_rounds(mine[name], theirs[name], repeats)
                ratio = their_time / our_time
                print(f"{name:28} {rows:6d} {our_time * 1e3:9.3f} {their_time * 1e3:12.3f} {ratio:14.2f}")


if __name__ == "__main__":
    run()
