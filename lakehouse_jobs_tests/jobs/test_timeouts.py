"""timeout_seconds (task and job) and retry_on_timeout, on a real Dagster instance.

The evidence that the work really stopped: a task that sleeps past its timeout
never writes its "end" record, even after waiting for it.
"""

from __future__ import annotations

import time

import pytest

from lakehouse_jobs.lib.jobs.result_states import SUCCESS, TIMEDOUT
from lakehouse_jobs.lib.jobs.timeouts import TaskTimeout, call_with_timeout

from .jobrun import py, run_spec, task
from .sample_tasks import read_log


def _phases(log: str, label: str) -> list[str]:
    return [entry.get("phase") for entry in read_log(log) if entry["label"] == label]


def test_timeout_kills_the_task_and_is_not_retried_by_default(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {"name": "t", "tasks": [task("slow", py("sleep", log, "slow", 4), timeout_seconds=1, max_retries=2)]}
    result = run_spec(instance, spec)
    assert result.states == {"slow": TIMEDOUT}
    assert result.outputs["slow"]["attempts"] == 1  # max_retries does not apply to a timeout
    time.sleep(4)
    assert _phases(log, "slow") == ["start"]  # killed: it never finished


def test_retry_on_timeout(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {"name": "t", "tasks": [task("slow", py("sleep", log, "slow", 3), timeout_seconds=1, max_retries=1, retry_on_timeout=True)]}
    result = run_spec(instance, spec)
    assert result.states == {"slow": TIMEDOUT}
    assert _phases(log, "slow") == ["start", "start"]


def test_fast_task_within_its_timeout(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {"name": "t", "tasks": [task("quick", py("sleep", log, "quick", 0.1), timeout_seconds=30)]}
    assert run_spec(instance, spec).states == {"quick": SUCCESS}
    assert _phases(log, "quick") == ["start", "end"]


def test_job_timeout_stops_the_running_task_and_times_out_the_job(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {
        "name": "t",
        "timeout_seconds": 2,
        "tasks": [task("slow", py("sleep", log, "slow", 30)), task("after", py("ok", log, "after"), "slow", run_if="ALL_DONE")],
    }
    started = time.time()
    result = run_spec(instance, spec)
    assert time.time() - started < 30  # the run did not wait for the 30 s task
    assert _phases(log, "slow") == ["start"]
    assert result.states["slow"] == TIMEDOUT
    assert result.result_state == TIMEDOUT
    assert result.run.tags["dagster/max_runtime"] == "2"


def test_in_process_timeout_interrupts_python_code():
    def spin():
        while True:
            sum(range(1000))

    started = time.time()
    with pytest.raises(TaskTimeout):
        call_with_timeout(spin, 0.5, label="spin")
    assert time.time() - started < 5
