"""max_concurrent_runs + queue on a real instance: real code server, real run queue daemon, real runs."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import PythonFileTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.concurrency import concurrency_tags, run_coordinator_config

DEFS_FILE = Path(__file__).with_name("queue_defs.py")
Status = dg.DagsterRunStatus
DONE = {Status.SUCCESS, Status.FAILURE, Status.CANCELED}


class Queue:
    """A real instance with LakehouseRunCoordinator, a gRPC code server and the dequeue daemon's loop."""

    def __init__(self, instance, context, tmp_path: Path):
        self.instance, self.context, self.tmp_path = instance, context, tmp_path
        self.daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
        self.release_names: set[str] = set()

    def submit(self, job_name: str, release: str) -> str:
        self.release_names.add(release)
        request = self.context.create_request_context()
        location = request.get_code_location("queue_defs")
        remote_job = location.get_repository("__repository__").get_full_job(job_name)
        run = self.instance.create_run(
            job_name=job_name,
            run_id=None,
            run_config={"ops": {"wait_for_release": {"config": {"release_file": str(self.tmp_path / release)}}}},
            op_selection=None,
            resolved_op_selection=None,
            step_keys_to_execute=None,
            status=None,
            tags=remote_job.tags,
            root_run_id=None,
            parent_run_id=None,
            job_snapshot=remote_job.job_snapshot,
            execution_plan_snapshot=None,
            parent_job_snapshot=None,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            asset_selection=None,
            asset_check_selection=None,
            asset_graph=None,
        )
        return self.instance.submit_run(run.run_id, request).run_id

    def dequeue(self) -> None:
        list(self.daemon.run_iteration(self.context))

    def status(self, run_id: str) -> Status:
        return self.instance.get_run_by_id(run_id).status

    def release(self, name: str) -> None:
        (self.tmp_path / name).touch()

    def wait(self, run_id: str, states=DONE, timeout: float = 90) -> Status:
        deadline = time.monotonic() + timeout
        while self.status(run_id) not in states:
            assert time.monotonic() < deadline, f"run {run_id} stuck in {self.status(run_id)}"
            self.dequeue()
            time.sleep(0.2)
        return self.status(run_id)


@pytest.fixture(scope="module")
def queue(tmp_path_factory):
    overrides = {"run_coordinator": run_coordinator_config(max_concurrent_runs=10)}
    with dg.instance_for_test(overrides=overrides) as instance:
        target = PythonFileTarget(python_file=str(DEFS_FILE), attribute="defs", working_directory=str(DEFS_FILE.parent), location_name="queue_defs")
        with create_test_daemon_workspace_context(target, instance) as context:
            queue = Queue(instance, context, tmp_path_factory.mktemp("release"))
            yield queue
            for name in queue.release_names:  # let every run end, even after a failed test
                queue.release(name)
            instance.run_launcher.join()


def test_runs_beyond_the_limit_wait_in_the_queue_when_queue_enabled(queue: Queue):
    runs = [queue.submit("queued_job", f"q{i}") for i in range(2)]
    assert [queue.status(r) for r in runs] == [Status.QUEUED] * 2
    queue.wait(runs[0], states={Status.STARTED})
    queue.dequeue()
    queue.dequeue()
    assert queue.status(runs[1]) == Status.QUEUED  # held, not skipped
    for i, run_id in enumerate(runs):
        queue.release(f"q{i}")
        assert queue.wait(run_id) == Status.SUCCESS
    records = sorted(queue.instance.get_run_records(dg.RunsFilter(run_ids=runs)), key=lambda r: r.start_time)
    for earlier, later in zip(records, records[1:], strict=False):  # one at a time: no overlap
        assert earlier.end_time <= later.start_time


def test_runs_beyond_the_limit_are_skipped_when_queue_disabled(queue: Queue):
    first = queue.submit("skipping_job", "s0")
    queue.wait(first, states={Status.STARTED})
    second = queue.submit("skipping_job", "s1")
    assert queue.status(second) == Status.CANCELED
    tags = queue.instance.get_run_by_id(second).tags
    assert tags["lakehouse_jobs/result_state"] == "SKIPPED" and "max_concurrent_runs is 1" in tags["lakehouse_jobs/skip_reason"]
    queue.release("s0")
    assert queue.wait(first) == Status.SUCCESS
    third = queue.submit("skipping_job", "s0")  # the slot is free again: accepted
    assert queue.status(third) == Status.QUEUED


@pytest.mark.parametrize(
    ("job", "path"),
    [({"max_concurrent_runs": -1}, "max_concurrent_runs"), ({"max_concurrent_runs": 1001}, "max_concurrent_runs"), ({"queue": {"enabled": "yes"}}, "queue")],
)
def test_bad_concurrency_fields_are_refused(job: dict, path: str):
    with pytest.raises(SpecError, match=path):
        concurrency_tags(job, job_key="x")
