"""The `marketdata` console script: simulator, demo, dev, doctor, init, query, status, export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from marketdata_pipeline.simulator import cli as simulator_cli

    parser = argparse.ArgumentParser(prog="marketdata", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    simulator_cli.add_arguments(
        commands.add_parser("simulator", help="run the local BaoStock-compatible server")
    )
    demo = commands.add_parser("demo", help="the main job offline: simulator, Dagster runs, a summary")
    demo.add_argument("--days", type=_positive, default=5, help="latest trading days to fetch (default 5)")
    dev = commands.add_parser("dev", help="the Dagster UI (MARKETDATA_SOURCE=simulator: with the simulator)")
    dev.add_argument("--port", type=_port, default=None, help="the UI's port (default 3000)")
    dev.add_argument("dagster_args", nargs=argparse.REMAINDER, help="passed on to `dagster dev`")
    commands.add_parser(
        "doctor", help="check the configured BaoStock server with one short session; what a bootstrap costs"
    )
    commands.add_parser(
        "init", help="ready DAGSTER_HOME (default .dagster_home) before running `dagster` commands"
    )
    query = commands.add_parser("query", help="run one SQL statement on the warehouse, read-only")
    query.add_argument("sql")
    query.add_argument("--format", choices=("table", "csv", "parquet"), default="table")
    query.add_argument("--out", type=Path, help="write the result to this file (csv, parquet)")
    query.add_argument("--all", action="store_true", help="show every row, not the first 50")
    status = commands.add_parser("status", help="per asset: last day, gaps per batch, failures, freshness")
    export = commands.add_parser("export", help="write the warehouse as Parquet or qlib data, incrementally")
    export.add_argument("format", choices=("parquet", "qlib"))
    export.add_argument("--to", type=Path, required=True, help="the export directory")
    export.add_argument("--adjust", choices=("qfq", "hfq"), default="hfq", help="qlib prices (default hfq)")
    for reading in (query, status, export):
        reading.add_argument("--db", type=Path, help="the warehouse (default MARKETDATA_DUCKDB_PATH)")
        reading.add_argument("--lock-timeout", type=float, default=60.0, help="seconds to wait for a writer")
    args = parser.parse_args(argv)

    if args.command == "simulator":
        return simulator_cli.run(args)
    if args.command == "demo":
        from marketdata_pipeline.demo import run_demo

        return run_demo(args.days)
    if args.command == "init":
        return _init()
    from marketdata_pipeline.defs.settings import SettingError

    try:
        if args.command == "dev":
            from marketdata_pipeline.launch import run_dev

            return run_dev(args.dagster_args, port=args.port)
        if args.command == "doctor":
            from marketdata_pipeline.doctor import run_doctor

            return run_doctor()
        from marketdata_pipeline import reading_commands

        return reading_commands.run(args)
    except SettingError as exc:
        print(f"marketdata {args.command}: {exc}", file=sys.stderr)
        return 2


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw} is not a positive number of days")
    return value


def _init() -> int:
    import os

    from marketdata_pipeline.launch import prepare_dagster_home

    home = prepare_dagster_home(Path(os.environ.get("DAGSTER_HOME", ".dagster_home")).resolve())
    print(f"DAGSTER_HOME={home} is ready: the project's dagster.yaml, and the instance's storage created")
    return 0


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{raw} is not a TCP port (1-65535)")
    return value


if __name__ == "__main__":
    sys.exit(main())
