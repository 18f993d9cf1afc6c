"""A run whose worker was killed -9 is marked FAILED by run monitoring and frees its run slot.

Real instance, real gRPC code server, real run worker processes, Dagster's own run-monitoring and
dequeue iterations (the daemon's loops, driven here one pass at a time).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import dagster as dg
from dagster._core.launcher import WorkerStatus
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import PythonFileTarget
from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration

from lakehouse_jobs.lib.jobs.concurrency import run_coordinator_config
from lakehouse_jobs.lib.jobs.run_launcher import process_started_at, run_worker_pid
from lakehouse_jobs_tests.jobs.test_concurrency import Queue

DEFS_FILE = Path(__file__).with_name("queue_defs.py")
Status = dg.DagsterRunStatus


def _monitor(queue: Queue) -> None:
    list(execute_run_monitoring_iteration(queue.context, logging.getLogger("run_monitoring")))


def test_a_killed_run_worker_is_marked_failed_and_its_slot_is_freed(tmp_path: Path):
    overrides = {
        "run_coordinator": run_coordinator_config(max_concurrent_runs=10),
        "run_launcher": {"module": "lakehouse_jobs.lib.jobs.run_launcher", "class": "LakehouseRunLauncher"},
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 1},
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        target = PythonFileTarget(python_file=str(DEFS_FILE), attribute="defs", working_directory=str(DEFS_FILE.parent), location_name="queue_defs")
        with create_test_daemon_workspace_context(target, instance) as context:
            queue = Queue(instance, context, tmp_path)
            try:
                killed = queue.submit("queued_job", "never")  # max_concurrent_runs 1 + queue: the next run waits for this one
                queue.wait(killed, states={Status.STARTED})
                deadline = time.monotonic() + 60
                while (found := run_worker_pid(instance, killed)) is None:
                    assert time.monotonic() < deadline, "the run never reported its worker pid"
                    time.sleep(0.2)
                pid = found[0]
                assert process_started_at(pid) is not None
                waiting = queue.submit("queued_job", "go")
                queue.dequeue()
                _monitor(queue)  # alive: nothing happens
                assert queue.status(killed) == Status.STARTED
                assert queue.status(waiting) == Status.QUEUED

                os.kill(pid, signal.SIGKILL)
                while process_started_at(pid) is not None:  # until the kernel has reaped it
                    time.sleep(0.05)
                health = instance.run_launcher.check_run_worker_health(instance.get_run_by_id(killed))
                assert health.status == WorkerStatus.FAILED and f"pid {pid}" in health.msg  # what monitoring acts on
                deadline = time.monotonic() + 30
                while queue.status(killed) == Status.STARTED:
                    assert time.monotonic() < deadline, "run monitoring never noticed the dead worker"
                    time.sleep(0.2)
                    _monitor(queue)
                assert queue.status(killed) == Status.FAILURE
                # Marked by run monitoring (naming the pid) or, when it looks first, by the code server that spawned
                # the worker and saw it die (a race between two live watchers; monitoring is the one left when
                # the code server died too, as with a killed `dagster dev`).
                failure = instance.get_records_for_run(killed, of_type=dg.DagsterEventType.RUN_FAILURE).records[-1]
                message = failure.event_log_entry.dagster_event.message
                assert f"pid {pid}" in message or message == "This run has been marked as failed from outside the execution context."

                queue.release("go")  # the slot is free: the queued run starts and finishes
                assert queue.wait(waiting) == Status.SUCCESS
            finally:
                queue.release("never")
                queue.release("go")
                instance.run_launcher.join()


def test_a_pid_reused_by_a_later_process_is_not_the_run_worker():
    started = process_started_at(os.getpid())
    assert started is not None and started <= time.time()
    assert process_started_at(2**22 + 12345) is None  # beyond pid_max: no such process
