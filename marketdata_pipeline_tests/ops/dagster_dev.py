"""`dagster dev` on the project as a test sees it: a child process group on a free port, against a simulator.

The webserver, daemon and code server (and every run worker they launch)
share one process group, so teardown signals the whole group: SIGTERM, a
grace period, then SIGKILL - on every path, a failed start included.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from marketdata_pipeline.launch import prepare_dagster_home, running_simulator

REPO_ROOT = Path(__file__).resolve().parents[2]
SIMULATOR_TODAY = "2024-12-31"
# The project's budget of 8 sessions, spread as the README suggests for more concurrent runs:
# 4 "baostock" slots x BAOSTOCK_POOL_SIZE 2, so 4 runs write the warehouse at once. The simulator
# refuses a login beyond the budget (10001005), which a run's pool counts as a login failure.
SLOTS, POOL_SIZE = 4, 2
SESSION_BUDGET = SLOTS * POOL_SIZE
# Run monitoring polls every 15 s in dagster.yaml; the test instance polls every 3 s, so a test
# that waits for the daemon to fail a dead run waits seconds, not a quarter of a minute.
PROJECT_MONITORING_POLL_S, MONITORING_POLL_S = 15, 3
STARTUP_TIMEOUT_S = 180.0
HTTP_TIMEOUT_S = 30.0
SHUTDOWN_GRACE_S = 20.0

_LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


class GraphQLError(RuntimeError):
    """The webserver answered a GraphQL request with errors."""


@dataclass(frozen=True)
class DagsterDev:
    """A running `dagster dev`: where its UI listens and where its instance and warehouse live."""

    url: str
    dagster_home: Path
    duckdb_path: Path
    simulator: tuple[str, int]
    log_path: Path
    process_group: int
    """The id of the process group of `dagster dev` and everything it starts."""

    def graphql(self, query: str, variables: dict | None = None, timeout: float = HTTP_TIMEOUT_S) -> dict:
        """POST one GraphQL request; its `data`, or GraphQLError naming the errors."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.load(response)
        if answer.get("errors"):
            raise GraphQLError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def log_tail(self, lines: int = 40) -> str:
        """The last lines `dagster dev` wrote, for failure messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_dagster_dev(
    workdir: Path, *simulator_flags: str, default_budget: bool = False
) -> Iterator[DagsterDev]:
    """Start the simulator (`--today 2024-12-31 FLAGS`) and `dagster dev` on it; yield once the
    code location is loaded; stop both, whole process group first, however the block ends.
    `default_budget`: the project's dagster.yaml as is (its slots, pool size and monitoring poll),
    as a user runs it (a benchmark's case)."""
    with running_simulator("--today", SIMULATOR_TODAY, *simulator_flags) as simulator:
        port = free_port()
        home = prepare_dagster_home(workdir / "dagster_home")
        if not default_budget:
            _tune_instance(home / "dagster.yaml")
        duckdb_path, log_path = workdir / "warehouse.duckdb", workdir / "dagster-dev.log"
        command = [
            str(Path(sys.executable).with_name("dagster")),
            *("dev", "-w", "workspace.yaml", "--host", "127.0.0.1", "--port", str(port)),
        ]
        env = _environment(home, simulator, duckdb_path)
        if default_budget:
            del env["BAOSTOCK_POOL_SIZE"]
        with log_path.open("wb") as log, _process_group(command, env, log) as process:
            dev = DagsterDev(f"http://127.0.0.1:{port}", home, duckdb_path, simulator, log_path, process.pid)
            _await_loaded(dev, process)
            yield dev


def _tune_instance(dagster_yaml: Path) -> None:
    """The project's dagster.yaml with SLOTS pool slots (its budget arithmetic is checked here) and
    run monitoring polling every MONITORING_POLL_S."""
    text = dagster_yaml.read_text()
    poll = f"poll_interval_seconds: {PROJECT_MONITORING_POLL_S}\n"
    expected = ("default_limit: 1", "max_concurrent_runs: 4", poll)
    assert all(setting in text for setting in expected), "dagster.yaml changed"
    text = text.replace("default_limit: 1", f"default_limit: {SLOTS}")
    dagster_yaml.write_text(text.replace(poll, f"poll_interval_seconds: {MONITORING_POLL_S}\n"))


def _environment(home: Path, simulator: tuple[str, int], duckdb_path: Path) -> dict[str, str]:
    """This environment without the project's own settings, then pointed at the simulator and tmp files."""
    own = ("BAOSTOCK_", "MARKETDATA_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(own)}
    env.update(
        DAGSTER_HOME=str(home),
        BAOSTOCK_HOST=simulator[0],
        BAOSTOCK_PORT=str(simulator[1]),
        BAOSTOCK_POOL_SIZE=str(POOL_SIZE),
        BAOSTOCK_MAX_REQUESTS_PER_SECOND="0",  # a local simulator needs no politeness
        MARKETDATA_DUCKDB_PATH=str(duckdb_path),
    )
    return env


@contextlib.contextmanager
def _process_group(command: list[str], env: dict[str, str], log) -> Iterator[subprocess.Popen]:
    """Run `command` as the leader of a new process group; signal the whole group on exit."""
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the group, wait for the leader, then SIGKILL whatever of the group is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=SHUTDOWN_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # SIGKILL lands asynchronously; orphans are reaped by init


def group_alive(group: int) -> bool:
    """Whether any process of the process group `group` still exists."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _await_loaded(dev: DagsterDev, process: subprocess.Popen) -> None:
    """Poll until the webserver answers and the code location is loaded, or fail with the log."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with code {process.returncode}:\n{dev.log_tail()}")
        try:
            last_problem = _location_problem(dev)
        except (OSError, urllib.error.URLError, GraphQLError) as exc:
            last_problem = f"{type(exc).__name__}: {exc}"
        if last_problem is None:
            return
        time.sleep(1.0)
    raise RuntimeError(
        f"dagster dev was not ready within {STARTUP_TIMEOUT_S:.0f} s ({last_problem}):\n{dev.log_tail()}"
    )


def _location_problem(dev: DagsterDev) -> str | None:
    """None when the project's code location is loaded; else what is still missing or broken."""
    workspace = dev.graphql(_LOCATIONS, timeout=5.0)["workspaceOrError"]
    entries = workspace.get("locationEntries") or []
    if not entries:
        return f"no code location yet ({workspace['__typename']})"
    for entry in entries:
        loaded = entry["locationOrLoadError"] or {}
        if loaded.get("__typename") == "PythonError":
            raise RuntimeError(f"code location {entry['name']} failed to load: {loaded['message']}")
        if entry["loadStatus"] != "LOADED" or loaded.get("__typename") != "RepositoryLocation":
            return f"code location {entry['name']} is {entry['loadStatus']}"
    return None
