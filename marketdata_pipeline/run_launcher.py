"""The project's run launcher: Dagster's default one, plus the worker-health check and the retry rules.

Dagster's `DefaultRunLauncher` cannot tell run monitoring whether a run's
worker is alive, so a run whose process died (kill -9, OOM, a reboot, the
whole `dagster dev` killed) stays STARTED for ever: its day looks taken to
the schedules and sensors, and Dagster's run retries never see it fail. This
launcher answers from the process table: the run worker is the process that
emitted the run's RUN_START event, and it is alive if a process with that
pid exists, is no zombie, and started before the event (a reused pid is a
different process). Run monitoring then marks a dead run FAILED within one
poll interval, like the Kubernetes launcher does for a dead pod.

Before it launches a retry or re-run of `daily_bars`, it asks
`defs/market/retries.hold_reason`: during a blacklist cool-down, or while
another run of the partition is queued or running, the run is canceled with
the reason in its log instead.

For one machine (`make dev`, `make demo`, one host's daemon): a pid means
nothing on another host, so multi-host deployments use their own launcher
(see deploy/).
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterEventType, DagsterRun, DefaultRunLauncher

from marketdata_pipeline.dagster_internals import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from marketdata_pipeline.defs.market import retries

# A process's start time is read in clock ticks since boot: allow for their rounding.
START_TIME_SLACK_S = 2.0


class LocalRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` that lets run monitoring detect a run worker that died, and holds back
    a retry that must not launch now."""

    def launch_run(self, context: LaunchRunContext) -> None:
        held = retries.hold_reason(self._instance, context.dagster_run)
        if held:
            self._instance.report_run_canceled(context.dagster_run, message=held)
            return
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        started = self._instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START, limit=1)
        if not started.records:
            # Not started yet: the start timeout judges those.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run has not started yet")
        entry = started.records[0].event_log_entry
        pid = entry.dagster_event.pid if entry.dagster_event else None
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "its RUN_START event names no process")
        if worker_alive(pid, entry.timestamp):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker process {pid} is alive")
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"run worker process {pid} is gone (killed, crashed, or its machine restarted)",
        )


def worker_alive(pid: int, started_by: float) -> bool:
    """Whether process `pid` exists, is not a zombie, and was already running at `started_by` (epoch s)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    stat = _proc_stat(pid)
    if stat is None:  # no /proc (not Linux): existence is all we can tell
        return True
    state, start_ticks = stat
    if state in ("Z", "X"):  # a zombie, or dead
        return False
    return _boot_time() + start_ticks / os.sysconf("SC_CLK_TCK") <= started_by + START_TIME_SLACK_S


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks after boot) of `pid` from /proc, or None without /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None if not Path("/proc/self/stat").exists() else ("X", 0)  # gone meanwhile
    # Fields after the command name (which may hold spaces and parentheses): state is field 3,
    # starttime field 22.
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime line")
