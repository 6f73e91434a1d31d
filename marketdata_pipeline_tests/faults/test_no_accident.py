"""No accident: simulator mode never reaches the real server, `.env` means what `.env.example` says,
and `make dev` starts from the project's own environment on a fresh clone."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from marketdata_pipeline.baostock import BaoStockSession
from marketdata_pipeline.defs.sessions.resources import BaoStockPoolResource
from marketdata_pipeline.defs.settings import SettingError, load_settings
from marketdata_pipeline.launch import dev_source, simulator_environment
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline_tests.conftest import SIMULATOR_TODAY

REPO = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = REPO / ".env.example"
UI_STARTUP_S = 120


def dotenv_from_example(monkeypatch) -> None:
    """The environment `dagster dev` gives the code after `cp .env.example .env`: .env over the process."""
    from dotenv import dotenv_values

    for name, value in dotenv_values(ENV_EXAMPLE).items():
        monkeypatch.setenv(name, value or "")


def test_simulator_mode_wins_over_a_dotenv_naming_the_real_server(monkeypatch):
    for name, value in simulator_environment("127.0.0.1", 40123).items():
        monkeypatch.setenv(name, value)
    dotenv_from_example(monkeypatch)  # BAOSTOCK_HOST=public-api.baostock.com, MARKETDATA_SOURCE=baostock
    monkeypatch.setenv("BAOSTOCK_FALLBACK_ENDPOINTS", "public-api.baostock.com:10030")
    resource = BaoStockPoolResource.from_settings(load_settings())
    assert resource.endpoints() == [("127.0.0.1", 40123)], "no fallback leads to a real server"
    assert load_settings().address == ("127.0.0.1", 40123)
    assert (resource.max_requests_per_second, resource.max_requests_per_day) == (0, 0)
    from marketdata_pipeline.defs.warehouse.resources import resources as warehouse_definitions

    warehouse = warehouse_definitions().resources["warehouse"]
    assert warehouse.source == "simulator" and warehouse.database.endswith("data/demo.duckdb")


def test_the_real_server_gets_the_polite_defaults_from_a_copied_dotenv(monkeypatch, tmp_path):
    dotenv_from_example(monkeypatch)
    monkeypatch.setenv("MARKETDATA_DUCKDB_PATH", str(tmp_path / "marketdata.duckdb"))
    resource = BaoStockPoolResource.from_settings(load_settings())
    assert resource.endpoints() == [("public-api.baostock.com", 10030)]
    assert (resource.max_requests_per_second, resource.max_requests_per_day) == (10, 40_000)
    assert resource.state_dir == str(tmp_path / "baostock")


def test_simulator_mode_without_a_simulator_refuses_naming_the_conflict(monkeypatch):
    dotenv_from_example(monkeypatch)
    monkeypatch.setenv("MARKETDATA_SOURCE", "simulator")
    with pytest.raises(SettingError, match="MARKETDATA_SIMULATOR.*make dev"):
        BaoStockPoolResource.from_settings(load_settings())


def test_make_dev_reads_the_source_from_dotenv_and_refuses_a_disagreement(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("MARKETDATA_SOURCE=simulator\n")
    assert dev_source({}, dotenv) == "simulator"  # .env alone decides, as .env.example says
    assert dev_source({"MARKETDATA_SOURCE": "simulator"}, tmp_path / "missing") == "simulator"
    assert dev_source({}, tmp_path / "missing") == "baostock"
    dotenv.write_text("MARKETDATA_SOURCE=baostock\n")  # as copied from .env.example
    assert dev_source({"MARKETDATA_SOURCE": "simulator"}, dotenv) == "simulator"  # what the user typed
    dotenv.write_text("MARKETDATA_SOURCE=simulator\n")
    with pytest.raises(SettingError, match=r"MARKETDATA_SOURCE=baostock in the environment.*\.env"):
        dev_source({"MARKETDATA_SOURCE": "baostock"}, dotenv)


@pytest.mark.parametrize("spelling", ["adjustFactor", "adjustFacto"])
def test_the_daily_adjust_factor_reads_either_spelling_of_its_last_field(spelling):
    simulator = Simulator(seed=0, today=SIMULATOR_TODAY, daily_factor_field=spelling)
    with simulator, BaoStockSession(*simulator.address) as session:
        answer = session.query_daily_adjust_factor("2024-06-14")
        per_code = session.query_adjust_factor("sh.600000", "2015-01-01", "2024-12-31")
    assert answer.fields == per_code.fields
    assert answer.fields[-1] == "adjustFactor" and len(answer) > 0


def test_the_simulator_serves_the_spelling_it_is_told():
    from baostock.common import contants as cons

    from marketdata_pipeline.baostock import frames
    from marketdata_pipeline.simulator.handlers import DAILY_FACTOR_SPELLINGS

    assert DAILY_FACTOR_SPELLINGS == ("adjustFactor", "adjustFacto")
    simulator = Simulator(seed=0, today=SIMULATOR_TODAY, daily_factor_field="adjustFacto")
    with simulator, socket.create_connection(simulator.address, timeout=5) as sock:
        login = ["login", "anonymous", "123456", "0"]
        sock.sendall(frames.encode_request(cons.MESSAGE_TYPE_LOGIN_REQUEST, login))
        _read_answer(sock)
        request = ["query_daily_adjust_factor", "anonymous", "2024-06-14"]
        sock.sendall(frames.encode_request(cons.MESSAGE_TYPE_GETKDaily_ADJUSTFACTOR_REQUEST, request))
        answer = frames.decode_response(_read_answer(sock))
    assert answer.fields[5].split(",")[-1] == "adjustFacto"
    with pytest.raises(ValueError, match="daily_factor_field"):
        Simulator(daily_factor_field="factor")


def _read_answer(sock: socket.socket) -> bytes:
    from marketdata_pipeline.baostock import frames

    buffer = bytearray()
    while frames.response_end(buffer) is None:
        chunk = sock.recv(65536)
        assert chunk, "the simulator closed the connection"
        buffer += chunk
    return bytes(buffer)


def _group_gone(process: subprocess.Popen, timeout: float) -> bool:
    """Wait until `process` and every process of its group have exited; False at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            process.wait()
            return True
        time.sleep(0.2)
    return False


