"""Starting the pieces around the pipeline: the simulator as its own process, and `dagster dev`."""

from __future__ import annotations

import fcntl
import os
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from marketdata_pipeline.defs.settings import setting

PROJECT_DAGSTER_YAML = Path(__file__).with_name("dagster.yaml")
STARTUP_TIMEOUT_S = 30.0


@contextmanager
def running_simulator(*flags: str) -> Iterator[tuple[str, int]]:
    """Run `marketdata simulator --port 0 FLAGS` in a child process; yield its (host, port)."""
    command = [sys.executable, "-m", "marketdata_pipeline.cli", "simulator", "--port", "0", *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        yield _await_listening(process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def _await_listening(process: subprocess.Popen) -> tuple[str, int]:
    """Read the simulator's `listening on HOST:PORT` line, failing clearly if it never comes."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"the simulator exited with code {process.wait()} before listening")
            if line.startswith("listening on "):
                host, _, port = line.removeprefix("listening on ").strip().rpartition(":")
                return host, int(port)
    raise RuntimeError(f"the simulator did not print 'listening on' within {STARTUP_TIMEOUT_S:.0f} s")


def prepare_dagster_home(home: Path) -> Path:
    """Make `home` a DAGSTER_HOME with the project's dagster.yaml (kept current on every start) and
    its storage created, once: `dagster` commands started together on a new home would each create
    the same tables, and all but one crash (`table daemon_heartbeats already exists`)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    with (home / ".marketdata-init.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two project commands starting at once initialise it in turn
        with dg.DagsterInstance.from_config(str(home)):
            pass
    return home


def run_dev(extra_args: list[str]) -> int:
    """`make dev`: the Dagster UI on the project, against BaoStock or the bundled simulator."""
    env = dict(os.environ)
    env.setdefault("DAGSTER_HOME", str(prepare_dagster_home(Path(".dagster_home").resolve())))
    command = ["dagster", "dev", "-w", "workspace.yaml", *extra_args]
    if setting("MARKETDATA_SOURCE") != "simulator":
        return subprocess.call(command, env=env)
    with running_simulator() as (host, port):
        print(f"simulator listening on {host}:{port} (MARKETDATA_SOURCE=simulator)", flush=True)
        env.update(BAOSTOCK_HOST=host, BAOSTOCK_PORT=str(port))
        try:
            return subprocess.call(command, env=env)
        except KeyboardInterrupt:
            return 0
