"""History bootstrap: the pipeline's real CLI against the 30-line script a user would write instead.

Both run on the same simulator (a process of its own) and the same codes and days, at 0 and 20 ms
injected latency:

- the pipeline: `dagster asset materialize --select daily_bars --partition-range
  'b03|FIRST...b03|LAST'` (one single-run backfill, as a user launches it), first on an empty
  warehouse (the run also stores and materializes every day's universe), then again with the
  universe stored; and `stock_universe` alone over the same days.
- the script: the official `baostock` client, one session, code by code
  `query_history_k_data_plus(code, all daily fields, FIRST, LAST)`, rows collected, then one
  `CREATE TABLE ... AS SELECT` into DuckDB.

Printed per case: wall seconds, the ratio to the script, peak RSS of the process, the simulator's
CPU seconds while the case ran (it shares the machine's cores with the case), and Dagster's
share (wall seconds outside the asset's step: process start-up, definitions, the run's creation
with its planned events, run bookkeeping; the materializations the step stores count as the
step's, so it is a lower bound), with row counts checked equal to the script's. At 0 ms the
universe-stored run is repeated on Dagster's own SQLite storage (the project's instance class
left out: what main stored with before instance_storage.py) and under Dagster's setting for
large runs (EVENT_SETTINGS), and, when DAGSTER_PG_HOST (with DAGSTER_PG_USER,
DAGSTER_PG_PASSWORD, DAGSTER_PG_DB) names a Postgres server, on the deploy/postgres instance.
`BENCH_BOOTSTRAP_START` picks the first day
(default 2024-11-01, two months, so that `make bench` stays short on a shared machine; 2015-01-05 is the
whole history; the README says which span its figures come from).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from marketdata_pipeline.launch import running_simulator
from marketdata_pipeline.storage import open_warehouse

TODAY = date(2024, 12, 31)
BATCH = "b03"
LATENCIES_MS = (20, 0)  # 20 ms first: the goals' main case
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
PROJECT_DAGSTER_YAML = REPO / "marketdata_pipeline" / "dagster.yaml"
POSTGRES_DAGSTER_YAML = REPO / "deploy" / "postgres" / "dagster.yaml"
DEFAULT_START = "2024-11-01"
T = TypeVar("T")
# Dagster's own knob for runs with many partitions: one planned event per run instead of one per
# partition. (DAGSTER_EVENT_BATCH_SIZE is not measured: SQLite stores a batch event by event.)
EVENT_SETTINGS = (
    ("  same, one planned event per run (*)", {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1"}),
)

# The script a user writes instead: run as its own process so its RSS and time are its own.
SCRIPT = r"""
import json, resource, sys, time
import baostock as bs, duckdb, pandas as pd
from baostock.common import contants
host, port, db, first, last, *codes = sys.argv[1:]
contants.BAOSTOCK_SERVER_IP, contants.BAOSTOCK_SERVER_PORT = host, int(port)
fields = ("date,code,open,high,low,close,preclose,volume,amount,adjustflag,turn,tradestatus,pctChg,"
          "peTTM,psTTM,pcfNcfTTM,pbMRQ,isST")
started = time.perf_counter()
bs.login()
rows = []
for code in codes:
    result = bs.query_history_k_data_plus(code, fields, start_date=first, end_date=last)
    while result.next():
        rows.append(result.get_row_data())
