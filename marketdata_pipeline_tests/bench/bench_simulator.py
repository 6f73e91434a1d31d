"""Simulator throughput: one-month single-symbol k-data requests from 8 concurrent sessions.

The server runs as its own process (`marketdata simulator --port 0`), the load
generator here, so the two do not share a GIL. Two request mixes:
- "symbol by month": each session walks symbols month by month through a year,
  as a per-symbol ingest does (the year-block cache serves 11 of 12 months);
- "random symbol-month": every request a random symbol and month (cold cache).
The table prints requests/s (wall clock) and requests per second of server CPU
(what one free core would serve, whatever else loads the machine), each with
its ratio to the 1,000 requests/s target, and the server's resident memory
after a whole-market day and a 10-year symbol.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from marketdata_pipeline.baostock import frames

TARGET = 1000.0
SESSIONS = 8
SECONDS = 5.0
FIELDS = "date,code,open,high,low,close,preclose,volume,amount,adjustflag,turn,tradestatus,pctChg,isST"
MONTHS = [(f"2024-{m:02d}-01", f"2024-{m:02d}-28") for m in range(1, 13)]


class Session:
    """A bare wire session: the cheapest possible client, so the server is what gets measured."""

    def __init__(self, address: tuple[str, int]):
        import socket

        self.sock = socket.create_connection(address, timeout=30)
        self.call("00", ["login", "anonymous", "123456", "0"])

    def call(self, msg_type: str, fields: list[str]) -> frames.Frame:
        self.sock.sendall(frames.encode_request(msg_type, fields))
        buffer = bytearray()
        while (end := frames.response_end(buffer)) is None:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("simulator closed the connection")
            buffer += chunk
        answer = frames.decode_response(bytes(buffer[:end]))
        if answer.fields[0] != "0":
            raise RuntimeError(f"simulator refused {fields[0]}: {answer.fields[:2]}")
        return answer

    def k_data(self, code: str, start: str, end: str) -> None:
        self.call(
            "95", ["query_history_k_data_plus", "anonymous", "1", "2000", code, FIELDS, start, end, "d", "3"]
        )

    def close(self) -> None:
        self.sock.close()


def start_server() -> tuple[subprocess.Popen, tuple[str, int]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marketdata_pipeline.cli",
            "simulator",
            "--port",
            "0",
            "--today",
            "2024-12-31",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = re.fullmatch(r"listening on (\S+):(\d+)\n", line)
    if not match:
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return process, (match.group(1), int(match.group(2)))


def codes(address: tuple[str, int]) -> list[str]:
    session = Session(address)
    try:
        answer = session.call("45", ["query_stock_basic", "anonymous", "1", "10000", "", ""])
    finally:
        session.close()
    import json

    return [row[0] for row in json.loads(answer.fields[6])["record"]]


def by_month(universe: list[str], seed: int) -> Iterator[tuple[str, str, str]]:
    rng = random.Random(seed)
    while True:
        code = rng.choice(universe)
        for start, end in MONTHS:
            yield code, start, end


def at_random(universe: list[str], seed: int) -> Iterator[tuple[str, str, str]]:
    rng = random.Random(seed)
    while True:
        year = rng.randint(2008, 2024)
        month = rng.randint(1, 12)
        yield rng.choice(universe), f"{year}-{month:02d}-01", f"{year}-{month:02d}-28"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (from /proc, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(address: tuple[str, int], universe: list[str], mix, pid: int) -> tuple[float, float]:
    """(requests per wall second, requests per second of server CPU)."""
    counts = [0] * SESSIONS
    stop = threading.Event()
    errors: list[BaseException] = []

    def load(k: int) -> None:
        session = Session(address)
        try:
            for code, start, end in mix(universe, k):
                if stop.is_set():
                    return
                session.k_data(code, start, end)
                counts[k] += 1
        except BaseException as exc:  # surfaced after the run
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=load, args=(k,)) for k in range(SESSIONS)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # warm-up: sessions logged in and the first symbols cached
    before, started, cpu = sum(counts), time.perf_counter(), cpu_seconds(pid)
    time.sleep(SECONDS)
    done, elapsed = sum(counts) - before, time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu
    stop.set()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
    return done / elapsed, done / max(cpu, 1e-9)


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def memory_rows(process: subprocess.Popen, address: tuple[str, int]) -> list[tuple[str, float]]:
    session = Session(address)
    try:
        rows = [("after start and universe list", resident_mb(process.pid))]
        session.call("98", ["query_daily_history_k_AStock", "anonymous", "2024-06-03"])
        rows.append(("after a whole-market day", resident_mb(process.pid)))
        session.k_data("sh.600000", "2015-01-01", "2024-12-31")
        rows.append(("after a 10-year single symbol", resident_mb(process.pid)))
        return rows
    finally:
        session.close()


def run() -> None:
    process, address = start_server()
    try:
        universe = codes(address)
        memory = memory_rows(process, address)
        results = [(name, *measure(address, universe, mix, process.pid)) for name, mix in
                   (("symbol by month", by_month), ("random symbol-month", at_random))]  # fmt: skip
        memory.append(("after both load runs", resident_mb(process.pid)))
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
    load = os.getloadavg()[0]
    print(
        f"{'mix (8 sessions, 1-month daily k-data)':<40}{'req/s':>8}{'ratio':>7}{'req/CPU-s':>11}{'ratio':>7}"
    )
    for name, rate, per_cpu in results:
        print(f"{name:<40}{rate:>8.0f}{rate / TARGET:>7.2f}{per_cpu:>11.0f}{per_cpu / TARGET:>7.2f}")
    print(
        f"(ratio = to the 1,000 requests/s target; req/CPU-s = per second of server CPU, which a loaded "
        f"machine does not change; load average {load:.1f} on {os.cpu_count()} cores)"
    )
    print(f"\n{'simulator resident memory':<42}{'MB':>12}")
    for name, mb in memory:
        print(f"{name:<42}{mb:>12.0f}")


if __name__ == "__main__":
    run()
