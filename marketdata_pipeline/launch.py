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


def simulator_environment(host: str, port: int) -> dict[str, str]:
    """The variables that send runs to a simulator at host:port, whatever a `.env` says.

    `dagster dev` lets `.env` override the environment, so the address travels
    in MARKETDATA_SIMULATOR (which `.env.example` does not set) and simulator
    mode reads it first; BAOSTOCK_HOST/PORT are set too for anything reading
    them directly.
    """
    return {
        "MARKETDATA_SOURCE": "simulator",
        "MARKETDATA_SIMULATOR": f"{host}:{port}",
        "BAOSTOCK_HOST": host,
        "BAOSTOCK_PORT": str(port),
    }


def dev_source(env: dict[str, str], dotenv: Path) -> str:
    """`baostock` or `simulator`: what MARKETDATA_SOURCE will mean inside `dagster dev`.

    The environment (what the user typed: `MARKETDATA_SOURCE=simulator make
    dev`) wins over `.env`. Choosing the simulator is always safe: the code
    follows MARKETDATA_SIMULATOR whatever `.env` says. The other way round
    (`.env` says simulator, the environment baostock) `dagster dev` would let
    `.env` win and the code find no simulator: refused, naming both.
    """
    from dotenv import dotenv_values

    from marketdata_pipeline.defs.settings import SETTINGS, SettingError

    given = (env.get("MARKETDATA_SOURCE") or "").strip()
    in_file = (dotenv_values(dotenv).get("MARKETDATA_SOURCE") or "").strip() if dotenv.exists() else ""
    if given and in_file and given != in_file and given != "simulator":
        raise SettingError(
            f"MARKETDATA_SOURCE={given} in the environment but MARKETDATA_SOURCE={in_file} in {dotenv}: "
            f"dagster dev would let {dotenv.name} win; change or remove one of them"
        )
    raw = given or in_file or SETTINGS["MARKETDATA_SOURCE"].default
    return SETTINGS["MARKETDATA_SOURCE"].parse(raw)


def run_dev(extra_args: list[str], port: int | None = None) -> int:
    """`make dev`: the Dagster UI on the project, against BaoStock or the bundled simulator."""
    env = dict(os.environ)
    env.setdefault("DAGSTER_HOME", str(prepare_dagster_home(Path(".dagster_home").resolve())))
    # This environment's own `dagster`, never a bare name: on a fresh clone the venv is not on PATH
    # (`make dev` runs `.venv/bin/marketdata`), and a `dagster` found elsewhere would run another's code.
    command = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml", *extra_args]
    if port is not None:
        command += ["--port", str(port)]
    if dev_source(env, Path(".env")) != "simulator":
        return _call(command, env)
    with running_simulator() as (host, sim_port):
        print(f"simulator listening on {host}:{sim_port} (MARKETDATA_SOURCE=simulator)", flush=True)
        env.update(simulator_environment(host, sim_port))
        return _call(command, env)


def _call(command: list[str], env: dict[str, str]) -> int:
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
