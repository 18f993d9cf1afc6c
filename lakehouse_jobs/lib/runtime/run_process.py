"""Which process a run lives in: the owner of its job-cluster lease.

A run's job cluster is leased by the process whose end ends the run (`SparkResource` releases the
lease there, and the cluster's watchdog drops a lease whose owner died). That is the run worker,
not a step subprocess of Dagster's multiprocess executor, nor the code server that started the worker.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg


def run_process_pid() -> int:
    """The process whose life is the run's: the executor's parent for a step subprocess."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None and parent.pid and _is_step_process() else os.getpid()


def _is_step_process() -> bool:
    """Whether this process is a step subprocess of Dagster's multiprocess executor (its parent runs the run)."""
    from dagster._core.executor import child_process_executor

    return getattr(multiprocessing.current_process(), "_target", None) is child_process_executor._execute_command_in_child_process


def lease_owner(instance: dg.DagsterInstance | None, run_id: str | None) -> int:
    """The pid of the run's worker process, whose end ends the run's job-cluster lease.

    A run launched by a code server (`dagster dev`, the daemon) runs in a process the
    server starts with multiprocessing, and reports it in the run's "Started process for
    run (pid: N)" engine event: that process, not the server (its multiprocessing parent),
    owns the lease. Without that event (execute_in_process, `dagster job execute`, tests)
    the run runs here, or in this step subprocess's parent.
    """
    if instance is not None and run_id:
        from lakehouse_jobs.lib.jobs.run_launcher import process_started_at, run_worker_pid

        found = run_worker_pid(instance, run_id)
        if found is not None:
            pid, reported_at = found
            started = process_started_at(pid)
            if started is not None and started <= reported_at + 1.0 and pid in (os.getpid(), run_process_pid()):
                return pid
    return run_process_pid()