def _group_of(process: subprocess.Popen) -> str:
    command = ["ps", "-o", "pid,etime,args", "-g", str(process.pid)]
    listing = subprocess.run(command, capture_output=True, text=True, timeout=10)
    return "; ".join(line.strip()[:120] for line in listing.stdout.splitlines()[1:])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_make_dev_on_a_fresh_clone_serves_the_ui_without_the_venv_on_path(tmp_path):
    """The README's `make dev` as a newcomer runs it: a fresh clone, PATH without any venv."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=60)
    # The environment `make install` would build (75 s) is this checkout's; the stamp stays newer
    # than the clone's pyproject.toml so `make` reuses it, as it would on a second `make dev`.
    (clone / ".venv").symlink_to(REPO / ".venv")
    os.utime(clone / "pyproject.toml", (0, 0))
    port = free_port()
    own = ("BAOSTOCK_", "MARKETDATA_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(own)}
    env.pop("VIRTUAL_ENV", None)
    env.pop("DAGSTER_HOME", None)  # make dev keeps its instance in the clone's .dagster_home
    env.update(PATH="/usr/bin:/bin", HOME=str(tmp_path))
    log = (tmp_path / "make-dev.log").open("w")
    # A terminal's Ctrl-C reaches a shell whose SIGINT is the default; a pytest-xdist worker ignores
    # SIGINT, and an ignored signal stays ignored across exec: restore it, or nothing ever stops.
    process = subprocess.Popen(
        ["make", "dev", f"PORT={port}"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        served = _wait_for_ui(port, process)
    finally:
        # Ctrl-C, as a user stops it: SIGINT to the whole group (make, dagster dev and its children).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        # It ends within ~5 s here; whatever is left at 90 s is named below, and killed, so that no
        # webserver outlives the test.
        left = "" if _group_gone(process, timeout=90) else _group_of(process)
        if left:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    output = (tmp_path / "make-dev.log").read_text()
    assert served, f"the UI did not answer on port {port}:\n{output[-3000:]}"
    assert not left, f"still running 90 s after Ctrl-C: {left}\n{output[-3000:]}"
    assert "FileNotFoundError" not in output
    shutil.rmtree(clone, ignore_errors=True)


def _wait_for_ui(port: int, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + UI_STARTUP_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            time.sleep(0.5)
    return False
