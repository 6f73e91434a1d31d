"""The `marketdata` console script: simulator, demo, dev."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="marketdata", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    from marketdata_pipeline.simulator import cli as simulator_cli

    simulator_cli.add_arguments(
        commands.add_parser("simulator", help="run the local BaoStock-compatible server")
    )
    args = parser.parse_args(argv)
    if args.command == "simulator":
        return simulator_cli.run(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
