"""The session pool, side by side: against SQLAlchemy's QueuePool, and fetching a market day by pool size.

1. Checkout + return throughput over the same no-op sessions, 1 and 8
   threads, against `QueuePool(pool_size=N, max_overflow=0,
   reset_on_return=None)`; rounds alternate, the median ratio is reported.
2. Steady-state hit rate over 10,000 checkouts (8 threads, pool of 8).
3. One day of the market fetched symbol by symbol (`query_history_k_data_plus`
   per code) from a simulator in its own process with 20 ms injected latency:
   a fair subset of A-share codes (every k-th of the universe, so all
   boards are represented), fetched through one bare session, through
   BaoStockPool of size 1, 2, 4, 8 on as many threads, through the official
   client's sequential `login(); for code: query` loop, and through 8 bare
   sessions on 8 threads (no pool: the ceiling a pool of 8 can reach here).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.pool import QueuePool

from marketdata_pipeline.baostock import BaoStockSession
from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.pool import SessionPool

ROUNDS = 5
CHECKOUTS = 40_000
HIT_RATE_CHECKOUTS = 10_000
DAY = "2024-12-31"
FIELDS = "date,code,open,high,low,close,preclose,volume,amount,turn,tradestatus,pctChg,isST"
CODES = 800
LATENCY_MS = 20
POOL_SIZES = (1, 2, 4, 8)
MARKET_SHARES = 5_097  # A-shares in the captured universe


class NoopSession:
    """What both pools lend: nothing to reset, nothing to close."""

    def close(self) -> None:
        pass

    def rollback(self) -> None:
        pass


def _threaded_rate(borrow_once: Callable[[], None], threads: int, total: int) -> float:
    """Checkouts per second with `threads` threads doing `total` checkouts between them."""
    each = total // threads
    start = threading.Barrier(threads + 1)

    def work() -> None:
        start.wait()
        for _ in range(each):
            borrow_once()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    return each * threads / (time.perf_counter() - began)


def throughput_rows() -> list[tuple[str, float, float, float]]:
    rows = []
    for threads in (1, 8):
        queue_pool = QueuePool(NoopSession, pool_size=threads, max_overflow=0, reset_on_return=None)
        ours = SessionPool(NoopSession, max_size=threads)

        def queue_pool_once(pool=queue_pool) -> None:
            pool.connect().close()

        def ours_once(pool=ours) -> None:
            pool.release(pool.acquire())

        def ours_with(pool=ours) -> None:
            with pool.session():
                pass

        for label, candidate in (("acquire/release", ours_once), ("with session()", ours_with)):
            theirs, mine = [], []
            for _ in range(ROUNDS):
                theirs.append(_threaded_rate(queue_pool_once, threads, CHECKOUTS))
                mine.append(_threaded_rate(candidate, threads, CHECKOUTS))
            ratio = statistics.median(m / t for m, t in zip(mine, theirs, strict=True))
            rows.append(
                (f"{threads} thread(s), {label}", statistics.median(theirs), statistics.median(mine), ratio)
            )
        ours.close()
        queue_pool.dispose()
    return rows


def steady_state_hit_rate() -> tuple[float, float, int]:
    """(hit rate over 10,000 checkouts after warm-up, over all of them including warm-up, sessions made)."""
    with SessionPool(NoopSession, max_size=8) as pool:
        _threaded_rate(lambda: pool.release(pool.acquire()), 8, 800)
        warm = pool.stats()
        _threaded_rate(lambda: pool.release(pool.acquire()), 8, HIT_RATE_CHECKOUTS)
        after = pool.stats()
    steady = (after["reused"] - warm["reused"]) / (after["acquires"] - warm["acquires"])
    return steady, after["hit_rate"], after["created"]


@contextlib.contextmanager
def simulator_process(latency_ms: int) -> Iterator[tuple[str, int]]:
    """The simulator in its own process (its threads never share our GIL), on a free loopback port."""
    command = [sys.executable, "-m", "marketdata_pipeline.cli", "simulator", "--port", "0",
               "--today", DAY, "--latency-ms", str(latency_ms)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the simulator did not start: {line!r}")
        host, _, port = line.removeprefix("listening on ").strip().rpartition(":")
        yield host, int(port)
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()


def market_codes(address: tuple[str, int]) -> list[str]:
    """Every k-th A-share of the day's universe, `CODES` in all."""
    with BaoStockSession(*address) as session:
        rows = session.query_all_stock(DAY).rows
    shares = [row[0] for row in rows if row[0][:4] in ("sh.6", "sz.0", "sz.3")]
    step = max(1, len(shares) // CODES)
    return shares[::step][:CODES]


def fetch_with_session(address: tuple[str, int], codes: list[str]) -> int:
    with BaoStockSession(*address) as session:
        return sum(len(session.query_history_k_data_plus(c, FIELDS, DAY, DAY).rows) for c in codes)


def fetch_with_pool(address: tuple[str, int], codes: list[str], size: int) -> int:
    with BaoStockPool([address], max_size=size) as pool:

        def fetch(code: str) -> int:
            with pool.session() as session:
                return len(session.query_history_k_data_plus(code, FIELDS, DAY, DAY).rows)

        with ThreadPoolExecutor(max_workers=size) as workers:
            return sum(workers.map(fetch, codes))


def fetch_with_bare_sessions(address: tuple[str, int], codes: list[str], threads: int) -> int:
    """The ceiling for a pool of `threads`: as many sessions, each owned by one thread, no pool at all."""
    shares = [codes[k::threads] for k in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as workers:
        return sum(workers.map(lambda share: fetch_with_session(address, share), shares))


def fetch_with_official_client(address: tuple[str, int], codes: list[str]) -> int:
    import baostock as bs

    from marketdata_pipeline_tests.conftest import point_official_client_at

    rows = 0
    with point_official_client_at(*address), contextlib.redirect_stdout(io.StringIO()):
        bs.login()
        for code in codes:
            result = bs.query_history_k_data_plus(code, FIELDS, start_date=DAY, end_date=DAY)
            while result.next():
                result.get_row_data()
                rows += 1
        bs.logout()
    return rows


def timed(fetch: Callable[[], int]) -> tuple[float, int]:
    began = time.perf_counter()
    rows = fetch()
    return time.perf_counter() - began, rows


def market_day_rows() -> tuple[int, list[tuple[str, float, int, float, float]]]:
    """Codes fetched, and per client: seconds, rows, speedup over one session, speedup over official."""
    with simulator_process(LATENCY_MS) as address:
        codes = market_codes(address)
        # The simulator generates a symbol's history on first use: warm it so every client reads the same.
        fetch_with_pool(address, codes, max(POOL_SIZES))
        baseline, expected = timed(lambda: fetch_with_session(address, codes))
        official, official_rows = timed(lambda: fetch_with_official_client(address, codes))
        table = [
            ("one BaoStockSession", baseline, expected, 1.0, official / baseline),
            ("official client loop", official, official_rows, baseline / official, 1.0),
        ]
        for size in POOL_SIZES:
            elapsed, fetched = timed(lambda size=size: fetch_with_pool(address, codes, size))
            if fetched != expected:
                raise RuntimeError(f"pool of {size} fetched {fetched} rows, one session {expected}")
            label = f"BaoStockPool max_size={size}"
            table.append((label, elapsed, fetched, baseline / elapsed, official / elapsed))
        size = max(POOL_SIZES)
        elapsed, fetched = timed(lambda: fetch_with_bare_sessions(address, codes, size))
        label = f"{size} bare sessions (no pool)"
        table.append((label, elapsed, fetched, baseline / elapsed, official / elapsed))
    return len(codes), table


def run() -> None:
    print(f"checkout + return, {CHECKOUTS:,} per round, median of {ROUNDS} alternating rounds")
    print(f"{'case':<34}{'QueuePool/s':>14}{'ours/s':>14}{'ours/QueuePool':>16}")
    for label, theirs, mine, ratio in throughput_rows():
        print(f"{label:<34}{theirs:>14,.0f}{mine:>14,.0f}{ratio:>15.2f}x")

    steady, overall, created = steady_state_hit_rate()
    print(f"\nhit rate over {HIT_RATE_CHECKOUTS:,} checkouts (8 threads, pool of 8): "
          f"steady state {steady:.4%}, including warm-up {overall:.4%}, {created} sessions made")  # fmt: skip

    fetched_codes, table = market_day_rows()
    print(f"\none market day: {fetched_codes} A-share codes (every k-th of the universe), one "
          f"query_history_k_data_plus each, {LATENCY_MS} ms latency, simulator in its own process; "
          f"'whole market' scales the time to {MARKET_SHARES:,} codes")  # fmt: skip
    header = ("client", "seconds", "whole market", "rows", "vs one session", "vs official")
    print(f"{header[0]:<30}{header[1]:>9}{header[2]:>14}{header[3]:>7}{header[4]:>16}{header[5]:>13}")
    for label, elapsed, rows, speedup, vs_official in table:
        whole = elapsed * MARKET_SHARES / fetched_codes
        print(f"{label:<30}{elapsed:>9.2f}{whole:>13.1f}s{rows:>7}{speedup:>15.2f}x{vs_official:>12.2f}x")
