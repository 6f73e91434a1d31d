"""`marketdata simulator` as a subprocess: announces its address, serves, exits 0 on SIGTERM/SIGINT."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from marketdata_pipeline import cli
from marketdata_pipeline_tests.simulator.wire import WireClient

COMMAND = [sys.executable, "-m", "marketdata_pipeline.cli", "simulator"]


def start(*flags: str) -> subprocess.Popen:
    return subprocess.Popen([*COMMAND, "--port", "0", *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_prints_one_listening_line_serves_and_exits_cleanly(signum):
    process = start("--today", "2024-12-31", "--seed", "3")
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
        assert match, line
        with WireClient(("127.0.0.1", int(match.group(1)))) as client:
            assert client.login().fields[0] == "0"
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


@pytest.mark.parametrize(
    "flag, value",
    [("--port", "70000"), ("--drop-rate", "1.5"), ("--today", "2024-13-01"), ("--error-code", "12"),
     ("--max-logins", "-2"), ("--idle-close-s", "0"), ("--latency-ms", "fast")],
)  # fmt: skip
def test_bad_flag_values_fail_naming_the_flag(flag, value, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["simulator", flag, value])
    assert exited.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err
