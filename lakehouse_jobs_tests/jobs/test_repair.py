"""Repair: failed tasks and their dependents re-run; succeeded tasks (and their values) are reused."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.jobs import reconstructable_job
from lakehouse_jobs.lib.jobs.repair import plan_repair, repair_run
from lakehouse_jobs.lib.jobs.result_states import JOB_RESULT_TAG, REPAIR_COUNT_TAG, SUCCESS

from .jobrun import py, read_run, run_spec, task
from .sample_tasks import read_log

KEYS = ["extract", "transform", "report", "side", "cleanup"]


def _spec(log: str, flag: str) -> dict:
    return {
        "name": "repairable",
        "tasks": [
            task("extract", py("set_value", "batch", '"b-17"')),
            task("side", py("ok", log, "side")),
            {
                "task_key": "transform",
                "depends_on": [{"task_key": "extract"}],
                "python_callable_task": {"callable": "lakehouse_jobs_tests.jobs.sample_tasks:fail_if_exists", "parameters": [log, "transform", flag]},
            },  # fmt: skip
            {
                "task_key": "report",
                "depends_on": [{"task_key": "transform"}, {"task_key": "side"}],
                "python_callable_task": {
                    "callable": "lakehouse_jobs_tests.jobs.sample_tasks:echo",
                    "parameters": [log, "report", "{{tasks.extract.values.batch}}"],
                },
            },  # fmt: skip
            task("cleanup", py("ok", log, "cleanup"), "report", run_if="ALL_DONE"),
        ],
    }


def _labels(log: str) -> list[str]:
    return [entry["label"] for entry in read_log(log)]


def test_repair_reruns_failed_and_downstream_only(instance, tmp_path):
    log, flag = str(tmp_path / "log.jsonl"), tmp_path / "broken"
    flag.touch()
    first = run_spec(instance, _spec(log, str(flag)))
    assert first.states == {"extract": SUCCESS, "side": SUCCESS, "transform": "FAILED", "report": "UPSTREAM_FAILED", "cleanup": SUCCESS}
    assert first.result_state == "SUCCESS_WITH_FAILURES"  # the leaf (cleanup) succeeded
    assert _labels(log) == ["side", "transform", "cleanup"]

    flag.unlink()
    plan, new_run_id = repair_run(instance, first.run_id)
    assert plan.rerun == ["transform", "report"]
    second = read_run(instance, new_run_id, KEYS)
    assert second.states == {key: SUCCESS for key in KEYS}
    assert second.result_state == SUCCESS and second.success
    # side and extract were not run again; transform, report and cleanup were
    assert _labels(log) == ["side", "transform", "cleanup", "transform", "report", "cleanup"]
    # the reused task's value reached the repaired task
    assert read_log(log)[4]["args"] == ["b-17"]
    # Dagster lineage: the repair is a re-execution of the failed run
    assert second.run.parent_run_id == first.run_id and second.run.root_run_id == first.run_id
    assert second.run.tags[REPAIR_COUNT_TAG] == "1"


def test_dagster_reexecute_from_failure_selects_the_same_tasks(instance, tmp_path):
    """What the UI's "Re-execute from failure" does: the failed task and its dependents."""
    log, flag = str(tmp_path / "log.jsonl"), tmp_path / "broken"
    flag.touch()
    spec = _spec(log, str(flag))
    first = run_spec(instance, spec)
    flag.unlink()
    options = dg.ReexecutionOptions.from_failure(first.run_id, instance)
    with dg.execute_job(reconstructable_job(spec=spec), instance, reexecution_options=options, raise_on_error=False) as result:
        second = read_run(instance, result.run_id, KEYS)
    assert _labels(log)[3:] == ["transform", "report", "cleanup"]
    assert second.run.tags[JOB_RESULT_TAG] == SUCCESS
    assert read_log(log)[4]["args"] == ["b-17"]


def test_nothing_to_repair(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    done = run_spec(instance, {"name": "fine", "tasks": [task("a", py("ok", log, "a"))]})
    with pytest.raises(LakehouseError, match="no failed task"):
        plan_repair(instance, done.run_id)
    with pytest.raises(LakehouseError, match="no run"):
        plan_repair(instance, "0" * 36)
    assert Path(log).exists()
