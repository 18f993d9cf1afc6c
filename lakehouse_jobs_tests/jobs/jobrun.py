"""Run job specs on a real Dagster instance from tests, and read back what happened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from lakehouse_jobs.lib.jobs import JOB_RESULT_TAG, load_spec, reconstructable_job, task_tag
from lakehouse_jobs.lib.jobs.execution import PARAMETERS_KEY

TASKS = "lakehouse_jobs_tests.jobs.sample_tasks"


def fn(name: str) -> str:
    return f"{TASKS}:{name}"


def py(name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """A python_callable_task body calling sample_tasks.<name>."""
    body: dict[str, Any] = {"callable": fn(name)}
    if args:
        body["parameters"] = [str(a) for a in args]
    if kwargs:
        body["named_parameters"] = {k: str(v) for k, v in kwargs.items()}
    return {"python_callable_task": body}


def task(key: str, body: dict[str, Any], *deps: str, **fields: Any) -> dict[str, Any]:
    return {"task_key": key, **body, **({"depends_on": [{"task_key": d} for d in deps]} if deps else {}), **fields}


@dataclass
class JobRun:
    run: Any
    states: dict[str, str]
    result_state: str | None
    success: bool
    outputs: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.run.run_id


def read_run(instance: dg.DagsterInstance, run_id: str, task_keys: list[str]) -> JobRun:
    run = instance.get_run_by_id(run_id)
    states = {key: run.tags[task_tag(key)] for key in task_keys if task_tag(key) in run.tags}
    outputs: dict[str, Any] = {}
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.event_type_value == "STEP_OUTPUT":
            outputs[event.step_key] = {k: v.value for k, v in event.step_output_data.metadata.items()}
    return JobRun(run, states, run.tags.get(JOB_RESULT_TAG), run.status == dg.DagsterRunStatus.SUCCESS, outputs)


def run_spec(instance: dg.DagsterInstance, spec: Mapping[str, Any], params: Mapping[str, str] | None = None, tags: Mapping[str, str] | None = None) -> JobRun:
    """Validate, compile and execute `spec` (a single job object) on `instance`."""
    document = load_spec(spec)
    job = document.job()
    run_config = {"resources": {PARAMETERS_KEY: {"config": {"values": dict(params or {})}}}}
    with dg.execute_job(reconstructable_job(spec=spec), instance, run_config=run_config, tags=dict(tags or {}), raise_on_error=False) as result:
        run_id = result.run_id
    return read_run(instance, run_id, [t.task_key for t in job.tasks])
