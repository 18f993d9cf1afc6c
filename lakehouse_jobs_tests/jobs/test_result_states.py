"""Job result states from leaf tasks, as Databricks defines them, and the per-task tags."""

from __future__ import annotations

from dagster._utils.tags import is_valid_tag_key

from lakehouse_jobs.lib.jobs.result_states import (
    EXCLUDED,
    FAILED,
    SUCCESS,
    SUCCESS_WITH_FAILURES,
    TIMEDOUT,
    UPSTREAM_FAILED,
    job_result_state,
    task_tag,
)  # fmt: skip


def test_job_result_from_leaves():
    assert job_result_state({"a": SUCCESS, "b": SUCCESS}, ["b"]) == SUCCESS
    assert job_result_state({"a": FAILED, "b": SUCCESS}, ["b"]) == SUCCESS_WITH_FAILURES
    assert job_result_state({"a": FAILED, "b": UPSTREAM_FAILED}, ["b"]) == FAILED
    assert job_result_state({"a": SUCCESS, "b": EXCLUDED}, ["b"]) == SUCCESS
    assert job_result_state({"a": SUCCESS}, ["a"], timed_out=True) == TIMEDOUT


def test_task_tags_are_valid_dagster_tags():
    assert task_tag("ingest") == "lakehouse_jobs/task.ingest.result_state"
    long_key = "k" * 100
    assert is_valid_tag_key(task_tag(long_key)) and task_tag(long_key) != task_tag("k" * 99)