bs.logout()
frame = pd.DataFrame(rows, columns=fields.split(","))
con = duckdb.connect(db)
con.execute("CREATE TABLE daily_bars AS SELECT * FROM frame")
count = con.execute("SELECT count(*) FROM daily_bars").fetchone()[0]
con.close()
print(json.dumps({"rows": count, "seconds": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB of the process tree, stdout) of one command run to its end."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(done.stdout)\n"
        "sys.stderr.write(done.stderr[-4000:] if done.returncode else '')\n"
        "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(done.returncode)\n"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", wrapper, *command], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:4])} failed:\n{done.stderr[-3000:]}")
    peak = int(re.search(r"PEAK_RSS_KB (\d+)", done.stdout)[1]) / 1024
    return seconds, peak, done.stdout


def pipeline_env(address: tuple[str, int], warehouse: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAOSTOCK_", "MARKETDATA_", "DAGSTER_"))}
    host, port = address
    env.update(
        BAOSTOCK_HOST=host,
        BAOSTOCK_PORT=str(port),
        BAOSTOCK_MAX_REQUESTS_PER_SECOND="0",  # no cap against the simulator
        MARKETDATA_DUCKDB_PATH=str(warehouse),
        DAGSTER_HOME=str(home),
    )
    return env


def materialize(env: dict[str, str], select: str, first: str, last: str) -> tuple[float, float]:
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "marketdata_pipeline.definitions",
               "--select", select, "--partition-range", f"{first}...{last}"]  # fmt: skip
    seconds, peak, _ = timed_process(command, env)
    return seconds, peak


def postgres_setting(home: Path) -> list[tuple[str, dict[str, str]]]:
    """The universe-stored case on a Postgres instance, when the environment names a server."""
    server = {k: v for k, v in os.environ.items() if k.startswith("DAGSTER_PG_")}
    if "DAGSTER_PG_HOST" not in server:
        return []
    home.mkdir()
    (home / "dagster.yaml").write_text(POSTGRES_DAGSTER_YAML.read_text())
    return [("  same, Postgres instance (deploy/postgres)", {**server, "DAGSTER_HOME": str(home)})]


def work_seconds(home: Path) -> tuple[float, int]:
    """Seconds the last run spent inside its steps (the asset's fetch, writes and checks, and the
    `fresh_by_1830` check's own step that `--select daily_bars` brings) and events it stored."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        logs = instance.all_logs(run.run_id)
        started: dict[str, float] = {}
        inside = 0.0
        for entry in logs:
            kind = entry.dagster_event.event_type_value if entry.dagster_event else None
            if kind == "STEP_START":
                started[entry.step_key] = entry.timestamp
            elif kind == "STEP_SUCCESS":
                inside += entry.timestamp - started.pop(entry.step_key)
        return inside, len(logs)


def stored(warehouse: Path) -> tuple[int, list[str]]:
    with open_warehouse(warehouse, read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM daily_bars").fetchone()[0]
        codes = [r[0] for r in con.execute("SELECT DISTINCT code FROM daily_bars ORDER BY 1").fetchall()]
    return rows, codes


def plain_storage_setting(home: Path) -> tuple[str, dict[str, str]]:
    """The universe-stored case on Dagster's own SQLite storage (the project's instance_class left
    out: main before instance_storage.py), the home's files otherwise the same."""
    home.mkdir()
    (home / "dagster.yaml").write_text(PROJECT_DAGSTER_YAML.read_text().split("\ninstance_class:")[0])
    return ("  same, Dagster's own SQLite storage", {"DAGSTER_HOME": str(home)})


def event_costs(root: Path, events: int = 300) -> str:
    """Milliseconds per stored materialization on the project's storage and on Dagster's own."""
    import dagster as dg

    (root / "project").mkdir()
    (root / "project" / "dagster.yaml").write_text(PROJECT_DAGSTER_YAML.read_text())
    plain = Path(plain_storage_setting(root / "plain")[1]["DAGSTER_HOME"])
    costs = []
    for name, home in (("the project's", root / "project"), ("Dagster's own", plain)):
        with dg.DagsterInstance.from_config(str(home)) as instance:
            started = time.perf_counter()
            for i in range(events):
                stored = dg.AssetMaterialization("probe", str(i), metadata={"dagster/row_count": i})
                instance.report_runless_asset_event(stored)
            costs.append(f"{name} {1000 * (time.perf_counter() - started) / events:.1f} ms")
    return f"one materialization stored ({events} in a row): " + ", ".join(costs)


