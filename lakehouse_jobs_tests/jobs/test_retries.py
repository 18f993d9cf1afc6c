"""max_retries / min_retry_interval_millis on a real Dagster instance (attempts recorded by the task)."""

from __future__ import annotations

from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS
from lakehouse_jobs.lib.jobs.retries import RetryPolicy

from .jobrun import py, run_spec, task
from .sample_tasks import read_log


def _attempt_times(log: str, label: str) -> list[float]:
    return [entry["time"] for entry in read_log(log) if entry["label"] == label]


def test_retries_until_success_waiting_the_interval(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {"name": "retry", "tasks": [task("flaky", py("fail_times", log, "flaky", 2), max_retries=3, min_retry_interval_millis=400)]}
    result = run_spec(instance, spec)
    times = _attempt_times(log, "flaky")
    assert result.states == {"flaky": SUCCESS}
    assert len(times) == 3
    assert all(later - earlier >= 0.4 for earlier, later in zip(times, times[1:], strict=False))
    assert result.outputs["flaky"]["attempts"] == 3
    # each retry is a Dagster step retry, visible in the run's event log
    retries = [
        r
        for r in instance.get_records_for_run(result.run_id).records
        if r.event_log_entry.dagster_event and r.event_log_entry.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
    ]
    assert len(retries) == 2


def test_gives_up_after_max_retries(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {"name": "retry", "tasks": [task("bad", py("fail", log, "bad"), max_retries=1)]}
    result = run_spec(instance, spec)
    assert result.states == {"bad": FAILED}
    assert len(_attempt_times(log, "bad")) == 2
    assert "fails on purpose" in result.outputs["bad"]["error"]


def test_minus_one_retries_without_limit(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {"name": "retry", "tasks": [task("flaky", py("fail_times", log, "flaky", 5), max_retries=-1)]}
    result = run_spec(instance, spec)
    assert result.states == {"flaky": SUCCESS}
    assert len(_attempt_times(log, "flaky")) == 6


def test_policy_rules():
    assert RetryPolicy(max_retries=-1).allows(10_000, timed_out=False)
    assert not RetryPolicy(max_retries=2).allows(2, timed_out=False)
    assert not RetryPolicy(max_retries=2).allows(0, timed_out=True)
    assert RetryPolicy(max_retries=2, retry_on_timeout=True).allows(1, timed_out=True)
    assert RetryPolicy(min_retry_interval_millis=1500).interval_seconds == 1.5
