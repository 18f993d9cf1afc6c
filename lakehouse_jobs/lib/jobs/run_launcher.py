"""A run launcher whose runs cannot stay STARTED after their worker died.

Dagster's DefaultRunLauncher starts each run in a process of the code server, but cannot tell the
daemon's run monitoring whether that process is still alive: after a `kill -9` (of the run, or of
the whole `dagster dev` group) the run stays STARTED forever, holds one of the instance's run
slots, and its file-arrival batch is never retried. This launcher answers run monitoring's health
check from the process itself: the run worker's pid comes from the run's own "Started process
for run (pid: N)" engine event, and the pid counts as alive only while /proc shows a process that
started before that event (a reused pid is not the run). Monitoring then marks a dead run FAILED
within `run_monitoring.poll_interval_seconds`, which frees its slot (see dagster.yaml). The same
check wakes a live run's step that Dagster's pool queue left waiting beside a free slot (pool_wakeup.py).

Local processes only, like the DefaultRunLauncher it extends.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

from lakehouse_jobs.lib.jobs.pool_wakeup import wake_stalled_steps

_STARTED = re.compile(r"^Started process for run \(pid: (\d+)\)\.")


@cache
def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_started_at(pid: int) -> float | None:
    """When `pid` started (epoch seconds), or None when there is no such live process (zombies count as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    if fields[0] in ("Z", "X"):
        return None
    return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, when it was reported) from the run's newest "Started process for run" engine event."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, ascending=False, limit=50).records
    for record in records:
        entry = record.event_log_entry
        message = (entry.dagster_event.message if entry.dagster_event else None) or entry.user_message or ""
        match = _STARTED.match(message)
        if match:
            return int(match.group(1)), entry.timestamp
    return None


class LakehouseRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher + a run-worker health check for Dagster's run monitoring (and pool wakeups for live runs)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        health = self._worker_health(run)
        # the same poll keeps a live run (or one whose worker is not ours to see: `dagster asset materialize`) from
        # waiting on a pool's lost wakeup
        if health.status == WorkerStatus.RUNNING and (woken := wake_stalled_steps(self._instance, run)):
            return health._replace(msg=f"{health.msg}; woke its step waiting in pool(s) {', '.join(woken)}")
        return health

    def _worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        found = run_worker_pid(self._instance, run.run_id)
        if found is None:  # not reported yet: the start timeout covers a run that never gets there
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run worker has not reported its pid yet")
        pid, reported_at = found
        started = process_started_at(pid)
        if started is None or started > reported_at + 1.0:
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"the run worker process (pid {pid}) is gone: it died without reporting the run's end (killed, or out of memory)",
                run_worker_id=str(pid),
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker pid {pid} is alive", run_worker_id=str(pid))