def simulator_cpu_seconds() -> float:
    """CPU seconds this process's simulator child (`marketdata simulator`) has used so far: it runs
    on the same cores as the case it answers, so each case prints what it cost the server too."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:  # a process that ended meanwhile
            continue
        if int(fields[1]) == os.getpid() and b"simulator" in command:
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError("no simulator child process found")


def timed_against_server(case: Callable[..., T], *args) -> tuple[T, float]:
    """`case(*args)`'s result and the simulator's CPU seconds while it ran."""
    before = simulator_cpu_seconds()
    return case(*args), simulator_cpu_seconds() - before


def row(latency: int, case: str, seconds: float, script_s: float, peak: float, share: str, server_s: float,
        rows, note=""):  # fmt: skip
    print(f"{latency:>5}ms {case:<44}{seconds:>9.1f}{script_s / seconds:>9.2f}x{peak:>12.0f}{share:>10}"
          f"{server_s:>14.1f}{rows:>10}{note}", flush=True)  # fmt: skip


def run() -> None:
    first = date.fromisoformat(os.environ.get("BENCH_BOOTSTRAP_START", DEFAULT_START))
    print(f"one batch ({BATCH}), {first}..{TODAY}; pool size default; BAOSTOCK_MAX_REQUESTS_PER_SECOND=0")
    header = (f"{'latency':>7} {'case':<44}{'wall s':>9}{'vs script':>10}{'peak RSS MB':>12}{'Dagster %':>10}"
              f"{'server CPU s':>14}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        print(event_costs(Path(tmp)), flush=True)
    print(header + f"{'rows':>10}", flush=True)
    for latency in LATENCIES_MS:
        with tempfile.TemporaryDirectory(prefix="bench-bootstrap-") as tmp:
            root = Path(tmp)
            (root / "home").mkdir()
            (root / "home" / "dagster.yaml").write_text(PROJECT_DAGSTER_YAML.read_text())
            flags = ("--today", TODAY.isoformat(), "--latency-ms", str(latency))
            with running_simulator(*flags) as address:
                env = pipeline_env(address, root / "warehouse.duckdb", root / "home")
                keys = (f"{BATCH}|{first}", f"{BATCH}|{TODAY}")
                runs = [("daily_bars, empty warehouse (+ universe)", {}), ("daily_bars, universe stored", {})]
                if latency == 0:
                    settings = [plain_storage_setting(root / "plain-home"), *EVENT_SETTINGS]
                    runs += [*settings, *postgres_setting(root / "pg-home")]
                script_s = rows = None
                for case, setting in runs:
                    (seconds, peak), server_s = timed_against_server(
                        materialize, env | setting, "daily_bars", *keys
                    )
                    inside, events = work_seconds(Path(setting.get("DAGSTER_HOME", root / "home")))
                    if script_s is None:  # after the first run: the script on the codes it stored
                        rows, codes = stored(root / "warehouse.duckdb")
                        script_s, script_rows = run_script(address, root, first, codes, env, latency)
                        if script_rows != rows:
                            raise RuntimeError(f"the pipeline stored {rows} rows, the script {script_rows}")
                    share = f"{100 * (seconds - inside) / seconds:.0f}%"
                    note = f"   ({events} events)"
                    row(latency, case, seconds, script_s, peak, share, server_s, rows, note)
                (universe_s, universe_peak), server_s = timed_against_server(
                    materialize, env, "stock_universe", str(first), str(TODAY)
                )
                print(f"{latency:>5}ms {'stock_universe alone, same days':<44}{universe_s:>9.1f}{'':>10}"
                      f"{universe_peak:>12.0f}{'':>10}{server_s:>14.1f}", flush=True)  # fmt: skip
    print("(*) DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1")


def run_script(address, root: Path, first: date, codes: list[str], env, latency: int) -> tuple[float, int]:
    """The official-client script on the same codes and days; its row printed, (seconds, rows) returned."""
    script = [sys.executable, "-c", SCRIPT, *map(str, address), str(root / "script.duckdb"),
              str(first), str(TODAY), *codes]  # fmt: skip
    (script_s, script_peak, out), server_s = timed_against_server(timed_process, script, env)
    # The official client prints its own lines ("login success!"): the summary is the last.
    script_rows = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])["rows"]
    row(latency, "script (official client, one session)", script_s, script_s, script_peak, "-", server_s,
        script_rows)  # fmt: skip
    return script_s, script_rows
