"""`marketdata simulator`: run the BaoStock-compatible server in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from datetime import date

from marketdata_pipeline.simulator.anomalies import DEFAULT_RATE, KINDS, parse_anomaly
from marketdata_pipeline.simulator.faults import Faults
from marketdata_pipeline.simulator.handlers import DAILY_FACTOR_SPELLINGS
from marketdata_pipeline.simulator.server import Simulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=10030, help="TCP port; 0 picks a free one (default 10030)"
    )
    parser.add_argument("--seed", type=int, default=0, help="market seed (default 0)")
    parser.add_argument("--today", type=_day, default=None,
                        help="publish data through this date (default: Shanghai clock)")  # fmt: skip
    parser.add_argument("--latency-ms", type=_non_negative, default=0.0, help="delay every answer")
    parser.add_argument("--jitter-ms", type=_non_negative, default=0.0, help="extra uniform random delay")
    for kind in ("drop", "hang", "corrupt", "error"):
        parser.add_argument(f"--{kind}-rate", type=_probability, default=0.0,
                            help=f"probability that a request gets the {kind} fault")  # fmt: skip
    parser.add_argument("--error-code", type=_error_code, default="10005001",
                        help="error code of injected errors (default 10005001)")  # fmt: skip
    parser.add_argument("--max-logins", type=_non_negative_int, default=None,
                        help="cap on concurrent logged-in sessions")  # fmt: skip
    parser.add_argument("--anomaly", type=_anomaly, action="append", default=[], metavar="KIND[:RATE]",
                        help=f"make the data wrong: one of {', '.join(KINDS)}, at RATE of rows "
                             f"(default {DEFAULT_RATE}); repeatable")  # fmt: skip
    parser.add_argument("--idle-close-s", type=_positive, default=None,
                        help="close connections idle this many seconds")  # fmt: skip
    parser.add_argument("--stats-file", default=None,
                        help="keep a JSON snapshot of the counters here (rewritten every 0.1 s)")  # fmt: skip
    parser.add_argument("--daily-factor-field", choices=DAILY_FACTOR_SPELLINGS,
                        default=DAILY_FACTOR_SPELLINGS[0],
                        help="query_daily_adjust_factor's last field (live: adjustFacto)")  # fmt: skip
    parser.add_argument("--password", default=None,
                        help="the only password logins may use (else 10001002)")  # fmt: skip
    parser.add_argument("--market-depth-days", type=_depth, default=None,
                        help="whole-market answers reach only this many trading days back")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    simulator = Simulator(
        args.host, args.port, seed=args.seed, today=args.today, latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms, drop_rate=args.drop_rate, hang_rate=args.hang_rate,
        corrupt_rate=args.corrupt_rate, error_rate=args.error_rate, error_code=args.error_code,
        max_logins=args.max_logins, idle_close_s=args.idle_close_s, anomalies=args.anomaly,
        daily_factor_field=args.daily_factor_field,
        market_depth_days=args.market_depth_days,
    )  # fmt: skip
    simulator.faults.password = args.password
    with simulator:
        host, port = simulator.address
        print(f"listening on {host}:{port}", flush=True)
        while not stop.wait(0.1 if args.stats_file else 0.5):
            if args.stats_file:
                _write_stats(simulator, args.stats_file)
    return 0


def _write_stats(simulator: Simulator, path: str) -> None:
    """Replace `path` with the counters and when they were read (the demo counts requests per run)."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump({"written_at": time.time(), **simulator.stats()}, stream)
    os.replace(temporary, path)
def _anomaly(text: str) -> str:
    try:
        parse_anomaly(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _port(text: str) -> int:
    value = _parsed(text, int, "an integer port")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port 0-65535")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-12-31") from None


def _probability(text: str) -> float:
    return _via_faults("drop_rate", _parsed(text, float, "a probability 0-1"), text)


def _non_negative(text: str) -> float:
    return _via_faults("latency_ms", _parsed(text, float, "a number"), text)


def _positive(text: str) -> float:
    return _via_faults("idle_close_s", _parsed(text, float, "a number of seconds"), text)


def _non_negative_int(text: str) -> int:
    return _via_faults("max_logins", _parsed(text, int, "an integer"), text)


def _depth(text: str) -> int:
    value = _parsed(text, int, "a number of trading days")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of trading days")
    return value


def _error_code(text: str) -> str:
    return _via_faults("error_code", text, text)


def _parsed(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def _via_faults(setting: str, value: object, text: str):
    """Validate with the same rules as Faults, so the CLI and the API agree."""
    try:
        setattr(Faults(), setting, value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return value


if __name__ == "__main__":
    sys.exit("run it as: marketdata simulator")
